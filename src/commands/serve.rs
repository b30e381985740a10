//! `runner serve`: a built-in target alone, until Ctrl-C.

use std::time::Duration;

use crate::builtin::{self, OrdersConfig};
use crate::cli::{Builtin, ServeArgs};
use crate::error::Error;

/// Serves the chosen target until Ctrl-C.
pub async fn serve(args: ServeArgs) -> Result<(), Error> {
    let (min, max) = delay_range(&args.accept_delay)?;
    if !(0.0..=1.0).contains(&args.error_rate) {
        return Err(Error::Usage(format!(
            "--error-rate: a share between 0.0 and 1.0, got {}",
            args.error_rate
        )));
    }
    match args.kind {
        Builtin::Orders => {
            let config = OrdersConfig {
                accept_delay_min: min,
                accept_delay_max: max,
                error_rate: args.error_rate,
                seed: args.seed,
            };
            let (running, _book) =
                builtin::start_orders(args.addr, config)
                    .await
                    .map_err(|source| Error::Io {
                        what: "cannot listen on",
                        path: args.addr.to_string().into(),
                        source,
                    })?;
            println!(
                "runner: orders target listening on {} (Ctrl-C to stop)",
                running.url
            );
            let _ = tokio::signal::ctrl_c().await;
            running.stop().await;
        }
    }
    Ok(())
}

/// Parses `MIN..MAX` (or a single duration) into a range of durations.
pub fn delay_range(text: &str) -> Result<(Duration, Duration), Error> {
    let parse = |s: &str| {
        humantime::parse_duration(s.trim()).map_err(|e| {
            Error::Usage(format!(
                "--accept-delay: invalid duration {s:?} ({e}); expected MIN..MAX like 1s..3s"
            ))
        })
    };
    let (min, max) = match text.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let d = parse(text)?;
            (d, d)
        }
    };
    if min > max {
        return Err(Error::Usage(format!(
            "--accept-delay: MIN is above MAX in {text:?}"
        )));
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

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
