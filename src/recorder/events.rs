//! events.csv: the journal, one row per HTTP attempt (polls and retries included).

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use serde::Serialize;

use super::ledger::Ledger;
use super::{Checks, Exchange};
use crate::plan::Plan;

/// Streams rows to a CSV file as exchanges arrive, through a buffer.
pub struct EventsWriter {
    csv: csv::Writer<BufWriter<File>>,
}

#[derive(Serialize)]
struct Row<'a> {
    timestamp: String,
    id: &'a str,
    label: &'a str,
    flow: &'a str,
    batch: Option<u32>,
    step: &'a str,
    method: &'a str,
    path: &'a str,
    status: Option<u16>,
    latency_ms: String,
    outcome: &'a str,
    attempt: u32,
    n: Option<u32>,
}

impl EventsWriter {
    /// Creates (truncates) the file; the header row is written with the first event.
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(EventsWriter {
            csv: csv::Writer::from_writer(BufWriter::new(File::create(path)?)),
        })
    }

    /// Appends to an existing file (for `runner resume`), without a second
    /// header. A row a killed run left half-written is cut off first.
    pub fn append(path: &Path) -> io::Result<Self> {
        cut_partial_row(path)?;
        let has_rows = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let csv = csv::WriterBuilder::new()
            .has_headers(!has_rows)
            .from_writer(BufWriter::new(file));
        Ok(EventsWriter { csv })
    }

    /// Writes one row into the buffer: a write to the file every few dozen
    /// rows and on [`EventsWriter::flush`], which the recorder calls every
    /// second, so a killed run loses at most its last second of rows (resume
    /// reads where each order stands from the journal; this file only gives
    /// it the earlier counts).
    pub fn write(&mut self, plan: &Plan, ledger: &Ledger, x: &Exchange) -> io::Result<()> {
        // Run-wide exchanges (setup, phases, teardown) belong to no order.
        let order = plan.orders.get(x.order as usize);
        self.csv
            .serialize(Row {
                timestamp: humantime::format_rfc3339_millis(x.at).to_string(),
                id: ledger.id(x.order).unwrap_or(""),
                label: order.map_or("", |o| plan.arena.label(o)),
                flow: order.map_or("(run)", |o| &plan.flows[o.flow as usize].name),
                batch: order.map(|o| o.batch),
                step: &x.step,
                method: &x.method,
                path: &x.path,
                status: x.status,
                // Whole microseconds, as the histograms count them.
                latency_ms: {
                    let us = x.latency.as_micros();
                    format!("{}.{:03}", us / 1000, us % 1000)
                },
                outcome: x.outcome.as_str(),
                attempt: x.attempt,
                n: order.map(|o| o.n),
            })
            .map_err(io::Error::other)
    }

    /// Flushes buffered rows.
    pub fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()
    }
}

/// Cuts `path` after its last newline (reading only its tail), if it has one.
fn cut_partial_row(path: &Path) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if end == len && chunk.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return file.set_len(start + i as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

/// The exchanges of an earlier events.csv (for `runner resume`), mapped to this
/// plan's orders by sequence number; rows that do not fit are skipped.
pub fn read(path: &Path, plan: &Plan) -> io::Result<Vec<Exchange<'static>>> {
    #[derive(serde::Deserialize)]
    struct In {
        timestamp: String,
        step: String,
        method: String,
        path: String,
        status: Option<u16>,
        latency_ms: f64,
        outcome: String,
        attempt: u32,
        n: u32,
    }
    let index: std::collections::HashMap<u32, u32> = plan
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.n, i as u32))
        .collect();
    let endpoints = plan.endpoints_by_step();
    let mut reader = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::NotFound) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(io::Error::other(e)),
    };
    let mut out = Vec::new();
    for row in reader.deserialize::<In>() {
        let Ok(row) = row else { continue };
        let (Some(&order), Some(outcome)) =
            (index.get(&row.n), super::Outcome::from_name(&row.outcome))
        else {
            continue;
        };
        out.push(Exchange {
            // Not known from the file: not counted as retried or finally failed.
            last: false,
            checks: Checks::default(),
            at: humantime::parse_rfc3339(&row.timestamp)
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH),
            order,
            endpoint: endpoints
                .get(row.step.as_str())
                .map_or_else(|| format!("{} {}", row.method, row.path), |e| e.to_string())
                .into(),
            step: row.step.into(),
            method: row.method.into(),
            path: row.path.into(),
            status: row.status,
            latency: std::time::Duration::from_secs_f64(row.latency_ms.max(0.0) / 1000.0),
            outcome,
            attempt: row.attempt,
            poll: false,
            category: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_written_last_row_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        for (before, after) in [
            ("a,b\n1,2\n3,", "a,b\n1,2\n"),
            ("a,b\n1,2\n", "a,b\n1,2\n"),
            ("no newline at all", ""),
            ("", ""),
        ] {
            std::fs::write(&path, before).unwrap();
            cut_partial_row(&path).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), after, "{before:?}");
        }
        let long = format!("h\n{}", "x".repeat(10_000));
        std::fs::write(&path, &long).unwrap();
        cut_partial_row(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "h\n");
    }
}
