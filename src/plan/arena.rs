//! Every order's payload JSON and label, back to back in one buffer, with no
//! allocation per order. The payloads of a run differ in a few fields (a
//! number, a timestamp, the type), so each one keeps only the bytes that
//! differ from the first payload of its block of [`BLOCK`] orders, and how
//! many it shares with that one at the start and at the end.

use std::borrow::Cow;

use super::PlanError;

/// Orders whose payloads share one base.
const BLOCK: u32 = 64;

/// Where an order's payload sits: its own bytes in the buffer, and how many
/// bytes it shares with its block's base before and after them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slot {
    prefix: u16,
    suffix: u16,
    own: (u32, u32),
}

/// The payloads and labels of a plan.
#[derive(Debug, Default)]
pub struct Arena {
    bytes: Vec<u8>,
    /// Each block's base payload, where it sits in `bytes`.
    bases: Vec<(u32, u32)>,
}

impl Arena {
    /// Stores the payload of order number `n` (payloads are stored in order
    /// of `n`, from 1).
    pub fn push_payload(&mut self, n: u32, payload: &[u8]) -> Result<Slot, PlanError> {
        let block = ((n - 1) / BLOCK) as usize;
        if block == self.bases.len() {
            let own = self.push(payload)?;
            self.bases.push(own);
            return Ok(Slot {
                own,
                ..Slot::default()
            });
        }
        let (b0, b1) = self.bases[block];
        let base = &self.bytes[b0 as usize..b1 as usize];
        let limit = usize::from(u16::MAX);
        let prefix = base
            .iter()
            .zip(payload)
            .take(limit)
            .take_while(|(a, b)| a == b)
            .count();
        let room = (base.len() - prefix).min(payload.len() - prefix).min(limit);
        let suffix = base
            .iter()
            .rev()
            .zip(payload.iter().rev())
            .take(room)
            .take_while(|(a, b)| a == b)
            .count();
        let own = self.push(&payload[prefix..payload.len() - suffix])?;
        Ok(Slot {
            prefix: prefix as u16,
            suffix: suffix as u16,
            own,
        })
    }

    /// The payload of order number `n` stored at `slot`, as it was pushed.
    pub(super) fn payload_at(&self, n: u32, slot: &Slot) -> Cow<'_, [u8]> {
        let own = self.slice(slot.own);
        if slot.prefix == 0 && slot.suffix == 0 {
            return Cow::Borrowed(own);
        }
        let base = self.slice(self.bases[((n - 1) / BLOCK) as usize]);
        let (prefix, suffix) = (usize::from(slot.prefix), usize::from(slot.suffix));
        let mut out = Vec::with_capacity(prefix + own.len() + suffix);
        out.extend_from_slice(&base[..prefix]);
        out.extend_from_slice(own);
        out.extend_from_slice(&base[base.len() - suffix..]);
        Cow::Owned(out)
    }

    /// A label stored with [`Arena::push`].
    pub fn text(&self, range: (u32, u32)) -> &str {
        std::str::from_utf8(self.slice(range)).expect("labels are stored as UTF-8")
    }

    /// Appends `bytes`; returns where they sit.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(u32, u32), PlanError> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        let end = u32::try_from(self.bytes.len()).map_err(|_| PlanError::Invalid {
            what: "population".into(),
            message:
                "the payloads exceed 4 GiB; use fewer orders per process (or smaller payloads)"
                    .into(),
        })?;
        Ok((start as u32, end))
    }

    /// Bytes stored so far.
    pub fn stored(&self) -> usize {
        self.bytes.len()
    }

    /// Makes room for about `more` bytes at once, so the buffer does not double while growing.
    pub fn reserve(&mut self, more: usize) {
        self.bytes.reserve(more);
    }

    fn slice(&self, (start, end): (u32, u32)) -> &[u8] {
        &self.bytes[start as usize..end as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_come_back_byte_for_byte() {
        let mut arena = Arena::default();
        let payloads: Vec<String> = (1..=200u32)
            .map(|n| match n % 5 {
                0 => String::new(),
                1 => format!(r#"{{"orderNumber":"ORD-{n:06}","type":"a","x":[1,2]}}"#),
                2 => format!(r#"{{"orderNumber":"ORD-{n:06}","type":"bb","ü":"é"}}"#),
                3 => "{}".to_owned(),
                _ => "x".repeat(n as usize),
            })
            .collect();
        let slots: Vec<Slot> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| arena.push_payload(i as u32 + 1, p.as_bytes()).unwrap())
            .collect();
        for (i, (p, slot)) in payloads.iter().zip(&slots).enumerate() {
            assert_eq!(
                &*arena.payload_at(i as u32 + 1, slot),
                p.as_bytes(),
                "order {}",
                i + 1
            );
        }
    }

    #[test]
    fn similar_payloads_keep_only_what_differs() {
        let mut arena = Arena::default();
        let payload = |n: u32| {
            format!(
                r#"{{"orderNumber":"ORD-2024-{n:06}","location":"US-EAST-1","customFields":{{"priority":"normal"}}}}"#
            )
        };
        for n in 1..=BLOCK {
            arena.push_payload(n, payload(n).as_bytes()).unwrap();
        }
        let full = payload(1).len();
        // The base in full, then a digit or two for each of the others.
        assert!(
            arena.bytes.len() < full + 2 * (BLOCK as usize - 1),
            "{} bytes",
            arena.bytes.len()
        );
    }
}
