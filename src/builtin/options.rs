//! Options of a built-in target named in a script or on the command line,
//! `builtin:users?error_rate=0.03&dialect=camel`: the settings `runner serve`
//! takes as flags, checked before anything starts.

use std::time::Duration;

/// What an option's value must be.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A share of requests, 0..=1.
    Share,
    /// `MIN..MAX` durations, or one duration.
    Range,
    /// A whole number, 0 or more.
    Count,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// The options each target kind takes (kinds not listed take none).
const OPTIONS: &[(&str, &[(&str, Kind)])] = &[
    (
        "users",
        &[
            ("latency", Kind::Range),
            ("error_rate", Kind::Share),
            ("rate_limit", Kind::Count),
            ("dialect", Kind::OneOf(&["snake", "camel"])),
            ("registration", Kind::OneOf(&["open", "admin"])),
        ],
    ),
    (
        "orders",
        &[("latency", Kind::Range), ("error_rate", Kind::Share)],
    ),
];

/// A target's options, `(key, value)` in the order given.
pub type Options = Vec<(String, String)>;

/// `KIND?KEY=VALUE&…` split into the kind and its checked options.
pub fn parse(spec: &str) -> Result<(&str, Options), String> {
    let (kind, query) = match spec.split_once('?') {
        Some((kind, query)) => (kind, query),
        None => return Ok((spec, Vec::new())),
    };
    let allowed = OPTIONS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, options)| *options);
    let names: Vec<&str> = allowed.iter().map(|(name, _)| *name).collect();
    let mut options = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            format!("option `{pair}` of builtin:{kind} needs a value (KEY=VALUE)")
        })?;
        let Some((_, what)) = allowed.iter().find(|(name, _)| *name == key) else {
            return Err(if names.is_empty() {
                format!("builtin:{kind} takes no options (got `{key}`)")
            } else {
                format!(
                    "unknown option `{key}` of builtin:{kind}; allowed: {}",
                    names.join(", ")
                )
            });
        };
        check(*what, value).map_err(|e| format!("option `{key}` of builtin:{kind}: {e}"))?;
        if options.iter().any(|(k, _)| k == key) {
            return Err(format!("option `{key}` of builtin:{kind} is given twice"));
        }
        options.push((key.to_owned(), value.to_owned()));
    }
    Ok((kind, options))
}

fn check(what: Kind, value: &str) -> Result<(), String> {
    match what {
        Kind::Share => share(
            value
                .parse()
                .map_err(|_| format!("expected a number, got {value:?}"))?,
        ),
        Kind::Range => delay_range(value).map(|_| ()),
        Kind::Count => value
            .parse::<u32>()
            .map(|_| ())
            .map_err(|_| format!("expected a whole number, got {value:?}")),
        Kind::OneOf(words) if words.contains(&value) => Ok(()),
        Kind::OneOf(words) => Err(format!(
            "expected one of {}, got {value:?}",
            words.join(", ")
        )),
    }
}

/// Checks that `value` is a share of requests, 0 to 1.
pub fn share(value: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "a share between 0.0 and 1.0 (0.05 = 5% of requests), got {value}"
        ))
    }
}

/// Parses `MIN..MAX` (or a single duration) into a range of durations.
pub fn delay_range(text: &str) -> Result<(Duration, Duration), String> {
    let parse = |s: &str| {
        humantime::parse_duration(s.trim())
            .map_err(|e| format!("invalid duration {s:?} ({e}); expected MIN..MAX like 1s..3s"))
    };
    let (min, max) = match text.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let d = parse(text)?;
            (d, d)
        }
    };
    if min > max {
        return Err(format!("MIN is above MAX in {text:?}"));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_split_and_checked_by_kind() {
        let (kind, options) = parse("users?error_rate=0.03&dialect=camel").unwrap();
        assert_eq!(kind, "users");
        assert_eq!(
            options,
            [
                ("error_rate".into(), "0.03".into()),
                ("dialect".into(), "camel".into())
            ]
        );
        assert_eq!(parse("orders").unwrap(), ("orders", vec![]));
        let e = parse("users?dialekt=camel").unwrap_err();
        assert!(
            e.contains("allowed: latency, error_rate, rate_limit, dialect, registration"),
            "{e}"
        );
        let e = parse("users?dialect=kebab").unwrap_err();
        assert!(e.contains("expected one of snake, camel"), "{e}");
        let e = parse("users?error_rate=2").unwrap_err();
        assert!(e.contains("between 0.0 and 1.0"), "{e}");
        assert!(
            parse("order-api?latency=1ms")
                .unwrap_err()
                .contains("takes no options")
        );
        assert_eq!(
            parse("orders?latency=5ms..10ms").unwrap().1,
            vec![("latency".to_owned(), "5ms..10ms".to_owned())]
        );
        let e = parse("users?dialect=camel&dialect=snake").unwrap_err();
        assert!(e.contains("given twice"), "{e}");
    }

    #[test]
    fn delay_ranges_parse_and_reject_inverted_bounds() {
        assert_eq!(
            delay_range("1s..3s").unwrap(),
            (Duration::from_secs(1), Duration::from_secs(3))
        );
        assert_eq!(
            delay_range("5ms").unwrap(),
            (Duration::from_millis(5), Duration::from_millis(5))
        );
        assert!(delay_range("3s..1s").is_err());
        assert!(delay_range("soon").is_err());
    }
}
