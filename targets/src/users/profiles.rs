//! Creating, reading, changing and deleting user profiles (owner or admin only).

use std::time::SystemTime;

use super::error::StoreError;
use super::model::{Profile, ProfileInput, invalid_if_any};
use super::store::{Principal, State, USER_PREFIX, UserStore, parse_id};

impl UserStore {
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
}

fn no_profile(user_id: &str) -> StoreError {
    StoreError::NotFound(format!("user {user_id} has no profile"))
}
