//! Registering, reading, changing, (de)activating and deleting single users,
//! and their passwords.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::auth::{PasswordHash, random_password};
use super::error::{StoreError, forbidden};
use super::model::{NewUser, User, UserUpdate, check, invalid_if_any, password_problem};
use super::store::{Principal, USER_PREFIX, USER_ROLE_ID, UserStore, parse_id};
use super::{USERS_READ, USERS_WRITE};

impl UserStore {
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
        let account = state.users.get_mut(&n).expect("checked");
        let user = &mut account.user;
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
        account.relower();
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
}
