//! The per-order ledger: id, current state, every state reached, how the flow
//! ended, when it was created and how often it polled. Compact (about 56 bytes
//! an order) so a million orders fit easily. Also counts transitions and the
//! time from create to each state.

use std::collections::BTreeMap;
use std::sync::Arc;

use hdrhistogram::Histogram;

use super::histograms::{Hdr, Histograms};
use super::metrics::{dist, latency_histogram, record_us, value_histogram};
use super::{FlowEnd, Lifecycle, OrderRef, PopulationCounts, Transition};
use crate::plan::Plan;

const NONE: u8 = u8::MAX;
/// Distinct states tracked; more are unusual for one scenario and are not counted.
const MAX_STATES: usize = 63;

/// What is known about each order, plus lifecycle statistics.
pub struct Ledger {
    states: Vec<Arc<str>>,
    terminal: Vec<bool>,
    plan_terminal: Vec<Arc<str>>,
    orders: Vec<Entry>,
    current: Vec<u64>,
    created: u64,
    transitions: BTreeMap<(u8, u8), u64>,
    time_to_state: Vec<Histogram<u64>>,
    lifetime: Histogram<u64>,
    flow_duration: Histogram<u64>,
}

struct Entry {
    id: Option<Arc<str>>,
    state: u8,
    reached: u64,
    created_us: u64,
    polls: u32,
    failure: Option<Box<(Arc<str>, String)>>,
    interrupted: bool,
    stranded: Option<Box<str>>,
}

/// A state change, for logging.
pub struct Change<'a> {
    /// The previous state, if any.
    pub from: Option<&'a str>,
    /// The order's id.
    pub id: Option<&'a str>,
}

impl Ledger {
    /// An empty ledger for the plan's orders.
    pub fn new(plan: &Plan) -> Self {
        let mut orders = Vec::with_capacity(plan.orders.len());
        orders.resize_with(plan.orders.len(), || Entry {
            id: None,
            state: NONE,
            reached: 0,
            created_us: 0,
            polls: 0,
            failure: None,
            interrupted: false,
            stranded: None,
        });
        Ledger {
            states: Vec::new(),
            terminal: Vec::new(),
            plan_terminal: plan.terminal.clone(),
            orders,
            current: Vec::new(),
            created: 0,
            transitions: BTreeMap::new(),
            time_to_state: Vec::new(),
            lifetime: latency_histogram(),
            flow_duration: latency_histogram(),
        }
    }

    /// The order's id on the target, if it was created.
    pub fn id(&self, order: u32) -> Option<&str> {
        self.orders.get(order as usize)?.id.as_deref()
    }

    /// Notes the order's id; `now_us` is the time since the run started.
    pub fn created(&mut self, order: u32, id: Arc<str>, now_us: u64) {
        if let Some(e) = self.orders.get_mut(order as usize) {
            if e.id.is_none() {
                self.created += 1;
                e.created_us = now_us;
            }
            e.id = Some(id);
        }
    }

    /// Notes a state change; returns the previous state for logging.
    pub fn state(&mut self, order: u32, state: &str, now_us: u64) -> Option<Change<'_>> {
        let i = match self.states.iter().position(|s| &**s == state) {
            Some(i) => i,
            None if self.states.len() < MAX_STATES => {
                self.states.push(state.into());
                self.terminal
                    .push(self.plan_terminal.iter().any(|t| &**t == state));
                self.current.push(0);
                self.time_to_state.push(latency_histogram());
                self.states.len() - 1
            }
            None => {
                tracing::warn!(state, "more than {MAX_STATES} distinct states: not tracked");
                return None;
            }
        };
        let e = self.orders.get_mut(order as usize)?;
        let from = e.state;
        if from as usize == i {
            return None;
        }
        if from != NONE {
            self.current[from as usize] -= 1;
        }
        self.current[i] += 1;
        *self.transitions.entry((from, i as u8)).or_default() += 1;
        let first_time = e.reached & (1 << i) == 0;
        e.state = i as u8;
        e.reached |= 1 << i;
        if first_time && e.id.is_some() {
            let since_create = now_us.saturating_sub(e.created_us).max(1);
            record_us(&mut self.time_to_state[i], since_create);
            let was_terminal = (0..self.states.len())
                .any(|s| s != i && self.terminal[s] && e.reached & (1 << s) != 0);
            if self.terminal[i] && !was_terminal {
                record_us(&mut self.lifetime, since_create);
            }
        }
        Some(Change {
            from: (from != NONE).then(|| &*self.states[from as usize]),
            id: e.id.as_deref(),
        })
    }

    /// Counts a poll request of the order.
    pub fn polled(&mut self, order: u32) {
        if let Some(e) = self.orders.get_mut(order as usize) {
            e.polls += 1;
        }
    }

    /// Notes how the flow ended and how long it took.
    pub fn flow_ended(&mut self, order: u32, end: FlowEnd, took: std::time::Duration) {
        record_us(&mut self.flow_duration, took.as_micros() as u64);
        if let Some(e) = self.orders.get_mut(order as usize) {
            match end {
                FlowEnd::Completed => {}
                FlowEnd::Failed { step, reason } => e.failure = Some(Box::new((step, reason))),
                FlowEnd::Interrupted => e.interrupted = true,
            }
        }
    }

    /// Notes that cleanup gave up.
    pub fn stranded(&mut self, order: u32, reason: String) {
        if let Some(e) = self.orders.get_mut(order as usize) {
            e.stranded = Some(reason.into_boxed_str());
        }
    }

    /// Orders created so far.
    pub fn created_count(&self) -> u64 {
        self.created
    }

    /// Orders in each state right now.
    pub fn state_counts(&self) -> BTreeMap<String, u64> {
        self.states
            .iter()
            .zip(&self.current)
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.to_string(), *n))
            .collect()
    }

    /// Orders currently in `state`.
    pub fn in_state(&self, state: &str) -> u64 {
        self.states
            .iter()
            .position(|s| &**s == state)
            .map_or(0, |i| self.current[i])
    }

    /// Orders whose current state is terminal.
    pub fn terminal_count(&self) -> u64 {
        self.current
            .iter()
            .zip(&self.terminal)
            .filter(|(_, t)| **t)
            .map(|(n, _)| n)
            .sum()
    }

    fn state_name(&self, e: &Entry) -> Option<&str> {
        self.states.get(e.state as usize).map(|s| &**s)
    }

    fn is_stranded(&self, e: &Entry) -> bool {
        e.id.is_some()
            && !self
                .terminal
                .get(e.state as usize)
                .copied()
                .unwrap_or(false)
    }

    /// Totals for the report.
    pub fn counts(&self) -> PopulationCounts {
        let mut reached = BTreeMap::new();
        let mut c = PopulationCounts {
            total: self.orders.len() as u64,
            created: self.created,
            by_state: self.state_counts(),
            ..PopulationCounts::default()
        };
        for e in &self.orders {
            c.failed += u64::from(e.failure.is_some());
            c.interrupted += u64::from(e.interrupted);
            c.stranded += u64::from(self.is_stranded(e));
            for (i, s) in self.states.iter().enumerate() {
                if e.reached & (1 << i) != 0 {
                    *reached.entry(s.to_string()).or_insert(0) += 1;
                }
            }
        }
        c.reached = reached;
        c
    }

    /// Transitions, times to states, durations and polls.
    /// Polls per member that polled.
    fn polls(&self) -> Histogram<u64> {
        let mut polls = value_histogram(1 << 30);
        for e in self.orders.iter().filter(|e| e.polls > 0) {
            polls.saturating_record(u64::from(e.polls));
        }
        polls
    }

    /// The lifecycle histograms, for an exact merge of segments.
    pub fn histograms(&self, into: &mut Histograms) {
        into.time_to_state = self
            .states
            .iter()
            .zip(&self.time_to_state)
            .filter(|(_, h)| !h.is_empty())
            .map(|(s, h)| (s.to_string(), Hdr(h.clone())))
            .collect();
        into.lifetime = Some(Hdr(self.lifetime.clone()));
        into.flow_duration = Some(Hdr(self.flow_duration.clone()));
        into.polls = Some(Hdr(self.polls()));
    }

    pub fn lifecycle(&self) -> Lifecycle {
        let name = |i: u8| {
            if i == NONE {
                String::new()
            } else {
                self.states[i as usize].to_string()
            }
        };
        let polls = self.polls();
        Lifecycle {
            transitions: self
                .transitions
                .iter()
                .map(|((from, to), count)| Transition {
                    from: name(*from),
                    to: name(*to),
                    count: *count,
                })
                .collect(),
            time_to_state: self
                .states
                .iter()
                .zip(&self.time_to_state)
                .filter(|(_, h)| !h.is_empty())
                .map(|(s, h)| (s.to_string(), dist(h, 1000.0)))
                .collect(),
            lifetime_ms: dist(&self.lifetime, 1000.0),
            flow_duration_ms: dist(&self.flow_duration, 1000.0),
            polls: dist(&polls, 1.0),
            ..Lifecycle::default()
        }
    }

    fn order_ref(
        &self,
        plan: &Plan,
        i: usize,
        e: &Entry,
        reason: String,
        step: Option<String>,
    ) -> OrderRef {
        let o = &plan.orders[i];
        OrderRef {
            n: o.n,
            label: plan.arena.label(o).to_owned(),
            id: e.id.as_deref().map(str::to_owned),
            flow: plan.flows[o.flow as usize].name.to_string(),
            batch: o.batch,
            state: self.state_name(e).map(str::to_owned),
            step,
            reason,
        }
    }

    /// Orders whose flow failed.
    pub fn failed(&self, plan: &Plan) -> Vec<OrderRef> {
        self.orders
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let (step, reason) = e.failure.as_deref()?;
                Some(self.order_ref(plan, i, e, reason.clone(), Some(step.to_string())))
            })
            .collect()
    }

    /// Created orders that did not end in a terminal state.
    pub fn stranded_orders(&self, plan: &Plan) -> Vec<OrderRef> {
        self.orders
            .iter()
            .enumerate()
            .filter(|(_, e)| self.is_stranded(e))
            .map(|(i, e)| {
                let reason = e
                    .stranded
                    .as_deref()
                    .unwrap_or("no cleanup rule for this flow")
                    .to_owned();
                self.order_ref(plan, i, e, reason, None)
            })
            .collect()
    }
}
