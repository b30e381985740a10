//! Renders a [`Summary`]; never computes metrics. Each writer takes the
//! summary and an `io::Write`, so every format is testable with a `Vec<u8>`.

pub mod console;
pub mod html;
pub mod json;
pub mod junit;
pub mod otlp;
pub mod progress;
pub mod prometheus;
pub mod webhook;

use std::path::Path;

use crate::recorder::Summary;

/// Writes the file reports (report.json) into `dir`, which must exist.
pub fn write_files(summary: &Summary, dir: &Path) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("report.json"))?);
    json::write(summary, &mut file)?;
    std::io::Write::flush(&mut file)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join("report.html"))?);
    html::write(summary, &mut file)?;
    std::io::Write::flush(&mut file)
}
