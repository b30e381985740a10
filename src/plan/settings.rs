//! Run-wide settings: `--speed` and the intervals it scales, the target,
//! the HTTP client's settings, the batch sizes and the circuit breaker.

use std::time::Duration;

use super::PlanError;
use super::template::Template;
use crate::config::{Params, provenance};
use crate::spec;

/// `--speed`, checked to be a number above 0: every scaled interval is
/// divided by it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Speed(f64);

impl Speed {
    pub(super) fn new(speed: f64) -> Result<Speed, PlanError> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(PlanError::invalid(
                "--speed",
                format!("must be a number above 0, got {speed}"),
            ));
        }
        Ok(Speed(speed))
    }

    /// `d` divided by the speed.
    pub(super) fn scale(self, d: Duration) -> Duration {
        d.div_f64(self.0)
    }

    /// The factor itself (rates are multiplied by it).
    pub(super) fn factor(self) -> f64 {
        self.0
    }
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A built-in target started in-process on 127.0.0.1: its kind and any
    /// options (`orders`, `users?dialect=camel`).
    Builtin(String),
    /// A base URL such as `http://127.0.0.1:8080`, without a trailing slash.
    Url(String),
}

/// The target as a script names it: `builtin:KIND` or the URL.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Builtin(kind) => write!(f, "{BUILTIN}{kind}"),
            Target::Url(url) => f.write_str(url),
        }
    }
}

/// How a script names a built-in target: `builtin:KIND`.
pub const BUILTIN: &str = "builtin:";

/// Client settings, intervals already scaled by speed.
#[derive(Debug, Clone)]
pub struct Http {
    /// Per-request timeout (not scaled: it guards against a stuck target).
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First retry delay (scaled).
    pub retry_backoff: Duration,
    /// Most requests in flight.
    pub max_connections: usize,
    /// Headers sent with every request, their names checked.
    pub headers: Vec<(hyper::header::HeaderName, Template)>,
    /// Certificates (PEM) trusted besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// The HTTP versions spoken.
    pub version: crate::client::HttpVersion,
}

/// Circuit-breaker settings of a run (the executor keeps the state).
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (0 = never).
    pub failures: u32,
    /// How long it stays open before a probe (already scaled by speed).
    pub open_for: Duration,
}

/// The circuit breaker of the spec's `(failures, open for)`, open time scaled.
pub(super) fn breaker((failures, open_for): (u32, Duration), speed: Speed) -> BreakerConfig {
    BreakerConfig {
        failures,
        open_for: speed.scale(open_for),
    }
}

/// Orders per batch and batches running at once, each at least 1.
pub(super) fn batch_sizes(
    batches: &spec::Batches,
    params: &Params,
) -> Result<(usize, usize), PlanError> {
    let at_least_one = |n: i64, what: &str| {
        usize::try_from(n).ok().filter(|s| *s > 0).ok_or_else(|| {
            PlanError::invalid(
                what,
                format!("must be at least 1, got {n}{}", provenance(params, n)),
            )
        })
    };
    Ok((
        at_least_one(batches.size, "batches.size")?,
        at_least_one(batches.parallel, "batches.parallel")?,
    ))
}

/// Client settings: the timeout must be above 0, the retry backoff is
/// scaled and the scenario-wide headers parsed.
pub(super) fn http(http: &spec::Http, speed: Speed, params: &Params) -> Result<Http, PlanError> {
    Ok(Http {
        timeout: nonzero(http.timeout, "http.timeout", params)?,
        retries: http.retries,
        retry_backoff: speed.scale(http.retry_backoff),
        max_connections: http.max_connections,
        ca_file: http.ca_file.clone(),
        version: http.version,
        headers: http
            .headers
            .iter()
            .map(|(k, v)| {
                let bad = |m| PlanError::invalid("header", m);
                Ok((
                    header_name(k).map_err(bad)?,
                    Template::parse(v).map_err(bad)?,
                ))
            })
            .collect::<Result<_, PlanError>>()?,
    })
}

fn nonzero(d: Duration, what: &str, params: &Params) -> Result<Duration, PlanError> {
    if d.is_zero() {
        return Err(PlanError::Invalid {
            what: what.into(),
            message: format!("must be above 0{}", provenance(params, "0s")),
        });
    }
    Ok(d)
}

pub(super) fn target(raw: &str, params: &Params) -> Result<Target, PlanError> {
    let bad = |message: String| PlanError::Invalid {
        what: "target".into(),
        message: format!("{message}{}", provenance(params, raw)),
    };
    if raw.is_empty() {
        return Err(bad(
            "no target: call s.target(\"builtin:orders\") or pass --target http://HOST:PORT".into(),
        ));
    }
    if let Some(spec) = raw.strip_prefix(BUILTIN) {
        let kind = spec.split_once('?').map_or(spec, |(kind, _)| kind);
        if crate::builtin::KINDS.contains(&kind) {
            crate::builtin::options::parse(spec).map_err(bad)?;
            return Ok(Target::Builtin(spec.to_owned()));
        }
        let known: Vec<String> = crate::builtin::KINDS
            .iter()
            .map(|k| format!("{BUILTIN}{k}"))
            .collect();
        return Err(bad(format!(
            "unknown built-in target `{kind}`; available: {}",
            known.join(", ")
        )));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        bad(format!(
            "{raw:?} is not a valid URL ({e}); expected http://HOST:PORT"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad(format!(
            "{raw:?}: expected an http:// or https:// URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!(
            "{raw:?}: a base URL cannot have a query or fragment"
        )));
    }
    Ok(Target::Url(raw.trim_end_matches('/').to_owned()))
}

/// A header's name, checked once when the plan is compiled rather than on every request.
pub(super) fn header_name(name: &str) -> Result<hyper::header::HeaderName, String> {
    hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        format!("`{name}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)")
    })
}
