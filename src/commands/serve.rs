//! `runner serve`: a built-in target alone, until Ctrl-C.

use std::time::Duration;

use crate::builtin::{self, OrdersConfig, UsersConfig};
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
    let io = |source| Error::Io {
        what: "cannot listen on",
        path: args.addr.to_string().into(),
        source,
    };
    let running = match args.kind {
        Builtin::Orders => {
            let config = OrdersConfig {
                accept_delay_min: min,
                accept_delay_max: max,
                error_rate: args.error_rate,
                seed: args.seed,
            };
            builtin::start_orders(args.addr, config)
                .await
                .map_err(io)?
                .0
        }
        Builtin::Users => {
            let (latency_min, latency_max) = delay_range(&args.latency)?;
            let config = UsersConfig {
                rate_limit: args.rate_limit,
                error_rate: args.error_rate,
                latency_min,
                latency_max,
                seed: args.seed,
                ..UsersConfig::default()
            };
            builtin::start_users(args.addr, config).await.map_err(io)?.0
        }
    };
    println!(
        "runner: {:?} target listening on {} (Ctrl-C to stop)",
        args.kind, running.url
    );
    let _ = tokio::signal::ctrl_c().await;
    running.stop().await;
    Ok(())
}

/// Parses `MIN..MAX` (or a single duration) into a range of durations.
pub fn delay_range(text: &str) -> Result<(Duration, Duration), Error> {
    let parse = |s: &str| {
        humantime::parse_duration(s.trim()).map_err(|e| {
            Error::Usage(format!(
                "invalid duration {s:?} ({e}); expected MIN..MAX like 1s..3s (--accept-delay, --latency)"
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
        return Err(Error::Usage(format!("MIN is above MAX in {text:?}")));
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
