//! Checks that what the scenario refers to by name exists: the flow of each
//! cleanup rule, the step of each rate limit, and the variables of the
//! scenario-wide headers.

use std::collections::BTreeSet;

use super::PlanError;
use super::compiler::BUILTIN_VARS;
use super::model::Flow;
use super::step::{Step, each_request};
use super::template::Template;
use crate::spec;

/// Every cleanup rule names one of `flow_names`.
pub(super) fn cleanup_flows(
    cleanup: &[spec::Cleanup],
    flow_names: &[String],
) -> Result<(), PlanError> {
    for c in cleanup {
        if !flow_names.contains(&c.flow) {
            return Err(PlanError::invalid(
                "cleanup",
                format!(
                    "rule for `{}` but no such flow; flows: {}",
                    c.flow,
                    flow_names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Scenario-wide headers go with every request, the first included, so they
/// may use only what every order has from the start; notes in `payload_vars`
/// the payload fields they use.
pub(super) fn header_vars(
    headers: &[(hyper::header::HeaderName, Template)],
    payload_keys: &BTreeSet<String>,
    payload_vars: &mut BTreeSet<String>,
) -> Result<(), PlanError> {
    for (name, t) in headers {
        for var in t.vars().filter(|v| !BUILTIN_VARS.contains(&v.as_ref())) {
            if payload_keys.contains(var.as_ref()) {
                payload_vars.insert(var.to_string());
            } else {
                let known: Vec<String> = BUILTIN_VARS
                    .iter()
                    .map(|s| s.to_string())
                    .chain(payload_keys.iter().cloned())
                    .collect();
                return Err(PlanError::invalid(
                    format!("header `{name}`"),
                    format!(
                        "{{{var}}} is not set when the first request goes out; scenario headers may use {}",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Every rate limit names a request step of `flows` (or is `*`).
pub(super) fn rate_limits(rate_limits: &[(String, f64)], flows: &[Flow]) -> Result<(), PlanError> {
    let mut names = BTreeSet::new();
    for f in flows {
        request_names(&f.steps, &mut names);
        for r in f.cleanup.iter().flat_map(|c| c.requests()) {
            names.insert(r.name.to_string());
        }
    }
    for (step, _) in rate_limits {
        if step != "*" && !names.contains(step) {
            return Err(PlanError::invalid(
                "rate_limit",
                format!(
                    "no step named `{step}`; steps: {} (or `*` for all requests)",
                    names.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Every request step's name, journeys' actions included.
fn request_names(steps: &[Step], out: &mut BTreeSet<String>) {
    each_request(steps, &mut |r| {
        out.insert(r.name.to_string());
    });
}
