//! Compiles spec steps into plan steps: parses templates and JSON paths,
//! scales intervals, follows which variables each step may use and notes
//! which payload fields the templates read.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::PlanError;
use super::display::describe_condition;
use super::model::Cleanup;
use super::settings::{Speed, header_name};
use super::sparse::Needs;
use super::step::{
    Action, Body, Check, Condition, Control, Journey, Loop, MetricSource, Poll, Request, Source,
    Step, Subject, Test, Until, requests_in,
};
use super::template::{JsonPath, JsonTemplate, Template};
use crate::spec;

/// Variables every order has before its first step (`type` is the old name
/// of `flow`, kept one release).
pub const BUILTIN_VARS: &[&str] = &["n", "flow", "type", "batch", "label"];

/// The variables set before a flow's first step: the built-in ones and the
/// payload's fields.
pub(super) fn initial_vars(payload_keys: &BTreeSet<String>) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    known.extend(payload_keys.iter().cloned());
    known
}

/// Every request name of a plan once, in order of first use. A request's
/// `slot` is its name's place here: the run keeps per-name state (breakers,
/// rate limits) in lists by it, so a request finds its own without hashing
/// its name.
#[derive(Debug, Default)]
pub(super) struct Names {
    slots: HashMap<Arc<str>, u32>,
    list: Vec<Arc<str>>,
}

impl Names {
    /// `name`'s slot and its text, shared by every request of that name.
    fn slot(&mut self, name: &str) -> (u32, Arc<str>) {
        if let Some((text, &slot)) = self.slots.get_key_value(name) {
            return (slot, text.clone());
        }
        let slot = self.list.len() as u32;
        let text: Arc<str> = name.into();
        self.slots.insert(text.clone(), slot);
        self.list.push(text.clone());
        (slot, text)
    }

    /// The names by slot.
    pub(super) fn into_list(self) -> Vec<Arc<str>> {
        self.list
    }
}

/// Compiles one flow's steps, recursing into journeys, and notes which
/// payload fields the templates use.
pub(super) struct Compiler<'a> {
    flow: &'a str,
    speed: Speed,
    payload_keys: &'a BTreeSet<String>,
    payload_vars: &'a mut BTreeSet<String>,
    names: &'a mut Names,
}

impl<'a> Compiler<'a> {
    /// A compiler for `flow` (the name errors give), noting in `payload_vars`
    /// the fields of `payload_keys` that templates use and in `names` the
    /// requests' names.
    pub(super) fn new(
        flow: &'a str,
        speed: Speed,
        payload_keys: &'a BTreeSet<String>,
        payload_vars: &'a mut BTreeSet<String>,
        names: &'a mut Names,
    ) -> Self {
        Compiler {
            flow,
            speed,
            payload_keys,
            payload_vars,
            names,
        }
    }

    /// One request, whose templates may use only `known`.
    pub(super) fn request(
        &mut self,
        r: &spec::Request,
        known: &BTreeSet<String>,
    ) -> Result<Request, PlanError> {
        let mut compiled = request(r, self.flow, known, self.names.slot(&r.name))?;
        // Checks see this request's captures too.
        let mut seen = known.clone();
        seen.extend(compiled.captures.iter().map(|(v, _)| v.to_string()));
        compiled.checks = r
            .checks
            .iter()
            .map(|(cond, fail)| {
                let cond = self.condition(cond, &seen)?;
                let text = describe_condition(&cond);
                Ok(Check {
                    cond,
                    fail: *fail,
                    text,
                })
            })
            .collect::<Result<_, PlanError>>()?;
        if !self.payload_keys.contains("type") && compiled.vars().any(|v| &**v == "type") {
            tracing::warn!(
                "flow `{}`, step `{}`: the template variable {{type}} is deprecated; use {{flow}} (the old name goes away in the next release)",
                self.flow,
                compiled.name
            );
        }
        collect_payload_vars(&compiled, self.payload_keys, self.payload_vars);
        Ok(compiled)
    }

    /// A flow's or an action's steps; adds what they capture to `known`.
    pub(super) fn steps(
        &mut self,
        steps: &[spec::Step],
        known: &mut BTreeSet<String>,
    ) -> Result<Vec<Step>, PlanError> {
        steps.iter().map(|s| self.step(s, known)).collect()
    }

    /// A cleanup rule, run once the flow's steps have set `known`.
    pub(super) fn cleanup(
        &mut self,
        c: &spec::Cleanup,
        known: &BTreeSet<String>,
    ) -> Result<Cleanup, PlanError> {
        // What `first` captures (an administrator's token) the rest may use.
        let mut first = Vec::with_capacity(c.first.len());
        let mut known = known.clone();
        for r in &c.first {
            first.push(self.request(r, &known)?);
            known.extend(r.captures.iter().map(|(var, _)| var.clone()));
        }
        let known = &known;
        Ok(Cleanup {
            after: self.speed.scale(c.after),
            first,
            finally: c
                .finally
                .iter()
                .map(|r| self.request(r, known))
                .collect::<Result<_, _>>()?,
            steps: c
                .steps
                .iter()
                .map(|r| self.request(r, known))
                .collect::<Result<_, _>>()?,
            verify: c
                .verify
                .as_ref()
                .map(|r| self.request(r, known))
                .transpose()?,
            timeout: c.timeout,
            every: self.speed.scale(c.every),
        })
    }

    /// One step; `phase()` is a flow's top-level step only.
    pub(super) fn step(
        &mut self,
        step: &spec::Step,
        known: &mut BTreeSet<String>,
    ) -> Result<Step, PlanError> {
        let invalid = |what: String, message: String| PlanError::Invalid { what, message };
        let compiled = match step {
            spec::Step::Request(r) => Step::Request(self.request(r, known)?),
            spec::Step::Pause { duration, jitter } => Step::Pause {
                duration: self.speed.scale(*duration),
                jitter: *jitter,
            },
            spec::Step::Poll(p) => Step::Poll(Poll {
                request: self.request(&p.request, known)?,
                until: match &p.until {
                    spec::Until::Field { path, one_of } => {
                        let what = format!("flow `{}`, poll.field", self.flow);
                        // The poll's own captures are set when its condition is checked.
                        let mut seen = known.clone();
                        seen.extend(p.request.captures.iter().map(|(v, _)| v.clone()));
                        Until::Field {
                            path: JsonPath::parse(path).map_err(|m| invalid(what.clone(), m))?,
                            one_of: one_of
                                .iter()
                                .map(|v| {
                                    known_template(v, &seen).map_err(|m| invalid(what.clone(), m))
                                })
                                .collect::<Result<_, _>>()?,
                        }
                    }
                    spec::Until::Script(s) => Until::Script {
                        f: s.clone(),
                        with_vars: false,
                    },
                },
                every: self.speed.scale(p.every),
                backoff: p.backoff,
                max_every: self.speed.scale(p.max_every),
                timeout: p.timeout,
            }),
            spec::Step::Journey(c) => Step::Journey(self.journey(c, known)?),
            spec::Step::Control(c) => Step::Control(self.control(c, known)?),
            spec::Step::Phase { name, .. } => {
                return Err(invalid(
                    format!("flow `{}`, phase `{name}`", self.flow),
                    "a phase() is a barrier for the whole population: put it among the flow's own steps, not inside when, repeat, for_each, a journey or a run-wide list".into(),
                ));
            }
        };
        if let Step::Request(r) | Step::Poll(Poll { request: r, .. }) = &compiled {
            known.extend(r.captures.iter().map(|(v, _)| v.to_string()));
        }
        Ok(compiled)
    }

    /// A branch, loop or `set`; later steps may use what any of its bodies
    /// captured (unset when that body did not run).
    fn control(
        &mut self,
        c: &spec::Control,
        known: &mut BTreeSet<String>,
    ) -> Result<Control, PlanError> {
        Ok(match c {
            spec::Control::Set { var, f } => {
                known.insert(var.clone());
                Control::Set {
                    var: var.as_str().into(),
                    f: f.clone(),
                }
            }
            spec::Control::When {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.condition(cond, known)?;
                let mut after = known.clone();
                let then = self.branch(then, None, &mut after)?;
                let otherwise = self.branch(otherwise, None, &mut after)?;
                *known = after;
                Control::When {
                    cond,
                    then,
                    otherwise,
                }
            }
            spec::Control::Repeat {
                until,
                max,
                timeout,
                steps,
            } => {
                let mut after = known.clone();
                let steps = self.branch(steps, None, &mut after)?;
                // `until` is checked after a round: it may use what the round captured.
                let until = match until {
                    spec::Loop::Times(n) => Loop::Times(*n),
                    spec::Loop::Until(cond) => Loop::Until(self.condition(cond, &after)?),
                    spec::Loop::While(cond) => Loop::While(self.condition(cond, known)?),
                    spec::Loop::WhileRunning => Loop::WhileRunning,
                };
                *known = after;
                Control::Repeat {
                    until,
                    max: *max,
                    timeout: *timeout,
                    steps,
                }
            }
            spec::Control::ForEach { list, .. } if !known.contains(list) => {
                return Err(PlanError::Invalid {
                    what: format!("flow `{}`, for_each", self.flow),
                    message: format!("variable `{list}` is never set before this step (a typo?)"),
                });
            }
            spec::Control::ForEach { list, item, steps } => Control::ForEach {
                list: list.as_str().into(),
                item: item.as_str().into(),
                steps: self.branch(steps, Some(item), known)?,
            },
            spec::Control::Attempt { steps } => Control::Attempt {
                steps: self.branch(steps, None, known)?,
            },
            spec::Control::Group { name, steps } => Control::Group {
                name: name.as_str().into(),
                steps: self.branch(steps, None, known)?,
            },
            spec::Control::Metric { kind, name, value } => Control::Metric {
                kind: *kind,
                name: name.as_str().into(),
                value: match value {
                    spec::MetricValue::Number(n) => MetricSource::Number(*n),
                    spec::MetricValue::Script(f) => MetricSource::Script(f.clone()),
                    spec::MetricValue::Template(t) => {
                        let what = format!("flow `{}`, {} `{name}`", self.flow, c.name());
                        let template = Template::parse(t).map_err(|m| PlanError::Invalid {
                            what: what.clone(),
                            message: m,
                        })?;
                        for v in template.vars() {
                            if self.payload_keys.contains(&**v) && !BUILTIN_VARS.contains(&&**v) {
                                self.payload_vars.insert(v.to_string());
                            }
                        }
                        if let Some(v) = template.vars().find(|v| !known.contains(&v.to_string())) {
                            return Err(PlanError::Invalid {
                                what,
                                message: format!(
                                    "variable `{v}` is never set before this step (a typo?)"
                                ),
                            });
                        }
                        MetricSource::Template(template)
                    }
                },
            },
        })
    }

    /// A body of a branch or loop, seeing `known` (plus `extra`); adds what it
    /// captured to `known`.
    fn branch(
        &mut self,
        steps: &[spec::Step],
        extra: Option<&str>,
        known: &mut BTreeSet<String>,
    ) -> Result<Vec<Step>, PlanError> {
        let mut inside = known.clone();
        inside.extend(extra.map(str::to_owned));
        let compiled = self.steps(steps, &mut inside)?;
        known.extend(inside);
        Ok(compiled)
    }

    /// A condition; placeholders in its values must be known here.
    fn condition(
        &self,
        c: &spec::Condition,
        known: &BTreeSet<String>,
    ) -> Result<Condition, PlanError> {
        let invalid = |message: String| PlanError::Invalid {
            what: format!("flow `{}`, condition", self.flow),
            message,
        };
        let (subject, test) = match c {
            spec::Condition::Script(f) => return Ok(Condition::Script(f.clone())),
            spec::Condition::Compare { subject, test } => (subject, test),
        };
        let subject = match subject {
            spec::Subject::Var(v) if !known.contains(v) => {
                return Err(invalid(format!(
                    "variable `{v}` is never set before this condition (a typo?)"
                )));
            }
            spec::Subject::Var(v) => Subject::Var(v.as_str().into()),
            spec::Subject::Field(path) => Subject::Field(JsonPath::parse(path).map_err(invalid)?),
            spec::Subject::Status => Subject::Status,
            spec::Subject::Header(name) => Subject::Header(
                hyper::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid(format!("`{name}` is not a header name")))?,
            ),
            spec::Subject::Length(path) => Subject::Length(JsonPath::parse(path).map_err(invalid)?),
        };
        let template = |v: &serde_json::Value| known_template(v, known).map_err(invalid);
        let test = match test {
            spec::Test::Equals(v) => Test::Equals(template(v)?),
            spec::Test::OneOf(list) => {
                Test::OneOf(list.iter().map(template).collect::<Result<_, _>>()?)
            }
            spec::Test::Exists(b) => Test::Exists(*b),
            spec::Test::Compare(cmp, n) => Test::Compare(*cmp, *n),
            spec::Test::Matches(pattern) => {
                Test::Matches(regex::Regex::new(pattern).map_err(|e| {
                    invalid(format!(
                        "`matches`: {pattern:?} is not a regular expression: {e}"
                    ))
                })?)
            }
        };
        Ok(Condition::Compare { subject, test })
    }

    fn journey(
        &mut self,
        c: &spec::Journey,
        known: &mut BTreeSet<String>,
    ) -> Result<Journey, PlanError> {
        let to_u32 = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let mut after = known.clone();
        let mut actions = Vec::new();
        for list in [&c.actions, &c.errors] {
            let mut compiled = Vec::new();
            for a in list {
                // An action sees what was known before the journey plus its own captures.
                let mut inside = known.clone();
                let steps = self.steps(&a.steps, &mut inside)?;
                after.extend(inside);
                compiled.push(Action {
                    name: a.name.as_str().into(),
                    category: a.category.as_str().into(),
                    weight: a.weight,
                    steps,
                    think: a
                        .think
                        .map(|(lo, hi)| (self.speed.scale(lo), self.speed.scale(hi))),
                });
            }
            actions.push(compiled);
        }
        // Later steps may use what any action captured (unset if it never ran).
        *known = after;
        let errors = actions.pop().expect("two lists");
        let actions = actions.pop().expect("two lists");
        let mix = category_mix(&c.mix, &actions);
        let pick = pick_probabilities(&mix, &actions);
        Ok(Journey {
            requests: (to_u32(c.requests.0), to_u32(c.requests.1)),
            think: (self.speed.scale(c.think.0), self.speed.scale(c.think.1)),
            mix,
            pick,
            actions,
            error_rate: c.error_rate,
            errors,
        })
    }
}

/// A value whose placeholders must all be known here.
fn known_template(v: &serde_json::Value, known: &BTreeSet<String>) -> Result<JsonTemplate, String> {
    let t = JsonTemplate::parse(v)?;
    if let Some(var) = t.vars().into_iter().find(|v| !known.contains(v.as_ref())) {
        return Err(format!("{{{var}}} is not set before this condition"));
    }
    Ok(t)
}

/// A journey's categories with a positive weight, their share of requests
/// (normalised to sum 1) and their actions' indexes.
fn category_mix(mix: &[(String, f64)], actions: &[Action]) -> Vec<(Arc<str>, f64, Vec<usize>)> {
    let total: f64 = mix.iter().map(|(_, w)| w).sum();
    mix.iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(cat, w)| {
            let members = actions
                .iter()
                .enumerate()
                .filter(|(_, a)| &*a.category == cat)
                .map(|(i, _)| i)
                .collect();
            (cat.as_str().into(), w / total, members)
        })
        .collect()
}

/// The probability of picking each category of `mix`: its share divided by
/// its mean requests per action, so the *requests* follow the mix.
fn pick_probabilities(mix: &[(Arc<str>, f64, Vec<usize>)], actions: &[Action]) -> Vec<f64> {
    let per_action = |members: &[usize]| {
        let weight: f64 = members.iter().map(|&i| actions[i].weight).sum();
        let requests: f64 = members
            .iter()
            .map(|&i| actions[i].weight * requests_in(&actions[i].steps) as f64)
            .sum();
        if weight > 0.0 && requests > 0.0 {
            requests / weight
        } else {
            1.0
        }
    };
    let raw: Vec<f64> = mix
        .iter()
        .map(|(_, share, m)| share / per_action(m))
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|p| p / sum).collect()
}

/// `r` compiled for `flow`, its name at `slot`; its templates may use only `known`.
fn request(
    r: &spec::Request,
    flow: &str,
    known: &BTreeSet<String>,
    (slot, name): (u32, Arc<str>),
) -> Result<Request, PlanError> {
    let invalid = |message: String| PlanError::Invalid {
        what: format!("flow `{flow}`, step `{}`", r.name),
        message,
    };
    let parse = |t: &str| Template::parse(t).map_err(invalid);
    let pairs = |list: &[(String, String)]| -> Result<Vec<(String, Template)>, PlanError> {
        list.iter()
            .map(|(k, v)| Ok((k.clone(), parse(v)?)))
            .collect()
    };
    let mut compiled = Request {
        name,
        slot,
        method: hyper::Method::from_bytes(r.method.as_bytes())
            .map_err(|_| invalid(format!("`{}` is not an HTTP method", r.method)))?,
        endpoint: format!("{} {}", r.method, r.path).into(),
        path: parse(&r.path)?,
        query: pairs(&r.query)?,
        headers: r
            .headers
            .iter()
            .map(|(k, v)| Ok((header_name(k).map_err(invalid)?, parse(v)?)))
            .collect::<Result<_, PlanError>>()?,
        body: match &r.body {
            spec::Body::None => Body::None,
            spec::Body::Payload => Body::Payload,
            spec::Body::Json(v) => Body::Json(JsonTemplate::parse(v).map_err(invalid)?),
        },
        expect: r.expect.clone(),
        captures: r
            .captures
            .iter()
            .map(|(var, from)| {
                let source = match from {
                    spec::Capture::Json(path) => {
                        Source::Json(JsonPath::parse(path).map_err(invalid)?)
                    }
                    spec::Capture::Header(name) => {
                        Source::Header(hyper::header::HeaderName::try_from(name.as_str()).map_err(
                            |_| invalid(format!("capture_header: `{name}` is not a header name")),
                        )?)
                    }
                    spec::Capture::Status => Source::Status,
                };
                Ok((var.as_str().into(), source))
            })
            .collect::<Result<_, PlanError>>()?,
        marks: r.marks.as_deref().map(Into::into),
        deliberate: r.deliberate,
        checks: Vec::new(),
        state_from: r
            .state_from
            .as_deref()
            .map(JsonPath::parse)
            .transpose()
            .map_err(invalid)?,
        json_needs: Needs::default(),
    };
    compiled.json_needs = Needs::of(
        compiled
            .captures
            .iter()
            .filter_map(|(_, s)| match s {
                Source::Json(path) => Some(path),
                _ => None,
            })
            .chain(&compiled.state_from),
    );
    for var in compiled.vars() {
        if !known.contains(var.as_ref()) {
            return Err(PlanError::UnknownVar {
                flow: flow.to_owned(),
                step: r.name.clone(),
                var: var.to_string(),
                known: known.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(compiled)
}

/// Adds to `out` the payload fields the request's templates use.
fn collect_payload_vars(r: &Request, payload_keys: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    for v in r.vars() {
        if payload_keys.contains(v.as_ref()) && !BUILTIN_VARS.contains(&v.as_ref()) {
            out.insert(v.to_string());
        }
    }
}
