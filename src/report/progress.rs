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

use crate::recorder::{Activity, Live, RECENT};

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

/// What the progress shows: order lifecycles, or virtual users in journeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// Orders created, flows done, orders terminal.
    Orders,
    /// Users active, requests, success rate, latency, time left.
    Users {
        /// The scenario's duration limit, for the time-left estimate.
        limit: Option<Duration>,
    },
}

impl Panel {
    /// The status text for `l`.
    pub fn text(self, l: &Live) -> String {
        match self {
            Panel::Orders => line(l),
            Panel::Users { limit } => users_line(l, limit),
        }
    }
}

/// Shows progress until `live` closes (the recorder finished); returns when it has.
pub fn spawn(
    mode: Mode,
    panel: Panel,
    mut live: watch::Receiver<Live>,
    display: Display,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        match mode {
            Mode::Off => while live.changed().await.is_ok() {},
            Mode::Lines => {
                let mut next = LINE_EVERY;
                while live.changed().await.is_ok() {
                    let l = live.borrow_and_update().clone();
                    if l.elapsed >= next {
                        crate::say!("{}", panel.text(&l));
                        next = l.elapsed + LINE_EVERY;
                    }
                }
                crate::say!("{} · done", panel.text(&live.borrow()));
            }
            Mode::Bars if matches!(panel, Panel::Users { .. }) => {
                let bar = ProgressBar::with_draw_target(
                    Some(live.borrow().orders),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(ProgressStyle::with_template("{msg}").expect("valid template"));
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let bar = multi.add(bar);
                // On a terminal the panel has the recent requests under it, a bar a line.
                let lines: Vec<ProgressBar> = (0..RECENT + 2)
                    .map(|_| {
                        let line = multi.add(ProgressBar::new(1));
                        line.set_style(
                            ProgressStyle::with_template("{msg}").expect("valid template"),
                        );
                        line
                    })
                    .collect();
                display.attach(multi);
                let show = |l: &Live| {
                    bar.set_message(panel.text(l));
                    for (line, text) in lines.iter().zip(recent_lines(&l.recent)) {
                        line.set_message(text);
                    }
                };
                while live.changed().await.is_ok() {
                    show(&live.borrow_and_update());
                }
                show(&live.borrow());
                bar.finish();
                lines.iter().for_each(ProgressBar::finish);
                display.detach();
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

/// The user-traffic panel: `Users 100/100 active | Requests 15,432 | Success 87.3% | …`.
pub fn users_line(l: &Live, limit: Option<Duration>) -> String {
    let active = l.created.saturating_sub(l.flows_done);
    let success = if l.requests == 0 {
        100.0
    } else {
        (l.requests - l.errors) as f64 * 100.0 / l.requests as f64
    };
    // Time left: the duration limit if there is one, else extrapolated from the users done.
    let left = match limit {
        Some(limit) => Some(limit.saturating_sub(l.elapsed)),
        None if l.flows_done > 0 && l.flows_done < l.orders => Some(
            l.elapsed
                .mul_f64((l.orders - l.flows_done) as f64 / l.flows_done as f64),
        ),
        None => None,
    };
    format!(
        "Users {active}/{} active | Requests {} | Success {success:.1}% | Errors {} | Avg {} ms | Peak {} ms | {} elapsed{}",
        l.orders,
        thousands(l.requests),
        thousands(l.errors),
        thousands(l.mean_ms.round() as u64),
        thousands(l.max_ms.round() as u64),
        clock(l.elapsed),
        left.map(|d| format!(", ~{} left", clock(d)))
            .unwrap_or_default()
    )
}

/// A blank line, `Recent Activity:` and a line per request, as the seed shows
/// them: `[12:34:15] User-045: POST /api/v1/users → 201 (123ms)` (UTC, no query).
pub fn recent_lines(recent: &[Activity]) -> Vec<String> {
    if recent.is_empty() {
        return Vec::new();
    }
    let mut out = vec![String::new(), "Recent Activity:".to_owned()];
    for a in recent {
        let stamp = humantime::format_rfc3339_seconds(a.at).to_string();
        let time = stamp.get(11..19).unwrap_or(&stamp);
        let path = a.path.split('?').next().unwrap_or(&a.path);
        let status = a
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        out.push(format!(
            "[{time}] {}: {} {path} → {status} ({}ms)",
            a.who,
            a.method,
            a.latency.as_millis()
        ));
    }
    out
}

/// 15432 → `15,432`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    fn the_users_panel_reads_like_the_design() {
        let l = Live {
            elapsed: Duration::from_secs(323),
            orders: 100,
            created: 100,
            terminal: 0,
            flows_done: 0,
            failed: 0,
            requests: 15_432,
            errors: 1_967,
            rate: 50.0,
            p95_ms: 900.0,
            max_ms: 1_230.0,
            mean_ms: 245.0,
            recent: Vec::new(),
        };
        assert_eq!(
            users_line(&l, Some(Duration::from_secs(1058))),
            "Users 100/100 active | Requests 15,432 | Success 87.3% | Errors 1,967 | Avg 245 ms | Peak 1,230 ms | 05:23 elapsed, ~12:15 left"
        );
    }

    #[test]
    fn recent_requests_read_like_the_seed() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(12 * 3600 + 34 * 60 + 15);
        let a = |who: &str, method: &str, path: &str, status, ms| Activity {
            at,
            who: who.into(),
            method: method.into(),
            path: path.into(),
            status,
            latency: Duration::from_millis(ms),
        };
        let lines = recent_lines(&[
            a("User-045", "POST", "/api/v1/users", Some(201), 123),
            a("User-021", "GET", "/api/v1/users?page=1", Some(200), 89),
            a("User-087", "POST", "/api/v1/auth/login", None, 45),
        ]);
        assert_eq!(
            lines,
            [
                "",
                "Recent Activity:",
                "[12:34:15] User-045: POST /api/v1/users → 201 (123ms)",
                "[12:34:15] User-021: GET /api/v1/users → 200 (89ms)",
                "[12:34:15] User-087: POST /api/v1/auth/login → no answer (45ms)",
            ]
        );
        assert!(recent_lines(&[]).is_empty());
    }

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
            recent: Vec::new(),
        };
        assert_eq!(
            line(&l),
            "[01:05] created 120/200 · flows done 100/200 · terminal 80 · 42 req/s · requests 500 · errors 2 · p95 1.2 ms"
        );
    }
}
