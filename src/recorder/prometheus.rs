//! Live metrics in Prometheus form, updated by the aggregator (and the
//! in-flight gauge by the executor) and served by `report::prometheus`.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::Exchange;

/// Labels of one request series: shared names and fixed words, so counting
/// an exchange allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Step name.
    pub step: Arc<str>,
    /// HTTP method.
    pub method: Arc<str>,
    /// `2xx`, `4xx`, `5xx`, … or `none` when no response came.
    pub status_class: &'static str,
}

/// Labels of one error series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Step name.
    pub step: Arc<str>,
    /// Error class (timeout, connect, http_5xx, …).
    pub class: &'static str,
}

/// The status class label of `status`.
fn status_class(status: Option<u16>) -> &'static str {
    match status.map(|s| s / 100) {
        Some(1) => "1xx",
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        Some(_) => "other",
        None => "none",
    }
}

/// Labels of the orders-by-state gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// Order state.
    pub state: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The registry and every metric `runner` exports.
pub struct Metrics {
    /// What `/metrics` encodes.
    pub registry: Registry,
    durations: HistogramFamily<RequestLabels>,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    orders: Family<StateLabels, Gauge>,
    /// Requests sent and not yet answered.
    in_flight: Gauge,
    batch_duration: Histogram,
    /// Whether anything reads them (`--metrics-addr`); if not, exchanges are not counted here.
    serving: bool,
}

/// One request counted in the in-flight gauge (see [`Metrics::in_flight`]).
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn request_buckets() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(true)
    }
}

impl Metrics {
    /// The metrics; `serving` says whether an endpoint will read them: a run
    /// without `--metrics-addr` does not pay for counting every exchange twice.
    pub fn new(serving: bool) -> Self {
        let mut registry = Registry::with_prefix("runner");
        let durations: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(request_buckets);
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let orders = Family::<StateLabels, Gauge>::default();
        let in_flight = Gauge::default();
        let batch_duration = Histogram::new(exponential_buckets(0.01, 2.0, 20));
        registry.register(
            "request_duration_seconds",
            "HTTP request latency by step, method and status class",
            durations.clone(),
        );
        registry.register(
            "requests",
            "HTTP requests sent (polls and retries included)",
            requests.clone(),
        );
        registry.register(
            "errors",
            "HTTP requests that failed, by step and error class",
            errors.clone(),
        );
        registry.register(
            "population",
            "Members of the population (orders, users, …) by current state",
            orders.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests sent or waiting for a connection slot, not yet answered",
            in_flight.clone(),
        );
        registry.register(
            "batch_duration_seconds",
            "Time each batch took",
            batch_duration.clone(),
        );
        Metrics {
            registry,
            durations,
            requests,
            errors,
            orders,
            in_flight,
            batch_duration,
            serving,
        }
    }

    /// Counts one exchange.
    pub fn observe(&self, x: &Exchange) {
        if !self.serving {
            return;
        }
        let labels = RequestLabels {
            step: x.step.as_ref().into(),
            method: x.method.as_ref().into(),
            status_class: status_class(x.status),
        };
        self.durations
            .get_or_create(&labels)
            .observe(x.latency.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
        if let Some(class) = x.outcome.error_class(x.status) {
            self.errors
                .get_or_create(&ErrorLabels {
                    step: labels.step,
                    class,
                })
                .inc();
        }
    }

    /// Counts a request in flight until the guard is dropped, when something
    /// reads the gauge: one shared counter written twice per request would
    /// cost every core.
    pub fn in_flight(&self) -> Option<InFlight<'_>> {
        self.serving.then(|| {
            self.in_flight.inc();
            InFlight(&self.in_flight)
        })
    }

    /// Sets the number of orders in `state`.
    pub fn set_orders(&self, state: &str, n: u64) {
        if !self.serving {
            return;
        }
        self.orders
            .get_or_create(&StateLabels {
                state: state.into(),
            })
            .set(n as i64);
    }

    /// Records a finished batch.
    pub fn batch_done(&self, seconds: f64) {
        if !self.serving {
            return;
        }
        self.batch_duration.observe(seconds);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
