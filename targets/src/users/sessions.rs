//! Logging in, token authentication, refresh-token rotation and logout: the
//! session half of the user service.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::SystemTime;

use serde::Serialize;

use super::auth::{Claims, PasswordHash, TokenError, TokenKind, expiry, random_hex, unix_secs};
use super::error::{StoreError, forbidden, unauthorized};
use super::model::{User, check, invalid_if_any};
use super::store::{Principal, Session, UserStore};

pub(super) const BAD_CREDENTIALS: &str = "invalid username or password";
pub(super) const SESSION_ENDED: &str = "session has ended";

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

/// A hash to check against when the login name is unknown, so both failures cost the same.
static DUMMY_HASH: LazyLock<PasswordHash> =
    LazyLock::new(|| PasswordHash::new("no user has this password"));

impl UserStore {
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
}
