//! Live progress while a run goes: bars on a terminal, a plain status line
//! every few seconds otherwise (CI logs), nothing with `--quiet`. Fed by the
//! recorder's once-a-second [`Live`] figures; logs written meanwhile go
//! through [`Display`] so they never tear the bars.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::recorder::Live;

/// How often the plain status line is printed when stderr is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars redrawn in place (stderr is a terminal).
    Bars,
    /// A status line every [`LINE_EVERY`] and one at the end.
    Lines,
    /// Nothing.
    Off,
}

impl Mode {
    /// Bars on a terminal, lines elsewhere, nothing when quiet.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() && !ProgressDrawTarget::stderr().is_hidden() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// Where log lines go: straight to stderr, or around the bars while they show.
#[derive(Clone, Default)]
pub struct Display {
    bars: Arc<Mutex<Option<MultiProgress>>>,
}

impl Display {
    fn attach(&self, bars: MultiProgress) {
        *self.bars.lock().expect("display lock") = Some(bars);
    }

    fn detach(&self) {
        *self.bars.lock().expect("display lock") = None;
    }
}

/// One log event's bytes, written to stderr in one piece when dropped.
pub struct DisplayWriter {
    display: Display,
    buf: Vec<u8>,
}

impl Write for DisplayWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let bars = self.display.bars.lock().expect("display lock").clone();
        match bars {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(&buf)),
            None => std::io::stderr().write_all(&buf),
        }
    }
}

impl Drop for DisplayWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Display {
    type Writer = DisplayWriter;

    fn make_writer(&'a self) -> DisplayWriter {
        DisplayWriter {
            display: self.clone(),
            buf: Vec::new(),
        }
    }
}

/// Shows progress until `live` closes (the recorder finished); returns when it has.
pub fn spawn(mode: Mode, mut live: watch::Receiver<Live>, display: Display) -> JoinHandle<()> {
    tokio::spawn(async move {
        match mode {
            Mode::Off => while live.changed().await.is_ok() {},
            Mode::Lines => {
                let mut next = LINE_EVERY;
                while live.changed().await.is_ok() {
                    let l = live.borrow_and_update().clone();
                    if l.elapsed >= next {
                        eprintln!("{}", line(&l));
                        next = l.elapsed + LINE_EVERY;
                    }
                }
                eprintln!("{} · done", line(&live.borrow()));
            }
            Mode::Bars => {
                let bars = Bars::new(live.borrow().orders);
                display.attach(bars.multi.clone());
                while live.changed().await.is_ok() {
                    bars.show(&live.borrow_and_update());
                }
                bars.show(&live.borrow());
                bars.finish();
                display.detach();
            }
        }
    })
}

/// The plain status line.
pub fn line(l: &Live) -> String {
    format!(
        "[{}] created {}/{} · flows done {}/{} · terminal {} · {:.0} req/s · requests {} · errors {} · p95 {:.1} ms",
        clock(l.elapsed),
        l.created,
        l.orders,
        l.flows_done,
        l.orders,
        l.terminal,
        l.rate,
        l.requests,
        l.errors,
        l.p95_ms
    )
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}", s / 60, s % 60)
}

struct Bars {
    multi: MultiProgress,
    created: ProgressBar,
    flows: ProgressBar,
    terminal: ProgressBar,
}

impl Bars {
    fn new(orders: u64) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> ");
        let bar = |prefix: &'static str| {
            let b = multi.add(ProgressBar::new(orders));
            b.set_style(style.clone());
            b.set_prefix(prefix);
            b
        };
        Bars {
            created: bar("created"),
            flows: bar("flows done"),
            terminal: bar("terminal"),
            multi,
        }
    }

    fn show(&self, l: &Live) {
        self.created.set_position(l.created);
        self.created.set_message(format!(
            "{:.0} req/s · errors {} · p95 {:.1} ms",
            l.rate, l.errors, l.p95_ms
        ));
        self.flows.set_position(l.flows_done);
        self.flows.set_message(if l.failed > 0 {
            format!("{} failed", l.failed)
        } else {
            String::new()
        });
        // Cleanup phase: how many created orders have reached a terminal state.
        self.terminal.set_length(l.created.max(1));
        self.terminal.set_position(l.terminal);
        self.terminal
            .set_message(format!("elapsed {}", clock(l.elapsed)));
    }

    fn finish(&self) {
        for b in [&self.created, &self.flows, &self.terminal] {
            b.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_shows_every_figure() {
        let l = Live {
            elapsed: Duration::from_secs(65),
            orders: 200,
            created: 120,
            terminal: 80,
            flows_done: 100,
            failed: 0,
            requests: 500,
            errors: 2,
            rate: 42.0,
            p95_ms: 1.24,
            max_ms: 3.0,
            mean_ms: 1.0,
        };
        assert_eq!(
            line(&l),
            "[01:05] created 120/200 · flows done 100/200 · terminal 80 · 42 req/s · requests 500 · errors 2 · p95 1.2 ms"
        );
    }
}
