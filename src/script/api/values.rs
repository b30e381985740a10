//! Small value helpers for payload templates.

use rhai::Engine;

/// Registers `pad(n, width)`, `timestamp()` and `timestamp(offset_secs)`.
pub fn register(engine: &mut Engine) {
    engine.register_fn("pad", |n: i64, width: i64| {
        format!("{n:0width$}", width = width.clamp(0, 64) as usize)
    });
    engine.register_fn("timestamp", || {
        humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
    });
    // Now shifted by a number of seconds, e.g. an hour ago for a time-range query.
    engine.register_fn("timestamp", |offset_secs: i64| {
        let now = std::time::SystemTime::now();
        let shift = std::time::Duration::from_secs(offset_secs.unsigned_abs());
        let at = if offset_secs < 0 {
            now.checked_sub(shift).unwrap_or(std::time::UNIX_EPOCH)
        } else {
            now.checked_add(shift).unwrap_or(now)
        };
        humantime::format_rfc3339_millis(at).to_string()
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn pad_zero_fills_to_the_width() {
        let mut e = rhai::Engine::new();
        super::register(&mut e);
        assert_eq!(e.eval::<String>("pad(42, 6)").unwrap(), "000042");
        assert_eq!(e.eval::<String>("pad(1234567, 3)").unwrap(), "1234567");
    }
}
