//! The user service's state and every rule it enforces, without HTTP: the
//! handlers only parse, call one method here and render the answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Map;

use super::auth::{
    Claims, PasswordHash, Signer, TokenError, TokenKind, expiry, random_hex, random_password,
    unix_secs,
};
use super::model::{
    NewUser, Page, Permission, PermissionInput, Profile, ProfileInput, Role, RoleInput, Stats,
    User, UserUpdate, check, invalid_if_any, name_problem, password_problem,
};
use super::{
    ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_ROLE, ADMIN_USERNAME, ROLES_MANAGE, USER_ROLE, USERS_READ,
    USERS_WRITE, UsersConfig,
};

/// Internal number of the seeded admin role (`role-1`); it cannot be deleted.
const ADMIN_ROLE_ID: u64 = 1;
/// Internal number of the seeded default role (`role-2`).
const USER_ROLE_ID: u64 = 2;
/// Longest page a listing serves.
pub const MAX_PER_PAGE: usize = 100;
/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: usize = 20;

const USER_PREFIX: &str = "usr-";
const ROLE_PREFIX: &str = "role-";
const PERM_PREFIX: &str = "perm-";
const BAD_CREDENTIALS: &str = "invalid username or password";
const SESSION_ENDED: &str = "session has ended";

/// Why a call was refused; each kind maps to one HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// 400: the request is readable but wrong (malformed JSON, wrong current password).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 409: clashes with what exists.
    #[error("{0}")]
    Conflict(String),
    /// 422: fields that break a rule, with a message per field.
    #[error("{message}")]
    Invalid {
        /// Summary.
        message: String,
        /// Field name → what is wrong with it.
        fields: BTreeMap<String, String>,
    },
}

impl StoreError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            StoreError::BadRequest(_) => 400,
            StoreError::Unauthorized(_) => 401,
            StoreError::Forbidden(_) => 403,
            StoreError::NotFound(_) => 404,
            StoreError::Conflict(_) => 409,
            StoreError::Invalid { .. } => 422,
        }
    }

    fn invalid(field: &str, message: &str) -> Self {
        StoreError::Invalid {
            message: "validation failed".into(),
            fields: BTreeMap::from([(field.to_owned(), message.to_owned())]),
        }
    }
}

fn forbidden(message: &str) -> StoreError {
    StoreError::Forbidden(message.to_owned())
}

fn unauthorized(message: &str) -> StoreError {
    StoreError::Unauthorized(message.to_owned())
}

/// Who is calling: the owner of a valid access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's id, like `usr-2`.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The session the token belongs to (its `jti`).
    pub session_id: String,
    num: u64,
}

/// What login and refresh answer: a token pair and the user.
#[derive(Clone, PartialEq, Serialize)]
pub struct TokenGrant {
    /// HS256 JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// HS256 JWT for `POST /auth/refresh`; single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
    /// The logged-in user.
    pub user: User,
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user.id)
            .finish()
    }
}

/// Shared, cheaply cloned state of the user service.
#[derive(Clone, Debug)]
pub struct UserStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    signer: Signer,
    access_ttl: Duration,
    refresh_ttl: Duration,
    requests_total: AtomicU64,
    requests_by_endpoint: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug)]
struct Account {
    /// The public record; its `roles` field is filled in on the way out.
    user: User,
    password: PasswordHash,
    roles: BTreeSet<u64>,
}

#[derive(Debug)]
struct Session {
    user: u64,
    nonce: String,
    refresh_exp: u64,
}

#[derive(Debug, Default)]
struct State {
    next_user: u64,
    next_role: u64,
    next_perm: u64,
    users: BTreeMap<u64, Account>,
    by_username: HashMap<String, u64>,
    by_email: HashMap<String, u64>,
    profiles: HashMap<u64, Profile>,
    roles: BTreeMap<u64, Role>,
    permissions: BTreeMap<u64, Permission>,
    sessions: HashMap<String, Session>,
    last_prune: u64,
}

/// `usr-7` → 7 for `prefix` `usr-`; only the canonical spelling counts.
fn parse_id(id: &str, prefix: &str) -> Option<u64> {
    let n: u64 = id.strip_prefix(prefix)?.parse().ok()?;
    (format!("{prefix}{n}") == id).then_some(n)
}

fn user_id(n: u64) -> String {
    format!("{USER_PREFIX}{n}")
}

impl State {
    fn view(&self, n: u64) -> Option<User> {
        let account = self.users.get(&n)?;
        let mut user = account.user.clone();
        user.roles = account
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r).map(|role| role.name.clone()))
            .collect();
        Some(user)
    }

    fn view_or_404(&self, n: Option<u64>, id: &str) -> Result<User, StoreError> {
        n.and_then(|n| self.view(n))
            .ok_or_else(|| StoreError::NotFound(format!("user {id} not found")))
    }

    fn existing_user(&self, id: &str) -> Result<u64, StoreError> {
        parse_id(id, USER_PREFIX)
            .filter(|n| self.users.contains_key(n))
            .ok_or_else(|| StoreError::NotFound(format!("user {id} not found")))
    }

    fn is_admin(&self, n: u64) -> bool {
        self.users
            .get(&n)
            .is_some_and(|a| a.roles.contains(&ADMIN_ROLE_ID))
    }

    fn has_permission(&self, n: u64, name: &str) -> bool {
        let Some(account) = self.users.get(&n) else {
            return false;
        };
        let Some(perm) = self.permissions.values().find(|p| p.name == name) else {
            return false;
        };
        account.roles.iter().any(|r| {
            self.roles
                .get(r)
                .is_some_and(|role| role.permissions.contains(&perm.id))
        })
    }

    fn require_admin(&self, actor: &Principal) -> Result<(), StoreError> {
        if self.is_admin(actor.num) {
            Ok(())
        } else {
            Err(forbidden("this needs the admin role"))
        }
    }

    /// Allowed when `target` is the actor, or the actor holds `permission` or the admin role.
    fn require_self_or(
        &self,
        actor: &Principal,
        target: Option<u64>,
        permission: &str,
    ) -> Result<(), StoreError> {
        if target == Some(actor.num)
            || self.is_admin(actor.num)
            || self.has_permission(actor.num, permission)
        {
            Ok(())
        } else {
            Err(StoreError::Forbidden(format!(
                "this needs the {permission} permission"
            )))
        }
    }

    /// Allowed when `target` is the actor, or the actor holds the admin role.
    fn require_self_or_admin(
        &self,
        actor: &Principal,
        target: Option<u64>,
    ) -> Result<(), StoreError> {
        if target == Some(actor.num) || self.is_admin(actor.num) {
            Ok(())
        } else {
            Err(forbidden("only the owner or an admin may do this"))
        }
    }

    fn check_unique(
        &self,
        username: &str,
        email: &str,
        except: Option<u64>,
    ) -> Result<(), StoreError> {
        let taken = |index: &HashMap<String, u64>, key: &str| {
            index
                .get(&key.to_lowercase())
                .is_some_and(|n| Some(*n) != except)
        };
        if !username.is_empty() && taken(&self.by_username, username) {
            return Err(StoreError::Conflict(format!(
                "username {username} is already taken"
            )));
        }
        if !email.is_empty() && taken(&self.by_email, email) {
            return Err(StoreError::Conflict(format!(
                "email {email} is already registered"
            )));
        }
        Ok(())
    }

    fn insert_user(
        &mut self,
        new: NewUser,
        password: PasswordHash,
        roles: BTreeSet<u64>,
        now: SystemTime,
    ) -> u64 {
        self.next_user += 1;
        let n = self.next_user;
        self.by_username.insert(new.username.to_lowercase(), n);
        self.by_email.insert(new.email.to_lowercase(), n);
        let user = User {
            id: user_id(n),
            username: new.username,
            email: new.email,
            full_name: new.full_name,
            is_active: true,
            is_simulation: new.is_simulation,
            metadata: new.metadata,
            roles: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        self.users.insert(
            n,
            Account {
                user,
                password,
                roles,
            },
        );
        n
    }

    fn find_login(&self, login: &str) -> Option<u64> {
        let key = login.to_lowercase();
        let by_name = self.by_username.get(&key);
        by_name.or_else(|| self.by_email.get(&key)).copied()
    }

    fn end_sessions_of(&mut self, n: u64) {
        self.sessions.retain(|_, s| s.user != n);
    }

    fn prune_sessions(&mut self, now: u64) {
        if now >= self.last_prune + 60 {
            self.sessions.retain(|_, s| s.refresh_exp > now);
            self.last_prune = now;
        }
    }

    fn role_or_404(&self, id: &str) -> Result<u64, StoreError> {
        parse_id(id, ROLE_PREFIX)
            .filter(|n| self.roles.contains_key(n))
            .ok_or_else(|| StoreError::NotFound(format!("role {id} not found")))
    }

    fn permission_or_404(&self, id: &str) -> Result<u64, StoreError> {
        parse_id(id, PERM_PREFIX)
            .filter(|n| self.permissions.contains_key(n))
            .ok_or_else(|| StoreError::NotFound(format!("permission {id} not found")))
    }

    /// The ids in `ids`, deduplicated in order, or a 422 naming the first unknown one.
    fn known_permissions(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if parse_id(id, PERM_PREFIX).is_none_or(|n| !self.permissions.contains_key(&n)) {
                return Err(StoreError::invalid(
                    "permissions",
                    &format!("unknown permission id {id}"),
                ));
            }
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    fn role_name_taken(&self, name: &str, except: Option<u64>) -> bool {
        self.roles
            .iter()
            .any(|(n, r)| Some(*n) != except && r.name.eq_ignore_ascii_case(name))
    }

    fn permission_name_taken(&self, name: &str, except: Option<u64>) -> bool {
        self.permissions
            .iter()
            .any(|(n, p)| Some(*n) != except && p.name.eq_ignore_ascii_case(name))
    }

    fn insert_permission(&mut self, name: &str, description: &str, now: SystemTime) -> Permission {
        self.next_perm += 1;
        let perm = Permission {
            id: format!("{PERM_PREFIX}{}", self.next_perm),
            name: name.to_owned(),
            description: description.to_owned(),
            created_at: now,
            updated_at: now,
        };
        self.permissions.insert(self.next_perm, perm.clone());
        perm
    }

    fn insert_role(
        &mut self,
        name: &str,
        description: &str,
        permissions: Vec<String>,
        now: SystemTime,
    ) -> Role {
        self.next_role += 1;
        let role = Role {
            id: format!("{ROLE_PREFIX}{}", self.next_role),
            name: name.to_owned(),
            description: description.to_owned(),
            permissions,
            created_at: now,
            updated_at: now,
        };
        self.roles.insert(self.next_role, role.clone());
        role
    }
}

/// Checks page numbers from a query: page ≥ 1, per_page 1..=[`MAX_PER_PAGE`].
pub(super) fn page_params(
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<(usize, usize), StoreError> {
    let mut fields = BTreeMap::new();
    let parse = |raw: Option<&str>, default: usize| match raw {
        None | Some("") => Some(default),
        Some(s) => s.parse::<usize>().ok(),
    };
    let page = parse(page, 1).filter(|p| *p >= 1);
    let per_page = parse(per_page, DEFAULT_PER_PAGE).filter(|p| (1..=MAX_PER_PAGE).contains(p));
    check(
        &mut fields,
        "page",
        page.is_none()
            .then_some("must be a whole number of at least 1"),
    );
    check(
        &mut fields,
        "per_page",
        per_page
            .is_none()
            .then_some("must be a whole number from 1 to 100"),
    );
    invalid_if_any(fields)?;
    Ok((page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE)))
}

fn paginate<T>(all: Vec<T>, page: usize, per_page: usize) -> Page<T> {
    let total = all.len();
    let items = all
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Page {
        items,
        page,
        per_page,
        total,
    }
}

/// A hash to check against when the login name is unknown, so both failures cost the same.
static DUMMY_HASH: LazyLock<PasswordHash> =
    LazyLock::new(|| PasswordHash::new("no user has this password"));

impl Default for UserStore {
    fn default() -> Self {
        Self::new(&UsersConfig::default())
    }
}

impl UserStore {
    /// A store holding the seed data, signing tokens as `config` says.
    pub fn new(config: &UsersConfig) -> Self {
        let now = SystemTime::now();
        let mut state = State::default();
        let read = state.insert_permission(USERS_READ, "read users", now);
        let write = state.insert_permission(
            USERS_WRITE,
            "change, deactivate and delete other users",
            now,
        );
        let manage = state.insert_permission(ROLES_MANAGE, "manage roles and permissions", now);
        state.insert_role(
            ADMIN_ROLE,
            "everything",
            vec![read.id.clone(), write.id, manage.id],
            now,
        );
        state.insert_role(
            USER_ROLE,
            "default role of registered users",
            vec![read.id],
            now,
        );
        let admin = NewUser {
            username: ADMIN_USERNAME.into(),
            email: ADMIN_EMAIL.into(),
            password: String::new(),
            full_name: "Administrator".into(),
            is_simulation: false,
            metadata: Map::new(),
        };
        let hash = PasswordHash::new(ADMIN_PASSWORD);
        state.insert_user(admin, hash, BTreeSet::from([ADMIN_ROLE_ID]), now);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                signer: Signer::new(config.secret.as_deref()),
                access_ttl: config.access_ttl,
                refresh_ttl: config.refresh_ttl,
                requests_total: AtomicU64::new(0),
                requests_by_endpoint: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// Locks the state; a panic elsewhere must not take the server down, so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    // ---- auth ------------------------------------------------------------------

    /// Registers a user (no token needed); they get the `user` role if it still exists.
    pub fn register(&self, new: NewUser) -> Result<User, StoreError> {
        invalid_if_any(new.problems())?;
        // Cheap early answer for duplicates, before paying for the hash.
        self.lock().check_unique(&new.username, &new.email, None)?;
        let hash = PasswordHash::new(&new.password);
        let mut state = self.lock();
        state.check_unique(&new.username, &new.email, None)?;
        let roles = if state.roles.contains_key(&USER_ROLE_ID) {
            BTreeSet::from([USER_ROLE_ID])
        } else {
            BTreeSet::new()
        };
        let n = state.insert_user(new, hash, roles, SystemTime::now());
        Ok(state.view(n).expect("just inserted"))
    }

    /// Logs in by username or email (any case); opens a session.
    pub fn login(&self, login: &str, password: &str) -> Result<TokenGrant, StoreError> {
        let mut fields = BTreeMap::new();
        check(
            &mut fields,
            "username",
            login.is_empty().then_some("username or email is required"),
        );
        check(
            &mut fields,
            "password",
            password.is_empty().then_some("is required"),
        );
        invalid_if_any(fields)?;
        let found = {
            let state = self.lock();
            state
                .find_login(login)
                .map(|n| (n, state.users[&n].password.clone()))
        };
        let verified = match &found {
            Some((_, hash)) => hash.verify(password),
            None => {
                // Same cost as a real check, so timing does not tell which users exist.
                let _ = DUMMY_HASH.verify(password);
                false
            }
        };
        let Some((n, _)) = found.filter(|_| verified) else {
            return Err(unauthorized(BAD_CREDENTIALS));
        };
        let now = SystemTime::now();
        let mut state = self.lock();
        let Some(account) = state.users.get(&n) else {
            return Err(unauthorized(BAD_CREDENTIALS));
        };
        if !account.user.is_active {
            return Err(forbidden("account is inactive"));
        }
        state.prune_sessions(unix_secs(now));
        let session_id = random_hex(16);
        let nonce = random_hex(16);
        let session = Session {
            user: n,
            nonce: nonce.clone(),
            refresh_exp: expiry(now, self.inner.refresh_ttl),
        };
        state.sessions.insert(session_id.clone(), session);
        let user = state.view(n).expect("checked above");
        drop(state);
        Ok(self.grant(user, session_id, nonce, now))
    }

    fn grant(&self, user: User, session_id: String, nonce: String, now: SystemTime) -> TokenGrant {
        let claims = |typ, ttl, rid| Claims {
            sub: user.id.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            iat: unix_secs(now),
            exp: expiry(now, ttl),
            jti: session_id.clone(),
            typ,
            rid,
        };
        let signer = &self.inner.signer;
        TokenGrant {
            access_token: signer.sign(&claims(TokenKind::Access, self.inner.access_ttl, None)),
            refresh_token: signer.sign(&claims(
                TokenKind::Refresh,
                self.inner.refresh_ttl,
                Some(nonce),
            )),
            token_type: "Bearer",
            expires_in: self.inner.access_ttl.as_secs(),
            refresh_expires_in: self.inner.refresh_ttl.as_secs(),
            user,
        }
    }

    /// The caller behind an access token, now.
    pub fn authenticate(&self, access_token: &str) -> Result<Principal, StoreError> {
        self.authenticate_at(access_token, SystemTime::now())
    }

    /// The caller behind an access token at time `now`: valid signature, not expired,
    /// an access (not refresh) token, its session still open and its user still there.
    pub fn authenticate_at(
        &self,
        access_token: &str,
        now: SystemTime,
    ) -> Result<Principal, StoreError> {
        let claims = self
            .inner
            .signer
            .verify(access_token, now)
            .map_err(|e| match e {
                TokenError::Expired => unauthorized("token expired"),
                TokenError::Invalid => unauthorized("invalid token"),
            })?;
        if claims.typ != TokenKind::Access {
            return Err(unauthorized("not an access token"));
        }
        let state = self.lock();
        let session = state
            .sessions
            .get(&claims.jti)
            .filter(|s| s.refresh_exp > unix_secs(now))
            .ok_or_else(|| unauthorized(SESSION_ENDED))?;
        let account = state
            .users
            .get(&session.user)
            .filter(|a| a.user.id == claims.sub)
            .ok_or_else(|| unauthorized(SESSION_ENDED))?;
        Ok(Principal {
            user_id: account.user.id.clone(),
            username: account.user.username.clone(),
            session_id: claims.jti,
            num: session.user,
        })
    }

    /// Ends the caller's session: its access and refresh tokens stop working.
    pub fn logout(&self, actor: &Principal) -> Result<(), StoreError> {
        match self.lock().sessions.remove(&actor.session_id) {
            Some(_) => Ok(()),
            None => Err(unauthorized(SESSION_ENDED)),
        }
    }

    /// Trades a refresh token for a new token pair; the old refresh token stops working.
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenGrant, StoreError> {
        self.refresh_at(refresh_token, SystemTime::now())
    }

    /// [`UserStore::refresh`] at time `now`.
    pub fn refresh_at(
        &self,
        refresh_token: &str,
        now: SystemTime,
    ) -> Result<TokenGrant, StoreError> {
        if refresh_token.is_empty() {
            return Err(StoreError::invalid("refresh_token", "is required"));
        }
        let claims = self
            .inner
            .signer
            .verify(refresh_token, now)
            .map_err(|e| match e {
                TokenError::Expired => unauthorized("refresh token expired"),
                TokenError::Invalid => unauthorized("invalid refresh token"),
            })?;
        if claims.typ != TokenKind::Refresh {
            return Err(unauthorized("not a refresh token"));
        }
        let mut state = self.lock();
        let session = state
            .sessions
            .get_mut(&claims.jti)
            .ok_or_else(|| unauthorized(SESSION_ENDED))?;
        if claims.rid.as_deref() != Some(session.nonce.as_str()) {
            return Err(unauthorized("refresh token already used"));
        }
        let n = session.user;
        let nonce = random_hex(16);
        session.nonce = nonce.clone();
        session.refresh_exp = expiry(now, self.inner.refresh_ttl);
        let user = state
            .view(n)
            .filter(|u| u.id == claims.sub)
            .ok_or_else(|| unauthorized(SESSION_ENDED))?;
        drop(state);
        Ok(self.grant(user, claims.jti, nonce, now))
    }

    // ---- users -----------------------------------------------------------------

    /// The caller's own record.
    pub fn me(&self, actor: &Principal) -> Result<User, StoreError> {
        self.lock().view_or_404(Some(actor.num), &actor.user_id)
    }

    /// One user by id (yourself, or with `users:read`).
    pub fn user(&self, actor: &Principal, id: &str) -> Result<User, StoreError> {
        let state = self.lock();
        let n = parse_id(id, USER_PREFIX);
        state.require_self_or(actor, n, USERS_READ)?;
        state.view_or_404(n, id)
    }

    /// One user by email, any case (yourself, or with `users:read`).
    pub fn user_by_email(&self, actor: &Principal, email: &str) -> Result<User, StoreError> {
        let state = self.lock();
        let n = state.by_email.get(&email.to_lowercase()).copied();
        state.require_self_or(actor, n, USERS_READ)?;
        state.view_or_404(n, email)
    }

    /// One user by username, any case (yourself, or with `users:read`).
    pub fn user_by_username(&self, actor: &Principal, username: &str) -> Result<User, StoreError> {
        let state = self.lock();
        let n = state.by_username.get(&username.to_lowercase()).copied();
        state.require_self_or(actor, n, USERS_READ)?;
        state.view_or_404(n, username)
    }

    /// Users in creation order, one page (needs `users:read`).
    pub fn list_users(
        &self,
        actor: &Principal,
        page: usize,
        per_page: usize,
    ) -> Result<Page<User>, StoreError> {
        let state = self.lock();
        state.require_self_or(actor, None, USERS_READ)?;
        let (page, per_page) = (page.max(1), per_page.clamp(1, MAX_PER_PAGE));
        let total = state.users.len();
        let items = state
            .users
            .keys()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .filter_map(|n| state.view(*n))
            .collect();
        Ok(Page {
            items,
            page,
            per_page,
            total,
        })
    }

    /// Users whose username, email or full name contains `q`, any case (needs `users:read`).
    pub fn search_users(
        &self,
        actor: &Principal,
        q: &str,
        page: usize,
        per_page: usize,
    ) -> Result<Page<User>, StoreError> {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            return Err(StoreError::invalid("q", "is required"));
        }
        let state = self.lock();
        state.require_self_or(actor, None, USERS_READ)?;
        let hits = state
            .users
            .iter()
            .filter(|(_, a)| {
                let u = &a.user;
                u.username.to_lowercase().contains(&q)
                    || u.email.to_lowercase().contains(&q)
                    || u.full_name.to_lowercase().contains(&q)
            })
            .filter_map(|(n, _)| state.view(*n))
            .collect();
        Ok(paginate(hits, page.max(1), per_page.clamp(1, MAX_PER_PAGE)))
    }

    /// Changes full name, email or metadata (yourself, or with `users:write`).
    pub fn update_user(
        &self,
        actor: &Principal,
        id: &str,
        update: UserUpdate,
    ) -> Result<User, StoreError> {
        let mut state = self.lock();
        state.require_self_or(actor, parse_id(id, USER_PREFIX), USERS_WRITE)?;
        let n = state.existing_user(id)?;
        invalid_if_any(update.problems())?;
        if let Some(email) = &update.email {
            state.check_unique("", email, Some(n))?;
            let old = state.users[&n].user.email.to_lowercase();
            state.by_email.remove(&old);
            state.by_email.insert(email.to_lowercase(), n);
        }
        let user = &mut state.users.get_mut(&n).expect("checked").user;
        if let Some(email) = update.email {
            user.email = email;
        }
        if let Some(name) = update.full_name {
            user.full_name = name;
        }
        if let Some(metadata) = update.metadata {
            user.metadata = metadata;
        }
        user.updated_at = SystemTime::now();
        Ok(state.view(n).expect("checked"))
    }

    /// Deletes a user with their profile, role assignments and sessions
    /// (yourself, or with `users:write`).
    pub fn delete_user(&self, actor: &Principal, id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_self_or(actor, parse_id(id, USER_PREFIX), USERS_WRITE)?;
        let n = state.existing_user(id)?;
        let account = state.users.remove(&n).expect("checked");
        state
            .by_username
            .remove(&account.user.username.to_lowercase());
        state.by_email.remove(&account.user.email.to_lowercase());
        state.profiles.remove(&n);
        state.end_sessions_of(n);
        Ok(())
    }

    /// Activates or deactivates a user (yourself, or with `users:write`);
    /// deactivation ends their sessions.
    pub fn set_active(
        &self,
        actor: &Principal,
        id: &str,
        active: bool,
    ) -> Result<User, StoreError> {
        let mut state = self.lock();
        state.require_self_or(actor, parse_id(id, USER_PREFIX), USERS_WRITE)?;
        let n = state.existing_user(id)?;
        let user = &mut state.users.get_mut(&n).expect("checked").user;
        user.is_active = active;
        user.updated_at = SystemTime::now();
        if !active {
            state.end_sessions_of(n);
        }
        Ok(state.view(n).expect("checked"))
    }

    /// Changes your own password after checking the current one.
    pub fn change_password(
        &self,
        actor: &Principal,
        id: &str,
        current: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        if parse_id(id, USER_PREFIX) != Some(actor.num) {
            return Err(forbidden("you can only change your own password"));
        }
        let mut fields = BTreeMap::new();
        check(
            &mut fields,
            "current_password",
            current.is_empty().then_some("is required"),
        );
        check(&mut fields, "new_password", password_problem(new));
        invalid_if_any(fields)?;
        let hash = {
            let state = self.lock();
            let n = state.existing_user(id)?;
            state.users[&n].password.clone()
        };
        if !hash.verify(current) {
            return Err(StoreError::BadRequest(
                "current password is incorrect".into(),
            ));
        }
        let new_hash = PasswordHash::new(new);
        let mut state = self.lock();
        let n = state.existing_user(id)?;
        let account = state.users.get_mut(&n).expect("checked");
        account.password = new_hash;
        account.user.updated_at = SystemTime::now();
        Ok(())
    }

    /// Sets a random temporary password (admin only) and ends the user's sessions.
    pub fn reset_password(&self, actor: &Principal, id: &str) -> Result<String, StoreError> {
        {
            let state = self.lock();
            state.require_admin(actor)?;
            state.existing_user(id)?;
        }
        let temporary = random_password(16);
        let hash = PasswordHash::new(&temporary);
        let mut state = self.lock();
        let n = state.existing_user(id)?;
        let account = state.users.get_mut(&n).expect("checked");
        account.password = hash;
        account.user.updated_at = SystemTime::now();
        state.end_sessions_of(n);
        Ok(temporary)
    }

    // ---- profiles --------------------------------------------------------------

    /// Checks profile access (owner or admin, 403) and that the user exists (404).
    fn profile_owner(state: &State, actor: &Principal, user_id: &str) -> Result<u64, StoreError> {
        state.require_self_or_admin(actor, parse_id(user_id, USER_PREFIX))?;
        state.existing_user(user_id)
    }

    /// Creates the user's profile (owner or admin); 409 if they have one.
    pub fn create_profile(
        &self,
        actor: &Principal,
        user_id: &str,
        input: ProfileInput,
    ) -> Result<Profile, StoreError> {
        let mut state = self.lock();
        let n = Self::profile_owner(&state, actor, user_id)?;
        invalid_if_any(input.problems())?;
        if state.profiles.contains_key(&n) {
            return Err(StoreError::Conflict(format!(
                "user {user_id} already has a profile"
            )));
        }
        let now = SystemTime::now();
        let profile = Profile {
            user_id: user_id.to_owned(),
            bio: input.bio.unwrap_or_default(),
            avatar_url: input.avatar_url,
            preferences: input.preferences.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        state.profiles.insert(n, profile.clone());
        Ok(profile)
    }

    /// The user's profile (owner or admin); 404 when there is none.
    pub fn profile(&self, actor: &Principal, user_id: &str) -> Result<Profile, StoreError> {
        let state = self.lock();
        let n = Self::profile_owner(&state, actor, user_id)?;
        state
            .profiles
            .get(&n)
            .cloned()
            .ok_or_else(|| no_profile(user_id))
    }

    /// Changes the fields given (owner or admin); 404 when there is no profile.
    pub fn update_profile(
        &self,
        actor: &Principal,
        user_id: &str,
        input: ProfileInput,
    ) -> Result<Profile, StoreError> {
        let mut state = self.lock();
        let n = Self::profile_owner(&state, actor, user_id)?;
        invalid_if_any(input.problems())?;
        let profile = state
            .profiles
            .get_mut(&n)
            .ok_or_else(|| no_profile(user_id))?;
        if let Some(bio) = input.bio {
            profile.bio = bio;
        }
        if let Some(url) = input.avatar_url {
            profile.avatar_url = Some(url);
        }
        if let Some(preferences) = input.preferences {
            profile.preferences = preferences;
        }
        profile.updated_at = SystemTime::now();
        Ok(profile.clone())
    }

    /// Deletes the user's profile (owner or admin); 404 when there is none.
    pub fn delete_profile(&self, actor: &Principal, user_id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        let n = Self::profile_owner(&state, actor, user_id)?;
        state
            .profiles
            .remove(&n)
            .map(drop)
            .ok_or_else(|| no_profile(user_id))
    }

    // ---- roles and permissions -------------------------------------------------

    /// Every role, in creation order.
    pub fn roles(&self) -> Vec<Role> {
        self.lock().roles.values().cloned().collect()
    }

    /// One role.
    pub fn role(&self, id: &str) -> Result<Role, StoreError> {
        let state = self.lock();
        let n = state.role_or_404(id)?;
        Ok(state.roles[&n].clone())
    }

    /// Creates a role (admin only); 422 on a missing name or unknown permission ids,
    /// 409 when the name is taken.
    pub fn create_role(&self, actor: &Principal, input: RoleInput) -> Result<Role, StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let name = input.name.unwrap_or_default();
        if let Some(problem) = name_problem(&name) {
            return Err(StoreError::invalid("name", problem));
        }
        let permissions = state.known_permissions(&input.permissions.unwrap_or_default())?;
        if state.role_name_taken(&name, None) {
            return Err(StoreError::Conflict(format!("role {name} already exists")));
        }
        let description = input.description.unwrap_or_default();
        Ok(state.insert_role(&name, &description, permissions, SystemTime::now()))
    }

    /// Changes a role's name, description or permission list (admin only).
    pub fn update_role(
        &self,
        actor: &Principal,
        id: &str,
        input: RoleInput,
    ) -> Result<Role, StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let n = state.role_or_404(id)?;
        if let Some(problem) = input.name.as_deref().and_then(name_problem) {
            return Err(StoreError::invalid("name", problem));
        }
        let permissions = match &input.permissions {
            Some(ids) => Some(state.known_permissions(ids)?),
            None => None,
        };
        if let Some(name) = &input.name
            && state.role_name_taken(name, Some(n))
        {
            return Err(StoreError::Conflict(format!("role {name} already exists")));
        }
        let role = state.roles.get_mut(&n).expect("checked");
        if let Some(name) = input.name {
            role.name = name;
        }
        if let Some(description) = input.description {
            role.description = description;
        }
        if let Some(permissions) = permissions {
            role.permissions = permissions;
        }
        role.updated_at = SystemTime::now();
        Ok(role.clone())
    }

    /// Deletes a role and every assignment of it (admin only); the built-in admin role is kept (409).
    pub fn delete_role(&self, actor: &Principal, id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let n = state.role_or_404(id)?;
        if n == ADMIN_ROLE_ID {
            return Err(StoreError::Conflict(
                "the built-in admin role cannot be deleted".into(),
            ));
        }
        state.roles.remove(&n);
        for account in state.users.values_mut() {
            account.roles.remove(&n);
        }
        Ok(())
    }

    /// Every permission, in creation order.
    pub fn permissions(&self) -> Vec<Permission> {
        self.lock().permissions.values().cloned().collect()
    }

    /// One permission.
    pub fn permission(&self, id: &str) -> Result<Permission, StoreError> {
        let state = self.lock();
        let n = state.permission_or_404(id)?;
        Ok(state.permissions[&n].clone())
    }

    /// Creates a permission (admin only); 409 when the name is taken.
    pub fn create_permission(
        &self,
        actor: &Principal,
        input: PermissionInput,
    ) -> Result<Permission, StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let name = input.name.unwrap_or_default();
        if let Some(problem) = name_problem(&name) {
            return Err(StoreError::invalid("name", problem));
        }
        if state.permission_name_taken(&name, None) {
            return Err(StoreError::Conflict(format!(
                "permission {name} already exists"
            )));
        }
        let description = input.description.unwrap_or_default();
        Ok(state.insert_permission(&name, &description, SystemTime::now()))
    }

    /// Changes a permission's name or description (admin only).
    pub fn update_permission(
        &self,
        actor: &Principal,
        id: &str,
        input: PermissionInput,
    ) -> Result<Permission, StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let n = state.permission_or_404(id)?;
        if let Some(problem) = input.name.as_deref().and_then(name_problem) {
            return Err(StoreError::invalid("name", problem));
        }
        if let Some(name) = &input.name
            && state.permission_name_taken(name, Some(n))
        {
            return Err(StoreError::Conflict(format!(
                "permission {name} already exists"
            )));
        }
        let perm = state.permissions.get_mut(&n).expect("checked");
        if let Some(name) = input.name {
            perm.name = name;
        }
        if let Some(description) = input.description {
            perm.description = description;
        }
        perm.updated_at = SystemTime::now();
        Ok(perm.clone())
    }

    /// Deletes a permission and takes it out of every role (admin only).
    pub fn delete_permission(&self, actor: &Principal, id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let n = state.permission_or_404(id)?;
        let perm = state.permissions.remove(&n).expect("checked");
        for role in state.roles.values_mut() {
            role.permissions.retain(|p| *p != perm.id);
        }
        Ok(())
    }

    // ---- role assignments ------------------------------------------------------

    /// The roles assigned to a user (yourself, or with `users:read`).
    pub fn user_roles(&self, actor: &Principal, user_id: &str) -> Result<Vec<Role>, StoreError> {
        let state = self.lock();
        state.require_self_or(actor, parse_id(user_id, USER_PREFIX), USERS_READ)?;
        let n = state.existing_user(user_id)?;
        Ok(state.users[&n]
            .roles
            .iter()
            .filter_map(|r| state.roles.get(r).cloned())
            .collect())
    }

    /// Assigns a role to a user (admin only); 422 unknown role, 409 already assigned.
    pub fn assign_role(
        &self,
        actor: &Principal,
        user_id: &str,
        role_id: &str,
    ) -> Result<Role, StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let n = state.existing_user(user_id)?;
        if role_id.is_empty() {
            return Err(StoreError::invalid("role_id", "is required"));
        }
        let r = state
            .role_or_404(role_id)
            .map_err(|_| StoreError::invalid("role_id", &format!("unknown role {role_id}")))?;
        let account = state.users.get_mut(&n).expect("checked");
        if !account.roles.insert(r) {
            return Err(StoreError::Conflict(format!(
                "user {user_id} already has role {role_id}"
            )));
        }
        Ok(state.roles[&r].clone())
    }

    /// Takes a role away from a user (admin only); 404 when it is not assigned.
    pub fn revoke_role(
        &self,
        actor: &Principal,
        user_id: &str,
        role_id: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.require_admin(actor)?;
        let n = state.existing_user(user_id)?;
        let removed = parse_id(role_id, ROLE_PREFIX)
            .is_some_and(|r| state.users.get_mut(&n).expect("checked").roles.remove(&r));
        if removed {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!(
                "user {user_id} does not have role {role_id}"
            )))
        }
    }

    /// True when the user holds a role granting the permission named `permission`.
    pub fn has_permission(&self, user_id: &str, permission: &str) -> bool {
        parse_id(user_id, USER_PREFIX).is_some_and(|n| self.lock().has_permission(n, permission))
    }

    /// True when the user holds the built-in admin role.
    pub fn is_admin(&self, user_id: &str) -> bool {
        parse_id(user_id, USER_PREFIX).is_some_and(|n| self.lock().is_admin(n))
    }

    // ---- stats -----------------------------------------------------------------

    /// Counts one received request, under `endpoint` (`METHOD /template`) when it matched a route.
    pub(super) fn note_request(&self, endpoint: Option<String>) {
        self.inner.requests_total.fetch_add(1, Ordering::Relaxed);
        if let Some(endpoint) = endpoint {
            let mut map = self
                .inner
                .requests_by_endpoint
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *map.entry(endpoint).or_default() += 1;
        }
    }

    /// What is stored now, and the requests received so far.
    pub fn stats(&self) -> Stats {
        let now = unix_secs(SystemTime::now());
        let mut stats = {
            let state = self.lock();
            Stats {
                users: state.users.len() as u64,
                profiles: state.profiles.len() as u64,
                roles: state.roles.len() as u64,
                permissions: state.permissions.len() as u64,
                sessions: state
                    .sessions
                    .values()
                    .filter(|s| s.refresh_exp > now)
                    .count() as u64,
                simulation_users: state
                    .users
                    .values()
                    .filter(|a| a.user.is_simulation)
                    .count() as u64,
                ..Stats::default()
            }
        };
        stats.requests_by_endpoint = self
            .inner
            .requests_by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        stats.requests_total = self.inner.requests_total.load(Ordering::Relaxed);
        stats
    }
}

fn no_profile(user_id: &str) -> StoreError {
    StoreError::NotFound(format!("user {user_id} has no profile"))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
