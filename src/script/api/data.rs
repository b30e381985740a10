//! Data files: `data("customers.csv")` reads a CSV (an array of maps, one per
//! row, keyed by the header) or a JSON file once, at load time, from the
//! scenario's folder or its pack's `data/`, nowhere else. `row(list, n)` and
//! `random_row(list, n)` hand rows to the payload closure.

use std::path::{Component, Path, PathBuf};

use rhai::{Array, Dynamic, Engine, Map};

use super::RResult;
use crate::config::typed;
use crate::script::Reads;

/// Registers `data`, `row` and `random_row`.
pub fn register(engine: &mut Engine, dirs: Vec<PathBuf>, reads: Reads) {
    engine.register_fn("data", move |name: &str| data(&dirs, &reads, name));
    // `&mut Array` saves one copy; a closure that captures the list still copies it per call.
    engine.register_fn("row", |list: &mut Array, n: i64| {
        pick(list, n, "row", |len| {
            n.wrapping_sub(1).rem_euclid(len) as usize
        })
    });
    engine.register_fn("random_row", |list: &mut Array, n: i64| {
        pick(list, n, "random_row", |len| {
            (spread(n as u64) % len as u64) as usize
        })
    });
}

fn pick(list: &Array, n: i64, what: &str, index: impl Fn(i64) -> usize) -> RResult<Dynamic> {
    if list.is_empty() {
        return Err(format!("{what}(list, {n}): the list is empty").into());
    }
    Ok(list[index(list.len() as i64)].clone())
}

/// A well-mixed number from `n` (splitmix64): the same `n` always picks the same row.
fn spread(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn data(dirs: &[PathBuf], reads: &Reads, name: &str) -> RResult<Dynamic> {
    let relative = Path::new(name);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "data({name:?}): data files are read from the scenario's folder or its pack's data/, by a relative name without `..`"
        )
        .into());
    }
    let Some(path) = dirs.iter().map(|d| d.join(relative)).find(|p| p.is_file()) else {
        let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(format!("data({name:?}): no such file in {}", looked.join(" or ")).into());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("data({name:?}): cannot read {}: {e}", path.display()))?;
    reads.add(&path);
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => csv_rows(&text).map_err(|e| format!("data({name:?}): {e}").into()),
        Some("json") => {
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("data({name:?}): not valid JSON: {e}"))?;
            rhai::serde::to_dynamic(value)
        }
        _ => Err(format!("data({name:?}): only .csv and .json files are read").into()),
    }
}

/// One map per row, keyed by the header; numbers and true/false typed, but
/// not text with a leading zero (`007`, zip codes, ids stay text).
fn csv_rows(text: &str) -> Result<Dynamic, String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let mut rows = Array::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let mut row = Map::new();
        for (key, raw) in headers.iter().zip(record.iter()) {
            let leading_zero = raw.len() > 1 && raw.starts_with('0') && !raw.starts_with("0.");
            let value = if leading_zero {
                Dynamic::from(raw.to_owned())
            } else {
                rhai::serde::to_dynamic(typed(raw)).map_err(|e| e.to_string())?
            };
            row.insert(key.into(), value);
        }
        rows.push(row.into());
    }
    Ok(rows.into())
}
