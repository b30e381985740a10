//! The user service's shared state (accounts, sessions, roles, profiles), its
//! seed data and the lookups and access checks every operation builds on; the
//! operations themselves live in the sibling files, one per resource family.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Map;

use super::auth::{PasswordHash, Signer};
use super::error::{StoreError, forbidden};
use super::model::{NewUser, Permission, Profile, Role, User};
use super::{
    ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_ROLE, ADMIN_USERNAME, ROLES_MANAGE, USER_ROLE, USERS_READ,
    USERS_WRITE, UsersConfig,
};

/// Internal number of the seeded admin role (`role-1`); it cannot be deleted.
pub(super) const ADMIN_ROLE_ID: u64 = 1;
/// Internal number of the seeded default role (`role-2`).
pub(super) const USER_ROLE_ID: u64 = 2;

pub(super) const USER_PREFIX: &str = "usr-";
pub(super) const ROLE_PREFIX: &str = "role-";
pub(super) const PERM_PREFIX: &str = "perm-";

/// Who is calling: the owner of a valid access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's id, like `usr-2`.
    pub user_id: String,
    /// The user's name.
    pub username: String,
    /// The session the token belongs to (its `jti`).
    pub session_id: String,
    pub(super) num: u64,
}

/// Shared, cheaply cloned state of the user service.
#[derive(Clone, Debug)]
pub struct UserStore {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    state: Mutex<State>,
    pub(super) signer: Signer,
    pub(super) access_ttl: Duration,
    pub(super) refresh_ttl: Duration,
    pub(super) requests_total: AtomicU64,
    pub(super) requests_by_endpoint: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug)]
pub(super) struct Account {
    /// The public record; its `roles` field is filled in on the way out.
    pub(super) user: User,
    pub(super) password: PasswordHash,
    pub(super) roles: BTreeSet<u64>,
    /// Username, email and full name in lowercase, each followed by 0xFF (a
    /// byte no UTF-8 text holds, so no match spans two of them): what a
    /// search looks in, made when they change rather than at every search.
    pub(super) lowered: Box<[u8]>,
}

impl Account {
    fn new(user: User, password: PasswordHash, roles: BTreeSet<u64>) -> Self {
        let mut account = Account {
            user,
            password,
            roles,
            lowered: Default::default(),
        };
        account.relower();
        account
    }

    /// Brings `lowered` up to date after the user's fields changed.
    pub(super) fn relower(&mut self) {
        let u = &self.user;
        let mut lowered = Vec::new();
        for field in [&u.username, &u.email, &u.full_name] {
            lowered.extend_from_slice(field.to_lowercase().as_bytes());
            lowered.push(0xFF);
        }
        self.lowered = lowered.into();
    }
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) user: u64,
    pub(super) nonce: String,
    pub(super) refresh_exp: u64,
}

#[derive(Debug, Default)]
pub(super) struct State {
    next_user: u64,
    next_role: u64,
    next_perm: u64,
    pub(super) users: BTreeMap<u64, Account>,
    pub(super) by_username: HashMap<String, u64>,
    pub(super) by_email: HashMap<String, u64>,
    pub(super) profiles: HashMap<u64, Profile>,
    pub(super) roles: BTreeMap<u64, Role>,
    pub(super) permissions: BTreeMap<u64, Permission>,
    pub(super) sessions: HashMap<String, Session>,
    last_prune: u64,
}

/// `usr-7` → 7 for `prefix` `usr-`; only the canonical spelling counts.
pub(super) fn parse_id(id: &str, prefix: &str) -> Option<u64> {
    let n: u64 = id.strip_prefix(prefix)?.parse().ok()?;
    (format!("{prefix}{n}") == id).then_some(n)
}

fn user_id(n: u64) -> String {
    format!("{USER_PREFIX}{n}")
}

impl State {
    pub(super) fn view(&self, n: u64) -> Option<User> {
        let account = self.users.get(&n)?;
        let mut user = account.user.clone();
        user.roles = account
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r).map(|role| role.name.clone()))
            .collect();
        Some(user)
    }

    pub(super) fn view_or_404(&self, n: Option<u64>, id: &str) -> Result<User, StoreError> {
        n.and_then(|n| self.view(n))
            .ok_or_else(|| StoreError::NotFound(format!("user {id} not found")))
    }

    pub(super) fn existing_user(&self, id: &str) -> Result<u64, StoreError> {
        parse_id(id, USER_PREFIX)
            .filter(|n| self.users.contains_key(n))
            .ok_or_else(|| StoreError::NotFound(format!("user {id} not found")))
    }

    pub(super) fn is_admin(&self, n: u64) -> bool {
        self.users
            .get(&n)
            .is_some_and(|a| a.roles.contains(&ADMIN_ROLE_ID))
    }

    pub(super) fn has_permission(&self, n: u64, name: &str) -> bool {
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

    pub(super) fn require_admin(&self, actor: &Principal) -> Result<(), StoreError> {
        if self.is_admin(actor.num) {
            Ok(())
        } else {
            Err(forbidden("this needs the admin role"))
        }
    }

    /// Allowed when `target` is the actor, or the actor holds `permission` or the admin role.
    pub(super) fn require_self_or(
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
    pub(super) fn require_self_or_admin(
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

    pub(super) fn check_unique(
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

    pub(super) fn insert_user(
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
        self.users.insert(n, Account::new(user, password, roles));
        n
    }

    pub(super) fn find_login(&self, login: &str) -> Option<u64> {
        let key = login.to_lowercase();
        let by_name = self.by_username.get(&key);
        by_name.or_else(|| self.by_email.get(&key)).copied()
    }

    pub(super) fn end_sessions_of(&mut self, n: u64) {
        self.sessions.retain(|_, s| s.user != n);
    }

    pub(super) fn prune_sessions(&mut self, now: u64) {
        if now >= self.last_prune + 60 {
            self.sessions.retain(|_, s| s.refresh_exp > now);
            self.last_prune = now;
        }
    }

    pub(super) fn insert_permission(
        &mut self,
        name: &str,
        description: &str,
        now: SystemTime,
    ) -> Permission {
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

    pub(super) fn insert_role(
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

    /// Refuses `actor` (403) unless it holds the admin role.
    pub fn ensure_admin(&self, actor: &Principal) -> Result<(), StoreError> {
        self.lock().require_admin(actor)
    }

    /// Locks the state; a panic elsewhere must not take the server down, so poison is ignored.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
