//! The per-order ledger: id, current state, every state reached, how the flow
//! ended. Compact (about 40 bytes an order) so a million orders fit easily.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{FlowEnd, OrderCounts, OrderRef};
use crate::plan::Plan;

const NONE: u8 = u8::MAX;

/// What is known about each order.
pub struct Ledger {
    states: Vec<Arc<str>>,
    orders: Vec<Entry>,
}

#[derive(Default)]
struct Entry {
    id: Option<Arc<str>>,
    state: u8,
    reached: u64,
    failure: Option<Box<(Arc<str>, String)>>,
    interrupted: bool,
    stranded: Option<Box<str>>,
}

impl Ledger {
    /// An empty ledger for `n` orders.
    pub fn new(n: usize) -> Self {
        let mut orders = Vec::with_capacity(n);
        orders.resize_with(n, || Entry {
            state: NONE,
            ..Entry::default()
        });
        Ledger {
            states: Vec::new(),
            orders,
        }
    }

    /// The order's id on the target, if it was created.
    pub fn id(&self, order: u32) -> Option<&str> {
        self.orders.get(order as usize)?.id.as_deref()
    }

    /// Notes the order's id.
    pub fn created(&mut self, order: u32, id: Arc<str>) {
        if let Some(e) = self.orders.get_mut(order as usize) {
            e.id = Some(id);
        }
    }

    /// Notes a state change.
    pub fn state(&mut self, order: u32, state: &str) {
        let i = match self.states.iter().position(|s| &**s == state) {
            Some(i) => i,
            None if self.states.len() < 63 => {
                self.states.push(state.into());
                self.states.len() - 1
            }
            None => return,
        };
        if let Some(e) = self.orders.get_mut(order as usize) {
            e.state = i as u8;
            e.reached |= 1 << i;
        }
    }

    /// Notes how the flow ended.
    pub fn flow_ended(&mut self, order: u32, end: FlowEnd) {
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

    fn state_name(&self, e: &Entry) -> Option<&str> {
        self.states.get(e.state as usize).map(|s| &**s)
    }

    fn is_stranded(&self, plan: &Plan, e: &Entry) -> bool {
        e.id.is_some()
            && !self
                .state_name(e)
                .is_some_and(|s| plan.terminal.iter().any(|t| &**t == s))
    }

    /// Totals for the report.
    pub fn counts(&self, plan: &Plan) -> OrderCounts {
        let mut by_state = BTreeMap::new();
        let mut reached = BTreeMap::new();
        let mut c = OrderCounts {
            total: self.orders.len() as u64,
            ..OrderCounts::default()
        };
        for e in &self.orders {
            c.created += u64::from(e.id.is_some());
            c.failed += u64::from(e.failure.is_some());
            c.interrupted += u64::from(e.interrupted);
            c.stranded += u64::from(self.is_stranded(plan, e));
            if let Some(s) = self.state_name(e) {
                *by_state.entry(s.to_owned()).or_insert(0) += 1;
            }
            for (i, s) in self.states.iter().enumerate() {
                if e.reached & (1 << i) != 0 {
                    *reached.entry(s.to_string()).or_insert(0) += 1;
                }
            }
        }
        c.by_state = by_state;
        c.reached = reached;
        c
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
            order_number: plan.arena.label(o).to_owned(),
            id: e.id.as_deref().map(str::to_owned),
            order_type: plan.flows[o.flow as usize].name.to_string(),
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
            .filter(|(_, e)| self.is_stranded(plan, e))
            .map(|(i, e)| {
                let reason = e
                    .stranded
                    .as_deref()
                    .unwrap_or("no cleanup rule for this order type")
                    .to_owned();
                self.order_ref(plan, i, e, reason, None)
            })
            .collect()
    }
}
