//! The servers of the `runner-targets` crate as [`Builtins`] (with the
//! `targets` feature, on by default; the engine builds without it).

use std::io;

use runner_targets::{
    OrderApiConfig, OrderProcessorConfig, OrderServiceConfig, OrdersConfig, Running, UsersConfig,
};

use super::{BoxFuture, Builtins, Served, Wanted, options};

/// The built-in targets shipped with runner.
pub struct Bundled;

impl Builtins for Bundled {
    fn start(&self, wanted: Wanted) -> BoxFuture<'static, io::Result<Box<dyn Served>>> {
        Box::pin(async move {
            let running = match wanted.kind.as_str() {
                "users" => {
                    let config = users_config(&wanted).map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidInput, format!("builtin:users: {e}"))
                    })?;
                    runner_targets::start_users(wanted.addr, config).await?.0
                }
                "orders" => {
                    let config = orders_config(&wanted).map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidInput, format!("builtin:orders: {e}"))
                    })?;
                    runner_targets::start_orders(wanted.addr, config).await?.0
                }
                "order-api" => {
                    let config = OrderApiConfig {
                        seed: wanted.seed,
                        ..OrderApiConfig::default()
                    };
                    runner_targets::start_order_api(wanted.addr, config)
                        .await?
                        .0
                }
                "order-service" => {
                    let defaults = OrderServiceConfig::default();
                    let config = OrderServiceConfig {
                        ship_delay_min: defaults.ship_delay_min.div_f64(wanted.speed),
                        ship_delay_max: defaults.ship_delay_max.div_f64(wanted.speed),
                        seed: wanted.seed,
                        ..defaults
                    };
                    runner_targets::start_order_service(wanted.addr, config)
                        .await?
                        .0
                }
                "order-processor" => {
                    let defaults = OrderProcessorConfig::default();
                    let config = OrderProcessorConfig {
                        process_min: defaults.process_min.div_f64(wanted.speed),
                        process_max: defaults.process_max.div_f64(wanted.speed),
                        seed: wanted.seed,
                        ..defaults
                    };
                    runner_targets::start_order_processor(wanted.addr, config)
                        .await?
                        .0
                }
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "no built-in target `{other}`; the built-in ones: {}",
                            super::KINDS.join(", ")
                        ),
                    ));
                }
            };
            Ok(Box::new(Server(running)) as Box<dyn Served>)
        })
    }
}

/// A running target of `runner-targets`.
struct Server(Running);

impl Served for Server {
    fn url(&self) -> &str {
        &self.0.url
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.0.stop())
    }
}

/// The orders target as `wanted` asks for it, acceptance delays scaled by
/// speed; its options were checked by [`options::parse`].
fn orders_config(wanted: &Wanted) -> Result<OrdersConfig, String> {
    let defaults = OrdersConfig::default();
    let mut config = OrdersConfig {
        accept_delay_min: defaults.accept_delay_min.div_f64(wanted.speed),
        accept_delay_max: defaults.accept_delay_max.div_f64(wanted.speed),
        seed: wanted.seed,
        ..defaults
    };
    for (key, value) in &wanted.options {
        let latency = (&mut config.latency_min, &mut config.latency_max);
        if !slowness(key, value, latency, &mut config.error_rate)? {
            return Err(format!("unknown option `{key}`"));
        }
    }
    Ok(config)
}

/// Sets `latency` or `error_rate`, the options every target with options
/// takes; false for any other key.
fn slowness(
    key: &str,
    value: &str,
    latency: (&mut std::time::Duration, &mut std::time::Duration),
    error_rate: &mut f64,
) -> Result<bool, String> {
    match key {
        "latency" => (*latency.0, *latency.1) = options::delay_range(value)?,
        "error_rate" => *error_rate = value.parse().map_err(|_| format!("{key}={value}"))?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The users target as `wanted` asks for it; its options were checked by [`options::parse`].
fn users_config(wanted: &Wanted) -> Result<UsersConfig, String> {
    let mut config = UsersConfig {
        seed: wanted.seed,
        ..UsersConfig::default()
    };
    for (key, value) in &wanted.options {
        let latency = (&mut config.latency_min, &mut config.latency_max);
        if slowness(key, value, latency, &mut config.error_rate)? {
            continue;
        }
        match key.as_str() {
            "rate_limit" => {
                config.rate_limit = value.parse().map_err(|_| format!("{key}={value}"))?
            }
            "dialect" => config.dialect = value.parse()?,
            "registration" => config.registration = value.parse()?,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(config)
}
