//! Small value helpers for payload templates.

use rhai::Engine;

/// Registers `pad(n, width)` and `timestamp()`.
pub fn register(engine: &mut Engine) {
    engine.register_fn("pad", |n: i64, width: i64| {
        format!("{n:0width$}", width = width.clamp(0, 64) as usize)
    });
    engine.register_fn("timestamp", || {
        humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
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
