//! `runner report merge`: the reports of a run's segments made into the
//! report of the whole run, thresholds checked again.

use std::path::{Path, PathBuf};

use super::execute::{RunOutcome, write_reports};
use crate::cli::MergeArgs;
use crate::error::Error;
use crate::recorder::{merge, verdict};
use crate::report::json;

/// Merges the reports `args` names and writes the merged ones; the exit code
/// is a run's (0 passed, 1 failed).
pub fn merge(args: &MergeArgs) -> Result<u8, Error> {
    let mut parts = Vec::with_capacity(args.dirs.len());
    for dir in &args.dirs {
        let path = report_json(dir);
        let text = std::fs::read_to_string(&path).map_err(Error::io("cannot read", &path))?;
        parts.push(json::read(&text, &path).map_err(Error::Merge)?);
    }
    let exprs: Vec<String> = parts
        .first()
        .map(|s| s.thresholds.iter().map(|t| t.expr.clone()).collect())
        .unwrap_or_default();
    let (mut summary, missing) = merge::merge(parts).map_err(|e| Error::Merge(e.to_string()))?;
    if !missing.is_empty() {
        let (what, verb) = if missing.len() == 1 {
            ("segment", "is")
        } else {
            ("segments", "are")
        };
        crate::say!(
            "runner: warning: {what} {} {verb} missing: the merged report covers only the segments given",
            missing.join(", ")
        );
    }
    summary.thresholds = exprs
        .iter()
        .map(|e| crate::threshold::parse(e).map(|t| verdict::evaluate(&t, &summary)))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Merge(format!("a threshold of the reports: {e}")))?;
    std::fs::create_dir_all(&args.out)
        .map_err(Error::io("cannot create output folder", &args.out))?;
    write_reports(&summary, Some(&args.out), args.junit.as_deref())?;
    Ok(RunOutcome { summary }.exit_code())
}

/// `dir/report.json`, or `dir` itself when it names a file.
fn report_json(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.to_owned()
    } else {
        dir.join("report.json")
    }
}
