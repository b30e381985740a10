//! `scenario(name)` and the methods that fill in a [`Spec`]:
//! `.target .payload .population .batches .flow .cleanup .track .terminal .http .header`.

use rhai::{Array, Dynamic, Engine, FnPtr, Map};

use super::{Options, RResult, steps};
use crate::client::HttpVersion;
use crate::spec::ScriptFn;
use crate::spec::{Cleanup, Count, Spec, Step};

/// Registers the `Scenario` type and its methods.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Spec>("Scenario");
    engine.register_fn("scenario", |name: &str| Spec {
        name: name.to_owned(),
        terminal: vec!["Ended".into(), "Cancelled".into()],
        breaker: (10, std::time::Duration::from_secs(5)),
        ..Spec::default()
    });
    engine.register_fn("description", |s: &mut Spec, text: &str| {
        s.description = text.to_owned()
    });
    engine.register_fn("target", |s: &mut Spec, url: &str| {
        s.target = url.trim().to_owned()
    });
    engine.register_fn("payload", |s: &mut Spec, f: FnPtr| {
        s.payload = Some(ScriptFn(f))
    });
    engine.register_fn("header", |s: &mut Spec, k: &str, v: Dynamic| {
        s.http.headers.push((k.to_owned(), v.to_string()))
    });
    engine.register_fn("population", population);
    engine.register_fn("batches", batches);
    engine.register_fn("arrivals", arrivals);
    engine.register_fn("flow", flow);
    engine.register_fn("cleanup", cleanup);
    engine.register_fn("setup", |s: &mut Spec, list: Array| -> RResult<()> {
        s.setup = run_wide(list, "setup")?;
        Ok(())
    });
    engine.register_fn("teardown", |s: &mut Spec, list: Array| -> RResult<()> {
        s.teardown = run_wide(list, "teardown")?;
        Ok(())
    });
    engine.register_fn("track", track);
    engine.register_fn("terminal", |s: &mut Spec, states: Array| {
        s.terminal = states.iter().map(|d| d.to_string()).collect();
    });
    engine.register_fn("http", http);
    engine.register_fn("auth", auth);
    engine.register_fn("cookies", |s: &mut Spec, on: bool| s.cookies = on);
    engine.register_fn("secret", |s: &mut Spec, name: &str| {
        s.secrets.push(name.to_owned())
    });
    engine.register_fn("recover", |s: &mut Spec, step: Step| -> RResult<()> {
        match step {
            Step::Request(r) => {
                s.recover = Some(r);
                Ok(())
            }
            _ => Err("recover: expects a request step, e.g. get(\"/details\").query(\"orderNumber\", \"{orderNumber}\")".into()),
        }
    });
    engine.register_fn(
        "rate_limit",
        |s: &mut Spec, step: &str, per_second: Dynamic| -> RResult<()> {
            let rate = per_second
                .as_float()
                .or_else(|_| per_second.as_int().map(|i| i as f64))
                .map_err(|t| format!("rate_limit: requests per second is a number, got {t}"))?;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!(
                    "rate_limit(\"{step}\"): requests per second must be above 0, got {rate}"
                )
                .into());
            }
            s.rate_limits.retain(|(name, _)| name != step);
            s.rate_limits.push((step.to_owned(), rate));
            Ok(())
        },
    );
    engine.register_fn("breaker", |s: &mut Spec, options: Map| -> RResult<()> {
        let o = Options::new(options, "breaker", &["failures", "open_for"])?;
        if let Some(n) = o.int("failures")? {
            s.breaker.0 = u32::try_from(n)
                .map_err(|_| format!("breaker.failures: 0 (off) or more, got {n}"))?;
        }
        if let Some(d) = o.duration("open_for")? {
            s.breaker.1 = d;
        }
        Ok(())
    });
    engine.register_fn(
        "accept_failed",
        |s: &mut Spec, share: Dynamic| -> RResult<()> {
            s.accept_failed = share_of(&share, "accept_failed")?;
            Ok(())
        },
    );
    engine.register_fn("status_mix", |s: &mut Spec, options: Map| -> RResult<()> {
        let o = Options::new(
            options,
            "status_mix",
            &["success", "client_error", "server_error"],
        )?;
        let mut shares = [0.0; 3];
        for (share, key) in shares
            .iter_mut()
            .zip(["success", "client_error", "server_error"])
        {
            *share = o.float(key)?.unwrap_or(0.0);
            if !(share.is_finite() && *share >= 0.0) {
                return Err(format!("status_mix.{key}: a weight of 0 or more, got {share}").into());
            }
        }
        let sum: f64 = shares.iter().sum();
        if sum <= 0.0 {
            return Err("status_mix: the weights add up to 0".into());
        }
        s.status_mix = Some(shares.map(|w| w / sum));
        Ok(())
    });
    engine.register_fn("duration", |s: &mut Spec, d: Dynamic| -> RResult<()> {
        s.duration = Some(super::duration(&d, "duration")?).filter(|d| !d.is_zero());
        Ok(())
    });
    engine.register_fn("threshold", |s: &mut Spec, expr: &str| {
        s.thresholds.push(expr.to_owned())
    });
}

fn population(s: &mut Spec, options: Map) -> RResult<()> {
    let o = Options::new(options, "population", &["total", "mix", "seed", "shuffle"])?;
    s.population.total = o.int("total")?.ok_or("population: `total` is required")?;
    let mix = o
        .get("mix")
        .and_then(|m| m.clone().try_cast::<Map>())
        .ok_or("population: `mix` is required, a map of flow name to count or \"rest\"")?;
    s.population.mix = mix
        .into_iter()
        .map(|(kind, count)| {
            let count = if let Ok(n) = count.as_int() {
                Count::Exact(n)
            } else if let Ok(w) = count.as_float() {
                Count::Weight(w)
            } else if count.to_string() == "rest" {
                Count::Rest
            } else {
                return Err(format!(
                    "population.mix.{kind}: expected a count, a weight (a number with a point, like 0.25) or \"rest\", got {count}"
                )
                .into());
            };
            Ok((kind.to_string(), count))
        })
        .collect::<RResult<_>>()?;
    s.population.seed = o
        .int("seed")?
        .map(|n| u64::try_from(n).map_err(|_| "population.seed: must not be negative"))
        .transpose()?;
    s.population.shuffle = match o.get("shuffle") {
        None => true,
        Some(v) => v
            .as_bool()
            .map_err(|t| format!("population.shuffle: expected true or false, got {t}"))?,
    };
    Ok(())
}

fn batches(s: &mut Spec, options: Map) -> RResult<()> {
    let o = Options::new(options, "batches", &["size", "parallel", "between", "ramp"])?;
    if let Some(ramp) = o.duration("ramp")? {
        s.batches.ramp = ramp;
    }
    if let Some(size) = o.int("size")? {
        s.batches.size = size;
    }
    if let Some(parallel) = o.int("parallel")? {
        s.batches.parallel = parallel;
    }
    if let Some(between) = o.duration("between")? {
        s.batches.between = between;
    }
    Ok(())
}

/// `s.arrivals(#{ rate, duration })` (constant; without `duration`, until
/// the population has started) or `#{ start_rate, stages:
/// [#{ rate, over }, …] }`, with `max_in_flight`; a rate of 0 with no stages
/// leaves the batches in charge (so a parameter can turn it off).
fn arrivals(s: &mut Spec, options: Map) -> RResult<()> {
    let o = Options::new(
        options,
        "arrivals",
        &["rate", "duration", "start_rate", "stages", "max_in_flight"],
    )?;
    let rate_of = |v: Option<f64>, what: &str| -> RResult<Option<f64>> {
        match v {
            Some(r) if !(r.is_finite() && r >= 0.0) => {
                Err(format!("{what}: iterations per second, 0 or more, got {r}").into())
            }
            v => Ok(v),
        }
    };
    let rate = rate_of(o.float("rate")?, "arrivals.rate")?;
    match (rate.is_some(), o.get("start_rate"), o.get("duration")) {
        (true, Some(_), _) => {
            return Err(
                "arrivals: `start_rate` goes with `stages`; a constant `rate` starts at that rate"
                    .into(),
            );
        }
        (false, _, Some(_)) => {
            return Err(
                "arrivals: `duration` goes with `rate`; each of the `stages` has its own `over`"
                    .into(),
            );
        }
        _ => {}
    }
    let stages = match (o.get("stages"), rate) {
        (Some(_), Some(_)) => {
            return Err(
                "arrivals: give `rate` and `duration` (a constant rate) or `stages`, not both"
                    .into(),
            );
        }
        (Some(list), None) => {
            let list = list
                .clone()
                .try_cast::<Array>()
                .ok_or("arrivals.stages: expected a list like [#{ rate: 50, over: \"30s\" }, …]")?;
            list.into_iter()
                .map(|stage| {
                    let map = stage.try_cast::<Map>().ok_or(
                        "arrivals.stages: each stage is a map like #{ rate: 50, over: \"30s\" }",
                    )?;
                    let st = Options::new(map, "arrivals.stages", &["rate", "over"])?;
                    let rate = rate_of(st.float("rate")?, "arrivals.stages.rate")?
                        .ok_or("arrivals.stages: each stage needs `rate` (reached at its end)")?;
                    let over = st
                        .duration("over")?
                        .ok_or("arrivals.stages: each stage needs `over` (its duration)")?;
                    Ok((rate, Some(over)))
                })
                .collect::<RResult<Vec<_>>>()?
        }
        (None, Some(0.0)) => {
            s.arrivals = None;
            return Ok(());
        }
        (None, Some(r)) => vec![(r, o.duration("duration")?)],
        (None, None) => {
            return Err("arrivals: give `rate` and `duration`, or `stages`".into());
        }
    };
    let start_rate = match rate {
        Some(r) => r,
        None => rate_of(o.float("start_rate")?, "arrivals.start_rate")?.unwrap_or(0.0),
    };
    s.arrivals = Some(crate::spec::Arrivals {
        start_rate,
        stages,
        max_in_flight: o.int("max_in_flight")?.unwrap_or(1000),
    });
    Ok(())
}

fn flow(s: &mut Spec, name: &str, list: Array) -> RResult<()> {
    if s.flows.iter().any(|f| f.name == name) {
        return Err(format!("flow `{name}` is defined twice").into());
    }
    let steps = steps(list, &format!("flow `{name}`"))?;
    if steps.is_empty() {
        return Err(format!("flow `{name}` has no steps").into());
    }
    s.flows.push(crate::spec::Flow {
        name: name.to_owned(),
        steps,
    });
    Ok(())
}

/// Steps run once for the whole run: no phases inside.
pub(super) fn run_wide(list: Array, what: &str) -> RResult<Vec<Step>> {
    let steps = steps(list, what)?;
    if steps.iter().any(|s| matches!(s, Step::Phase { .. })) {
        return Err(format!("{what}: a phase() belongs in a flow, not here").into());
    }
    Ok(steps)
}

fn requests(list: Array, what: &str) -> RResult<Vec<crate::spec::Request>> {
    steps(list, what)?
        .into_iter()
        .map(|step| match step {
            Step::Request(r) => Ok(r),
            _ => Err(format!("{what}: only request steps are allowed here").into()),
        })
        .collect()
}

fn cleanup(s: &mut Spec, name: &str, options: Map) -> RResult<()> {
    let what = "cleanup";
    let o = Options::new(
        options,
        what,
        &[
            "after", "first", "steps", "verify", "finally", "timeout", "every",
        ],
    )?;
    let list = match o.get("steps") {
        Some(d) if d.is_array() => d.clone().cast::<Array>(),
        Some(d) => vec![d.clone()],
        None => {
            return Err(
                "cleanup: `steps` is required, e.g. [orders::end(), orders::cancel()]".into(),
            );
        }
    };
    let verify = match o.get("verify") {
        Some(d) => requests(vec![d.clone()], "cleanup.verify")?.pop(),
        None => None,
    };
    let once = |key: &str, what: &str| match o.get(key) {
        Some(d) if d.is_array() => requests(d.clone().cast::<Array>(), what),
        Some(d) => requests(vec![d.clone()], what),
        None => Ok(Vec::new()),
    };
    let first = once("first", "cleanup.first")?;
    let finally = once("finally", "cleanup.finally")?;
    let rule = Cleanup {
        flow: name.to_owned(),
        after: o.duration("after")?.unwrap_or_default(),
        first,
        finally,
        steps: requests(list, "cleanup.steps")?,
        verify,
        timeout: o
            .duration("timeout")?
            .unwrap_or(std::time::Duration::from_secs(300)),
        every: o
            .duration("every")?
            .unwrap_or(std::time::Duration::from_secs(10)),
    };
    s.cleanup.retain(|c| c.flow != name);
    s.cleanup.push(rule);
    Ok(())
}

fn track(s: &mut Spec, options: Map) -> RResult<()> {
    let o = Options::new(options, "track", &["id", "label", "noun"])?;
    if let Some(noun) = o.string("noun")? {
        s.track.noun = noun;
    }
    if let Some(id) = o.string("id")? {
        s.track.id = id;
    }
    if let Some(label) = o.string("label")? {
        s.track.label = label;
    }
    Ok(())
}

fn http(s: &mut Spec, options: Map) -> RResult<()> {
    let o = Options::new(
        options,
        "http",
        &[
            "timeout",
            "retries",
            "retry_backoff",
            "max_connections",
            "ca_file",
            "version",
        ],
    )?;
    if let Some(name) = o.string("version")? {
        s.http.version = HttpVersion::parse(&name).ok_or_else(|| {
            format!(
                "http.version: {name:?} is not one; use {}",
                HttpVersion::ALL
                    .map(|v| format!("{:?}", v.name()))
                    .join(", ")
            )
        })?;
    }
    if let Some(path) = o.string("ca_file")? {
        s.http.ca_file = Some(path.into());
    }
    if let Some(t) = o.duration("timeout")? {
        s.http.timeout = t;
    }
    if let Some(r) = o.int("retries")? {
        s.http.retries =
            u32::try_from(r).map_err(|_| format!("http.retries: must be 0 or more, got {r}"))?;
    }
    if let Some(b) = o.duration("retry_backoff")? {
        s.http.retry_backoff = b;
    }
    if let Some(m) = o.int("max_connections")? {
        s.http.max_connections = usize::try_from(m)
            .ok()
            .filter(|m| *m > 0)
            .ok_or_else(|| format!("http.max_connections: must be at least 1, got {m}"))?;
    }
    Ok(())
}

fn auth(s: &mut Spec, options: Map) -> RResult<()> {
    let o = Options::new(options, "auth", &["token", "renew"])?;
    let token = o
        .string("token")?
        .ok_or("auth: `token` is required: the variable holding the access token")?;
    let renew = match o.get("renew") {
        Some(d) if d.is_array() => requests(d.clone().cast::<Array>(), "auth.renew")?,
        Some(d) => requests(vec![d.clone()], "auth.renew")?,
        None => Vec::new(),
    };
    s.auth = Some(crate::spec::Auth { token, renew });
    Ok(())
}

/// A share from `"10%"` or `0.1`, between 0 and 1.
fn share_of(value: &Dynamic, what: &str) -> RResult<f64> {
    let share = match value.clone().into_string() {
        Ok(text) => text
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .map(|p| p / 100.0),
        Err(_) => value
            .as_float()
            .ok()
            .or_else(|| value.as_int().ok().map(|i| i as f64)),
    };
    share.filter(|s| (0.0..=1.0).contains(s)).ok_or_else(|| {
        format!("{what}: expected a share like \"10%\" or 0.1 (0 to 100%), got {value}").into()
    })
}
