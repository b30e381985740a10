//! Every endpoint of seed 004 answered with its documented status, in both
//! dialects and with registration open or for administrators only.

use reqwest::Method;
use serde_json::{Value, json};

use super::http_tests::{Answer, Api};
use super::{ADMIN_PASSWORD, ADMIN_USERNAME, Dialect, Registration, SEED_ENDPOINTS, UsersConfig};

/// The API as a client that does not know the dialect sees it.
struct Client {
    api: Api,
    dialect: Dialect,
}

impl Client {
    /// Calls and checks the status (204 is 200 in the camel dialect); returns the payload.
    async fn expect(
        &self,
        status: u16,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let status = match (self.dialect, status) {
            (Dialect::Camel, 204) => 200,
            _ => status,
        };
        let Answer {
            status: got, body, ..
        } = self.api.call(method.clone(), path, token, body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        match self.dialect {
            Dialect::Camel if (200..300).contains(&got) => body["data"].clone(),
            _ => body,
        }
    }

    /// A field under its snake_case name or its camelCase one.
    fn field(&self, value: &Value, snake: &str) -> String {
        let key = match self.dialect {
            Dialect::Snake => snake.to_owned(),
            Dialect::Camel => {
                let mut parts = snake.split('_');
                let first = parts.next().unwrap_or_default().to_owned();
                parts.fold(first, |mut acc, p| {
                    acc.push_str(&p[..1].to_uppercase());
                    acc.push_str(&p[1..]);
                    acc
                })
            }
        };
        match &value[key.as_str()] {
            Value::String(s) => s.clone(),
            Value::Number(n) => {
                assert_eq!(self.dialect, Dialect::Camel, "snake ids are strings");
                n.to_string()
            }
            other => panic!("`{key}` is {other} in {value}"),
        }
    }

    async fn login(&self, username: &str, password: &str) -> (String, String) {
        let grant = self
            .expect(
                200,
                Method::POST,
                "/auth/login",
                None,
                Some(json!({ "username": username, "password": password })),
            )
            .await;
        (
            self.field(&grant, "access_token"),
            self.field(&grant, "refresh_token"),
        )
    }
}

fn user(name: &str) -> Value {
    json!({ "username": name, "email": format!("{name}@simulation.test"),
            "password": "SimPass123!", "full_name": name, "is_simulation": true })
}

async fn walk_every_endpoint(dialect: Dialect, registration: Registration) {
    let api = Api::start(UsersConfig {
        dialect,
        registration,
        ..UsersConfig::default()
    })
    .await;
    let c = Client { api, dialect };
    use Method as M;
    let (admin, _) = c.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let adm = Some(admin.as_str());
    let creator = match registration {
        Registration::Open => None,
        Registration::Admin => {
            let refused = c.api.call(M::POST, "/users", None, Some(user("x"))).await;
            assert_eq!(refused.status, 401, "{}", refused.body);
            adm
        }
    };
    let me = c
        .expect(201, M::POST, "/users", creator, Some(user("ann")))
        .await;
    let id = c.field(&me, "id");
    let (token, refresh) = c.login("ann", "SimPass123!").await;
    if registration == Registration::Admin {
        let by_user = c
            .api
            .call(M::POST, "/users", Some(&token), Some(user("y")))
            .await;
        assert_eq!(by_user.status, 403, "{}", by_user.body);
    }
    let body = |v: Value| Some(v);
    let refresh_body = match dialect {
        Dialect::Snake => json!({ "refresh_token": refresh }),
        Dialect::Camel => json!({ "refreshToken": refresh }),
    };
    let grant = c
        .expect(200, M::POST, "/auth/refresh", None, body(refresh_body))
        .await;
    let token = c.field(&grant, "access_token");
    let t = Some(token.as_str());
    let who = c.expect(200, M::POST, "/auth/me", t, None).await;
    assert_eq!(c.field(&who, "id"), id);
    c.expect(200, M::GET, "/users?page=1", adm, None).await;
    c.expect(200, M::GET, "/users/search?q=ann", adm, None)
        .await;
    c.expect(200, M::GET, &format!("/users/{id}"), t, None)
        .await;
    c.expect(200, M::GET, "/users/email/ann@simulation.test", t, None)
        .await;
    c.expect(200, M::GET, "/users/username/ann", t, None).await;
    c.expect(
        200,
        M::PUT,
        &format!("/users/{id}"),
        t,
        body(json!({ "full_name": "Ann B" })),
    )
    .await;
    let change = json!({ "current_password": "SimPass123!", "new_password": "SimPass456!" });
    c.expect(
        204,
        M::PUT,
        &format!("/users/{id}/change-password"),
        t,
        body(change),
    )
    .await;
    let profile = format!("/users/{id}/profile");
    c.expect(201, M::POST, &profile, t, body(json!({ "bio": "hi" })))
        .await;
    c.expect(200, M::GET, &profile, t, None).await;
    c.expect(200, M::PUT, &profile, t, body(json!({ "bio": "hello" })))
        .await;
    c.expect(204, M::DELETE, &profile, t, None).await;
    c.expect(200, M::GET, "/roles", t, None).await;
    c.expect(200, M::GET, "/permissions", t, None).await;
    let perm = c
        .expect(
            201,
            M::POST,
            "/permissions",
            adm,
            body(json!({ "name": "sim:perm" })),
        )
        .await;
    let perm_id = c.field(&perm, "id");
    let perm_path = format!("/permissions/{perm_id}");
    c.expect(200, M::GET, &perm_path, adm, None).await;
    c.expect(
        200,
        M::PUT,
        &perm_path,
        adm,
        body(json!({ "description": "d" })),
    )
    .await;
    let perm_ref = match dialect {
        Dialect::Snake => json!(perm_id),
        Dialect::Camel => json!(perm_id.parse::<u64>().unwrap()),
    };
    let role = json!({ "name": "sim_role", "permissions": [perm_ref] });
    let role = c.expect(201, M::POST, "/roles", adm, body(role)).await;
    let role_id = c.field(&role, "id");
    let role_path = format!("/roles/{role_id}");
    c.expect(200, M::GET, &role_path, adm, None).await;
    c.expect(
        200,
        M::PUT,
        &role_path,
        adm,
        body(json!({ "description": "d" })),
    )
    .await;
    let assignment = format!("/users/{id}/roles/{role_id}");
    c.expect(201, M::POST, &assignment, adm, None).await;
    c.expect(200, M::GET, &format!("/users/{id}/roles"), t, None)
        .await;
    c.expect(204, M::DELETE, &assignment, adm, None).await;
    c.expect(204, M::DELETE, &role_path, adm, None).await;
    c.expect(204, M::DELETE, &perm_path, adm, None).await;
    c.expect(200, M::PUT, &format!("/users/{id}/deactivate"), adm, None)
        .await;
    c.expect(200, M::PUT, &format!("/users/{id}/activate"), adm, None)
        .await;
    let (token, _) = c.login("ann", "SimPass456!").await;
    c.expect(204, M::POST, "/auth/logout", Some(&token), None)
        .await;
    let reset = c
        .expect(
            200,
            M::PUT,
            &format!("/users/{id}/reset-password"),
            adm,
            None,
        )
        .await;
    assert!(!c.field(&reset, "temporary_password").is_empty());
    c.expect(204, M::DELETE, &format!("/users/{id}"), adm, None)
        .await;

    let stats = c.api.stats().await;
    let counts = stats["requests_by_endpoint"].as_object().unwrap();
    let missed: Vec<&&str> = SEED_ENDPOINTS
        .iter()
        .filter(|e| !counts.contains_key(**e))
        .collect();
    assert!(missed.is_empty(), "never reached: {missed:?}");
    assert_eq!(
        counts.len(),
        SEED_ENDPOINTS.len() + 1,
        "the seed's routes and /stats: {counts:?}"
    );
    assert_eq!(
        (&stats["users"], &stats["sessions"]),
        (&json!(1), &json!(1))
    );
    c.api.running.stop().await;
}

#[tokio::test]
async fn every_seed_endpoint_answers_with_its_documented_status() {
    walk_every_endpoint(Dialect::Snake, Registration::Open).await;
}

#[tokio::test]
async fn the_camel_dialect_answers_every_endpoint_in_camel_case_with_integer_ids() {
    walk_every_endpoint(Dialect::Camel, Registration::Open).await;
}

#[tokio::test]
async fn closed_registration_needs_an_administrators_token() {
    walk_every_endpoint(Dialect::Snake, Registration::Admin).await;
}

#[tokio::test]
async fn camel_answers_wrap_successes_and_keep_errors_bare() {
    let api = Api::start(UsersConfig {
        dialect: Dialect::Camel,
        ..UsersConfig::default()
    })
    .await;
    let created = api
        .call(Method::POST, "/users", None, Some(user("bob")))
        .await;
    assert_eq!(created.status, 201);
    assert!(created.body["data"]["id"].is_u64(), "{}", created.body);
    assert_eq!(created.body["data"]["isSimulation"], true);
    let camel_in = json!({ "username": "cyd", "email": "cyd@simulation.test",
                           "password": "SimPass123!", "fullName": "Cy" });
    let created = api.call(Method::POST, "/users", None, Some(camel_in)).await;
    assert_eq!(
        created.status, 201,
        "camelCase input is read: {}",
        created.body
    );
    assert_eq!(created.body["data"]["fullName"], "Cy");
    let missing = api.call(Method::GET, "/users/999", None, None).await;
    assert_eq!(missing.status, 401);
    assert!(missing.body["error"].is_string(), "{}", missing.body);
    let stats = api.stats().await;
    assert_eq!(
        (&stats["users"], &stats["simulation_users"]),
        (&json!(3), &json!(1)),
        "/stats keeps its own spelling: {stats}"
    );
    api.running.stop().await;
}
