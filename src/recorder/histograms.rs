//! The run's HDR histograms, kept beside the summary so `runner report
//! merge` can add the samples of several segments and get the percentiles one
//! process would have: written as base64 of HDR's compressed V2 format.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// One histogram; (de)serialized as base64 of its V2 deflate encoding.
#[derive(Debug, Clone)]
pub struct Hdr(pub Histogram<u64>);

impl Serialize for Hdr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(|e| serde::ser::Error::custom(format!("HDR histogram: {e:?}")))?;
        s.serialize_str(&STANDARD.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Hdr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("HDR histogram: not base64 ({e})")))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| serde::de::Error::custom(format!("HDR histogram: {e:?}")))?;
        // Merging may add values beyond this one's range.
        h.auto(true);
        Ok(Hdr(h))
    }
}

impl Hdr {
    /// Adds `other`'s samples.
    pub fn add(&mut self, other: &Hdr) {
        // Fails only if the range cannot grow (out of memory): the samples are then left out.
        let _ = self.0.add(&other.0);
    }
}

/// Named histograms (a step's, a state's, …).
pub type ByName = BTreeMap<String, Hdr>;

/// Every histogram a summary's distributions come from; microseconds except
/// `polls` (counts) and `trends` (values × 1000).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Histograms {
    /// Latency by step.
    pub steps: ByName,
    /// Latency by endpoint.
    pub endpoints: ByName,
    /// Latency by flow, then step.
    pub by_flow: BTreeMap<String, ByName>,
    /// Time from create to each state.
    pub time_to_state: ByName,
    /// Create to terminal.
    pub lifetime: Option<Hdr>,
    /// Flow durations.
    pub flow_duration: Option<Hdr>,
    /// Polls per member that polled.
    pub polls: Option<Hdr>,
    /// Batch durations.
    pub batch_duration: Option<Hdr>,
    /// `group(…)` durations.
    pub groups: ByName,
    /// Script trends.
    pub trends: ByName,
    /// The open load model's start lag.
    pub start_lag: Option<Hdr>,
}

/// Adds every histogram of `from` into `into`, by name.
pub fn add_all(into: &mut ByName, from: &ByName) {
    for (name, h) in from {
        match into.get_mut(name) {
            Some(mine) => mine.add(h),
            None => {
                into.insert(name.clone(), h.clone());
            }
        }
    }
}

/// Adds `from` into `into` when there is one.
pub fn add_one(into: &mut Option<Hdr>, from: &Option<Hdr>) {
    match (into.as_mut(), from) {
        (Some(mine), Some(h)) => mine.add(h),
        (None, Some(h)) => *into = Some(h.clone()),
        (_, None) => {}
    }
}

impl Histograms {
    /// Adds every histogram of `other`.
    pub fn add(&mut self, other: &Histograms) {
        add_all(&mut self.steps, &other.steps);
        add_all(&mut self.endpoints, &other.endpoints);
        for (flow, steps) in &other.by_flow {
            add_all(self.by_flow.entry(flow.clone()).or_default(), steps);
        }
        add_all(&mut self.time_to_state, &other.time_to_state);
        add_one(&mut self.lifetime, &other.lifetime);
        add_one(&mut self.flow_duration, &other.flow_duration);
        add_one(&mut self.polls, &other.polls);
        add_one(&mut self.batch_duration, &other.batch_duration);
        add_all(&mut self.groups, &other.groups);
        add_all(&mut self.trends, &other.trends);
        add_one(&mut self.start_lag, &other.start_lag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_the_round_trip_and_adds_exactly() {
        let mut a = Histogram::<u64>::new(3).unwrap();
        a.auto(true);
        let mut b = a.clone();
        let mut both = a.clone();
        for v in 1..=1000u64 {
            a.record(v * 7).unwrap();
            both.record(v * 7).unwrap();
        }
        for v in 1..=500u64 {
            b.record(v * 1013).unwrap();
            both.record(v * 1013).unwrap();
        }
        let text = serde_json::to_string(&Hdr(a)).unwrap();
        let mut merged: Hdr = serde_json::from_str(&text).unwrap();
        let b: Hdr = serde_json::from_str(&serde_json::to_string(&Hdr(b)).unwrap()).unwrap();
        merged.add(&b);
        assert_eq!(merged.0.len(), both.len());
        for q in [0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(
                merged.0.value_at_quantile(q),
                both.value_at_quantile(q),
                "q={q}"
            );
        }
        assert_eq!(merged.0.mean(), both.mean());
    }
}
