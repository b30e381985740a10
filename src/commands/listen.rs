//! The run's outside listeners: `--webhook` URLs get alerts (a breaker
//! opened, a threshold failed, the run ended), `--otlp-endpoint` gets traces
//! and metrics. One task takes the recorder's notices and POSTs them; a
//! listener that fails is retried once, then logged, and never fails the run.

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cli::ListenerArgs;
use crate::client::{BaseUrl, HttpClient, HttpRequest, HttpVersion, Hyper};
use crate::error::Error;
use crate::plan::Plan;
use crate::recorder::Summary;
use crate::recorder::notice::{Notice, Notices};
use crate::report::{otlp, webhook};

/// Notices waiting for the listener task, at most.
const BACKLOG: usize = 1024;

/// How long the end of a run waits for its listeners to take what is left.
const FINISH_WITHIN: Duration = Duration::from_secs(15);

/// Where notices go: webhook URLs and an OTLP/HTTP base URL.
#[derive(Debug, Clone, Default)]
pub struct Listeners {
    /// `--webhook`.
    pub webhooks: Vec<String>,
    /// `--otlp-endpoint`, without a trailing slash.
    pub otlp: Option<String>,
}

impl Listeners {
    /// Checks the URLs: each must be http:// or https:// with a host.
    pub fn new(args: ListenerArgs) -> Result<Listeners, Error> {
        let ListenerArgs {
            webhooks,
            otlp_endpoint: otlp,
        } = args;
        for (flag, url) in webhooks
            .iter()
            .map(|u| ("--webhook", u))
            .chain(otlp.iter().map(|u| ("--otlp-endpoint", u)))
        {
            let ok = url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                let example = if flag == "--webhook" {
                    "http://127.0.0.1:8080/hooks/runner"
                } else {
                    "http://127.0.0.1:4318"
                };
                return Err(Error::Usage(format!(
                    "{flag} {url:?}: expected an http:// or https:// URL, e.g. {example}"
                )));
            }
        }
        Ok(Listeners {
            webhooks,
            otlp: otlp.map(|u| u.trim_end_matches('/').to_owned()),
        })
    }

    /// Starts the listener task; `None` when no listener was asked for.
    pub fn start(&self, plan: &Plan) -> Result<Option<(Notices, Listener)>, Error> {
        if self.webhooks.is_empty() && self.otlp.is_none() {
            return Ok(None);
        }
        let client = Hyper::new(
            Duration::from_secs(10),
            4,
            plan.http.ca_file.as_deref(),
            true,
            HttpVersion::Auto,
        )
        .map_err(|e| Error::Usage(e.to_string()))?;
        let (tx, rx) = mpsc::channel(BACKLOG);
        let poster = Poster {
            client,
            listeners: self.clone(),
            scenario: plan.name.clone(),
            resource: otlp::Resource {
                scenario: plan.name.clone(),
                segment: plan.segment.map(|s| s.to_string()),
                run: rand::random(),
            },
        };
        let task = tokio::spawn(poster.serve(rx));
        let notices = Notices {
            tx,
            telemetry: self.otlp.is_some(),
        };
        Ok(Some((notices, Listener { task })))
    }
}

/// The running listener task.
pub struct Listener {
    task: JoinHandle<Poster>,
}

impl Listener {
    /// Once the recorder is done (every notice queued): what is still queued,
    /// then the end-of-run alerts; given up after [`FINISH_WITHIN`], so a
    /// listener that is slow or gone does not hold the process.
    pub async fn finish(self, summary: &Summary) {
        let abort = self.task.abort_handle();
        let posted = tokio::time::timeout(FINISH_WITHIN, async {
            let Ok(poster) = self.task.await else {
                return;
            };
            for t in summary.thresholds.iter().filter(|t| !t.passed) {
                poster
                    .alert(webhook::threshold_failed(&summary.scenario, t))
                    .await;
            }
            poster.alert(webhook::run_ended(summary)).await;
        })
        .await;
        if posted.is_err() {
            abort.abort();
            crate::say!(
                "runner: the listeners did not take everything within {FINISH_WITHIN:?}; the rest is dropped"
            );
        }
    }
}

/// Posts notices as they come.
struct Poster {
    client: Hyper,
    listeners: Listeners,
    scenario: String,
    resource: otlp::Resource,
}

impl Poster {
    async fn serve(self, mut rx: mpsc::Receiver<Notice>) -> Poster {
        let mut next_id = 0;
        while let Some(notice) = rx.recv().await {
            match notice {
                Notice::BreakerOpened { endpoint, at } => {
                    self.alert(webhook::breaker_opened(&self.scenario, &endpoint, at))
                        .await;
                }
                Notice::Spans(spans) => {
                    let body = otlp::traces(&self.resource, &spans, &mut next_id);
                    self.otlp("/v1/traces", body).await;
                }
                Notice::Figures(figures) => {
                    let body = otlp::metrics(&self.resource, &figures);
                    self.otlp("/v1/metrics", body).await;
                }
            }
        }
        self
    }

    async fn alert(&self, body: Value) {
        for url in &self.listeners.webhooks {
            self.post(url.clone(), &body).await;
        }
    }

    async fn otlp(&self, path: &str, body: Value) {
        if let Some(base) = &self.listeners.otlp {
            self.post(format!("{base}{path}"), &body).await;
        }
    }

    /// POSTs `body`; a failure (no answer, or not 2xx) is tried once more, then logged.
    async fn post(&self, url: String, body: &Value) {
        let url = BaseUrl::new(url);
        let request = HttpRequest {
            method: hyper::Method::POST,
            base: &url,
            path: "".into(),
            query: Vec::new(),
            // Both clients say the body is JSON.
            headers: Vec::new(),
            body: Some(Bytes::from(body.to_string())),
            headers_read: false,
        };
        let mut failure = String::new();
        for _ in 0..2 {
            match self.client.send(&request).await.result {
                Ok(r) if (200..300).contains(&r.status) => return,
                Ok(r) => failure = format!("answered {}", r.status),
                Err(e) => failure = e.to_string(),
            }
        }
        tracing::warn!(
            url = url.as_str(),
            failure,
            "a listener did not take a notice"
        );
    }
}
