//! `runner serve`: a built-in target alone, until Ctrl-C.

use std::time::Duration;

use runner_targets::{
    self as builtin, Faults, OrderApiConfig, OrderProcessorConfig, OrderServiceConfig,
    OrdersConfig, UsersConfig,
};

use crate::builtin::options;
use crate::cli::{Builtin, ServeArgs};
use crate::error::Error;

/// How long Ctrl-C waits for in-flight requests (a stalled one may take a minute).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Serves the chosen target until Ctrl-C.
pub async fn serve(args: ServeArgs) -> Result<(), Error> {
    let (min, max) = delay_range(&args.accept_delay)?;
    let (latency_min, latency_max) = delay_range(&args.latency)?;
    let error_rate = share("--error-rate", args.error_rate)?;
    let drop_rate = share("--drop-rate", args.drop_rate)?;
    let stall_rate = share("--stall-rate", args.stall_rate)?;
    let stall_delay = humantime::parse_duration(args.stall_delay.trim()).map_err(|e| {
        Error::Usage(format!(
            "--stall-delay: invalid duration {:?} ({e}); expected e.g. 60s",
            args.stall_delay
        ))
    })?;
    let io = || Error::io("cannot listen on", args.addr.to_string());
    let total = drop_rate + stall_rate + error_rate;
    if total > 1.0 + 1e-9 {
        return Err(Error::Usage(format!(
            "--drop-rate, --stall-rate and --error-rate add up to {total}; \
             a request meets at most one fault, so together at most 1.0"
        )));
    }
    // The faults of the order-api, order-service and order-processor targets.
    let faults = Faults {
        latency_min,
        latency_max,
        error_rate,
        drop_rate,
        stall_rate,
        stall_delay,
    };
    let running = match args.kind {
        Builtin::Orders => {
            let config = OrdersConfig {
                accept_delay_min: min,
                accept_delay_max: max,
                latency_min,
                latency_max,
                error_rate,
                drop_rate,
                stall_rate,
                stall_delay,
                seed: args.seed,
            };
            builtin::start_orders(args.addr, config)
                .await
                .map_err(io())?
                .0
        }
        Builtin::OrderApi => {
            let config = OrderApiConfig {
                faults,
                seed: args.seed,
            };
            builtin::start_order_api(args.addr, config)
                .await
                .map_err(io())?
                .0
        }
        Builtin::OrderService => {
            let (ship_delay_min, ship_delay_max) = delay_range(&args.ship_delay)?;
            let config = OrderServiceConfig {
                ship_delay_min,
                ship_delay_max,
                faults,
                seed: args.seed,
            };
            builtin::start_order_service(args.addr, config)
                .await
                .map_err(io())?
                .0
        }
        Builtin::OrderProcessor => {
            let (process_min, process_max) = delay_range(&args.process_time)?;
            let config = OrderProcessorConfig {
                workers: args.workers.max(1),
                capacity: args.queue.max(1),
                process_min,
                process_max,
                faults,
                seed: args.seed,
            };
            builtin::start_order_processor(args.addr, config)
                .await
                .map_err(io())?
                .0
        }
        Builtin::Users => {
            orders_only_faults(drop_rate, stall_rate)?;
            let config = UsersConfig {
                rate_limit: args.rate_limit,
                error_rate,
                latency_min,
                latency_max,
                seed: args.seed,
                dialect: args.dialect.parse().map_err(Error::Usage)?,
                registration: args.registration.parse().map_err(Error::Usage)?,
                ..UsersConfig::default()
            };
            builtin::start_users(args.addr, config)
                .await
                .map_err(io())?
                .0
        }
    };
    let kind = clap::ValueEnum::to_possible_value(&args.kind)
        .map_or_else(|| format!("{:?}", args.kind), |v| v.get_name().to_owned());
    crate::say_out!(
        "runner: {kind} target listening on {} (Ctrl-C to stop)",
        running.url
    );
    let _ = tokio::signal::ctrl_c().await;
    // In-flight requests may finish; a stalled one is not waited for past the grace.
    if tokio::time::timeout(STOP_GRACE, running.stop())
        .await
        .is_err()
    {
        crate::say!("runner: requests still in flight after {STOP_GRACE:?}; closing them");
    }
    Ok(())
}

/// Refuses dropped and stalled requests for the users target, which has neither.
fn orders_only_faults(drop_rate: f64, stall_rate: f64) -> Result<(), Error> {
    for (flag, rate) in [("--drop-rate", drop_rate), ("--stall-rate", stall_rate)] {
        if rate > 0.0 {
            return Err(Error::Usage(format!(
                "{flag} is not for the users target; it has --latency and --error-rate"
            )));
        }
    }
    Ok(())
}

/// Checks that `value` of `flag` is a share between 0 and 1.
fn share(flag: &str, value: f64) -> Result<f64, Error> {
    options::share(value)
        .map(|()| value)
        .map_err(|e| Error::Usage(format!("{flag}: {e}")))
}

/// Parses `MIN..MAX` (or a single duration) into a range of durations.
fn delay_range(text: &str) -> Result<(Duration, Duration), Error> {
    options::delay_range(text).map_err(|e| {
        Error::Usage(format!(
            "{e} (--accept-delay, --ship-delay, --process-time, --latency)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_outside_zero_to_one_are_refused_with_the_flag_named() {
        assert_eq!(share("--drop-rate", 0.0).unwrap(), 0.0);
        assert_eq!(share("--drop-rate", 1.0).unwrap(), 1.0);
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let err = share("--stall-rate", bad).unwrap_err().to_string();
            assert!(
                err.contains("--stall-rate") && err.contains("between 0.0 and 1.0"),
                "{err}"
            );
        }
    }
}
