//! The one integration-test binary (one link instead of one per file).

// Shared helpers: built-in target on 127.0.0.1:0, running the real binary, temp scripts.
mod util;

// Script → spec → plan for the shipped scenario: mix, payloads, batches, determinism.
mod plan;

// The shipped scenario end to end against the built-in target, checked from the target's side.
mod scenarios;

// Exit codes and diagnostics of the real binary for bad scripts, configs and flags.
mod cli;

// Progress lines, structured logs and Prometheus while a run goes.
mod observe;

// report.html from a real run: every chart present, steps named, nothing loaded from the network.
mod report;

// The user-traffic scenario against the built-in users target.
mod users;

// Every bad input a user can give: exit code, a clear message, no panic (docs/troubleshooting.md).
mod bad_input;

// The target goes away and comes back: circuit breaker, nothing lost.
mod resilience;

// Fault injection on the built-in orders target (500s, dropped connections, stalls): nothing is lost.
mod faults;

// Scenario packs: scaffold, discovery, PACK/MODULE imports, PACK:SCENARIO, and every mistake refused.
mod packs;

// Script features for other systems: captures from headers, status and either-or paths.
mod dsl;

// Run-wide stages: setup, barriers with once-steps, teardown.
mod phases;

// The order-api pack (seed 002) against the built-in order-api target.
mod order_api;

// The order-service pack (seed 001) against the built-in order-service target.
mod order_service;

// The order-processor pack (seed 003) against the built-in order-processor target.
mod order_processor;

// HTTPS targets: an added CA, HTTP/2 by ALPN.
mod tls;

// The open load model: arrival rates and stages, the in-flight cap, dropped arrivals.
mod arrivals;

// Segments of one plan in several processes, and `report merge` into the whole run's report.
mod segments;

// Outside listeners: OTLP traces and metrics, alert webhooks.
mod listeners;
