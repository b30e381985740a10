//! Segments: N processes (a Kubernetes Indexed Job's pods, say) each run a
//! disjoint, deterministic share of one planned scenario, so together they run
//! it exactly once. Segment I of N keeps the members whose sequence number n
//! has `(n - 1) mod N == I`: every process draws the same types for the same
//! numbers (the whole population is laid out first), so the shares line up.
//! Batch workers, arrival rates and rate limits are divided by N.

use super::PlanError;

/// Which share of the population this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// From 0.
    pub index: u32,
    /// How many segments there are, at least 1.
    pub count: u32,
}

/// Where the segment of a process comes from: `--segment I/N`, else
/// `--segments N` (or `RUNNER_SEGMENTS`) with the index from
/// `JOB_COMPLETION_INDEX`, which Kubernetes sets in an Indexed Job's pods.
#[derive(Debug, Clone, Default)]
pub struct SegmentArgs {
    /// `--segment I/N`.
    pub segment: Option<String>,
    /// `--segments N`.
    pub segments: Option<u32>,
}

impl Segment {
    /// The segment `args` and the environment (`env(name)`) ask for, if any.
    pub fn resolve(
        args: &SegmentArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Segment>, PlanError> {
        if let Some(text) = &args.segment {
            return Segment::parse(text).map(Some);
        }
        let count = match (args.segments, env("RUNNER_SEGMENTS")) {
            (Some(n), _) => n,
            (None, Some(n)) => n.trim().parse().map_err(|_| {
                PlanError::invalid(
                    "RUNNER_SEGMENTS",
                    format!("expected a whole number of segments, got {n:?}"),
                )
            })?,
            (None, None) => return Ok(None),
        };
        let index = env("JOB_COMPLETION_INDEX").ok_or_else(|| {
            PlanError::invalid(
                "--segments",
                format!(
                    "{count} segments, but which one is this? JOB_COMPLETION_INDEX is not set (Kubernetes sets it in an Indexed Job); give --segment I/{count} instead"
                ),
            )
        })?;
        let index = index.trim().parse().map_err(|_| {
            PlanError::invalid(
                "JOB_COMPLETION_INDEX",
                format!("expected a whole number, got {index:?}"),
            )
        })?;
        Segment::new(index, count).map(Some).map_err(|e| match e {
            PlanError::Invalid { message, .. } => PlanError::invalid("--segments", message),
            other => other,
        })
    }

    /// `I/N`.
    fn parse(text: &str) -> Result<Segment, PlanError> {
        let bad = || {
            PlanError::invalid(
                "--segment",
                format!("expected I/N, e.g. 0/3 (the first of three), got {text:?}"),
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse().map_err(|_| bad())?;
        let count = n.trim().parse().map_err(|_| bad())?;
        Segment::new(index, count)
    }

    fn new(index: u32, count: u32) -> Result<Segment, PlanError> {
        if count == 0 || index >= count {
            return Err(PlanError::invalid(
                "--segment",
                format!(
                    "segment {index} of {count}: the index goes from 0 to one less than the count, and the count is at least 1"
                ),
            ));
        }
        Ok(Segment { index, count })
    }

    /// Whether the member with sequence number `n` (from 1) is in this segment.
    pub fn has(self, n: u32) -> bool {
        (n - 1) % self.count == self.index
    }

    /// This segment's share of `x` (a rate, a number of workers).
    pub fn share(self, x: f64) -> f64 {
        x / f64::from(self.count)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(segment: Option<&str>, segments: Option<u32>, env: &[(&str, &str)]) -> String {
        let args = SegmentArgs {
            segment: segment.map(str::to_owned),
            segments,
        };
        let env = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        match Segment::resolve(&args, env) {
            Ok(Some(s)) => s.to_string(),
            Ok(None) => "none".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_segment_comes_from_the_flag_or_the_indexed_job() {
        assert_eq!(
            resolve(None, None, &[("JOB_COMPLETION_INDEX", "1")]),
            "none"
        );
        assert_eq!(resolve(Some("2/3"), None, &[]), "2/3");
        assert_eq!(
            resolve(Some("0/2"), Some(3), &[("JOB_COMPLETION_INDEX", "1")]),
            "0/2"
        );
        assert_eq!(
            resolve(None, Some(3), &[("JOB_COMPLETION_INDEX", "1")]),
            "1/3"
        );
        assert_eq!(
            resolve(
                None,
                None,
                &[("RUNNER_SEGMENTS", "4"), ("JOB_COMPLETION_INDEX", "3")]
            ),
            "3/4"
        );
        assert!(resolve(None, Some(3), &[]).contains("JOB_COMPLETION_INDEX is not set"));
        assert!(resolve(Some("3/3"), None, &[]).contains("segment 3 of 3"));
        assert!(resolve(Some("1-3"), None, &[]).contains("expected I/N"));
        assert!(
            resolve(
                None,
                None,
                &[("RUNNER_SEGMENTS", "x"), ("JOB_COMPLETION_INDEX", "0")]
            )
            .contains("RUNNER_SEGMENTS")
        );
    }

    #[test]
    fn segments_share_out_every_number_once() {
        let segments: Vec<Segment> = (0..3).map(|i| Segment::new(i, 3).unwrap()).collect();
        for n in 1..=100 {
            assert_eq!(segments.iter().filter(|s| s.has(n)).count(), 1, "n={n}");
        }
        assert!(segments[0].has(1) && segments[1].has(2) && segments[2].has(3));
    }
}
