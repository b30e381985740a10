//! The retry schedule: exponential backoff with jitter.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

/// Longest wait between two retries, whatever the base and attempt.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The wait before retry `retry` (1 = first retry): base × 2^(retry-1), capped,
/// then a random share between 50% and 100% of it ("equal jitter"), so
/// workers that failed together do not retry together.
pub fn backoff(base: Duration, retry: u32, rng: &mut ChaCha8Rng) -> Duration {
    let exp = base
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    exp.mul_f64(rng.random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_within_the_jitter_band_and_is_capped() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let base = Duration::from_millis(100);
        for retry in 1..=5 {
            let full = base * (1 << (retry - 1));
            let d = backoff(base, retry, &mut rng);
            assert!(
                d >= full / 2 && d <= full,
                "retry {retry}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
        assert!(backoff(Duration::from_secs(10), 30, &mut rng) <= MAX_BACKOFF);
    }
}
