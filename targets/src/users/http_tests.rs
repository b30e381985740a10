//! The user service over real HTTP on 127.0.0.1 (port 0), driven with reqwest.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{ADMIN_PASSWORD, ADMIN_USERNAME, UserStore, UsersConfig};
use crate::{Running, start_users};

/// A running server, its store and a proxy-free client.
pub(super) struct Api {
    pub(super) running: Running,
    store: UserStore,
    client: reqwest::Client,
}

/// One answer: status, JSON body (`null` when empty) and the `Retry-After` header.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
    retry_after: Option<String>,
    www_authenticate: Option<String>,
}

impl Api {
    pub(super) async fn start(config: UsersConfig) -> Self {
        let (running, store) = start_users("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Self {
            running,
            store,
            client,
        }
    }

    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let url = if path.starts_with("/stats") {
            format!("{}{path}", self.running.url)
        } else {
            format!("{}/api/v1{path}", self.running.url)
        };
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (retry_after, www_authenticate) = (header("retry-after"), header("www-authenticate"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Answer {
            status,
            body,
            retry_after,
            www_authenticate,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    /// Registers `name` (as a simulation user) and logs in; returns (user id, access, refresh).
    async fn member(&self, name: &str) -> (String, String, String) {
        let created = self.post("/users", None, registration(name)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let grant = self.login(name, &format!("{name}-password")).await;
        (
            created.body["id"].as_str().unwrap().to_owned(),
            grant["access_token"].as_str().unwrap().to_owned(),
            grant["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn login(&self, username: &str, password: &str) -> Value {
        let answer = self
            .post(
                "/auth/login",
                None,
                json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    async fn admin_token(&self) -> String {
        let grant = self.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
        grant["access_token"].as_str().unwrap().to_owned()
    }

    pub(super) async fn stats(&self) -> Value {
        let answer = self.get("/stats", None).await;
        assert_eq!(answer.status, 200);
        answer.body
    }
}

fn registration(name: &str) -> Value {
    json!({
        "username": name,
        "email": format!("{name}@example.com"),
        "password": format!("{name}-password"),
        "full_name": format!("{name} Example"),
        "is_simulation": true,
        "metadata": { "archetype": "new" },
    })
}

#[tokio::test]
async fn a_user_registers_logs_in_makes_a_profile_and_after_logout_gets_401() {
    let api = Api::start(UsersConfig::default()).await;
    let created = api.post("/users", None, registration("alice")).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["is_simulation"], true);
    assert_eq!(created.body["roles"], json!(["user"]));
    assert!(created.body.get("password").is_none());
    assert!(created.body["created_at"].is_string());
    let id = created.body["id"].as_str().unwrap().to_owned();

    let grant = api
        .post(
            "/auth/login",
            None,
            json!({ "email": "alice@example.com", "password": "alice-password" }),
        )
        .await;
    assert_eq!(grant.status, 200);
    assert_eq!(grant.body["token_type"], "Bearer");
    assert_eq!(grant.body["expires_in"], 900);
    assert_eq!(grant.body["user"]["id"], id.as_str());
    let token = grant.body["access_token"].as_str().unwrap().to_owned();

    let me = api.call(Method::POST, "/auth/me", Some(&token), None).await;
    assert_eq!(
        (me.status, me.body["username"].as_str()),
        (200, Some("alice"))
    );

    let profile = json!({ "bio": "hi", "avatar_url": "https://img.example.com/a.png", "preferences": { "theme": "dark" } });
    let made = api
        .post(
            &format!("/users/{id}/profile"),
            Some(&token),
            profile.clone(),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(
        api.post(&format!("/users/{id}/profile"), Some(&token), profile)
            .await
            .status,
        409
    );
    let got = api.get(&format!("/users/{id}/profile"), Some(&token)).await;
    assert_eq!(
        (got.status, &got.body["preferences"]["theme"]),
        (200, &json!("dark"))
    );
    let changed = api
        .call(
            Method::PUT,
            &format!("/users/{id}/profile"),
            Some(&token),
            Some(json!({ "bio": "edited" })),
        )
        .await;
    assert_eq!(
        (changed.status, &changed.body["bio"]),
        (200, &json!("edited"))
    );
    // Someone else's profile is off limits.
    assert_eq!(
        api.get("/users/usr-1/profile", Some(&token)).await.status,
        403
    );

    let out = api
        .call(Method::POST, "/auth/logout", Some(&token), None)
        .await;
    assert_eq!((out.status, out.body.clone()), (204, Value::Null));
    let after = api.call(Method::POST, "/auth/me", Some(&token), None).await;
    assert_eq!(after.status, 401);
    assert_eq!(after.body["error"], "session has ended");
    assert_eq!(after.www_authenticate.as_deref(), Some("Bearer"));
    api.running.stop().await;
}

#[tokio::test]
async fn missing_invalid_and_expired_tokens_are_401() {
    let api = Api::start(UsersConfig {
        access_ttl: Duration::ZERO,
        ..UsersConfig::default()
    })
    .await;
    let none = api.get("/users", None).await;
    assert_eq!(
        (none.status, &none.body["error"]),
        (401, &json!("missing bearer token"))
    );
    assert_eq!(
        api.get("/users", Some("garbage")).await.body["error"],
        "invalid token"
    );
    let (_, token, refresh) = api.member("bob").await;
    assert_eq!(
        api.call(Method::POST, "/auth/me", Some(&token), None)
            .await
            .body["error"],
        "token expired"
    );
    // The refresh token still works, and everything without a token but login,
    // refresh and registration is closed.
    assert_eq!(
        api.post("/auth/refresh", None, json!({ "refresh_token": refresh }))
            .await
            .status,
        200
    );
    for path in [
        "/roles",
        "/permissions",
        "/users/usr-1",
        "/users/search?q=a",
    ] {
        assert_eq!(api.get(path, None).await.status, 401, "{path}");
    }
    api.running.stop().await;
}

#[tokio::test]
async fn refresh_gives_new_tokens_and_refuses_the_used_refresh_token() {
    let api = Api::start(UsersConfig::default()).await;
    let (_, _, refresh) = api.member("carol").await;
    let fresh = api
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let token = fresh.body["access_token"].as_str().unwrap();
    assert_eq!(
        api.call(Method::POST, "/auth/me", Some(token), None)
            .await
            .body["username"],
        "carol"
    );
    let again = api
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(
        (again.status, &again.body["error"]),
        (401, &json!("refresh token already used"))
    );
    let missing = api.post("/auth/refresh", None, json!({})).await;
    assert_eq!(
        (missing.status, &missing.body["fields"]["refresh_token"]),
        (422, &json!("is required"))
    );
    api.running.stop().await;
}

#[tokio::test]
async fn roles_are_created_by_admins_only() {
    let api = Api::start(UsersConfig::default()).await;
    let (_, token, _) = api.member("dave").await;
    let role = json!({ "name": "auditor", "description": "reads", "permissions": ["perm-1"] });
    let refused = api.post("/roles", Some(&token), role.clone()).await;
    assert_eq!(
        (refused.status, &refused.body["error"]),
        (403, &json!("this needs the admin role"))
    );
    let admin = api.admin_token().await;
    let made = api.post("/roles", Some(&admin), role.clone()).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(
        (made.body["id"].as_str(), &made.body["permissions"]),
        (Some("role-3"), &json!(["perm-1"]))
    );
    assert_eq!(api.post("/roles", Some(&admin), role).await.status, 409);
    let unknown = api
        .post(
            "/roles",
            Some(&admin),
            json!({ "name": "x", "permissions": ["perm-42"] }),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(
        unknown.body["fields"]["permissions"],
        "unknown permission id perm-42"
    );
    let listed = api.get("/roles", Some(&token)).await;
    assert_eq!((listed.status, &listed.body["total"]), (200, &json!(3)));
    let perm = api
        .post(
            "/permissions",
            Some(&admin),
            json!({ "name": "reports:read" }),
        )
        .await;
    assert_eq!(
        (perm.status, perm.body["id"].as_str()),
        (201, Some("perm-4"))
    );
    let put = api
        .call(
            Method::PUT,
            "/roles/role-3",
            Some(&admin),
            Some(json!({ "permissions": ["perm-4"] })),
        )
        .await;
    assert_eq!(
        (put.status, &put.body["permissions"]),
        (200, &json!(["perm-4"]))
    );
    assert_eq!(
        api.call(Method::DELETE, "/permissions/perm-4", Some(&token), None)
            .await
            .status,
        403
    );
    assert_eq!(
        api.call(Method::DELETE, "/permissions/perm-4", Some(&admin), None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.get("/roles/role-3", Some(&token)).await.body["permissions"],
        json!([])
    );
    assert_eq!(
        api.call(Method::DELETE, "/roles/role-1", Some(&admin), None)
            .await
            .status,
        409
    );
    assert_eq!(
        api.get("/permissions/perm-4", Some(&admin)).await.status,
        404
    );
    api.running.stop().await;
}

#[tokio::test]
async fn roles_are_assigned_and_revoked_by_admins() {
    let api = Api::start(UsersConfig::default()).await;
    let (id, token, _) = api.member("erin").await;
    let admin = api.admin_token().await;
    let path = format!("/users/{id}/roles");
    let assign = |role: &str| format!("{path}/{role}");
    assert_eq!(
        api.call(Method::POST, &assign("role-1"), Some(&token), None)
            .await
            .status,
        403
    );
    let assigned = api
        .call(Method::POST, &assign("role-1"), Some(&admin), None)
        .await;
    assert_eq!(
        (assigned.status, &assigned.body["name"]),
        (201, &json!("admin"))
    );
    assert_eq!(
        api.call(Method::POST, &assign("role-1"), Some(&admin), None)
            .await
            .status,
        409
    );
    assert_eq!(
        api.call(Method::POST, &assign("role-77"), Some(&admin), None)
            .await
            .status,
        422
    );
    let roles = api.get(&path, Some(&token)).await;
    assert_eq!((roles.status, &roles.body["total"]), (200, &json!(2)));
    // The new role takes effect at once, without a new login.
    assert_eq!(
        api.post("/roles", Some(&token), json!({ "name": "now-allowed" }))
            .await
            .status,
        201
    );
    let revoke = format!("/users/{id}/roles/role-1");
    assert_eq!(
        api.call(Method::DELETE, &revoke, Some(&admin), None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.call(Method::DELETE, &revoke, Some(&admin), None)
            .await
            .status,
        404
    );
    assert_eq!(
        api.post("/roles", Some(&token), json!({ "name": "again" }))
            .await
            .status,
        403
    );
    api.running.stop().await;
}

#[tokio::test]
async fn deleting_a_user_cascades_and_the_stats_drop() {
    let api = Api::start(UsersConfig::default()).await;
    let (id, token, _) = api.member("frank").await;
    let admin = api.admin_token().await;
    assert_eq!(
        api.post(&format!("/users/{id}/profile"), Some(&token), json!({}))
            .await
            .status,
        201
    );
    assert_eq!(
        api.call(
            Method::POST,
            &format!("/users/{id}/roles/role-1"),
            Some(&admin),
            None
        )
        .await
        .status,
        201
    );
    let before = api.stats().await;
    assert_eq!(
        (
            &before["users"],
            &before["profiles"],
            &before["sessions"],
            &before["simulation_users"]
        ),
        (&json!(2), &json!(1), &json!(2), &json!(1))
    );
    assert_eq!(
        (&before["roles"], &before["permissions"]),
        (&json!(2), &json!(3))
    );
    let deleted = api
        .call(Method::DELETE, &format!("/users/{id}"), Some(&admin), None)
        .await;
    assert_eq!(deleted.status, 204);
    let after = api.stats().await;
    assert_eq!(
        (
            &after["users"],
            &after["profiles"],
            &after["sessions"],
            &after["simulation_users"]
        ),
        (&json!(1), &json!(0), &json!(1), &json!(0))
    );
    assert_eq!(
        api.call(Method::POST, "/auth/me", Some(&token), None)
            .await
            .status,
        401
    );
    assert_eq!(
        api.get(&format!("/users/{id}"), Some(&admin)).await.status,
        404
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("/users/{id}"), Some(&admin), None)
            .await
            .status,
        404
    );
    assert_eq!(api.store.stats().users, 1);
    api.running.stop().await;
}

#[tokio::test]
async fn invalid_registrations_get_422_with_field_messages_and_bad_json_400() {
    let api = Api::start(UsersConfig::default()).await;
    let bad = api
        .post(
            "/users",
            None,
            json!({ "username": "gina", "email": "not-an-email", "password": "short" }),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"], "validation failed");
    assert_eq!(
        bad.body["fields"],
        json!({ "email": "must be a valid email", "password": "must be at least 8 characters", "full_name": "is required" })
    );
    let typed = api.post("/users", None, json!({ "username": 7 })).await;
    assert_eq!(
        (typed.status, &typed.body["fields"]["username"]),
        (422, &json!("must be a string"))
    );
    let raw = api
        .client
        .post(format!("{}/api/v1/users", api.running.url))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON body"),
        "{body}"
    );
    let pages = api
        .get("/users?page=0&per_page=500", Some(&api.admin_token().await))
        .await;
    assert_eq!(pages.status, 422);
    assert!(
        pages.body["fields"]["page"].is_string() && pages.body["fields"]["per_page"].is_string()
    );
    assert_eq!(api.stats().await["users"], 1);
    api.running.stop().await;
}

#[tokio::test]
async fn duplicate_usernames_and_emails_get_409() {
    let api = Api::start(UsersConfig::default()).await;
    api.member("hank").await;
    let same_name = json!({ "username": "HANK", "email": "other@example.com", "password": "long-enough", "full_name": "H" });
    let answer = api.post("/users", None, same_name).await;
    assert_eq!(
        (answer.status, &answer.body["error"]),
        (409, &json!("username HANK is already taken"))
    );
    let same_email = json!({ "username": "henry", "email": "hank@example.com", "password": "long-enough", "full_name": "H" });
    assert_eq!(api.post("/users", None, same_email).await.status, 409);
    assert_eq!(api.stats().await["users"], 2);
    api.running.stop().await;
}

#[tokio::test]
async fn lookups_search_and_pages_answer_over_http() {
    let api = Api::start(UsersConfig::default()).await;
    let (id, token, _) = api.member("ivy").await;
    api.member("ivan").await;
    assert_eq!(
        api.get("/users/email/IVY@example.com", Some(&token))
            .await
            .body["id"],
        id.as_str()
    );
    assert_eq!(
        api.get("/users/username/ivan", Some(&token)).await.body["username"],
        "ivan"
    );
    assert_eq!(
        api.get("/users/username/nobody", Some(&token)).await.status,
        404
    );
    let found = api.get("/users/search?q=iv", Some(&token)).await;
    assert_eq!((found.status, &found.body["total"]), (200, &json!(2)));
    assert_eq!(api.get("/users/search", Some(&token)).await.status, 422);
    let page = api.get("/users?page=2&per_page=2", Some(&token)).await;
    assert_eq!(page.body["items"][0]["username"], "ivan");
    assert_eq!(
        (
            &page.body["page"],
            &page.body["per_page"],
            &page.body["total"]
        ),
        (&json!(2), &json!(2), &json!(3))
    );
    let updated = api
        .call(
            Method::PUT,
            &format!("/users/{id}"),
            Some(&token),
            Some(json!({ "full_name": "Ivy Q" })),
        )
        .await;
    assert_eq!(
        (updated.status, &updated.body["full_name"]),
        (200, &json!("Ivy Q"))
    );
    assert_eq!(
        api.call(Method::PUT, "/users/usr-1", Some(&token), Some(json!({})))
            .await
            .status,
        403
    );
    api.running.stop().await;
}

#[tokio::test]
async fn deactivated_users_get_403_at_login_and_passwords_change_and_reset() {
    let api = Api::start(UsersConfig::default()).await;
    let (id, token, _) = api.member("jack").await;
    let admin = api.admin_token().await;
    let change = json!({ "current_password": "wrong-one!", "new_password": "jack-password-2" });
    let path = format!("/users/{id}/change-password");
    assert_eq!(api.put(&path, Some(&token), change).await.status, 400);
    let change = json!({ "current_password": "jack-password", "new_password": "jack-password-2" });
    assert_eq!(
        api.put(&path, Some(&admin), change.clone()).await.status,
        403
    );
    assert_eq!(api.put(&path, Some(&token), change).await.status, 204);
    api.login("jack", "jack-password-2").await;

    let off = api
        .call(
            Method::PUT,
            &format!("/users/{id}/deactivate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((off.status, &off.body["is_active"]), (200, &json!(false)));
    let refused = api
        .post(
            "/auth/login",
            None,
            json!({ "username": "jack", "password": "jack-password-2" }),
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["error"]),
        (403, &json!("account is inactive"))
    );
    let on = api
        .call(
            Method::PUT,
            &format!("/users/{id}/activate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((on.status, &on.body["is_active"]), (200, &json!(true)));

    let reset = api
        .call(
            Method::PUT,
            &format!("/users/{id}/reset-password"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(reset.status, 200);
    let temporary = reset.body["temporary_password"].as_str().unwrap();
    api.login("jack", temporary).await;
    let wrong = api
        .post(
            "/auth/login",
            None,
            json!({ "username": "jack", "password": "jack-password-2" }),
        )
        .await;
    assert_eq!(
        (wrong.status, &wrong.body["error"]),
        (401, &json!("invalid username or password"))
    );
    api.running.stop().await;
}

#[tokio::test]
async fn a_rate_limit_of_two_answers_429_with_retry_after() {
    let api = Api::start(UsersConfig {
        rate_limit: 2,
        ..UsersConfig::default()
    })
    .await;
    // Five quick calls span at most two one-second windows: at most four get through.
    let mut codes = Vec::new();
    let mut limited = None;
    for _ in 0..5 {
        let answer = api
            .call(Method::POST, "/auth/me", Some("some-token"), None)
            .await;
        if answer.status == 429 {
            limited = Some(answer);
        } else {
            codes.push(answer.status);
        }
    }
    let limited = limited.expect("no call was rate limited");
    assert_eq!(limited.retry_after.as_deref(), Some("1"));
    assert_eq!(limited.body["error"], "rate limit exceeded");
    assert!(
        codes.len() <= 4 && codes.iter().all(|c| *c == 401),
        "{codes:?}"
    );
    // /stats is never limited.
    for _ in 0..4 {
        api.stats().await;
    }
    api.running.stop().await;
}

#[tokio::test]
async fn injected_failures_are_500_and_create_nothing() {
    let api = Api::start(UsersConfig {
        error_rate: 1.0,
        ..UsersConfig::default()
    })
    .await;
    for _ in 0..3 {
        let answer = api.post("/users", None, registration("kate")).await;
        assert_eq!(
            (answer.status, answer.body.clone()),
            (500, json!({ "error": "injected failure" }))
        );
    }
    let login = api
        .post(
            "/auth/login",
            None,
            json!({ "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD }),
        )
        .await;
    assert_eq!(login.status, 500);
    let stats = api.stats().await;
    assert_eq!(
        (&stats["users"], &stats["sessions"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(stats["requests_by_endpoint"]["POST /api/v1/users"], 3);
    api.running.stop().await;
}

#[tokio::test]
async fn requests_are_counted_by_route_template() {
    let api = Api::start(UsersConfig::default()).await;
    let (id, token, _) = api.member("liam").await;
    api.get(&format!("/users/{id}"), Some(&token)).await;
    api.get("/users/usr-1", Some(&token)).await;
    api.get("/no/such/route", None).await;
    let stats = api.stats().await;
    let counts = stats["requests_by_endpoint"].as_object().unwrap();
    assert_eq!(counts["POST /api/v1/users"], 1);
    assert_eq!(counts["POST /api/v1/auth/login"], 1);
    assert_eq!(counts["GET /api/v1/users/{userId}"], 2);
    assert_eq!(counts["GET /stats"], 1);
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert_eq!(
        stats["requests_total"], 6,
        "the unmatched call counts only in the total"
    );
    api.running.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_json_errors() {
    let api = Api::start(UsersConfig::default()).await;
    let missing = api.get("/nowhere", None).await;
    assert_eq!(
        (missing.status, &missing.body["error"]),
        (404, &json!("no route for GET /api/v1/nowhere"))
    );
    let wrong = api.call(Method::PATCH, "/users", None, None).await;
    assert_eq!(wrong.status, 405);
    assert!(wrong.body["error"].is_string(), "{}", wrong.body);
    api.running.stop().await;
}
