//! Roles, permissions and the assignment of roles to users (writes are admin only).

use std::time::SystemTime;

use super::USERS_READ;
use super::error::StoreError;
use super::model::{Permission, PermissionInput, Role, RoleInput, name_problem};
use super::store::{
    ADMIN_ROLE_ID, PERM_PREFIX, Principal, ROLE_PREFIX, State, USER_PREFIX, UserStore, parse_id,
};

impl State {
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
}

impl UserStore {
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
}
