//! Step builders: `get(path)`, `post(path)`, … with chained `.expect()`,
//! `.capture()`, `.json()`; `pause(d)`; `poll(request, #{ … })`.

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::control::condition;
use super::{Options, RResult, deprecated, duration, steps};
use crate::spec::ScriptFn;
use crate::spec::{Action, Body, Capture, Journey, Poll, Request, Step, Until};

/// Registers the `Step` type and its builders.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Step>("Step");
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        engine.register_fn(method.to_lowercase(), move |path: &str| {
            Step::Request(Request::new(method, path))
        });
    }
    engine.register_fn("request", |method: &str, path: &str| -> RResult<Step> {
        let method = method.to_uppercase();
        if method.is_empty() || !method.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "request: {method:?} is not an HTTP method (GET, POST, PUT, PATCH, DELETE, …)"
            )
            .into());
        }
        Ok(Step::Request(Request::new(&method, path)))
    });
    engine.register_fn("name", |s: Step, name: &str| {
        edit(s, "name", |r| r.name = name.to_owned())
    });
    engine.register_fn("query", |s: Step, k: &str, v: Dynamic| {
        edit(s, "query", |r| r.query.push((k.to_owned(), v.to_string())))
    });
    engine.register_fn("header", |s: Step, k: &str, v: Dynamic| {
        edit(s, "header", |r| {
            r.headers.push((k.to_owned(), v.to_string()))
        })
    });
    engine.register_fn("json", |s: Step, body: Dynamic| -> RResult<Step> {
        let value: serde_json::Value = rhai::serde::from_dynamic(&body)?;
        edit(s, "json", |r| r.body = Body::Json(value))
    });
    engine.register_fn("send_payload", |s: Step| {
        edit(s, "send_payload", |r| r.body = Body::Payload)
    });
    engine.register_fn("expect", |s: Step, status: i64| -> RResult<Step> {
        let code = status_code(status)?;
        edit(s, "expect", |r| r.expect = vec![code])
    });
    engine.register_fn("expect", |s: Step, statuses: Array| -> RResult<Step> {
        let codes = statuses
            .iter()
            .map(|d| {
                d.as_int()
                    .map_err(|t| format!("expect: status codes are integers, got {t}").into())
                    .and_then(status_code)
            })
            .collect::<RResult<Vec<u16>>>()?;
        edit(s, "expect", |r| r.expect = codes)
    });
    engine.register_fn("capture", |s: Step, var: &str, path: &str| {
        edit(s, "capture", |r| {
            r.captures
                .push((var.to_owned(), Capture::Json(path.to_owned())))
        })
    });
    engine.register_fn("capture_header", |s: Step, var: &str, header: &str| {
        edit(s, "capture_header", |r| {
            r.captures
                .push((var.to_owned(), Capture::Header(header.to_owned())))
        })
    });
    engine.register_fn("capture_status", |s: Step, var: &str| {
        edit(s, "capture_status", |r| {
            r.captures.push((var.to_owned(), Capture::Status))
        })
    });
    engine.register_fn("check", |s: Step, cond: Dynamic| {
        let cond = condition(cond, "check")?;
        edit(s, "check", |r| r.checks.push((cond, false)))
    });
    engine.register_fn("check", |s: Step, cond: Dynamic, options: Map| {
        let cond = condition(cond, "check")?;
        let o = Options::new(options, "check", &["fail"])?;
        let fail = match o.get("fail") {
            Some(v) => v
                .as_bool()
                .map_err(|t| format!("check.fail: expected true or false, got {t}"))?,
            None => false,
        };
        edit(s, "check", |r| r.checks.push((cond, fail)))
    });
    engine.register_fn("marks", |s: Step, state: &str| {
        edit(s, "marks", |r| r.marks = Some(state.to_owned()))
    });
    engine.register_fn("state_from", |s: Step, field: &str| {
        edit(s, "state_from", |r| r.state_from = Some(field.to_owned()))
    });
    engine.register_fn("phase", |name: &str| Step::Phase {
        name: name.to_owned(),
        once: Vec::new(),
    });
    engine.register_fn("phase", |name: &str, once: rhai::Array| -> RResult<Step> {
        Ok(Step::Phase {
            name: name.to_owned(),
            once: super::scenario::run_wide(once, &format!("phase `{name}`"))?,
        })
    });
    engine.register_fn("pause", |d: Dynamic| -> RResult<Step> {
        Ok(Step::Pause {
            duration: duration(&d, "pause")?,
            jitter: 0.0,
        })
    });
    engine.register_fn("pause", |d: Dynamic, jitter: Dynamic| -> RResult<Step> {
        let jitter = jitter
            .as_float()
            .or_else(|_| jitter.as_int().map(|i| i as f64))
            .map_err(|t| format!("pause: jitter is a number between 0.0 and 1.0, got {t}"))?;
        if !(0.0..=1.0).contains(&jitter) {
            return Err(
                format!("pause: jitter is a share between 0.0 and 1.0, got {jitter}").into(),
            );
        }
        Ok(Step::Pause {
            duration: duration(&d, "pause")?,
            jitter,
        })
    });
    engine.register_fn("poll", poll);
    engine.register_fn("deliberate", |s: Step| {
        edit(s, "deliberate", |r| r.deliberate = true)
    });
    engine.register_type_with_name::<Action>("Action");
    engine.register_fn("action", action);
    engine.register_fn("journey", journey);
    engine.register_fn("choose", |ctx: NativeCallContext, options: Map| {
        deprecated(&ctx, "choose(#{…})", "journey(#{…})");
        journey(options)
    });
}

fn status_code(status: i64) -> RResult<u16> {
    u16::try_from(status)
        .ok()
        .filter(|c| (100..600).contains(c))
        .ok_or_else(|| format!("expect: {status} is not an HTTP status code (100..599)").into())
}

/// Applies `f` to a copy of a request step: the variable it was called on stays
/// as it was, so one step can be reused with variations. Pauses refuse.
fn edit(mut s: Step, what: &str, f: impl FnOnce(&mut Request)) -> RResult<Step> {
    match &mut s {
        Step::Request(r) => f(r),
        Step::Poll(p) => f(&mut p.request),
        Step::Pause { .. } | Step::Journey(_) | Step::Control(_) | Step::Phase { .. } => {
            return Err(
                format!("{what}() applies to a request step, not to a {}", s.name()).into(),
            );
        }
    }
    Ok(s)
}

const POLL_OPTIONS: &[&str] = &[
    "field",
    "equals",
    "one_of",
    "check",
    "every",
    "backoff",
    "max_every",
    "timeout",
];

fn poll(step: Step, options: Map) -> RResult<Step> {
    let Step::Request(request) = step else {
        return Err(
            "poll: the first argument must be a request step such as get(\"/details\")".into(),
        );
    };
    let o = Options::new(options, "poll", POLL_OPTIONS)?;
    let until = match (o.get("check"), o.string("field")?) {
        (Some(f), None) => {
            if o.get("equals").is_some() || o.get("one_of").is_some() {
                return Err(
                    "poll: `equals`/`one_of` go with `field`, not with `check` (a closure)".into(),
                );
            }
            let f = f
                .clone()
                .try_cast::<FnPtr>()
                .ok_or("poll.check: expected a closure such as |r| r.status == \"Accepted\"")?;
            Until::Script(ScriptFn(f))
        }
        (None, Some(path)) => {
            let one_of = match (o.get("equals"), o.get("one_of")) {
                (Some(v), None) => vec![rhai::serde::from_dynamic(v)?],
                (None, Some(list)) => {
                    let list = list
                        .clone()
                        .try_cast::<Array>()
                        .ok_or("poll.one_of: expected an array")?;
                    list.iter()
                        .map(rhai::serde::from_dynamic)
                        .collect::<RResult<Vec<_>>>()?
                }
                _ => {
                    return Err(
                        "poll: with `field`, give exactly one of `equals` or `one_of`".into(),
                    );
                }
            };
            Until::Field { path, one_of }
        }
        _ => {
            return Err(
                "poll: give either `field` (with `equals`/`one_of`) or `check` (a closure)".into(),
            );
        }
    };
    let every = o
        .duration("every")?
        .unwrap_or(std::time::Duration::from_secs(1));
    let backoff = o.float("backoff")?.unwrap_or(1.0);
    if !(1.0..=10.0).contains(&backoff) {
        return Err(format!("poll.backoff: a factor between 1.0 and 10.0, got {backoff}").into());
    }
    let max_every = o
        .duration("max_every")?
        .unwrap_or(every.max(std::time::Duration::from_secs(30)));
    if max_every < every {
        return Err(
            format!("poll.max_every ({max_every:?}) is shorter than every ({every:?})").into(),
        );
    }
    Ok(Step::Poll(Poll {
        request,
        until,
        every,
        backoff,
        max_every,
        timeout: o
            .duration("timeout")?
            .unwrap_or(std::time::Duration::from_secs(300)),
    }))
}

/// A `[min, max]` pair of durations.
fn range(v: &Dynamic, what: &str) -> RResult<(std::time::Duration, std::time::Duration)> {
    let list = v
        .clone()
        .try_cast::<Array>()
        .filter(|l| l.len() == 2)
        .ok_or_else(|| format!("{what}: expected [min, max], e.g. [\"100ms\", \"2s\"]"))?;
    let (min, max) = (duration(&list[0], what)?, duration(&list[1], what)?);
    if min > max {
        return Err(format!("{what}: min {min:?} is above max {max:?}").into());
    }
    Ok((min, max))
}

fn step_list(v: Option<&Dynamic>, what: &str) -> RResult<Vec<Step>> {
    let list = v
        .and_then(|d| d.clone().try_cast::<Array>())
        .ok_or_else(|| format!("{what}: `steps` is required, a list of steps"))?;
    steps(list, what)
}

/// `action(#{ name, category, weight, steps, think })`: one thing a virtual user does.
fn action(options: Map) -> RResult<Action> {
    let o = Options::new(
        options,
        "action",
        &["name", "category", "weight", "steps", "think"],
    )?;
    let name = o.string("name")?.ok_or("action: `name` is required")?;
    let weight = o.float("weight")?.unwrap_or(1.0);
    if !(weight.is_finite() && weight >= 0.0) {
        return Err(format!("action `{name}`: weight must be 0 or more, got {weight}").into());
    }
    Ok(Action {
        category: o.string("category")?.unwrap_or_else(|| "other".into()),
        weight,
        steps: step_list(o.get("steps"), &format!("action `{name}`"))?,
        think: o
            .get("think")
            .map(|v| range(v, &format!("action `{name}`.think")))
            .transpose()?,
        name,
    })
}

fn actions(v: Option<&Dynamic>, what: &str) -> RResult<Vec<Action>> {
    let Some(list) = v else { return Ok(Vec::new()) };
    let list = list
        .clone()
        .try_cast::<Array>()
        .ok_or_else(|| format!("{what}: expected a list of action(...)"))?;
    list.into_iter()
        .map(|d| {
            let t = d.type_name();
            d.try_cast::<Action>()
                .ok_or_else(|| format!("{what}: {t} is not an action(...)").into())
        })
        .collect()
}

/// `journey(#{ requests: [min, max], think: [min, max], mix: #{…}, actions: […], errors: #{ rate, actions } })`.
fn journey(options: Map) -> RResult<Step> {
    let o = Options::new(
        options,
        "journey",
        &["requests", "think", "mix", "actions", "errors"],
    )?;
    let requests = match o.get("requests") {
        Some(v) => {
            let l = v
                .clone()
                .try_cast::<Array>()
                .filter(|l| l.len() == 2)
                .ok_or("journey.requests: expected [min, max]")?;
            let (min, max) = (
                l[0].as_int()
                    .map_err(|t| format!("journey.requests: expected integers, got {t}"))?,
                l[1].as_int()
                    .map_err(|t| format!("journey.requests: expected integers, got {t}"))?,
            );
            if min < 0 || min > max {
                return Err(
                    format!("journey.requests: need 0 <= min <= max, got [{min}, {max}]").into(),
                );
            }
            (min, max)
        }
        None => (10, 10),
    };
    let actions = actions(o.get("actions"), "journey.actions")?;
    if actions.is_empty() {
        return Err("journey: `actions` needs at least one action(...)".into());
    }
    let mix = match o.get("mix").and_then(|m| m.clone().try_cast::<Map>()) {
        Some(m) => m
            .into_iter()
            .map(|(k, v)| {
                let w = v
                    .as_float()
                    .or_else(|_| v.as_int().map(|i| i as f64))
                    .map_err(|t| format!("journey.mix.{k}: expected a number, got {t}"))?;
                if !(w.is_finite() && w >= 0.0) {
                    return Err(format!("journey.mix.{k}: must be 0 or more, got {w}").into());
                }
                if !actions.iter().any(|a| a.category == k.as_str()) && w > 0.0 {
                    return Err(format!("journey.mix.{k}: no action has this category").into());
                }
                Ok((k.to_string(), w))
            })
            .collect::<RResult<Vec<_>>>()?,
        // Without a mix every category weighs the sum of its actions' weights.
        None => {
            let mut mix: Vec<(String, f64)> = Vec::new();
            for a in &actions {
                match mix.iter_mut().find(|(c, _)| *c == a.category) {
                    Some((_, w)) => *w += a.weight,
                    None => mix.push((a.category.clone(), a.weight)),
                }
            }
            mix
        }
    };
    if mix.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err("journey.mix: the weights add up to 0".into());
    }
    let (error_rate, errors) = match o.get("errors").and_then(|m| m.clone().try_cast::<Map>()) {
        Some(m) => {
            let e = Options::new(m, "journey.errors", &["rate", "actions"])?;
            let rate = e.float("rate")?.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&rate) {
                return Err(
                    format!("journey.errors.rate: a share between 0 and 1, got {rate}").into(),
                );
            }
            (rate, actions_of(&e)?)
        }
        None => (0.0, Vec::new()),
    };
    Ok(Step::Journey(Journey {
        requests,
        think: o
            .get("think")
            .map(|v| range(v, "journey.think"))
            .transpose()?
            .unwrap_or_default(),
        mix,
        actions,
        error_rate,
        errors,
    }))
}

fn actions_of(e: &Options) -> RResult<Vec<Action>> {
    actions(e.get("actions"), "journey.errors.actions")
}
