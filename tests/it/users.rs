//! The user-traffic scenario against the built-in users target on 127.0.0.1.

use runner_targets::users::SEED_ENDPOINTS;
use runner_targets::{self as builtin, Dialect, Registration, Running, UserStore, UsersConfig};

use crate::util::{root, runner, runner_sync, stderr_flat, text};

/// A users target on 127.0.0.1 (port 0) and its store, to read its counts.
async fn users_target(config: UsersConfig) -> (Running, UserStore) {
    builtin::start_users("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// The shipped scenario against `url`, quietly, with its reports in `out`, plus `extra`.
async fn populate(url: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let script = user_populate();
    let mut args = vec![
        script.as_str(),
        "--target",
        url,
        "-q",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    runner(&args).await
}

fn user_populate() -> String {
    root()
        .join("scenarios/user_populate.rhai")
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_users_follow_the_mix_leave_nothing_behind_and_never_leak_tokens() {
    let (target, store) = users_target(UsersConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let script = user_populate();
    let run = runner(&[
        &script,
        "--target",
        &target.url,
        "--users",
        "20",
        "--min-request-count",
        "270",
        "--max-request-count",
        "300",
        "--error-rate",
        "0",
        // Think times are divided by the speed: the journeys run back to back.
        "--speed",
        "1000",
        "-q",
        "--out",
        dir.path().to_str().unwrap(),
        "--log-format",
        "json",
        "--log-level",
        "debug",
        "--log-file",
        log.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // Every simulated user, profile and role is gone; only the seed remains.
    let stats = store.stats();
    assert_eq!(
        (
            stats.users,
            stats.simulation_users,
            stats.profiles,
            stats.roles
        ),
        (1, 0, 0, 2),
        "{stats:?}"
    );

    let report = crate::util::read_report(dir.path());
    assert_eq!(
        report["errors"], 0,
        "no unexpected 4xx/5xx: {}",
        report["steps"]
    );
    assert_eq!(report["population"]["created"], 20);
    assert_eq!(report["population"]["stranded"], 0);
    let mix = report["mix"].as_array().unwrap();
    let journey: u64 = mix.iter().map(|m| m["requests"].as_u64().unwrap()).sum();
    assert!(journey >= 5000, "{journey} journey requests");
    for m in mix {
        let (share, configured) = (
            m["share"].as_f64().unwrap(),
            m["configured"].as_f64().unwrap(),
        );
        assert!(
            (share - configured).abs() <= 0.03,
            "{}: observed {share:.3} vs configured {configured:.3}",
            m["category"]
        );
    }

    // Tokens and passwords never reach the events or the logs.
    for file in [
        dir.path().join("events.csv"),
        dir.path().join("report.json"),
        log,
    ] {
        let mut content = std::fs::read_to_string(&file).unwrap();
        assert!(!content.is_empty(), "{} is empty", file.display());
        // The base64 histograms kept for `report merge` may spell anything.
        if file.ends_with("report.json") {
            let mut report: serde_json::Value = serde_json::from_str(&content).unwrap();
            report["merge"]["histograms"] = serde_json::Value::Null;
            content = report.to_string();
        }
        assert!(!content.contains("eyJ"), "a JWT in {}", file.display());
        assert!(
            !content.contains("SimPass123!"),
            "a password in {}",
            file.display()
        );
    }
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliberate_bad_requests_are_expected_errors_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let script = user_populate();
    let run = runner(&[
        &script,
        "--scenario",
        "development",
        "--error-rate",
        "0.3",
        "--speed",
        "1000",
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(dir.path());
    assert!(
        report["expected_errors"].as_u64().unwrap() > 0,
        "{}",
        report["steps"]
    );
    assert_eq!(report["errors"], 0);
    // Without a terminal, the users panel is printed as a status line.
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("Users 0/5 active | Requests ") && l.ends_with("· done")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_limit_ends_journeys_early_and_still_cleans_up() {
    let (target, store) = users_target(UsersConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // Budgets of a million requests with 50–100 ms think time (about 14 hours
    // a user): only the limit can end this run.
    let run = populate(
        &target.url,
        dir.path(),
        &[
            "--users",
            "5",
            "--min-request-count",
            "1000000",
            "--max-request-count",
            "1000000",
            "--delay-min",
            "50ms",
            "--delay-max",
            "100ms",
            "--duration",
            "1s",
        ],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(dir.path());
    let duration = report["duration_s"].as_f64().unwrap();
    let requests = report["requests"].as_u64().unwrap();
    assert!(duration >= 1.0, "the run lasted the limit: {duration} s");
    assert!(
        requests > 5 && requests < 5 * 1_000_000,
        "journeys ran and the limit, not the budgets, ended them: {requests} requests"
    );
    assert_eq!(store.stats().simulation_users, 0);
    target.stop().await;
}

/// With --duration, users whose budget is spent log in again for another
/// session until the duration ends; each session ends with a logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_duration_users_start_new_sessions_until_it_ends() {
    let (target, store) = users_target(UsersConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // Budgets of 2–3 requests, 20–40 ms apart: a session lasts well under a
    // second, so a 2 s run holds several per user.
    let run = populate(
        &target.url,
        dir.path(),
        &[
            "--users",
            "4",
            "--min-request-count",
            "2",
            "--max-request-count",
            "3",
            "--delay-min",
            "20ms",
            "--delay-max",
            "40ms",
            "--duration",
            "2s",
        ],
    )
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(dir.path());
    let count = |step: &str| report["steps"][step]["count"].as_u64().unwrap_or(0);
    assert_eq!(count("register"), 4, "each user exists once");
    assert!(
        count("logout") >= 8,
        "every user had a second session: {} logouts for 4 users",
        count("logout")
    );
    // Every session but the renewal logins of the cleanup began with a login.
    assert!(
        count("login") >= count("logout"),
        "{} logins",
        count("login")
    );
    assert_eq!(report["population"]["by_state"]["Deleted"], 4);
    let stats = store.stats();
    assert_eq!(
        (stats.simulation_users, stats.sessions),
        (0, 0),
        "{stats:?}"
    );
    target.stop().await;
}

/// On a terminal (a pty from `script`), the users panel has the last few
/// requests under it, as the seed shows them; piped, it has not.
#[test]
fn a_terminal_shows_the_recent_requests_under_the_users_panel() {
    let script = user_populate();
    let runner = env!("CARGO_BIN_EXE_runner");
    // About 3 s: the panel is redrawn once a second.
    let command =
        format!("stty rows 40 cols 160; '{runner}' '{script}' --scenario development --speed 3");
    let run = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .expect("`script` (util-linux) runs");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{screen}");
    assert!(screen.contains("Recent Activity:"), "{screen}");
    let line = regex::Regex::new(
        r"\[\d\d:\d\d:\d\d\] User-\d{3}: (GET|POST|PUT|DELETE) /api/v1/\S* → \d{3} \(\d+ms\)",
    )
    .unwrap();
    assert!(
        line.is_match(&screen),
        "no recent-activity line in: {screen}"
    );

    let piped = runner_sync(&[&script, "--scenario", "development", "--speed", "20"]);
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped));
    assert!(
        !text(&piped).contains("Recent Activity"),
        "{}",
        text(&piped)
    );
}

/// The seed's 85 / 12 / 3 answers, steered by deliberate bad requests (4xx)
/// and the built-in target's injected faults (5xx), shown beside the aim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answers_come_near_the_seeds_distribution_when_steered() {
    let script = user_populate();
    let dir = tempfile::tempdir().unwrap();
    let run = runner(&[
        &script,
        "--users",
        "20",
        "--min-request-count",
        "50",
        "--max-request-count",
        "80",
        "--speed",
        "1000",
        "--error-rate",
        "0.12",
        "--server-error-rate",
        "0.03",
        "--out",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("client errors (4xx)"), "{stdout}");
    let report = crate::util::read_report(dir.path());
    let answers = report["answers"].as_array().unwrap();
    let total: u64 = answers
        .iter()
        .map(|a| a["attempts"].as_u64().unwrap())
        .sum();
    assert!(total >= 1000, "{total} attempts");
    for (class, aim) in [
        ("success", 0.85),
        ("client_error", 0.12),
        ("server_error", 0.03),
    ] {
        let a = answers.iter().find(|a| a["class"] == class).unwrap();
        assert_eq!(a["aim"].as_f64().unwrap(), aim, "{a}");
        let share = a["share"].as_f64().unwrap();
        assert!(
            (share - aim).abs() <= 0.03,
            "{class}: observed {share:.3}, aim {aim}"
        );
    }
}

#[test]
fn script_options_are_listed_by_help_and_unknown_ones_refused() {
    let script = user_populate();
    let help = runner_sync(&[&script, "--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help));
    let out = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--users",
        "--min-request-count",
        "--max-request-count",
        "--duration",
        "--base-url",
        "--delay-min",
        "--delay-max",
        "--scenario",
    ] {
        assert!(out.contains(option), "{option} missing from\n{out}");
    }
    assert!(
        out.contains("Number of concurrent virtual users [default: 100]"),
        "{out}"
    );

    let bad = runner_sync(&["check", &script, "--user", "5"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        stderr_flat(&bad).contains("unknown option `--user`; did you mean `--users`?"),
        "{}",
        text(&bad)
    );

    let wrong_type = runner_sync(&["check", &script, "--users", "many"]);
    assert_eq!(wrong_type.status.code(), Some(2), "{}", text(&wrong_type));
    assert!(
        stderr_flat(&wrong_type).contains("option `--users`: expected an integer"),
        "{}",
        text(&wrong_type)
    );
}

/// `METHOD /path/{}`: an endpoint with its placeholders' names left out.
fn route(endpoint: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in endpoint.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('{');
            }
            '}' => {
                inside = false;
                out.push('}');
            }
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// The shipped scenario with only a target and documented options reaches
/// every endpoint of seed 004 (the report's endpoint table and the service's
/// own counts agree) and leaves nothing behind.
async fn every_endpoint_against(config: UsersConfig, extra: &[&str]) {
    let (target, store) = users_target(config).await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--users",
        "4",
        "--min-request-count",
        "5",
        "--max-request-count",
        "10",
        "--speed",
        "1000",
    ];
    args.extend_from_slice(extra);
    let run = populate(&target.url, dir.path(), &args).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    let report = crate::util::read_report(dir.path());
    assert_eq!(
        report["steps"]["logout"]["count"], 4,
        "without --duration each user has one session"
    );
    let reached: Vec<String> = report["endpoints"]
        .as_object()
        .unwrap()
        .keys()
        .map(|e| route(e))
        .collect();
    let counted = store.stats().requests_by_endpoint;
    for endpoint in SEED_ENDPOINTS {
        assert!(
            reached.contains(&route(endpoint)),
            "{endpoint} is not in the report's endpoints: {reached:?}"
        );
        assert!(
            counted.get(*endpoint).is_some_and(|n| *n > 0),
            "{endpoint} never reached the target"
        );
    }
    let stats = store.stats();
    assert_eq!(
        (
            stats.users,
            stats.simulation_users,
            stats.profiles,
            stats.roles,
            stats.permissions,
            stats.sessions
        ),
        (1, 0, 0, 2, 3, 0),
        "only the seed data is left: {stats:?}"
    );
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_scenario_reaches_every_seed_endpoint_and_leaves_nothing() {
    every_endpoint_against(UsersConfig::default(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_script_drives_a_camel_case_service_with_integer_ids_and_closed_registration() {
    let config = UsersConfig {
        dialect: Dialect::Camel,
        registration: Registration::Admin,
        ..UsersConfig::default()
    };
    every_endpoint_against(config, &["--registration", "admin"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_can_delete_self_registered_users_at_the_end() {
    every_endpoint_against(UsersConfig::default(), &["--cleanup-as", "admin"]).await;
}
