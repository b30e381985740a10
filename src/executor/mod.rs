//! Walks one order through its flow, then through its cleanup rule. Never
//! prints: everything goes to the [`Recorder`]. A failed step is data
//! (a [`FlowEnd::Failed`]), not an error that stops the run.

mod breaker;
mod cleanup;
mod control;
mod journey;
mod limit;
mod phases;
mod poll;
mod prepare;
mod request;
mod resume;
mod retry;
mod timer;

pub use breaker::Breakers;
pub use limit::RateLimits;
pub use retry::backoff;
pub use timer::Timer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::client::{BaseUrl, HttpClient};
use crate::plan::{BUILTIN_VARS, Lookup, Plan, RUN_WIDE, Step};
use crate::recorder::journal::{Entry, Journal};
use crate::recorder::{FlowEnd, Record, Recorder, Wait};

/// Shared by every worker of a run.
pub struct Executor<C> {
    /// The compiled plan.
    pub plan: Arc<Plan>,
    /// Base URL of the target, without a trailing slash.
    pub base_url: BaseUrl,
    /// The HTTP client.
    pub client: Arc<C>,
    /// Where exchanges and state changes go.
    pub recorder: Recorder,
    /// Cancelled on the first Ctrl-C: flows stop, cleanup starts at once.
    pub stop: CancellationToken,
    /// Cancelled on the second Ctrl-C: cleanup gives up too.
    pub abort: CancellationToken,
    /// When journeys stop starting new actions (the scenario's duration limit).
    pub deadline: Option<tokio::time::Instant>,
    /// One circuit breaker per endpoint.
    pub breakers: Breakers,
    /// Requests-per-second limits by step.
    pub limits: RateLimits,
    /// The lifecycle journal in `--out`, for `runner resume`.
    pub journal: Option<Arc<Journal>>,
    /// The run's own variables (what setup and phases' once-steps captured),
    /// copied into every order that starts after them.
    pub shared: std::sync::RwLock<Vec<(Arc<str>, Value)>>,
    /// The clock of the waits, finer than tokio's millisecond.
    pub timer: Timer,
}

/// One order in progress: its variables, id and state. Moves from the flow into cleanup.
pub struct OrderRun {
    /// Index in the plan's orders.
    pub index: u32,
    vars: Vars,
    id: Option<Arc<str>>,
    state: Option<Arc<str>>,
    /// Requests sent (first attempts), for journeys' request budgets.
    sent: u32,
    /// The request-mix category of the action being run.
    category: Option<Arc<str>>,
    /// True while getting a new token, so a 401 there does not recurse.
    renewing: bool,
    /// True while trying one of several cleanup alternatives (a 409 is then a refusal).
    alternative: bool,
    /// The last accepted response, kept only when a branch, loop, `set` or
    /// check of the plan reads it.
    last: Option<Last>,
    rng: ChaCha8Rng,
    /// When its flow started (barriers included in its duration).
    started: Instant,
    /// Its cookies, when the scenario keeps them (`s.cookies(true)`).
    jar: Option<Box<cookie_store::CookieStore>>,
    /// Undoing what the run made (teardown): only the second Ctrl-C stops it,
    /// as it stops cleanups.
    undoing: bool,
}

/// A response kept for conditions and closures.
struct Last {
    status: u16,
    headers: hyper::header::HeaderMap,
    /// Its body as received.
    raw: Box<[u8]>,
    /// Its body as parsed: only once something reads it, unless the step
    /// needed it anyway; let go while the order waits (a parsed document
    /// takes several times the room of its text, and 10,000 users thinking
    /// each kept one) and parsed again if something reads it after.
    parsed: Option<Value>,
}

impl Last {
    /// Its body as JSON (an empty or text body is null).
    fn body(&mut self) -> &Value {
        self.parsed
            .get_or_insert_with(|| serde_json::from_slice(&self.raw).unwrap_or(Value::Null))
    }
}

/// Template variables of one order.
#[derive(Default)]
struct Vars(Vec<(Arc<str>, Value)>);

impl OrderRun {
    /// Lets the kept response's document go before a wait (see [`Last`]).
    fn shelve_last(&mut self) {
        if let Some(last) = &mut self.last {
            last.parsed = None;
        }
    }

    /// Counts the flow's time from `at`, its scheduled start in the open load
    /// model, so a late start shows in the flow duration instead of hiding.
    pub fn scheduled_at(&mut self, at: Instant) {
        self.started = at;
    }
}

impl Vars {
    /// Every variable as one JSON object, for closures.
    fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn set(&mut self, name: Arc<str>, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl Lookup for Vars {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v)
    }
}

/// Why a step failed, in words for the report.
#[derive(Debug, Clone)]
pub struct StepFailure {
    /// Why, in words.
    pub reason: String,
    /// Whether asking again later may help (a poll keeps going on these).
    pub transient: bool,
    /// The last HTTP status, when an answer came.
    pub status: Option<u16>,
}

impl StepFailure {
    /// The step was stopped (Ctrl-C) before it finished.
    fn interrupted() -> Self {
        StepFailure {
            reason: "interrupted".into(),
            transient: false,
            status: None,
        }
    }
}

impl<C: HttpClient> Executor<C> {
    /// Prepares order `index`: built-in variables and the payload fields templates use.
    pub fn start(&self, index: u32) -> OrderRun {
        let order = &self.plan.orders[index as usize];
        let mut vars = Vars::default();
        vars.set("n".into(), order.n.into());
        let flow = Value::String(self.plan.flows[order.flow as usize].name.to_string());
        vars.set("flow".into(), flow.clone());
        vars.set("type".into(), flow);
        vars.set("batch".into(), order.batch.into());
        vars.set(
            "label".into(),
            Value::String(self.plan.arena.label(order).to_owned()),
        );
        self.load_shared(&mut vars);
        if !self.plan.payload_vars.is_empty()
            && let Ok(Value::Object(map)) =
                serde_json::from_slice::<Value>(&self.plan.arena.payload(order))
        {
            for name in &self.plan.payload_vars {
                if let Some(v) = map.get(&**name) {
                    vars.set(name.clone(), v.clone());
                }
            }
        }
        let seed = self.plan.seed ^ u64::from(order.n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.fresh(index, vars, seed)
    }

    /// What stops `run`'s steps: the first Ctrl-C, or for teardown the second.
    fn stopper(&self, run: &OrderRun) -> &CancellationToken {
        if run.undoing { &self.abort } else { &self.stop }
    }

    /// Copies the run's own variables (setup's and phases' captures) into `vars`.
    fn load_shared(&self, vars: &mut Vars) {
        let shared = self.shared.read().expect("shared vars lock");
        for (name, value) in shared.iter() {
            vars.set(name.clone(), value.clone());
        }
    }

    /// A run that has sent nothing yet.
    fn fresh(&self, index: u32, vars: Vars, seed: u64) -> OrderRun {
        OrderRun {
            index,
            vars,
            id: None,
            state: None,
            sent: 0,
            category: None,
            renewing: false,
            alternative: false,
            last: None,
            started: Instant::now(),
            jar: self.plan.cookies.then(Box::default),
            rng: ChaCha8Rng::seed_from_u64(seed),
            undoing: false,
        }
    }

    /// Looks an order up with the scenario's `recover` request (`runner resume`).
    pub async fn recover(&self, run: &mut OrderRun) -> Recovery {
        let Some(r) = &self.plan.recover else {
            return Recovery::Unknown("the scenario has no s.recover(...) request".into());
        };
        match self.request(run, r, &self.stop).await {
            Ok(_) if run.id.is_some() => Recovery::Found,
            Ok(_) => Recovery::Unknown(format!("`{}` answered without the order's id", r.name)),
            Err(f) if f.status == Some(404) => Recovery::Absent,
            Err(f) => Recovery::Unknown(f.reason),
        }
    }

    /// An order an earlier run created (`runner resume`): its id, last state
    /// and what its finished steps captured.
    pub fn resumed(
        &self,
        index: u32,
        id: Option<&str>,
        state: Option<&str>,
        vars: serde_json::Map<String, Value>,
    ) -> OrderRun {
        let mut run = self.start(index);
        for (name, value) in vars {
            run.vars.set(name.into(), value);
        }
        if let Some(id) = id {
            run.id = Some(id.into());
            run.vars
                .set(self.plan.track_id.clone(), Value::String(id.to_owned()));
        }
        run.state = state.map(Into::into);
        run
    }

    /// Runs the order's flow to its end, failure or interruption.
    pub async fn run_flow(&self, run: &mut OrderRun) -> FlowEnd {
        self.run_flow_from(run, 0).await
    }

    /// Runs the order's flow from step `from` on.
    async fn run_flow_from(&self, run: &mut OrderRun, from: usize) -> FlowEnd {
        self.run_flow_part(run, from, None)
            .await
            .expect("a flow run to its end ends")
    }

    /// Runs the order's flow from step `from` up to (not including) step
    /// `to`, or to its end; `None` when it stopped at `to` with every step done.
    async fn run_flow_part(
        &self,
        run: &mut OrderRun,
        from: usize,
        to: Option<usize>,
    ) -> Option<FlowEnd> {
        let flow = self.plan.orders[run.index as usize].flow;
        let steps = &self.plan.flows[flow as usize].steps;
        let part = &steps[..to.unwrap_or(steps.len()).min(steps.len())];
        let result = self.run_steps(run, part, flow, Some(from)).await;
        if result.is_ok() && part.len() < steps.len() {
            return None;
        }
        let end = match result {
            Ok(()) => FlowEnd::Completed,
            Err(Halt::Failed { .. }) | Err(Halt::Interrupted) if self.stop.is_cancelled() => {
                FlowEnd::Interrupted
            }
            Err(Halt::Interrupted) => FlowEnd::Interrupted,
            Err(Halt::Failed { step, reason }) => FlowEnd::Failed { step, reason },
        };
        self.recorder
            .record(Record::FlowEnded {
                order: run.index,
                end: end.clone(),
                took: run.started.elapsed(),
            })
            .await;
        self.journal(Entry::FlowEnd {
            n: self.plan.orders[run.index as usize].n,
        });
        Some(end)
    }

    /// Appends to the journal, when the run keeps one (`--out`).
    fn journal(&self, entry: Entry) {
        if let Some(j) = &self.journal {
            j.write(&entry);
        }
    }

    /// Runs steps in order: a flow's from step `from` on, journaling each one
    /// done, or (`from` None) a journey action's steps.
    async fn run_steps(
        &self,
        run: &mut OrderRun,
        steps: &[Step],
        flow: u16,
        from: Option<usize>,
    ) -> Result<(), Halt> {
        let nested = from.is_none();
        for (i, step) in steps.iter().enumerate().skip(from.unwrap_or(0)) {
            if self.stopper(run).is_cancelled() {
                return Err(Halt::Interrupted);
            }
            // Steps inside an action are reported under the journey, not by position.
            let at = (flow, if nested { u16::MAX } else { i as u16 });
            let failed = |f: StepFailure| Halt::Failed {
                step: step_name(step),
                reason: f.reason,
            };
            match step {
                Step::Request(r) => {
                    self.request(run, r, self.stopper(run))
                        .await
                        .map_err(failed)?;
                }
                Step::Pause { duration, jitter } => {
                    let d = jittered(*duration, *jitter, &mut run.rng);
                    let pause = Wait::Pause {
                        flow: at.0,
                        step: at.1,
                    };
                    if !self.idle(run, pause, d, self.stopper(run)).await {
                        return Err(Halt::Interrupted);
                    }
                }
                Step::Poll(p) => self.poll(run, p, at).await.map_err(failed)?,
                Step::Journey(c) => Box::pin(self.journey(run, c, flow)).await?,
                Step::Control(c) => self.control(run, c, flow).await?,
                // The scheduler stops a flow at its barriers; reached here
                // only when a resumed order goes on alone.
                Step::Phase(_) => {}
            }
            if !nested {
                self.journal_step(run, step, i + 1);
            }
        }
        Ok(())
    }

    /// Journals that a flow step is done, with what it captured, so that
    /// `runner resume` continues at step `next` with the same variables.
    fn journal_step(&self, run: &OrderRun, step: &Step, next: usize) {
        let Some(journal) = &self.journal else {
            return;
        };
        let vars = match step {
            // Run again on resume anyway (a barrier is passed): nothing worth a line.
            Step::Pause { .. } | Step::Phase(_) => return,
            Step::Request(_) | Step::Poll(_) => step
                .captures()
                .iter()
                .filter_map(|(name, _)| Some((name.to_string(), run.vars.lookup(name)?.clone())))
                .collect(),
            // Branches, loops and journeys set variables at any depth: keep
            // them all but the built-in ones and payload fields, rebuilt on resume.
            Step::Control(_) | Step::Journey(_) => run
                .vars
                .0
                .iter()
                .filter(|(name, _)| {
                    !BUILTIN_VARS.contains(&&**name) && !self.plan.payload_vars.contains(name)
                })
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
        };
        journal.write(&Entry::Step {
            n: self.plan.orders[run.index as usize].n,
            next: next as u16,
            vars,
        });
        // Before the flow goes on: a step a crash cut off after its answer
        // would be sent again on resume (a second activate, refused).
        journal.sync();
    }

    /// Waits between two orders of a batch; false if the run was stopped meanwhile.
    pub async fn wait_between(&self, d: Duration) -> bool {
        self.wait(Wait::BetweenOrders, d, &self.stop).await
    }

    /// Waits `d` in `run`'s flow (a pause, think time, poll interval or
    /// back-off), letting its kept document go first (see [`Last`]).
    async fn idle(
        &self,
        run: &mut OrderRun,
        kind: Wait,
        d: Duration,
        token: &CancellationToken,
    ) -> bool {
        if !d.is_zero() {
            run.shelve_last();
        }
        self.wait(kind, d, token).await
    }

    /// Sleeps `d` and records how long it really took (timing accuracy);
    /// returns false, recording nothing, if `token` was cancelled first.
    async fn wait(&self, kind: Wait, d: Duration, token: &CancellationToken) -> bool {
        if d.is_zero() {
            return !token.is_cancelled();
        }
        // A pause is no time to leave lines queued (see the journal).
        if let Some(journal) = &self.journal {
            journal.sync();
        }
        let started = Instant::now();
        let Some(until) = started.checked_add(d) else {
            // Longer than the clock can count: only a stop ends it.
            token.cancelled().await;
            return false;
        };
        let slept = self.timer.sleep_until(until, token).await;
        if slept {
            let observed = started.elapsed();
            self.recorder.waited(kind, d, observed);
        }
        slept
    }

    async fn set_state(&self, run: &mut OrderRun, state: Arc<str>) {
        if run.state.as_ref() != Some(&state) {
            run.state = Some(state.clone());
            if run.index == RUN_WIDE {
                return;
            }
            let n = self.plan.orders[run.index as usize].n;
            self.journal(Entry::State {
                n,
                state: state.to_string(),
            });
            self.recorder
                .record(Record::State {
                    order: run.index,
                    state,
                })
                .await;
        }
    }

    fn is_terminal(&self, run: &OrderRun) -> bool {
        run.state
            .as_ref()
            .is_some_and(|s| self.plan.terminal.contains(s))
    }
}

fn step_name(step: &Step) -> Arc<str> {
    match step {
        Step::Request(r) => r.name.clone(),
        Step::Poll(p) => p.request.name.clone(),
        Step::Pause { .. } => "pause".into(),
        Step::Journey(_) => "journey".into(),
        Step::Control(c) => c.name().into(),
        Step::Phase(_) => "phase".into(),
    }
}

/// What looking up an order with a lost id found.
pub enum Recovery {
    /// It exists; its id is now known.
    Found,
    /// The target does not have it: it was never created.
    Absent,
    /// The lookup failed; why.
    Unknown(String),
}

/// Why a list of steps stopped early.
enum Halt {
    /// A step failed.
    Failed {
        /// The step.
        step: Arc<str>,
        /// Why.
        reason: String,
    },
    /// The run was stopped.
    Interrupted,
}

/// `d` changed by a random share in ±`jitter`.
fn jittered(d: Duration, jitter: f64, rng: &mut ChaCha8Rng) -> Duration {
    if jitter <= 0.0 {
        return d;
    }
    d.mul_f64(1.0 + rng.random_range(-jitter..=jitter))
}
