//! The records the user service stores and answers with, the inputs it accepts,
//! and the field rules (what makes a 422).

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::error::StoreError;

/// Serializes a time as RFC 3339 with milliseconds, like the orders target.
fn rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_rfc3339_millis(*t).to_string())
}

/// A user as the API shows it (never with a password).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    /// Server-assigned id, like `usr-2`.
    pub id: String,
    /// Unique (any case), 3 to 64 of letters, digits, `.`, `_`, `-`.
    pub username: String,
    /// Unique (any case).
    pub email: String,
    /// Display name.
    pub full_name: String,
    /// Inactive users cannot log in.
    pub is_active: bool,
    /// True for users a simulation created, so they can be told apart and cleaned up.
    pub is_simulation: bool,
    /// Free-form data the client attached.
    pub metadata: Map<String, Value>,
    /// Names of the roles assigned to the user.
    pub roles: Vec<String>,
    /// When the user was created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// When the user was last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// A user's profile (at most one per user).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    /// The owner's id.
    pub user_id: String,
    /// Free text.
    pub bio: String,
    /// An http(s) URL, if set.
    pub avatar_url: Option<String>,
    /// Free-form settings.
    pub preferences: Map<String, Value>,
    /// When the profile was created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// When the profile was last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// A named set of permissions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Role {
    /// Server-assigned id, like `role-3`.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Ids of the permissions the role grants.
    pub permissions: Vec<String>,
    /// When the role was created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// When the role was last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// A named capability, like `users:read`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Permission {
    /// Server-assigned id, like `perm-4`.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When the permission was created.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// When the permission was last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    /// The entries of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: usize,
    /// Page size asked for.
    pub per_page: usize,
    /// Entries in the whole listing.
    pub total: usize,
}

/// The server-side view of a run (`GET /stats`), so anyone can check the end state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Users stored (seeded admin included).
    pub users: u64,
    /// Profiles stored.
    pub profiles: u64,
    /// Roles stored (seeded ones included).
    pub roles: u64,
    /// Permissions stored (seeded ones included).
    pub permissions: u64,
    /// Live sessions (logged in, not logged out, refresh token not expired).
    pub sessions: u64,
    /// Users stored with `is_simulation: true`.
    pub simulation_users: u64,
    /// Requests per `METHOD /route/{template}`; unmatched paths are only in the total.
    pub requests_by_endpoint: BTreeMap<String, u64>,
    /// Every request received, whatever its outcome.
    pub requests_total: u64,
}

/// A registration (`POST /users`).
#[derive(Clone, Default, PartialEq)]
pub struct NewUser {
    /// Wanted username.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Password in clear; hashed on arrival, never stored or logged.
    pub password: String,
    /// Display name.
    pub full_name: String,
    /// Whether a simulation created this user.
    pub is_simulation: bool,
    /// Free-form data.
    pub metadata: Map<String, Value>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("full_name", &self.full_name)
            .field("is_simulation", &self.is_simulation)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl NewUser {
    /// Reads a registration body; missing strings stay empty (the store says "is required").
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, StoreError> {
        let mut r = Fields::new(body);
        let user = NewUser {
            username: r.string("username").unwrap_or_default(),
            email: r.string("email").unwrap_or_default(),
            password: r.string("password").unwrap_or_default(),
            full_name: r.string("full_name").unwrap_or_default(),
            is_simulation: r.bool("is_simulation").unwrap_or(false),
            metadata: r.object("metadata").unwrap_or_default(),
        };
        r.finish()?;
        Ok(user)
    }

    /// The field errors of this registration, empty when it is valid.
    pub fn problems(&self) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        check(&mut fields, "username", username_problem(&self.username));
        check(&mut fields, "email", email_problem(&self.email));
        check(&mut fields, "password", password_problem(&self.password));
        check(&mut fields, "full_name", full_name_problem(&self.full_name));
        fields
    }
}

/// A change to a user (`PUT /users/{id}`); absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserUpdate {
    /// New display name.
    pub full_name: Option<String>,
    /// New email address.
    pub email: Option<String>,
    /// New metadata (replaces the old one).
    pub metadata: Option<Map<String, Value>>,
}

impl UserUpdate {
    /// Reads an update body; unknown fields are ignored.
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, StoreError> {
        let mut r = Fields::new(body);
        let update = UserUpdate {
            full_name: r.string("full_name"),
            email: r.string("email"),
            metadata: r.object("metadata"),
        };
        r.finish()?;
        Ok(update)
    }

    /// The field errors of this update, empty when it is valid.
    pub fn problems(&self) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        if let Some(name) = &self.full_name {
            check(&mut fields, "full_name", full_name_problem(name));
        }
        if let Some(email) = &self.email {
            check(&mut fields, "email", email_problem(email));
        }
        fields
    }
}

/// Profile fields for create (absent = empty) and update (absent = unchanged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileInput {
    /// Free text, at most 2000 characters.
    pub bio: Option<String>,
    /// An http(s) URL.
    pub avatar_url: Option<String>,
    /// Free-form settings (replaces the old ones).
    pub preferences: Option<Map<String, Value>>,
}

impl ProfileInput {
    /// Reads a profile body.
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, StoreError> {
        let mut r = Fields::new(body);
        let input = ProfileInput {
            bio: r.string("bio"),
            avatar_url: r.string("avatar_url"),
            preferences: r.object("preferences"),
        };
        r.finish()?;
        Ok(input)
    }

    /// The field errors of this input, empty when it is valid.
    pub fn problems(&self) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        if let Some(bio) = &self.bio
            && bio.chars().count() > 2000
        {
            fields.insert("bio".into(), "must be at most 2000 characters".into());
        }
        if let Some(url) = &self.avatar_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            fields.insert("avatar_url".into(), "must be an http(s) URL".into());
        }
        fields
    }
}

/// Role fields for create (`name` required) and update (absent = unchanged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleInput {
    /// Unique name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Permission ids (replace the old list).
    pub permissions: Option<Vec<String>>,
}

impl RoleInput {
    /// Reads a role body.
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, StoreError> {
        let mut r = Fields::new(body);
        let input = RoleInput {
            name: r.string("name"),
            description: r.string("description"),
            permissions: r.strings("permissions"),
        };
        r.finish()?;
        Ok(input)
    }
}

/// Permission fields for create (`name` required) and update (absent = unchanged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PermissionInput {
    /// Unique name, like `reports:read`.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

impl PermissionInput {
    /// Reads a permission body.
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, StoreError> {
        let mut r = Fields::new(body);
        let input = PermissionInput {
            name: r.string("name"),
            description: r.string("description"),
        };
        r.finish()?;
        Ok(input)
    }
}

/// Reads typed fields out of a JSON object, collecting type errors by field.
/// A `null` counts as absent.
pub(super) struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            errors: BTreeMap::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.body.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&mut self, key: &str, what: &str) {
        self.errors
            .insert(key.to_owned(), format!("must be {what}"));
    }

    pub(super) fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong(key, "a string");
                None
            }
        }
    }

    fn bool(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.wrong(key, "a boolean");
                None
            }
        }
    }

    fn object(&mut self, key: &str) -> Option<Map<String, Value>> {
        match self.get(key)? {
            Value::Object(m) => Some(m.clone()),
            _ => {
                self.wrong(key, "an object");
                None
            }
        }
    }

    fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        let list = match self.get(key)? {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        if list.is_none() {
            self.wrong(key, "a list of strings");
        }
        list
    }

    /// `Ok` when every field read had the right type, else a 422 naming them.
    pub(super) fn finish(self) -> Result<(), StoreError> {
        invalid_if_any(self.errors)
    }
}

/// A 422 carrying `fields` when there are any.
pub(super) fn invalid_if_any(fields: BTreeMap<String, String>) -> Result<(), StoreError> {
    if fields.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            message: "validation failed".into(),
            fields,
        })
    }
}

/// Records `problem` for `field` when there is one.
pub(super) fn check(fields: &mut BTreeMap<String, String>, field: &str, problem: Option<&str>) {
    if let Some(p) = problem {
        fields.insert(field.to_owned(), p.to_owned());
    }
}

pub(super) fn username_problem(name: &str) -> Option<&'static str> {
    let len = name.chars().count();
    if name.is_empty() {
        Some("is required")
    } else if !(3..=64).contains(&len) {
        Some("must be 3 to 64 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("may contain only letters, digits, '.', '_' and '-'")
    } else {
        None
    }
}

/// A plain shape check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub(super) fn email_problem(email: &str) -> Option<&'static str> {
    if email.is_empty() {
        return Some("is required");
    }
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && domain.split('.').all(|label| !label.is_empty())
            }
            None => false,
        };
    (!valid).then_some("must be a valid email")
}

/// Minimum password length, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;

pub(super) fn password_problem(password: &str) -> Option<&'static str> {
    if password.is_empty() {
        Some("is required")
    } else if password.chars().count() < MIN_PASSWORD_LEN {
        Some("must be at least 8 characters")
    } else {
        None
    }
}

fn full_name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("is required")
    } else if name.chars().count() > 200 {
        Some("must be at most 200 characters")
    } else {
        None
    }
}

/// Rule for role and permission names.
pub(super) fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("is required")
    } else if name.chars().count() > 64 {
        Some("must be at most 64 characters")
    } else if name.chars().any(char::is_whitespace) {
        Some("must not contain spaces")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn email_shapes_are_checked() {
        for good in ["a@b.co", "first.last+tag@mail.example.com"] {
            assert_eq!(email_problem(good), None, "{good}");
        }
        for bad in [
            "", "plain", "@b.co", "a@b", "a@@b.co", "a b@c.de", "a@b..co", "a@.co",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(email_problem(""), Some("is required"));
    }

    #[test]
    fn usernames_need_three_to_sixty_four_plain_characters() {
        assert_eq!(username_problem("bob"), None);
        assert_eq!(username_problem("sim.user_01-x"), None);
        assert_eq!(username_problem("bo"), Some("must be 3 to 64 characters"));
        assert!(username_problem("bob smith").is_some());
        assert_eq!(username_problem(""), Some("is required"));
    }

    #[test]
    fn a_registration_reports_every_bad_field_at_once() {
        let new = NewUser {
            username: "ok_name".into(),
            email: "nope".into(),
            password: "short".into(),
            ..NewUser::default()
        };
        let problems = new.problems();
        assert_eq!(problems["email"], "must be a valid email");
        assert_eq!(problems["password"], "must be at least 8 characters");
        assert_eq!(problems["full_name"], "is required");
        assert!(!problems.contains_key("username"));
    }

    #[test]
    fn wrongly_typed_fields_are_a_422_naming_each_field() {
        let body = obj(
            json!({ "username": 5, "email": "a@b.co", "is_simulation": "yes", "metadata": [] }),
        );
        let Err(StoreError::Invalid { fields, .. }) = NewUser::from_json(&body) else {
            panic!("expected a 422");
        };
        assert_eq!(fields["username"], "must be a string");
        assert_eq!(fields["is_simulation"], "must be a boolean");
        assert_eq!(fields["metadata"], "must be an object");
        assert_eq!(fields.len(), 3);
    }

    #[test]
    fn nulls_count_as_absent_and_missing_strings_stay_empty() {
        let body = obj(json!({ "username": null, "is_simulation": true, "metadata": { "k": 1 } }));
        let new = NewUser::from_json(&body).unwrap();
        assert_eq!(new.username, "");
        assert!(new.is_simulation);
        assert_eq!(new.metadata["k"], 1);
    }

    #[test]
    fn the_registration_debug_output_hides_the_password() {
        let new = NewUser {
            password: "hunter22-secret".into(),
            ..NewUser::default()
        };
        assert!(!format!("{new:?}").contains("hunter22"));
    }

    #[test]
    fn role_permissions_must_be_a_list_of_strings() {
        let ok = RoleInput::from_json(&obj(json!({ "name": "r", "permissions": ["perm-1"] })));
        assert_eq!(ok.unwrap().permissions, Some(vec!["perm-1".to_owned()]));
        let bad = RoleInput::from_json(&obj(json!({ "name": "r", "permissions": ["perm-1", 2] })));
        assert!(
            matches!(bad, Err(StoreError::Invalid { fields, .. }) if fields["permissions"] == "must be a list of strings")
        );
    }

    #[test]
    fn profile_avatar_urls_must_be_http() {
        let input = ProfileInput {
            avatar_url: Some("ftp://x".into()),
            ..ProfileInput::default()
        };
        assert_eq!(input.problems()["avatar_url"], "must be an http(s) URL");
        let input = ProfileInput {
            avatar_url: Some("https://img.example.com/a.png".into()),
            bio: Some("hi".into()),
            ..ProfileInput::default()
        };
        assert!(input.problems().is_empty());
    }

    #[test]
    fn records_serialize_times_as_rfc3339() {
        let p = Permission {
            id: "perm-1".into(),
            name: "users:read".into(),
            description: String::new(),
            created_at: SystemTime::UNIX_EPOCH,
            updated_at: SystemTime::UNIX_EPOCH,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["created_at"], "1970-01-01T00:00:00.000Z");
    }
}
