//! What a lean capture saves: capturing one id from a 30 KB answer (a page of
//! 200 items) by parsing only what the path reaches (`plan::Needs`) against
//! parsing the whole document, as a step with checks or a poll condition does.
//!
//! Run with:   cargo bench --bench captures

use std::time::Instant;

use runner::plan::{JsonPath, Needs};
use serde_json::{Value, json};

const RUNS: u32 = 2000;

fn main() {
    let items: Vec<Value> = (0..200)
        .map(|i| {
            json!({ "id": format!("item-{i}"), "name": format!("Item number {i}"), "price": i * 3,
                    "tags": ["a", "b", "c"], "stock": { "warehouse": "EU-1", "count": i } })
        })
        .collect();
    let body = serde_json::to_vec(&json!({
        "data": { "id": "ORD-000042", "status": "Accepted", "items": items },
        "meta": { "page": 1, "pages": 7 },
    }))
    .unwrap();
    let path = JsonPath::parse("data.id").unwrap();
    let needs = Needs::of([&path]);

    let time = |what: &str, parse: &dyn Fn() -> Value| {
        let started = Instant::now();
        for _ in 0..RUNS {
            let value = parse();
            assert_eq!(path.find(&value), Some(&Value::from("ORD-000042")));
        }
        let per = started.elapsed() / RUNS;
        println!("{what:<28} {per:>10.1?} per answer");
        per
    };
    println!("{} bytes, {RUNS} runs", body.len());
    let whole = time("whole document", &|| serde_json::from_slice(&body).unwrap());
    let lean = time("lean (what data.id reaches)", &|| {
        needs.parse(&body).unwrap()
    });
    println!(
        "lean capture: {:.1}x faster",
        whole.as_secs_f64() / lean.as_secs_f64()
    );
}
