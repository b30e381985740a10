//! The population: how many orders of each type, which sequence number gets
//! which type, each order's payload, and the homogeneous batches, all decided
//! before the first request and deterministic for a seed.

use std::borrow::Cow;
use std::ops::Range;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use super::PlanError;
use super::arena::{Arena, Slot};
use crate::script::Runtime;
use crate::spec::{Count, Spec};

/// One order to run: its sequence number, type, batch, and where its payload
/// and label sit in the plan's [`Arena`] (32 bytes an order, no allocation each).
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// Sequence number, from 1.
    pub n: u32,
    /// Index of its flow in [`super::Plan::flows`].
    pub flow: u16,
    /// Index of its batch in [`super::Plan::batches`].
    pub batch: u32,
    payload: Slot,
    label: (u32, u32),
}

impl Arena {
    /// The order's JSON payload, serialized once before the run.
    pub fn payload(&self, order: &Order) -> Cow<'_, [u8]> {
        self.payload_at(order.n, &order.payload)
    }

    /// The order's human-readable number (the payload's label field).
    pub fn label(&self, order: &Order) -> &str {
        self.text(order.label)
    }
}

/// A run of orders of one type, executed one after another.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The flow every order in the batch follows.
    pub flow: u16,
    /// Positions of its orders in [`super::Plan::orders`].
    pub orders: Range<usize>,
}

/// Resolves the mix to an exact count per flow (indexes into `flow_names`).
pub fn counts(spec: &Spec, flow_names: &[String]) -> Result<Vec<(u16, u32)>, PlanError> {
    let p = &spec.population;
    let invalid = |message: String| PlanError::Invalid {
        what: "population".into(),
        message,
    };
    let total = u32::try_from(p.total)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            invalid(format!(
                "total must be between 1 and {}, got {}",
                u32::MAX,
                p.total
            ))
        })?;
    if p.mix.is_empty() {
        return Err(invalid("mix is empty: give a count per flow".into()));
    }
    let mut exact_sum: u64 = 0;
    let mut rest = None;
    let mut weights = Vec::new();
    let mut out = Vec::new();
    for (kind, count) in &p.mix {
        let flow = flow_names.iter().position(|f| f == kind).ok_or_else(|| {
            invalid(format!(
                "mix.{kind}: no flow named `{kind}`; flows defined: {}",
                flow_names.join(", ")
            ))
        })? as u16;
        match count {
            Count::Exact(n) => {
                let n = u32::try_from(*n)
                    .map_err(|_| invalid(format!("mix.{kind} must not be negative, got {n}")))?;
                exact_sum += u64::from(n);
                out.push((flow, n));
            }
            Count::Weight(w) if !(w.is_finite() && *w >= 0.0) => {
                return Err(invalid(format!(
                    "mix.{kind}: a weight must be 0 or more, got {w}"
                )));
            }
            Count::Weight(w) => {
                weights.push((out.len(), *w));
                out.push((flow, 0));
            }
            Count::Rest if rest.is_some() => {
                return Err(invalid("only one flow may take the \"rest\"".into()));
            }
            Count::Rest => {
                rest = Some(out.len());
                out.push((flow, 0));
            }
        }
    }
    if exact_sum > u64::from(total) {
        let detail = out
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != rest)
            .map(|(_, (f, n))| format!("{} = {n}", flow_names[*f as usize]))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(invalid(format!(
            "the mix asks for {exact_sum} orders ({detail}) but total is {total}"
        )));
    }
    let left = total - exact_sum as u32;
    if !weights.is_empty() {
        if rest.is_some() {
            return Err(invalid(
                "use either weights (numbers like 0.25) or \"rest\", not both".into(),
            ));
        }
        let sum: f64 = weights.iter().map(|(_, w)| w).sum();
        if sum <= 0.0 {
            return Err(invalid("the weights add up to 0".into()));
        }
        // Largest remainder: exact shares rounded down, the leftovers to the largest fractions.
        let shares: Vec<f64> = weights
            .iter()
            .map(|(_, w)| w / sum * f64::from(left))
            .collect();
        for ((i, _), share) in weights.iter().zip(&shares) {
            out[*i].1 = share.floor() as u32;
        }
        let mut order: Vec<usize> = (0..weights.len()).collect();
        order.sort_by(|a, b| {
            (shares[*b] - shares[*b].floor()).total_cmp(&(shares[*a] - shares[*a].floor()))
        });
        let given: u32 = weights.iter().map(|(i, _)| out[*i].1).sum();
        for k in order.into_iter().take((left - given) as usize) {
            out[weights[k].0].1 += 1;
        }
        return Ok(out);
    }
    match rest {
        Some(i) => out[i].1 = left,
        None if exact_sum != u64::from(total) => {
            return Err(invalid(format!(
                "the mix adds up to {exact_sum} but total is {total}; give one flow the count \"rest\""
            )));
        }
        None => {}
    }
    Ok(out)
}

/// Orders whose payloads are sized before room is made for all of them.
const PROBE: usize = 256;

/// Generates every order, its payload and the batch layout from the mix's
/// `counts` (flow, how many).
pub fn generate(
    spec: &Spec,
    runtime: &Runtime,
    flow_names: &[String],
    counts: &[(u16, u32)],
    seed: u64,
    batch_size: usize,
    segment: Option<super::Segment>,
) -> Result<(Vec<Order>, Vec<Batch>, Arena), PlanError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut types: Vec<u16> = counts
        .iter()
        .flat_map(|(flow, n)| std::iter::repeat_n(*flow, *n as usize))
        .collect();
    if spec.population.shuffle {
        types.shuffle(&mut rng);
    }

    let mut arena = Arena::default();
    let mut orders = Vec::with_capacity(types.len() / segment.map_or(1, |s| s.count as usize));
    let mut buf = Vec::new();
    // Every type is drawn first, so a segment's numbers get the types they
    // get in one process; then only the segment's members are made.
    let mine = |n: u32| segment.is_none_or(|s| s.has(n));
    let members = (1..=types.len() as u32).filter(|n| mine(*n)).count();
    for (i, flow) in types.iter().enumerate() {
        let n = i as u32 + 1;
        if !mine(n) {
            continue;
        }
        let kind = &flow_names[*flow as usize];
        buf.clear();
        let label = match &spec.payload {
            Some(f) => {
                let map = runtime
                    .payload(f, i64::from(n), kind)
                    .map_err(PlanError::Script)?;
                serde_json::to_writer(&mut buf, &map).expect("a JSON map serializes");
                match map.get(&spec.track.label) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => n.to_string(),
                }
            }
            None => {
                buf.extend_from_slice(b"{}");
                n.to_string()
            }
        };
        let payload = arena.push_payload(n, &buf)?;
        let label = arena.push(label.as_bytes())?;
        if orders.len() + 1 == PROBE {
            // Room for every order at once (+10%), so the buffer does not double while growing.
            arena.reserve(arena.stored() / PROBE * (members - PROBE) / 10 * 11);
        }
        orders.push(Order {
            n,
            flow: *flow,
            batch: 0,
            payload,
            label,
        });
    }

    let mut chunks: Vec<Vec<u32>> = Vec::new();
    for flow in 0..flow_names.len() {
        let mut same = orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o.flow as usize == flow)
            .map(|(i, _)| i as u32)
            .peekable();
        while same.peek().is_some() {
            chunks.push(same.by_ref().take(batch_size).collect());
        }
    }
    if spec.population.shuffle {
        chunks.shuffle(&mut rng);
    }
    // Batch by batch, each in order of number: sorted in place, not copied.
    let mut sizes = Vec::with_capacity(chunks.len());
    for (b, chunk) in chunks.iter().enumerate() {
        for &i in chunk {
            orders[i as usize].batch = b as u32;
        }
        sizes.push(chunk.len());
    }
    drop(chunks);
    orders.sort_by_key(|o| o.batch);
    let mut batches = Vec::with_capacity(sizes.len());
    let mut start = 0;
    for size in sizes {
        batches.push(Batch {
            flow: orders[start].flow,
            orders: start..start + size,
        });
        start += size;
    }
    Ok((orders, batches, arena))
}
