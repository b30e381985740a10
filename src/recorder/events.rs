//! events.csv: the journal, one row per HTTP attempt (polls and retries included).

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use serde::Serialize;

use super::Exchange;
use super::ledger::Ledger;
use crate::plan::Plan;

/// Streams rows to a CSV file as exchanges arrive.
pub struct EventsWriter {
    csv: csv::Writer<BufWriter<File>>,
}

#[derive(Serialize)]
struct Row<'a> {
    timestamp: String,
    order_id: &'a str,
    order_number: &'a str,
    #[serde(rename = "type")]
    order_type: &'a str,
    batch: u32,
    step: &'a str,
    method: &'a str,
    path: &'a str,
    status: Option<u16>,
    latency_ms: String,
    outcome: &'a str,
    attempt: u32,
}

impl EventsWriter {
    /// Creates (truncates) the file; the header row is written with the first event.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(EventsWriter {
            csv: csv::Writer::from_writer(BufWriter::new(File::create(path)?)),
        })
    }

    /// Writes one row.
    pub fn write(&mut self, plan: &Plan, ledger: &Ledger, x: &Exchange) -> io::Result<()> {
        let order = &plan.orders[x.order as usize];
        self.csv
            .serialize(Row {
                timestamp: humantime::format_rfc3339_millis(x.at).to_string(),
                order_id: ledger.id(x.order).unwrap_or(""),
                order_number: plan.arena.label(order),
                order_type: &plan.flows[order.flow as usize].name,
                batch: order.batch,
                step: &x.step,
                method: &x.method,
                path: &x.path,
                status: x.status,
                latency_ms: format!("{:.3}", x.latency.as_secs_f64() * 1000.0),
                outcome: x.outcome.as_str(),
                attempt: x.attempt,
            })
            .map_err(io::Error::other)
    }

    /// Flushes buffered rows.
    pub fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()
    }
}
