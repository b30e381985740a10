//! Credentials: salted password hashes (PBKDF2-HMAC-SHA256 from aws-lc-rs) and
//! HS256 JWTs (jsonwebtoken on aws-lc-rs). Nothing here logs a secret.

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::pbkdf2;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// PBKDF2 rounds. Deliberately low: this is a load-test target, where a login must
/// stay cheap, not a vault; the scheme (salted, slow-able KDF, constant-time check)
/// is the real one.
const PBKDF2_ROUNDS: NonZeroU32 = NonZeroU32::new(1_000).unwrap();
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// A salted password hash; the password itself is never kept.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct PasswordHash {
    salt: [u8; SALT_LEN],
    hash: [u8; HASH_LEN],
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub(super) fn new(password: &str) -> Self {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt);
        let mut hash = [0u8; HASH_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            PBKDF2_ROUNDS,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        Self { salt, hash }
    }

    /// True when `password` is the one this hash was made from (constant time).
    pub(super) fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            PBKDF2_ROUNDS,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Fills `buf` from the system's secure random source.
pub(super) fn fill_random(buf: &mut [u8]) {
    aws_lc_rs::rand::fill(buf).expect("the system random source failed");
}

/// `len` random bytes as lowercase hex (session ids, refresh nonces).
pub(super) fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random password of `len` characters from an unambiguous alphabet.
pub(super) fn random_password(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Seconds since the Unix epoch (0 before it).
pub(super) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What kind of token a JWT is; an access token cannot refresh, a refresh token cannot authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum TokenKind {
    Access,
    Refresh,
}

/// The claims of both token kinds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Claims {
    /// User id.
    pub sub: String,
    pub username: String,
    /// Role names at issue time (informational; permissions are checked live).
    pub roles: Vec<String>,
    pub iat: u64,
    pub exp: u64,
    /// Session id.
    pub jti: String,
    pub typ: TokenKind,
    /// Refresh nonce; only in refresh tokens, rotated at each refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenError {
    /// Bad shape, bad signature, wrong algorithm or missing claims.
    Invalid,
    /// Past its `exp`.
    Expired,
}

/// Signs and checks HS256 tokens with one secret.
pub(super) struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    header: Header,
}

impl Signer {
    /// A signer over `secret`, or over 32 random bytes when there is none.
    pub(super) fn new(secret: Option<&str>) -> Self {
        let bytes = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut b = vec![0u8; 32];
                fill_random(&mut b);
                b
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked by the caller against its own clock, to the second, no leeway.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&bytes),
            decoding: DecodingKey::from_secret(&bytes),
            validation,
            header: Header::new(Algorithm::HS256),
        }
    }

    /// The signed token for `claims`.
    pub(super) fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&self.header, claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of `token` if its signature is good and it is not expired at `now`.
    pub(super) fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if data.claims.exp <= unix_secs(now) {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(HS256, <redacted>)")
    }
}

/// `exp` for a token issued at `now` that lives `ttl`, rounded down to a whole second
/// (a token may die up to a second early, never late; a zero TTL is expired at once).
pub(super) fn expiry(now: SystemTime, ttl: Duration) -> u64 {
    unix_secs(now + ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "usr-1".into(),
            username: "admin".into(),
            roles: vec!["admin".into()],
            iat: 0,
            exp,
            jti: "s1".into(),
            typ: TokenKind::Access,
            rid: None,
        }
    }

    #[test]
    fn a_password_hash_verifies_only_its_own_password() {
        let hash = PasswordHash::new("correct horse");
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsE"));
        assert!(!hash.verify(""));
    }

    #[test]
    fn the_same_password_hashes_differently_with_each_salt() {
        assert_ne!(PasswordHash::new("same"), PasswordHash::new("same"));
        assert_eq!(
            format!("{:?}", PasswordHash::new("same")),
            "PasswordHash(<redacted>)"
        );
    }

    #[test]
    fn a_signed_token_verifies_with_the_same_secret_only() {
        let now = SystemTime::now();
        let exp = unix_secs(now) + 60;
        let a = Signer::new(Some("secret-a"));
        let token = a.sign(&claims(exp));
        assert_eq!(a.verify(&token, now), Ok(claims(exp)));
        assert_eq!(
            Signer::new(Some("secret-b")).verify(&token, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            Signer::new(None).verify(&token, now),
            Err(TokenError::Invalid)
        );
        assert_eq!(a.verify("not.a.token", now), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_is_expired_from_its_exp_second_on() {
        let signer = Signer::new(Some("s"));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let token = signer.sign(&claims(1_000_010));
        assert!(signer.verify(&token, now + Duration::from_secs(9)).is_ok());
        assert_eq!(
            signer.verify(&token, now + Duration::from_secs(10)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn expiry_rounds_down_to_a_whole_second() {
        let now = UNIX_EPOCH + Duration::from_millis(10_500);
        assert_eq!(expiry(now, Duration::from_secs(5)), 15);
        assert_eq!(
            expiry(UNIX_EPOCH + Duration::from_secs(10), Duration::ZERO),
            10
        );
    }

    #[test]
    fn random_helpers_give_the_asked_length_and_differ() {
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
        let p = random_password(16);
        assert_eq!(p.chars().count(), 16);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
