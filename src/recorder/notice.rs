//! What the recorder hands to listeners outside the run while it goes: a
//! breaker that opened (for `--webhook`), and spans and figures (for
//! `--otlp-endpoint`). Only what a listener asked for is built; a listener
//! that falls behind loses notices (counted), never slows the run.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;

/// One notice.
#[derive(Debug)]
pub enum Notice {
    /// An endpoint's circuit breaker opened.
    BreakerOpened {
        /// The endpoint (step name).
        endpoint: String,
        /// When.
        at: SystemTime,
    },
    /// Spans ended in the last second.
    Spans(Vec<Span>),
    /// The request figures so far, per step.
    Figures(Figures),
}

/// A span: one HTTP attempt, or an order's (user's) whole flow.
#[derive(Debug, Clone)]
pub struct Span {
    /// The order (user) index: its trace.
    pub order: u32,
    /// The step, or the flow for a flow's span.
    pub name: Arc<str>,
    /// Whether this is the order's flow (the trace's root), not an attempt.
    pub root: bool,
    /// Start.
    pub start: SystemTime,
    /// End.
    pub end: SystemTime,
    /// Whether it failed.
    pub error: bool,
    /// Attributes: the endpoint, status, outcome and attempt of a request;
    /// the flow, label and how it ended of a flow.
    pub attributes: Vec<(&'static str, String)>,
}

/// Per-step totals and latency at one moment.
#[derive(Debug, Clone)]
pub struct Figures {
    /// When they were taken.
    pub at: SystemTime,
    /// When the run started.
    pub since: SystemTime,
    /// Per step.
    pub steps: Vec<StepFigures>,
    /// Members whose flow ended, and of them failed.
    pub flows: (u64, u64),
}

/// One step's attempts, errors and latency percentiles (ms) so far.
#[derive(Debug, Clone)]
pub struct StepFigures {
    /// The step.
    pub name: String,
    /// Attempts.
    pub attempts: u64,
    /// Failed attempts.
    pub errors: u64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Where notices go, and which the listener wants.
#[derive(Debug, Clone)]
pub struct Notices {
    /// The listener's end of the channel.
    pub tx: mpsc::Sender<Notice>,
    /// Spans and figures (OTLP); breakers are always sent.
    pub telemetry: bool,
}

/// The aggregator's side: builds what the listener wants and hands it over.
pub(super) struct Outbox {
    notices: Notices,
    spans: Vec<Span>,
    /// Notices the listener was too far behind to take.
    lost: u64,
    ticks: u32,
    /// Endpoints whose breaker opened and has not closed since.
    open: Vec<String>,
}

/// Figures go out every this many seconds (and at the end).
const FIGURES_EVERY: u32 = 10;

impl Outbox {
    pub(super) fn new(notices: Notices) -> Self {
        Outbox {
            notices,
            spans: Vec::new(),
            lost: 0,
            ticks: 0,
            open: Vec::new(),
        }
    }

    fn send(&mut self, notice: Notice) {
        if self.notices.tx.try_send(notice).is_err() {
            self.lost += 1;
        }
    }

    /// A request attempt's span.
    pub(super) fn exchange(&mut self, x: &super::Exchange) {
        if !self.notices.telemetry {
            return;
        }
        let (path, query) = x.path.split_once('?').unwrap_or((&x.path, ""));
        let mut attributes = vec![
            ("http.request.method", x.method.to_string()),
            ("url.path", path.to_owned()),
            ("runner.endpoint", x.endpoint.to_string()),
            ("runner.outcome", x.outcome.as_str().to_owned()),
            ("runner.attempt", x.attempt.to_string()),
        ];
        if !query.is_empty() {
            attributes.push(("url.query", query.to_owned()));
        }
        if let Some(status) = x.status {
            attributes.push(("http.response.status_code", status.to_string()));
        }
        self.spans.push(Span {
            order: x.order,
            name: x.step.as_ref().into(),
            root: false,
            start: x.at,
            end: x.at + x.latency,
            error: x.outcome.error_class(x.status).is_some(),
            attributes,
        });
    }

    /// An order's (user's) flow span, the root of its trace.
    pub(super) fn flow_ended(
        &mut self,
        order: u32,
        flow: &Arc<str>,
        label: &str,
        end: &super::FlowEnd,
        took: std::time::Duration,
    ) {
        if !self.notices.telemetry {
            return;
        }
        let now = SystemTime::now();
        let (how, error) = match end {
            super::FlowEnd::Completed => ("completed", false),
            super::FlowEnd::Failed { .. } => ("failed", true),
            super::FlowEnd::Interrupted => ("interrupted", true),
        };
        let mut attributes = vec![
            ("runner.flow", flow.to_string()),
            ("runner.label", label.to_owned()),
            ("runner.end", how.to_owned()),
        ];
        if let super::FlowEnd::Failed { step, reason } = end {
            attributes.push(("runner.failed_step", step.to_string()));
            attributes.push(("runner.reason", reason.clone()));
        }
        self.spans.push(Span {
            order,
            name: flow.clone(),
            root: true,
            start: now.checked_sub(took).unwrap_or(now),
            end: now,
            error,
            attributes,
        });
    }

    /// A breaker's change: an opening is sent at once, but not again after
    /// each failed probe until the breaker has closed.
    pub(super) fn breaker(&mut self, endpoint: &str, state: super::BreakerState) {
        let known = self.open.iter().position(|e| e == endpoint);
        match (state, known) {
            (super::BreakerState::Open, None) => {
                self.open.push(endpoint.to_owned());
                let at = SystemTime::now();
                let endpoint = endpoint.to_owned();
                self.send(Notice::BreakerOpened { endpoint, at });
            }
            (super::BreakerState::Closed, Some(i)) => {
                self.open.swap_remove(i);
            }
            _ => {}
        }
    }

    /// The second's spans, and every [`FIGURES_EVERY`] seconds (or `last`) the figures.
    pub(super) fn tick(&mut self, last: bool, figures: impl FnOnce() -> Figures) {
        if self.notices.telemetry {
            if !self.spans.is_empty() {
                let spans = std::mem::take(&mut self.spans);
                self.send(Notice::Spans(spans));
            }
            self.ticks += 1;
            if last || self.ticks.is_multiple_of(FIGURES_EVERY) {
                self.send(Notice::Figures(figures()));
            }
        }
        if last && self.lost > 0 {
            tracing::warn!(
                lost = self.lost,
                "the telemetry or webhook listener fell behind; some notices were not sent"
            );
        }
    }
}
