//! Numbers and times as the page's cells and the charts' axes print them.

/// A number for a table cell: two decimals, "–" when not finite.
pub(super) fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "–".to_string()
    }
}

/// A number at the end of a bar: whole numbers without decimals.
pub(super) fn bar_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An axis tick label: no trailing zeros.
pub(super) fn axis_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Seconds since the start as an axis label: plain seconds for short runs,
/// h:mm:ss (or m:ss) once the axis reaches 10 minutes.
pub(super) fn clock(t: u32, x_max: u32) -> String {
    if x_max < 600 {
        return t.to_string();
    }
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    if x_max >= 3600 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The run's duration: seconds, plus hours/minutes/seconds past a minute.
pub(super) fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        let whole = std::time::Duration::from_secs(d.as_secs());
        format!("{secs:.1} s ({})", humantime::format_duration(whole))
    }
}

/// A finite value for drawing (NaN and infinities become 0).
pub(super) fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// At most `max` characters, with an ellipsis when cut.
pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_helpers() {
        assert_eq!(clock(75, 100), "75");
        assert_eq!(clock(75, 900), "1:15");
        assert_eq!(clock(3725, 4000), "1:02:05");
        assert_eq!(axis_number(2.50), "2.5");
        assert_eq!(axis_number(-0.0001), "0");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(num(f64::NAN), "–");
    }
}
