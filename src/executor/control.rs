//! Branches, loops and `set`: decided from the order's variables and its last
//! accepted response; closures are called through the script runtime with a
//! context map (`vars`, `response`, `status`, `random`).

use std::sync::Arc;
use std::time::Instant;

use rand::RngExt;
use serde_json::Value;

use super::{Executor, Halt, OrderRun};
use crate::client::HttpClient;
use crate::plan::{Condition, Control, JsonTemplate, Lookup, Loop, Step, Subject, Test};

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
                    // A body that never waits must not keep the worker thread.
                    tokio::task::yield_now().await;
                    self.body(run, steps, flow).await?;
                    if let Loop::Until(c) = until
                        && self.holds(run, c, "repeat")?
                    {
                        return Ok(());
                    }
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
        let status;
        let value = match subject {
            Subject::Var(v) => run.vars.lookup(v),
            Subject::Field(path) => run.last.as_ref().and_then(|(_, json)| path.find(json)),
            Subject::Status => {
                status = run.last.as_ref().map(|(s, _)| Value::from(*s));
                status.as_ref()
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
        })
    }

    /// What a closure sees: the variables, the last response and its status,
    /// and a number in 0..1 from the order's own seeded generator.
    fn context(&self, run: &mut OrderRun) -> Value {
        let vars = run.vars.to_json();
        let (status, response) = match &run.last {
            Some((s, json)) => (Value::from(*s), json.clone()),
            None => (Value::Null, Value::Null),
        };
        serde_json::json!({
            "vars": vars,
            "response": response,
            "status": status,
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
