//! Script → spec → plan for the shipped scenario, without sending anything.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use runner::config::Params;
use runner::plan::{self, Options, Plan, Step, Target};
use runner::script;
use runner::spec::Count;

use crate::util::day_in_life;

fn params(sets: &[&str]) -> Arc<Params> {
    Arc::new(
        Params::load(
            None,
            &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap(),
    )
}

fn compile(sets: &[&str], options: Options) -> Plan {
    let p = params(sets);
    let loaded = script::load(&day_in_life(), p.clone(), Default::default()).unwrap();
    plan::compile(&loaded.spec, loaded.runtime, &p, &options).unwrap()
}

fn payload(plan: &Plan, i: usize) -> serde_json::Value {
    serde_json::from_slice(&plan.arena.payload(&plan.orders[i])).unwrap()
}

#[test]
fn the_shipped_script_describes_the_reference_scenario() {
    let loaded = script::load(&day_in_life(), params(&[]), Default::default()).unwrap();
    let spec = loaded.spec;
    assert_eq!(spec.name, "day_in_life");
    assert_eq!(spec.target, "builtin:orders");
    assert_eq!(spec.population.total, 200);
    assert_eq!(
        spec.population.mix,
        vec![
            ("accepted".to_string(), Count::Rest),
            ("activate".to_string(), Count::Exact(170))
        ]
    );
    assert_eq!((spec.batches.size, spec.batches.parallel), (20, 5));
    assert_eq!(spec.batches.between, Duration::from_secs(2));
    assert_eq!(spec.http.timeout, Duration::from_secs(30));
    assert_eq!(spec.http.retries, 3);
    assert_eq!(spec.http.retry_backoff, Duration::from_secs(2));
    let names: Vec<_> = spec.flows.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["activate", "accepted"]);
    let steps: Vec<_> = spec.flows[0]
        .steps
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(
        steps,
        ["create", "pause", "poll_accepted", "pause", "activate"]
    );
    let cleanup: Vec<_> = spec
        .cleanup
        .iter()
        .map(|c| (c.flow.as_str(), c.after, c.timeout))
        .collect();
    assert_eq!(
        cleanup,
        [
            (
                "activate",
                Duration::from_secs(60),
                Duration::from_secs(600)
            ),
            (
                "accepted",
                Duration::from_secs(30),
                Duration::from_secs(300)
            )
        ]
    );
}

#[test]
fn every_reference_config_key_is_reachable() {
    let config = r#"
[simulation]
totalOrders = 30
batchSize = 4
parallelBatches = 3
activatedCount = 10
[payload]
location = "EU-WEST-2"
pocOrder = "POC-9"
orderNumberPrefix = "X-"
customFields = { priority = "high", source = "test" }
[intervals]
betweenCreates = "1s"
afterCreateBeforeGet = "4s"
betweenGetPolls = "500ms"
beforeActivate = "3s"
beforeCancel = "7s"
beforeEnd = "9s"
[api]
baseUrl = "http://127.0.0.1:9"
timeout = "5s"
retryMax = 1
retryBackoff = "100ms"
[cleanup]
cancelTimeout = "11s"
endTimeout = "12s"
checkInterval = "13s"
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, config).unwrap();
    let p = Arc::new(Params::load(Some(&path), &[]).unwrap());
    let loaded = script::load(&day_in_life(), p.clone(), Default::default()).unwrap();
    let plan = plan::compile(&loaded.spec, loaded.runtime, &p, &Options::default()).unwrap();

    assert_eq!(plan.orders.len(), 30);
    assert_eq!(
        plan.orders
            .iter()
            .filter(|o| plan.flows[o.flow as usize].name.as_ref() == "activate")
            .count(),
        10
    );
    assert!(plan.batches.iter().all(|b| b.orders.len() <= 4));
    assert_eq!(plan.parallel, 3);
    assert_eq!(plan.between, Duration::from_secs(1));
    assert_eq!(plan.target, Target::Url("http://127.0.0.1:9".into()));
    assert_eq!(
        (
            plan.http.timeout,
            plan.http.retries,
            plan.http.retry_backoff
        ),
        (Duration::from_secs(5), 1, Duration::from_millis(100))
    );
    let first = payload(&plan, 0);
    assert_eq!(first["location"], "EU-WEST-2");
    assert_eq!(first["pocOrder"], "POC-9");
    assert!(first["orderNumber"].as_str().unwrap().starts_with("X-"));
    assert_eq!(
        first["customFields"],
        serde_json::json!({"priority": "high", "source": "test"})
    );

    let activate = &plan.flows[0];
    let pauses: Vec<Duration> = activate
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Pause { duration, .. } => Some(*duration),
            _ => None,
        })
        .collect();
    assert_eq!(pauses, [Duration::from_secs(4), Duration::from_secs(3)]);
    let Step::Poll(poll) = &activate.steps[2] else {
        panic!("step 3 is the poll")
    };
    assert_eq!(poll.every, Duration::from_millis(500));
    let end = activate.cleanup.as_ref().unwrap();
    assert_eq!(
        (end.after, end.timeout, end.every),
        (
            Duration::from_secs(9),
            Duration::from_secs(12),
            Duration::from_secs(13)
        )
    );
    let cancel = plan.flows[1].cleanup.as_ref().unwrap();
    assert_eq!(
        (cancel.after, cancel.timeout),
        (Duration::from_secs(7), Duration::from_secs(11))
    );
}

#[test]
fn the_mix_is_exact_and_order_numbers_are_unique_and_padded() {
    let plan = compile(
        &[
            "simulation.totalOrders=1000",
            "simulation.activatedCount=900",
        ],
        Options::default(),
    );
    assert_eq!(plan.orders.len(), 1000);
    let activate = plan
        .orders
        .iter()
        .filter(|o| plan.flows[o.flow as usize].name.as_ref() == "activate")
        .count();
    assert_eq!(activate, 900);
    let labels: HashSet<_> = plan
        .orders
        .iter()
        .map(|o| plan.arena.label(o).to_owned())
        .collect();
    assert_eq!(labels.len(), 1000);
    assert!(labels.contains("ORD-2024-000001") && labels.contains("ORD-2024-001000"));
    for (i, o) in plan.orders.iter().enumerate() {
        let p = payload(&plan, i);
        assert_eq!(p["type"], plan.flows[o.flow as usize].name.as_ref());
        assert_eq!(p["orderNumber"], plan.arena.label(o));
    }
}

#[test]
fn batches_are_homogeneous_contiguous_and_sized() {
    let plan = compile(&[], Options::default());
    let mut seen = 0;
    for (i, b) in plan.batches.iter().enumerate() {
        assert!(!b.orders.is_empty() && b.orders.len() <= 20);
        assert_eq!(b.orders.start, seen, "batches cover the orders in sequence");
        seen = b.orders.end;
        for o in &plan.orders[b.orders.clone()] {
            assert_eq!(o.flow, b.flow, "batch {i} mixes types");
            assert_eq!(o.batch as usize, i);
        }
    }
    assert_eq!(seen, plan.orders.len());
    // 170 activate → 8 full batches + 1 of 10; 30 accepted → 1 of 20 + 1 of 10.
    let mut sizes: Vec<usize> = plan.batches.iter().map(|b| b.orders.len()).collect();
    sizes.sort();
    assert_eq!(sizes, [10, 10, 20, 20, 20, 20, 20, 20, 20, 20, 20]);
}

#[test]
fn each_request_name_has_one_slot_shared_by_every_request_of_that_name() {
    let plan = compile(&[], Options::default());
    let names: HashSet<&str> = plan.request_names.iter().map(|n| &**n).collect();
    assert_eq!(names.len(), plan.request_names.len(), "each name once");
    let endpoints = plan.endpoints_by_step();
    let everywhere: HashSet<&str> = endpoints.keys().map(|n| &**n).collect();
    assert_eq!(
        names, everywhere,
        "flows, cleanups, auth and run-wide steps"
    );
    let mut checked = 0;
    for flow in &plan.flows {
        let cleanup = flow.cleanup.iter().flat_map(|c| c.requests());
        let steps = flow.steps.iter().filter_map(|s| match s {
            Step::Request(r) => Some(r),
            _ => None,
        });
        for r in steps.chain(cleanup) {
            assert_eq!(plan.request_names[r.slot as usize], r.name, "{}", r.name);
            checked += 1;
        }
    }
    assert!(checked > names.len(), "some names are used more than once");
}

#[test]
fn the_same_seed_gives_the_same_layout_and_another_seed_does_not() {
    let layout = |seed| {
        let plan = compile(
            &[],
            Options {
                seed: Some(seed),
                ..Options::default()
            },
        );
        plan.orders
            .iter()
            .map(|o| (o.n, o.flow, o.batch))
            .collect::<Vec<_>>()
    };
    assert_eq!(layout(1), layout(1));
    assert_ne!(layout(1), layout(2));
}

#[test]
fn speed_divides_intervals_but_not_timeouts() {
    let plan = compile(
        &[],
        Options {
            speed: 100.0,
            ..Options::default()
        },
    );
    assert_eq!(plan.between, Duration::from_millis(20));
    assert_eq!(plan.http.timeout, Duration::from_secs(30));
    let Step::Pause { duration, .. } = &plan.flows[0].steps[1] else {
        panic!("step 2 is a pause")
    };
    assert_eq!(*duration, Duration::from_millis(50));
    let cleanup = plan.flows[0].cleanup.as_ref().unwrap();
    assert_eq!(cleanup.after, Duration::from_millis(600));
    assert_eq!(cleanup.timeout, Duration::from_secs(600));
}

#[test]
fn a_mix_larger_than_the_total_is_refused_naming_the_keys() {
    let p = params(&[
        "simulation.totalOrders=100",
        "simulation.activatedCount=150",
    ]);
    let loaded = script::load(&day_in_life(), p.clone(), Default::default()).unwrap();
    let err = plan::compile(&loaded.spec, loaded.runtime, &p, &Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("150") && err.contains("100"), "{err}");
    assert!(
        err.contains("simulation.activatedCount") && err.contains("simulation.totalOrders"),
        "{err}"
    );
}

#[test]
fn a_template_using_an_unset_variable_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"let s = scenario("x"); s.target("http://127.0.0.1:9");
           s.population(#{ total: 1, mix: #{ a: "rest" } });
           s.flow("a", [post("/x").json(#{ id: "{orderId}" })]);
           s"#,
    );
    let p = params(&[]);
    let loaded = script::load(&path, p.clone(), Default::default()).unwrap();
    let err = plan::compile(&loaded.spec, loaded.runtime, &p, &Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("{orderId}"), "{err}");
}

#[test]
fn a_module_beside_the_script_overrides_the_embedded_stdlib() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::script(
        dir.path(),
        "orders.rhai",
        r#"fn create() { post("/local").name("local_create") }"#,
    );
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"import "orders" as orders;
           let s = scenario("x"); s.target("builtin:orders");
           s.population(#{ total: 1, mix: #{ a: "rest" } });
           s.flow("a", [orders::create()]);
           s"#,
    );
    let spec = script::load(&path, params(&[]), Default::default())
        .unwrap()
        .spec;
    assert_eq!(spec.flows[0].steps[0].name(), "local_create");
}

#[test]
fn nested_imports_resolve_beside_the_importing_module() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    crate::util::script(
        &pack,
        "helpers.rhai",
        r#"import "inner" as inner; fn step() { inner::step() }"#,
    );
    crate::util::script(
        &pack,
        "inner.rhai",
        r#"fn step() { get("/inner").name("inner") }"#,
    );
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"import "pack/helpers" as h;
           let s = scenario("x"); s.target("builtin:orders");
           s.population(#{ total: 1, mix: #{ a: "rest" } });
           s.flow("a", [h::step()]);
           s"#,
    );
    // The process's working directory is not the script's folder: resolution must not depend on it.
    let spec = script::load(&path, params(&[]), Default::default())
        .unwrap()
        .spec;
    assert_eq!(spec.flows[0].steps[0].name(), "inner");
}

#[test]
fn an_error_inside_a_module_names_the_module_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::script(
        dir.path(),
        "m.rhai",
        "fn bad() {\n    pause(\"forever\")\n}\n",
    );
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        "import \"m\" as m;\nlet x = m::bad();\n",
    );
    let Err(err) = script::load(&path, params(&[]), Default::default()) else {
        panic!("the script must fail")
    };
    let report = format!("{:?}", miette::Report::new(err));
    assert!(report.contains("m.rhai:2:"), "{report}");
    assert!(report.contains("pause(\"forever\")"), "{report}");
}

#[test]
fn the_payload_closure_sees_the_sequence_number_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"let s = scenario("x"); s.target("builtin:orders");
           s.payload(|n, kind| #{ orderNumber: "N-" + pad(n, 3), kind: kind });
           s.population(#{ total: 3, mix: #{ a: 1, b: "rest" }, shuffle: false });
           s.flow("a", [post("/x").send_payload()]);
           s.flow("b", [post("/x").send_payload()]);
           s"#,
    );
    let p = params(&[]);
    let loaded = script::load(&path, p.clone(), Default::default()).unwrap();
    let plan = plan::compile(&loaded.spec, loaded.runtime, &p, &Options::default()).unwrap();
    let mut seen: Vec<(u32, String, String)> = plan
        .orders
        .iter()
        .map(|o| {
            let v: serde_json::Value = serde_json::from_slice(&plan.arena.payload(o)).unwrap();
            (
                o.n,
                plan.arena.label(o).to_owned(),
                v["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (1, "N-001".into(), "a".into()),
            (2, "N-002".into(), "b".into()),
            (3, "N-003".into(), "b".into())
        ]
    );
}

#[test]
fn chaining_on_a_step_variable_leaves_the_variable_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"let s = scenario("x"); s.target("builtin:orders");
           s.population(#{ total: 1, mix: #{ a: "rest" } });
           let base = get("/details").name("base");
           let other = base.name("other").expect(404);
           s.flow("a", [base, other]);
           s"#,
    );
    let spec = script::load(&path, params(&[]), Default::default())
        .unwrap()
        .spec;
    let names: Vec<_> = spec.flows[0]
        .steps
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(names, ["base", "other"]);
}

fn compile_err(sets: &[&str]) -> String {
    let p = params(sets);
    match script::load(&day_in_life(), p.clone(), Default::default()) {
        Err(e) => format!("{:?}", miette::Report::new(e)),
        Ok(loaded) => match plan::compile(&loaded.spec, loaded.runtime, &p, &Options::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{sets:?} should be refused"),
        },
    }
}

#[test]
fn setting_a_table_parameter_as_a_whole_is_refused() {
    let err = compile_err(&["payload.customFields=x"]);
    assert!(err.contains("is a table"), "{err}");
}

#[test]
fn a_key_below_a_plain_parameter_is_unknown() {
    let err = compile_err(&["api.timeout.x=5"]);
    assert!(err.contains("unknown config key `api.timeout.x`"), "{err}");
}

#[test]
fn a_bare_number_for_a_duration_parameter_means_milliseconds() {
    let plan = compile(&["intervals.betweenGetPolls=500"], Options::default());
    let Step::Poll(poll) = &plan.flows[0].steps[2] else {
        panic!("step 3 is the poll")
    };
    assert_eq!(poll.every, Duration::from_millis(500));
}

#[test]
fn parameters_read_inside_the_payload_closure_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"let s = scenario("x"); s.target("builtin:orders");
           s.payload(|n| #{ orderNumber: param("payload.prefix", "A-") + n });
           s.population(#{ total: 1, mix: #{ a: "rest" } });
           s.flow("a", [post("/x").send_payload()]);
           s"#,
    );
    let p = params(&["payload.prefix=B-"]);
    let loaded = script::load(&path, p.clone(), Default::default()).unwrap();
    let plan = plan::compile(&loaded.spec, loaded.runtime, &p, &Options::default()).unwrap();
    assert_eq!(plan.arena.label(&plan.orders[0]), "B-1");
}
