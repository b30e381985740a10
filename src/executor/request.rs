//! One request step: render, send with retries, check the status, apply
//! captures and state, and record every attempt.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::breaker::Admit;
use super::prepare::{Prepared, keep_cookies};
use super::{Executor, Halt, OrderRun, StepFailure, backoff};
use crate::client::{ClientError, HttpClient, HttpResponse, Sent};
use crate::plan::{JsonTemplate, RUN_WIDE, Request, Source, Until, is_secret};
use crate::recorder::BreakerState;
use crate::recorder::journal::Entry;
use crate::recorder::{Checks, Exchange, Outcome, Record, Wait};

/// The result of one attempt that got past transport and status checks.
struct Checked {
    outcome: Outcome,
    reason: Option<String>,
    met: bool,
    checks: Checks,
}

impl<C: HttpClient> Executor<C> {
    /// Sends `r` (retrying connection errors, timeouts, 5xx and 429) and applies its
    /// captures. With `until`, returns whether the condition holds.
    pub(super) async fn request(
        &self,
        run: &mut OrderRun,
        r: &Request,
        token: &CancellationToken,
    ) -> Result<bool, StepFailure> {
        self.request_until(run, r, None, token).await
    }

    pub(super) async fn request_until(
        &self,
        run: &mut OrderRun,
        r: &Request,
        until: Option<&Until>,
        token: &CancellationToken,
    ) -> Result<bool, StepFailure> {
        // Headers are kept only for what may read them.
        let headers_read = until.is_some()
            || self.plan.keep_response
            || run.jar.is_some()
            || !r.checks.is_empty()
            || r.captures
                .iter()
                .any(|(_, s)| matches!(s, Source::Header(_)));
        let prepare = |run: &OrderRun| {
            self.prepare(run, r, headers_read).map_err(|e| StepFailure {
                reason: e.to_string(),
                transient: false,
                status: None,
            })
        };
        let Prepared {
            mut http,
            shown: mut shown_path,
            mut cookie_url,
        } = prepare(run)?;
        let mut attempt = 0;
        let mut renewed = false;
        // Written before the create goes out: after a crash, an order with an
        // intent and no id may exist on the target, so resume will not create it again.
        if run.id.is_none()
            && run.index != RUN_WIDE
            && r.captures.iter().any(|(v, _)| *v == self.plan.track_id)
        {
            self.journal(Entry::Intent {
                n: self.plan.orders[run.index as usize].n,
            });
        }
        // Renewal logins are bookkeeping: outside the journey's budget and mix.
        if !run.renewing {
            run.sent += 1;
        }
        loop {
            attempt += 1;
            let breaker = self.breakers.get(r.slot);
            let probe = match breaker.admit(token).await {
                Admit::Cancelled => return Err(StepFailure::interrupted()),
                Admit::Probe(probe) => {
                    self.breaker_changed(&r.name, BreakerState::HalfOpen).await;
                    Some(probe)
                }
                Admit::Go => None,
            };
            if !self.limits.wait(r.slot, token).await {
                return Err(StepFailure::interrupted());
            }
            // Nothing goes out that the journal does not have yet (the intent
            // of this create, the step lines before this request).
            if let Some(journal) = &self.journal {
                journal.sync();
            }
            let at = SystemTime::now();
            let Sent { result, latency } = {
                let _counted = self.recorder.metrics().in_flight();
                self.client.send(&http).await
            };
            if let (Some(jar), Some(url), Ok(resp)) = (&mut run.jar, &cookie_url, &result) {
                keep_cookies(jar, url, resp);
            }
            let (status, mut checked, retryable) = match result {
                Err(e) => (
                    None,
                    transport(&e, self.plan.http.timeout),
                    e.is_retryable(),
                ),
                Ok(resp) if !r.accepts(resp.status) => {
                    let retryable = resp.status >= 500 || resp.status == 429;
                    let reason = format!(
                        "HTTP {} {}",
                        resp.status,
                        snippet(&resp.body, &self.plan.secrets)
                    );
                    (
                        Some(resp.status),
                        Checked {
                            outcome: Outcome::UnexpectedStatus,
                            reason: Some(reason),
                            met: false,
                            checks: Checks::default(),
                        },
                        retryable,
                    )
                }
                Ok(resp) => {
                    let status = resp.status;
                    let mut checked = self.absorb(run, r, until, resp).await;
                    if r.deliberate && checked.outcome == Outcome::Ok {
                        checked.outcome = Outcome::ExpectedError;
                    }
                    (Some(status), checked, false)
                }
            };
            // The target's health: no answer, 5xx and 429 count against it.
            let healthy = status.is_some_and(|s| s < 500 && s != 429);
            let changed = match probe {
                Some(probe) => probe.record(healthy),
                None => breaker.record(healthy),
            };
            if let Some(state) = changed {
                self.breaker_changed(&r.name, state).await;
            }
            if run.alternative
                && status == Some(409)
                && checked.outcome == Outcome::UnexpectedStatus
            {
                checked.outcome = Outcome::Refused;
            }
            // An expired or ended session is renewed, not counted as an error.
            let renew = status == Some(401)
                && checked.outcome == Outcome::UnexpectedStatus
                && !renewed
                && !run.renewing
                && self.can_renew();
            if renew {
                checked.outcome = Outcome::Reauth;
            }
            let last = checked.reason.is_none()
                || (!renew
                    && (!retryable || attempt > self.plan.http.retries || token.is_cancelled()));
            let exchange = Exchange {
                last,
                at,
                order: run.index,
                step: Cow::Borrowed(&r.name),
                method: Cow::Borrowed(r.method.as_str()),
                endpoint: Cow::Borrowed(&r.endpoint),
                path: Cow::Borrowed(shown_path.as_deref().unwrap_or(&http.path)),
                status,
                latency,
                outcome: checked.outcome,
                attempt,
                poll: until.is_some(),
                category: if run.renewing {
                    None
                } else {
                    run.category.as_deref().map(Cow::Borrowed)
                },
                checks: checked.checks,
            };
            if let Some(record) = self.recorder.exchange(exchange) {
                self.recorder.record(record).await;
            }
            let Some(reason) = checked.reason else {
                return Ok(checked.met);
            };
            // Get a new token once, then send again.
            if renew {
                if !self.renew(run, token).await {
                    return Err(StepFailure {
                        reason: format!("{reason}; getting a new token failed"),
                        transient: false,
                        status: None,
                    });
                }
                renewed = true;
                Prepared {
                    http,
                    shown: shown_path,
                    cookie_url,
                } = prepare(run)?;
                continue;
            }
            // Worth asking again later (a poll keeps going): not there yet, busy, or unreachable.
            let transient = retryable
                || matches!(status, Some(404 | 409 | 425))
                || status.is_none_or(|s| s >= 500);
            let transient =
                transient && !matches!(checked.outcome, Outcome::BodyTooLarge | Outcome::HttpError);
            if !retryable || attempt > self.plan.http.retries || token.is_cancelled() {
                let tries = if attempt > 1 {
                    format!(" after {attempt} attempts")
                } else {
                    String::new()
                };
                return Err(StepFailure {
                    reason: format!("{reason}{tries}"),
                    transient,
                    status,
                });
            }
            let wait = backoff(self.plan.http.retry_backoff, attempt, &mut run.rng);
            if !self.idle(run, Wait::RetryBackoff, wait, token).await {
                return Err(StepFailure {
                    reason,
                    transient,
                    status,
                });
            }
        }
    }

    async fn breaker_changed(&self, endpoint: &Arc<str>, state: BreakerState) {
        self.recorder
            .record(Record::Breaker {
                endpoint: endpoint.clone(),
                state,
            })
            .await;
    }

    fn can_renew(&self) -> bool {
        self.plan.auth.as_ref().is_some_and(|a| !a.renew.is_empty())
    }

    /// Runs the scenario's auth renewal steps; true if they all succeeded.
    async fn renew(&self, run: &mut OrderRun, token: &CancellationToken) -> bool {
        let Some(auth) = &self.plan.auth else {
            return false;
        };
        run.renewing = true;
        let mut ok = true;
        for step in &auth.renew {
            if Box::pin(self.request(run, step, token)).await.is_err() {
                ok = false;
                break;
            }
        }
        run.renewing = false;
        ok
    }

    /// Reads the JSON body when the step needs it (captures, state, poll
    /// condition), and header and status captures.
    async fn absorb(
        &self,
        run: &mut OrderRun,
        r: &Request,
        until: Option<&Until>,
        resp: HttpResponse,
    ) -> Checked {
        // Taken apart: the headers can then be kept without a copy.
        let HttpResponse {
            status,
            headers,
            body,
        } = resp;
        let body = &body[..];
        let ok = |met| Checked {
            outcome: Outcome::Ok,
            reason: None,
            met,
            checks: Checks::default(),
        };
        let needs_json = r.captures.iter().any(|(_, s)| matches!(s, Source::Json(_)))
            || r.state_from.is_some()
            || until.is_some();
        // Only the captures and the state read it: build just what they reach.
        let lean = until.is_none() && !self.plan.keep_response && r.checks.is_empty();
        let json = if needs_json {
            let parsed = if lean {
                r.json_needs.parse(body)
            } else {
                serde_json::from_slice::<Value>(body)
            };
            match parsed {
                Ok(v) => v,
                Err(e) => {
                    return Checked {
                        outcome: Outcome::BadJson,
                        reason: Some(format!(
                            "response is not JSON ({e}): {}",
                            snippet(body, &self.plan.secrets)
                        )),
                        met: false,
                        checks: Checks::default(),
                    };
                }
            }
        } else {
            // Parsed only if a condition reads it (`Last::body`).
            Value::Null
        };
        for (var, source) in &r.captures {
            let value = match source {
                Source::Json(path) => path.find(&json).map(Cow::Borrowed),
                Source::Header(name) => headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| Cow::Owned(Value::String(v.to_owned()))),
                Source::Status => Some(Cow::Owned(Value::from(status))),
            };
            let Some(value) = value else {
                return Checked {
                    outcome: Outcome::CaptureMissing,
                    reason: Some(format!(
                        "capture `{var}`: no `{}` in response {}",
                        source.describe(),
                        snippet(body, &self.plan.secrets)
                    )),
                    met: false,
                    checks: Checks::default(),
                };
            };
            if *var == self.plan.track_id && run.index != RUN_WIDE {
                let id: std::sync::Arc<str> = match &*value {
                    Value::String(s) => s.as_str().into(),
                    other => other.to_string().into(),
                };
                run.id = Some(id.clone());
                let n = self.plan.orders[run.index as usize].n;
                self.journal(Entry::Created {
                    n,
                    id: id.to_string(),
                });
                self.recorder
                    .record(Record::Created {
                        order: run.index,
                        id,
                    })
                    .await;
            }
            run.vars.set(var.clone(), value.into_owned());
        }
        if let Some(path) = &r.state_from {
            match path.find(&json) {
                Some(Value::String(s)) => self.set_state(run, s.as_str().into()).await,
                _ => {
                    return Checked {
                        outcome: Outcome::CaptureMissing,
                        reason: Some(format!(
                            "no state field `{}` in response {}",
                            path.as_str(),
                            snippet(body, &self.plan.secrets)
                        )),
                        met: false,
                        checks: Checks::default(),
                    };
                }
            }
        }
        if let Some(state) = &r.marks {
            self.set_state(run, state.clone()).await;
        }
        let mut checked =
            match until {
                None => ok(true),
                Some(Until::Field { path, one_of }) => {
                    let met = path.find(&json).is_some_and(|v| {
                        one_of.iter().any(|want| match want {
                            // The usual case, a fixed value: compared without a copy.
                            JsonTemplate::Fixed(w) => super::control::same(v, w),
                            t => t
                                .render(&run.vars)
                                .is_ok_and(|w| super::control::same(v, &w)),
                        })
                    });
                    Checked {
                        outcome: if met { Outcome::Ok } else { Outcome::Pending },
                        reason: None,
                        met,
                        checks: Checks::default(),
                    }
                }
                Some(Until::Script { f, with_vars }) => match self.plan.runtime.predicate(
                    f,
                    &json,
                    with_vars.then(|| run.vars.to_json()),
                ) {
                    Ok(met) => Checked {
                        outcome: if met { Outcome::Ok } else { Outcome::Pending },
                        reason: None,
                        met,
                        checks: Checks::default(),
                    },
                    Err(e) => Checked {
                        outcome: Outcome::ScriptError,
                        reason: Some(format!("poll check failed: {}", e.replace('\n', " "))),
                        met: false,
                        checks: Checks::default(),
                    },
                },
            };
        // Kept for later branches and loops and for this step's checks: the
        // document, if parsed here, moved, not copied; the text copied, to
        // outlive the connection's buffer and the document (see `Last`).
        if self.plan.keep_response || !r.checks.is_empty() {
            run.last = Some(super::Last {
                status,
                headers,
                raw: body.into(),
                parsed: needs_json.then_some(json),
            });
        }
        // On a poll, only the answer that meets its condition is checked.
        if checked.outcome == Outcome::Ok {
            match self.checks(run, r) {
                Ok(checks) => checked.checks = checks,
                Err(mut failed) => {
                    if let Some(reason) = &mut failed.reason {
                        reason.push_str(&format!(
                            " in response {}",
                            snippet(body, &self.plan.secrets)
                        ));
                    }
                    return failed;
                }
            }
        }
        checked
    }

    /// Evaluates the step's `.check(…)`s against this response; `Err` when a
    /// check that fails the step did not hold (or a check could not be evaluated).
    /// The response is `run.last`, set just before.
    fn checks(&self, run: &mut OrderRun, r: &Request) -> Result<Checks, Checked> {
        let mut checks = Checks::default();
        for check in &r.checks {
            let failed = |outcome, reason: String, checks| Checked {
                outcome,
                reason: Some(reason),
                met: false,
                checks,
            };
            match self.holds(run, &check.cond, "check") {
                Ok(true) => checks.passed += 1,
                Ok(false) => {
                    checks.failed += 1;
                    if check.fail {
                        let reason = format!("check failed: {}", check.text);
                        return Err(failed(Outcome::CheckFailed, reason, checks));
                    }
                }
                // A check that cannot be evaluated did not hold.
                Err(Halt::Failed { reason, .. }) => {
                    checks.failed += 1;
                    if check.fail {
                        return Err(failed(Outcome::ScriptError, reason, checks));
                    }
                }
                Err(Halt::Interrupted) => {}
            }
        }
        Ok(checks)
    }
}

fn transport(e: &ClientError, timeout: std::time::Duration) -> Checked {
    let outcome = match e {
        ClientError::Timeout => Outcome::Timeout,
        ClientError::Connect(_) => Outcome::Connect,
        ClientError::BodyTooLarge { .. } => Outcome::BodyTooLarge,
        ClientError::Other(_) => Outcome::HttpError,
    };
    let reason = match e {
        ClientError::Timeout => {
            format!("no answer within {timeout:?} (the http timeout, api.timeout)")
        }
        other => other.to_string(),
    };
    Checked {
        outcome,
        reason: Some(reason),
        met: false,
        checks: Checks::default(),
    }
}

/// The start of a body, for error messages.
fn snippet(body: &[u8], secrets: &[Arc<str>]) -> String {
    // Secrets in a JSON answer (tokens, passwords) must not reach reports or logs.
    let redacted;
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(mut json) => {
            redact(&mut json, secrets);
            redacted = json.to_string();
            redacted.as_bytes()
        }
        Err(_) => body,
    };
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text.to_owned()
    }
}

/// Replaces the values of secret fields.
fn redact(value: &mut Value, secrets: &[Arc<str>]) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret(key, secrets) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v, secrets);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_in_answers_are_redacted_from_messages() {
        let body = br#"{"access_token":"eyJabc","user":{"password":"p","name":"x","nickname":"s"},"items":[{"refresh_token":"r"}]}"#;
        let text = super::snippet(body, &["nickname".into()]);
        assert!(
            !text.contains("eyJabc")
                && !text.contains("\"p\"")
                && !text.contains("\"r\"")
                && !text.contains("\"s\""),
            "{text}"
        );
        assert!(
            text.contains("[redacted]") && text.contains("\"name\":\"x\""),
            "{text}"
        );
    }
}
