//! Goose running benches/http's two loads against 127.0.0.1:18080: the
//! flood (GET /details back to back) and the 3-step flow (create, capturing
//! the id; read; activate). Pick one with Goose's own `--scenarios flood` or
//! `--scenarios flow`, e.g.
//! `goose-bench --scenarios flow --host http://127.0.0.1:18080 -u 50 -r 1000 -t 10s`.
//! Tokio's current-thread scheduler: on the one core run.sh gives each
//! generator, Goose did 18.6k flow requests/s with it and 14.1k without.

use goose::prelude::*;
use serde_json::{Value, json};

async fn flood(user: &mut GooseUser) -> TransactionResult {
    user.get("/details").await?;
    Ok(())
}

async fn flow(user: &mut GooseUser) -> TransactionResult {
    let order = json!({ "orderNumber": "ORD-1", "location": "US-EAST-1" });
    let created = user.post_json("/operation/payload", &order).await?;
    let id = match created.response {
        Ok(r) => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned)),
        Err(_) => None,
    }
    .unwrap_or_default();
    user.get(&format!("/details?orderId={id}")).await?;
    user.post_json("/activate", &json!({ "orderId": id }))
        .await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), GooseError> {
    GooseAttack::initialize()?
        .register_scenario(scenario!("flood").register_transaction(transaction!(flood)))
        .register_scenario(scenario!("flow").register_transaction(transaction!(flow)))
        .execute()
        .await?;
    Ok(())
}
