//! The built-in user-management target: an in-memory user service with token
//! auth (HS256 JWTs backed by server-side sessions, so logout really ends a
//! session), users, profiles, roles, permissions and role assignments, plus rate
//! limiting and fault injection. The user-traffic scenario drives it.
//!
//! Everything except `GET /stats` lives under [`API_PREFIX`] (`/api/v1`). Only
//! `POST /auth/login`, `POST /auth/refresh` and `POST /users` (self-registration)
//! work without a token; every other API route needs `Authorization: Bearer
//! <access_token>` (401 when it is missing, invalid, expired or logged out).
//!
//! | call | answer |
//! |---|---|
//! | `POST /auth/login` `{username or email, password}` | 200 [`TokenGrant`]; 401 bad credentials (one message for both cases); 403 inactive; 422 missing fields |
//! | `POST /auth/logout` | 204; the session ends, its tokens get 401 |
//! | `POST /auth/refresh` `{refresh_token}` | 200 [`TokenGrant`] with new tokens; the used refresh token gets 401 afterwards |
//! | `POST /auth/me` | 200 [`User`] |
//! | `GET /users?page=&per_page=` | 200 [`Page`] (page ≥ 1, per_page 1..=100, default 20); 422 out of range |
//! | `GET /users/search?q=&page=&per_page=` | 200 [`Page`] of users whose username, email or full name contains `q` (any case); 422 no `q` |
//! | `GET /users/{userId}`, `/users/email/{email}`, `/users/username/{username}` | 200 [`User`]; 404 |
//! | `POST /users` `{username, email, password, full_name, is_simulation?, metadata?}` | 201 [`User`] (gets the `user` role); 422 with `fields`; 409 username or email taken; with [`Registration::Admin`], 401 without a token and 403 without the admin role |
//! | `PUT /users/{userId}` `{full_name?, email?, metadata?}` | 200 [`User`]; 403; 404; 422; 409 email taken |
//! | `DELETE /users/{userId}` | 204; its profile, role assignments and sessions go too |
//! | `PUT /users/{userId}/activate`, `/deactivate` | 200 [`User`]; deactivating ends the user's sessions and login answers 403 |
//! | `PUT /users/{userId}/change-password` `{current_password, new_password}` | 204; 403 not yourself; 400 wrong current password; 422 |
//! | `PUT /users/{userId}/reset-password` | 200 `{"temporary_password"}` (admin only); ends the user's sessions |
//! | `POST`/`GET`/`PUT`/`DELETE /users/{userId}/profile` `{bio?, avatar_url?, preferences?}` | 201/200/200/204; 404 no profile; 409 second create; 403 not yours |
//! | `GET /roles`, `GET /permissions` | 200 `{"items", "total"}` |
//! | `POST /roles` `{name, description?, permissions?: [ids]}`, `POST /permissions` `{name, description?}` | 201 (admin only); 422 (unknown permission id); 409 name taken |
//! | `GET`/`PUT`/`DELETE /roles/{roleId}`, `/permissions/{permissionId}` | 200/200/204; 404; writes admin only; the built-in admin role cannot be deleted (409) |
//! | `GET /users/{userId}/roles` | 200 `{"items": [Role], "total"}` |
//! | `POST /users/{userId}/roles/{roleId}` | 201 [`Role`] (admin only); 422 unknown role; 409 already assigned |
//! | `DELETE /users/{userId}/roles/{roleId}` | 204 (admin only); 404 not assigned |
//! | `GET /stats` (no prefix, no auth) | 200 [`Stats`] |
//!
//! Who may do what: reading users needs the `users:read` permission (reading
//! yourself always works); changing, (de)activating or deleting another user needs
//! `users:write`; profiles are yours only unless you hold the admin role; creating,
//! changing and deleting roles and permissions, assigning roles and resetting
//! passwords need the admin role. The admin role may do everything, except change
//! another user's password (reset it instead). Seed data: permissions `users:read` (`perm-1`),
//! `users:write` (`perm-2`), `roles:manage` (`perm-3`); roles `admin` (`role-1`, all
//! three) and `user` (`role-2`, `users:read`); the account [`ADMIN_USERNAME`] /
//! [`ADMIN_PASSWORD`] (`usr-1`, `is_simulation: false`). A self-registered user
//! gets the `user` role.
//!
//! Errors are JSON `{"error": message}`; 422 adds `"fields": {field: message}`;
//! 401 adds `WWW-Authenticate: Bearer`; 429 adds `Retry-After`. Injected failures
//! (`error_rate`) are answered 500 before anything happens; `/stats` is exempt from
//! injection, latency and rate limiting.
//!
//! [`UsersConfig::dialect`] [`Dialect::Camel`] answers the same API with
//! camelCase keys, integer ids, `{"data": …}` envelopes and 200 for 204.

mod accounts;
mod auth;
mod dialect;
mod error;
mod http;
mod model;
mod profiles;
mod roles;
mod search;
mod sessions;
mod stats;
mod store;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod seed_tests;

use std::fmt;
use std::time::Duration;

pub use dialect::Dialect;
pub use error::StoreError;
pub use http::router;
pub use model::{
    NewUser, Page, Permission, PermissionInput, Profile, ProfileInput, Role, RoleInput, Stats,
    User, UserUpdate,
};
pub use sessions::TokenGrant;
pub use store::{Principal, UserStore};

/// Where the API lives; only `/stats` is outside it.
pub const API_PREFIX: &str = "/api/v1";

/// The user service's endpoints as seed 004 lists them, `METHOD /route` under
/// [`API_PREFIX`], spelled as `requests_by_endpoint` in [`Stats`] counts them.
pub const SEED_ENDPOINTS: &[&str] = &[
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/logout",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/me",
    "GET /api/v1/users",
    "GET /api/v1/users/search",
    "GET /api/v1/users/{userId}",
    "GET /api/v1/users/email/{email}",
    "GET /api/v1/users/username/{username}",
    "POST /api/v1/users",
    "PUT /api/v1/users/{userId}",
    "DELETE /api/v1/users/{userId}",
    "PUT /api/v1/users/{userId}/activate",
    "PUT /api/v1/users/{userId}/deactivate",
    "PUT /api/v1/users/{userId}/change-password",
    "PUT /api/v1/users/{userId}/reset-password",
    "POST /api/v1/users/{userId}/profile",
    "GET /api/v1/users/{userId}/profile",
    "PUT /api/v1/users/{userId}/profile",
    "DELETE /api/v1/users/{userId}/profile",
    "GET /api/v1/roles",
    "POST /api/v1/roles",
    "GET /api/v1/roles/{roleId}",
    "PUT /api/v1/roles/{roleId}",
    "DELETE /api/v1/roles/{roleId}",
    "GET /api/v1/permissions",
    "POST /api/v1/permissions",
    "GET /api/v1/permissions/{permissionId}",
    "PUT /api/v1/permissions/{permissionId}",
    "DELETE /api/v1/permissions/{permissionId}",
    "GET /api/v1/users/{userId}/roles",
    "POST /api/v1/users/{userId}/roles/{roleId}",
    "DELETE /api/v1/users/{userId}/roles/{roleId}",
];
/// Username of the seeded admin account.
pub const ADMIN_USERNAME: &str = "admin";
/// Password of the seeded admin account (a simulation target: this is public on purpose).
pub const ADMIN_PASSWORD: &str = "admin-password-123";
/// Email of the seeded admin account.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Name of the seeded role that holds every seeded permission.
pub const ADMIN_ROLE: &str = "admin";
/// Name of the seeded role every self-registered user gets.
pub const USER_ROLE: &str = "user";
/// Permission needed to read other users.
pub const USERS_READ: &str = "users:read";
/// Permission needed to change, (de)activate or delete other users.
pub const USERS_WRITE: &str = "users:write";
/// Seeded permission for managing roles (held by the admin role).
pub const ROLES_MANAGE: &str = "roles:manage";

/// How the user service behaves: token lifetimes, rate limit and fault injection.
#[derive(Clone, PartialEq)]
pub struct UsersConfig {
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens (and so of an idle session).
    pub refresh_ttl: Duration,
    /// Requests per second allowed per token (per client when there is none); 0 = no limit.
    pub rate_limit: u32,
    /// Share (0.0..=1.0) of API requests answered 500 before anything is done.
    pub error_rate: f64,
    /// Shortest delay added to every API request.
    pub latency_min: Duration,
    /// Longest delay added to every API request.
    pub latency_max: Duration,
    /// Seed of the failure and latency draws, so a run can be reproduced.
    pub seed: u64,
    /// JWT signing secret; `None` draws a random one per process.
    pub secret: Option<String>,
    /// How its JSON is spelled (keys, ids, envelopes).
    pub dialect: Dialect,
    /// Who may create users.
    pub registration: Registration,
}

/// Who may `POST /users`: anyone (self-registration), or only administrators,
/// as in services where accounts are provisioned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Registration {
    /// Anyone, without a token.
    #[default]
    Open,
    /// Only with an administrator's token (401 without a token, 403 with another's).
    Admin,
}

impl Registration {
    /// The names `FromStr` accepts.
    pub const NAMES: &'static [&'static str] = &["open", "admin"];
}

impl std::str::FromStr for Registration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Registration::Open),
            "admin" => Ok(Registration::Admin),
            other => Err(format!(
                "unknown registration `{other}`; expected one of: {}",
                Registration::NAMES.join(", ")
            )),
        }
    }
}

impl Default for UsersConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(24 * 60 * 60),
            rate_limit: 0,
            error_rate: 0.0,
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            seed: 0,
            secret: None,
            dialect: Dialect::Snake,
            registration: Registration::Open,
        }
    }
}

impl fmt::Debug for UsersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsersConfig")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("rate_limit", &self.rate_limit)
            .field("error_rate", &self.error_rate)
            .field("latency_min", &self.latency_min)
            .field("latency_max", &self.latency_max)
            .field("seed", &self.seed)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("dialect", &self.dialect)
            .field("registration", &self.registration)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_debug_output_hides_the_secret() {
        let config = UsersConfig {
            secret: Some("top-secret-value".into()),
            ..UsersConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("top-secret-value"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn the_default_config_has_the_documented_values() {
        let c = UsersConfig::default();
        assert_eq!(c.access_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_ttl, Duration::from_secs(86_400));
        assert_eq!((c.rate_limit, c.error_rate), (0, 0.0));
        assert_eq!(
            (c.latency_min, c.latency_max),
            (Duration::ZERO, Duration::ZERO)
        );
        assert_eq!(c.secret, None);
    }
}
