//! The open load model's schedule (`s.arrivals`): when the k-th iteration
//! (an order's flow, a user's session) is meant to start. The rate moves
//! linearly through the stages; iteration k starts when the arrivals so far,
//! the integral of the rate, reach k. The schedule depends on nothing the
//! target does, so a slow target cannot slow the arrivals down (no
//! coordinated omission): it only fills the in-flight cap.

use std::time::Duration;

use super::PlanError;
use super::settings::Speed;
use crate::spec;

/// A compiled arrival schedule, scaled by `--speed`. A segment (`--segment
/// I/N`) takes every N-th arrival of the whole run's schedule from the I-th
/// on, so the segments together start at the full rate, interleaved.
#[derive(Debug, Clone)]
pub struct Arrivals {
    stages: Vec<Stage>,
    /// Arrivals in the whole run's schedule.
    slots: u64,
    /// This process's arrivals are the slots `offset`, `offset + step`, …
    step: u64,
    offset: u64,
    /// Most iterations in flight (a segment's share of the cap); an arrival
    /// beyond it is dropped and counted.
    pub max_in_flight: usize,
}

/// One stage: the rate goes from `from` to `to` (per second) over `over`.
#[derive(Debug, Clone, Copy)]
struct Stage {
    /// When it starts, from the start of the arrivals.
    at: Duration,
    over: Duration,
    from: f64,
    to: f64,
    /// Arrivals before it.
    before: f64,
}

impl Stage {
    fn arrivals(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.over.as_secs_f64()
    }

    /// When, from the stage's start, `m` of its arrivals have come: the root
    /// of `a t² + b t = m` with `a = (to - from) / 2T`, `b = from`, written
    /// so it holds for ramps up, down and flat alike.
    fn time_of(&self, m: f64) -> Duration {
        if m <= 0.0 {
            return Duration::ZERO;
        }
        let t = self.over.as_secs_f64();
        let a = (self.to - self.from) / (2.0 * t);
        let b = self.from;
        let root = (b * b + 4.0 * a * m).max(0.0).sqrt();
        Duration::from_secs_f64((2.0 * m / (b + root)).min(t))
    }
}

impl Arrivals {
    /// Checks and scales the script's arrivals: rates times speed, stage
    /// lengths divided by it, so a faster run starts the same iterations
    /// sooner. `planned` is the whole population, before any segment.
    pub(super) fn compile(
        spec: &spec::Arrivals,
        speed: Speed,
        phases: bool,
        planned: usize,
        segment: Option<super::Segment>,
    ) -> Result<Arrivals, PlanError> {
        let invalid = |m: String| PlanError::invalid("arrivals", m);
        if phases {
            return Err(invalid(
                "the open load model starts iterations at a rate, and phase() makes every order wait for every other: use one or the other".into(),
            ));
        }
        let max_in_flight = usize::try_from(spec.max_in_flight)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                invalid(format!(
                    "max_in_flight must be at least 1, got {}",
                    spec.max_in_flight
                ))
            })?;
        let factor = speed.factor();
        let mut stages = Vec::with_capacity(spec.stages.len());
        let (mut at, mut from, mut before) = (Duration::ZERO, spec.start_rate * factor, 0.0);
        for (i, &(rate, over)) in spec.stages.iter().enumerate() {
            // A constant rate with no duration lasts until the population has started.
            let over = match over {
                Some(over) => over,
                None if rate > 0.0 => Duration::try_from_secs_f64(planned as f64 / rate)
                    .map_err(|_| invalid(format!("a rate of {rate}/s is too small")))?,
                None => Duration::ZERO,
            };
            if over.is_zero() {
                return Err(invalid(format!("stage {} lasts 0s", i + 1)));
            }
            let stage = Stage {
                at,
                over: speed.scale(over),
                from,
                to: rate * factor,
                before,
            };
            before += stage.arrivals();
            at += stage.over;
            from = stage.to;
            stages.push(stage);
        }
        if before < 1.0 {
            return Err(invalid(format!(
                "the stages start {before:.2} iterations: give a rate above 0"
            )));
        }
        let (step, offset) = segment.map_or((1, 0), |s| (u64::from(s.count), u64::from(s.index)));
        Ok(Arrivals {
            stages,
            // A total a rounding error above a whole number is that number.
            slots: (before - 1e-6).ceil().max(0.0) as u64,
            step,
            offset,
            max_in_flight: max_in_flight.div_ceil(step as usize),
        })
    }

    /// When this process's iteration `k` (from 0) is meant to start, from the
    /// start of the arrivals; `None` once the stages are over.
    pub fn at(&self, k: u64) -> Option<Duration> {
        let slot = k.checked_mul(self.step)?.checked_add(self.offset)?;
        if slot >= self.slots {
            return None;
        }
        self.at_slot(slot)
    }

    /// When the whole run's arrival `k` is meant to start.
    fn at_slot(&self, k: u64) -> Option<Duration> {
        let k = k as f64;
        let i = self.stages.partition_point(|s| s.before <= k);
        let stage = self.stages.get(i.checked_sub(1)?)?;
        if k >= stage.before + stage.arrivals() {
            return None;
        }
        Some(stage.at + stage.time_of(k - stage.before))
    }

    /// How many iterations the stages start in this process.
    pub fn count(&self) -> u64 {
        self.slots.saturating_sub(self.offset).div_ceil(self.step)
    }

    /// How long the stages last.
    pub fn length(&self) -> Duration {
        self.stages.last().map_or(Duration::ZERO, |s| s.at + s.over)
    }

    /// [`Arrivals::length`] as text, to the millisecond (`33s 333ms`).
    pub fn length_text(&self) -> String {
        to_ms(self.length())
    }

    /// The stages as `rate → rate over d`, for `runner check` (rates to 3 decimals).
    pub fn describe(&self) -> Vec<String> {
        self.stages
            .iter()
            .map(|s| {
                let over = to_ms(s.over);
                let rate = |r: f64| (r * 1000.0).round() / 1000.0;
                if s.from == s.to {
                    format!("{}/s for {over}", rate(s.from))
                } else {
                    format!("{}/s to {}/s over {over}", rate(s.from), rate(s.to))
                }
            })
            .collect()
    }
}

/// A duration as text, to the millisecond: a stage scaled by `--speed 3`
/// need not show its nanoseconds.
fn to_ms(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrivals(start_rate: f64, stages: &[(f64, u64)], speed: f64) -> Arrivals {
        let spec = spec::Arrivals {
            start_rate,
            stages: stages
                .iter()
                .map(|&(r, ms)| (r, Some(Duration::from_millis(ms))))
                .collect(),
            max_in_flight: 10,
        };
        Arrivals::compile(&spec, Speed::new(speed).unwrap(), false, 100, None).unwrap()
    }

    fn close(a: Duration, secs: f64) -> bool {
        (a.as_secs_f64() - secs).abs() < 1e-9
    }

    #[test]
    fn a_constant_rate_starts_evenly_from_zero_and_stops_at_the_end() {
        let a = arrivals(10.0, &[(10.0, 2000)], 1.0);
        assert_eq!(a.count(), 20);
        assert!(close(a.at(0).unwrap(), 0.0));
        assert!(close(a.at(1).unwrap(), 0.1));
        assert!(close(a.at(19).unwrap(), 1.9));
        assert_eq!(a.at(20), None);
        assert_eq!(a.length(), Duration::from_secs(2));
    }

    #[test]
    fn a_ramp_starts_iterations_where_the_integral_of_the_rate_reaches_them() {
        // 0 → 10/s over 2 s: N(t) = 2.5 t², 10 arrivals; then 10/s for 1 s.
        let a = arrivals(0.0, &[(10.0, 2000), (10.0, 1000), (0.0, 2000)], 1.0);
        assert_eq!(a.count(), 30);
        for k in 0..10u64 {
            let t = (k as f64 / 2.5).sqrt();
            assert!(close(a.at(k).unwrap(), t), "k={k}: {:?}", a.at(k));
        }
        assert!(close(a.at(10).unwrap(), 2.0));
        assert!(close(a.at(15).unwrap(), 2.5));
        // Ramp down 10 → 0 over 2 s from t = 3: N(t) = 10 t − 2.5 t².
        let t = (10.0 - (100.0f64 - 4.0 * 2.5 * 5.0).sqrt()) / 5.0;
        assert!(close(a.at(25).unwrap(), 3.0 + t), "{:?}", a.at(25));
        assert!(a.at(29).unwrap() < Duration::from_secs(5));
        assert_eq!(a.at(30), None);
        let starts: Vec<Duration> = (0..30).map(|k| a.at(k).unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    }

    #[test]
    fn a_total_a_rounding_error_above_a_whole_number_starts_no_extra_iteration() {
        // 0.1/s for 30 s at speed 3: 3.0000000000000004 arrivals.
        let a = arrivals(0.1, &[(0.1, 30_000)], 3.0);
        assert_eq!(a.count(), 3);
        assert!(a.at(2).is_some());
        assert_eq!(a.at(3), None);
    }

    #[test]
    fn speed_starts_the_same_iterations_sooner() {
        let slow = arrivals(4.0, &[(4.0, 1000)], 1.0);
        let fast = arrivals(4.0, &[(4.0, 1000)], 4.0);
        assert_eq!(slow.count(), fast.count());
        assert!(close(fast.at(1).unwrap(), 0.0625));
        assert_eq!(fast.length(), Duration::from_millis(250));
    }

    #[test]
    fn stages_that_start_nothing_phases_and_a_zero_cap_are_refused() {
        let spec = |stages: Vec<(f64, Option<Duration>)>, cap| spec::Arrivals {
            start_rate: 0.0,
            stages,
            max_in_flight: cap,
        };
        let speed = Speed::new(1.0).unwrap();
        let second = Some(Duration::from_secs(1));
        let err = |s, phases| {
            Arrivals::compile(&s, speed, phases, 100, None)
                .unwrap_err()
                .to_string()
        };
        assert!(err(spec(vec![(0.0, second)], 5), false).contains("rate above 0"));
        assert!(err(spec(vec![(5.0, second)], 0), false).contains("at least 1"));
        assert!(err(spec(vec![(5.0, second)], 5), true).contains("phase()"));
        assert!(err(spec(vec![(5.0, Some(Duration::ZERO))], 5), false).contains("0s"));
        assert!(err(spec(vec![(0.0, None)], 5), false).contains("0s"));
    }

    #[test]
    fn a_constant_rate_without_a_duration_lasts_until_the_population_has_started() {
        let spec = spec::Arrivals {
            start_rate: 20.0,
            stages: vec![(20.0, None)],
            max_in_flight: 10,
        };
        let a = Arrivals::compile(&spec, Speed::new(2.0).unwrap(), false, 100, None).unwrap();
        assert_eq!(a.count(), 100);
        assert_eq!(a.length(), Duration::from_millis(2500));
        // Segment 1 of 2: every other arrival of the whole schedule (40/s after
        // the speed), from the second on, over the same time; half the cap.
        let one = super::super::Segment { index: 1, count: 2 };
        let half =
            Arrivals::compile(&spec, Speed::new(2.0).unwrap(), false, 100, Some(one)).unwrap();
        assert_eq!(half.count(), 50);
        assert_eq!(half.length(), Duration::from_millis(2500));
        assert!(close(half.at(0).unwrap(), 0.025));
        assert!(close(half.at(1).unwrap(), 0.075));
        assert_eq!(half.at(50), None);
        assert_eq!(half.max_in_flight, 5);
    }
}
