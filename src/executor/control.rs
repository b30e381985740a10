//! Branches, loops and `set`: decided from the order's variables and its last
//! accepted response; closures are called through the script runtime with a
//! context map (`vars`, `response`, `status`, `random`).

use std::sync::Arc;
use std::time::Instant;

use rand::RngExt;
use serde_json::Value;

use super::{Executor, Halt, OrderRun};
use crate::client::HttpClient;
use crate::plan::{
    Condition, Control, JsonTemplate, Lookup, Loop, MetricSource, Step, Subject, Test,
};
use crate::recorder::Record;

impl<C: HttpClient> Executor<C> {
    /// Runs one `set`, `when`, `repeat` or `for_each`; its bodies are nested steps.
    pub(super) async fn control(
        &self,
        run: &mut OrderRun,
        c: &Control,
        flow: u16,
    ) -> Result<(), Halt> {
        match c {
            Control::Set { var, f } => {
                let value = self
                    .plan
                    .runtime
                    .call(f, self.context(run))
                    .map_err(|e| halt("set", format!("set `{var}`: {e}")))?;
                run.vars.set(var.clone(), value);
                Ok(())
            }
            Control::When {
                cond,
                then,
                otherwise,
            } => {
                let steps = if self.holds(run, cond, "when")? {
                    then
                } else {
                    otherwise
                };
                self.body(run, steps, flow).await
            }
            Control::Repeat {
                until,
                max,
                timeout,
                steps,
            } => {
                let started = Instant::now();
                for round in 0.. {
                    match until {
                        Loop::Times(n) if round >= *n => return Ok(()),
                        Loop::While(c) if !self.holds(run, c, "repeat")? => return Ok(()),
                        Loop::WhileRunning if self.deadline.is_none() || self.past_deadline() => {
                            return Ok(());
                        }
                        _ => {}
                    }
                    // `until` waits for the condition to hold, `while` for it to stop holding.
                    let state = match until {
                        Loop::While(_) => "still held",
                        _ => "still did not hold",
                    };
                    if round >= *max {
                        return Err(halt(
                            "repeat",
                            format!("repeat: the condition {state} after {max} rounds"),
                        ));
                    }
                    if let Some(t) = timeout
                        && started.elapsed() >= *t
                    {
                        return Err(halt(
                            "repeat",
                            format!("repeat: the condition {state} after {t:?}"),
                        ));
                    }
                    // A body that never waits must not keep the worker
                    // thread: this yields once the task's budget is spent,
                    // not every round (a yield a round doubles the work of
                    // 10,000 users waking from the same pause).
                    tokio::task::coop::consume_budget().await;
                    self.body(run, steps, flow).await?;
                    if let Loop::Until(c) = until
                        && self.holds(run, c, "repeat")?
                    {
                        return Ok(());
                    }
                }
                Ok(())
            }
            Control::Attempt { steps } => match self.body(run, steps, flow).await {
                // Counted (its requests are errors), logged; the flow goes on.
                Err(Halt::Failed { step, reason }) => {
                    tracing::debug!(step = &*step, reason, "attempt failed");
                    Ok(())
                }
                other => other,
            },
            Control::Group { name, steps } => {
                let started = Instant::now();
                let result = self.body(run, steps, flow).await;
                self.recorder
                    .record(Record::Group {
                        name: name.clone(),
                        took: started.elapsed(),
                        ok: result.is_ok(),
                    })
                    .await;
                result
            }
            Control::Metric { kind, name, value } => {
                // A value that is missing or not a number is skipped, not a failure.
                let value = match value {
                    MetricSource::Number(n) => Some(*n),
                    MetricSource::Template(t) => {
                        t.render(&run.vars).ok().and_then(|v| v.trim().parse().ok())
                    }
                    MetricSource::Script(f) => match self.plan.runtime.call(f, self.context(run)) {
                        Ok(v) => number(&v),
                        Err(e) => {
                            return Err(halt(c.name(), format!("{} `{name}`: {e}", c.name())));
                        }
                    },
                };
                match value {
                    Some(value) if value.is_finite() => {
                        self.recorder
                            .record(Record::Metric {
                                kind: *kind,
                                name: name.clone(),
                                value,
                            })
                            .await;
                    }
                    _ => tracing::debug!(metric = &**name, "no number for the metric; skipped"),
                }
                Ok(())
            }
            Control::ForEach { list, item, steps } => {
                let items = match run.vars.lookup(list) {
                    Some(Value::Array(items)) => items.clone(),
                    Some(other) => {
                        let message = format!("for_each: `{list}` is not an array but {other}");
                        return Err(halt("for_each", message));
                    }
                    None => Vec::new(),
                };
                for value in items {
                    run.vars.set(item.clone(), value);
                    self.body(run, steps, flow).await?;
                }
                Ok(())
            }
        }
    }

    async fn body(&self, run: &mut OrderRun, steps: &[Step], flow: u16) -> Result<(), Halt> {
        Box::pin(self.run_steps(run, steps, flow, None)).await
    }

    /// Whether `cond` holds for this order now.
    pub(super) fn holds(
        &self,
        run: &mut OrderRun,
        cond: &Condition,
        what: &str,
    ) -> Result<bool, Halt> {
        let (subject, test) = match cond {
            Condition::Script(f) => {
                return match self.plan.runtime.call(f, self.context(run)) {
                    Ok(Value::Bool(b)) => Ok(b),
                    Ok(other) => Err(halt(
                        what,
                        format!("{what}: the condition returned {other}, not true or false"),
                    )),
                    Err(e) => Err(halt(what, format!("{what}: {e}"))),
                };
            }
            Condition::Compare { subject, test } => (subject, test),
        };
        let owned;
        let last = run.last.as_mut();
        let value = match subject {
            Subject::Var(v) => run.vars.lookup(v),
            Subject::Field(path) => last.and_then(|l| path.find(l.body())),
            Subject::Status => {
                owned = last.map(|l| Value::from(l.status));
                owned.as_ref()
            }
            Subject::Header(name) => {
                owned = last
                    .and_then(|l| l.headers.get(name))
                    .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()));
                owned.as_ref()
            }
            Subject::Length(path) => {
                owned = last
                    .and_then(|l| path.find(l.body()))
                    .and_then(|v| match v {
                        Value::Array(a) => Some(a.len()),
                        Value::Object(o) => Some(o.len()),
                        Value::String(s) => Some(s.chars().count()),
                        _ => None,
                    })
                    .map(Value::from);
                owned.as_ref()
            }
        };
        let value = value.filter(|v| !v.is_null());
        let equals = |t: &JsonTemplate| {
            let want = t
                .render(&run.vars)
                .map_err(|m| halt(what, format!("{what}: {{{}}} is not set", m.0)))?;
            Ok::<_, Halt>(value.is_some_and(|v| same(v, &want)))
        };
        Ok(match test {
            Test::Exists(b) => value.is_some() == *b,
            Test::Equals(t) => equals(t)?,
            Test::OneOf(list) => {
                let mut any = false;
                for t in list {
                    any |= equals(t)?;
                }
                any
            }
            Test::Compare(cmp, n) => value.and_then(number).is_some_and(|x| cmp.holds(x, *n)),
            Test::Matches(re) => value.is_some_and(|v| match v {
                Value::String(s) => re.is_match(s),
                Value::Number(_) | Value::Bool(_) => re.is_match(&v.to_string()),
                _ => false,
            }),
        })
    }

    /// What a closure sees: the variables, the last response with its status
    /// and headers (lower-case names), and a number in 0..1 from the order's
    /// own seeded generator.
    fn context(&self, run: &mut OrderRun) -> Value {
        let vars = run.vars.to_json();
        let (status, response, headers) = match &mut run.last {
            Some(l) => {
                let mut headers = serde_json::Map::new();
                for (name, value) in &l.headers {
                    let value = String::from_utf8_lossy(value.as_bytes());
                    match headers.get_mut(name.as_str()) {
                        // Repeated headers are joined as HTTP allows.
                        Some(Value::String(s)) => {
                            s.push_str(", ");
                            s.push_str(&value);
                        }
                        _ => {
                            headers.insert(name.as_str().to_owned(), value.into_owned().into());
                        }
                    }
                }
                (
                    Value::from(l.status),
                    l.body().clone(),
                    Value::Object(headers),
                )
            }
            None => (Value::Null, Value::Null, Value::Null),
        };
        serde_json::json!({
            "vars": vars,
            "response": response,
            "status": status,
            "headers": headers,
            "random": run.rng.random::<f64>(),
        })
    }
}

fn halt(step: &str, reason: String) -> Halt {
    Halt::Failed {
        step: Arc::from(step),
        reason,
    }
}

/// Equal, with a number and its text counted as the same (`5` and `"5"`):
/// services differ in whether ids are strings or integers.
pub(super) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s.trim().parse::<f64>().ok() == n.as_f64()
        }
        _ => a == b,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Array(items) => Some(items.len() as f64),
        _ => None,
    }
}
