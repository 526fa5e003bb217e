//! Secrets Chorus makes and checks: argon2id password hashes, random tokens
//! (session ids, one-time links) stored only as SHA-256 hashes, and keyed
//! MACs for CSRF tokens.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::password_policy;

/// OWASP's minimum for argon2id: m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password (after NFKC normalisation) to a PHC string.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let normalized = password_policy::normalize(password);
    hasher()
        .hash_password(normalized.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the hash is weaker than today's parameters: store a new one.
    YesButRehash,
}

pub fn verify_password(password: &str, stored_hash: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return Verified::No;
    };
    let normalized = password_policy::normalize(password);
    if hasher()
        .verify_password(normalized.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    if is_weaker_than_current(&parsed) {
        Verified::YesButRehash
    } else {
        Verified::Yes
    }
}

fn is_weaker_than_current(parsed: &PasswordHash) -> bool {
    let current = Params::default();
    let algorithm_ok = parsed.algorithm.as_str() == "argon2id";
    match Params::try_from(parsed) {
        Ok(params) => {
            !algorithm_ok
                || params.m_cost() < current.m_cost()
                || params.t_cost() < current.t_cost()
                || params.output_len().unwrap_or(32) < 32
        }
        Err(_) => true,
    }
}

/// Spends the same time as a real verification, so that an unknown account
/// and a wrong password cannot be told apart by timing.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_password("a dummy password nobody uses").unwrap_or_default());
    let _ = verify_password(password, dummy);
}

/// A fresh 256-bit random token, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a token is stored: its SHA-256, so a database leak yields no usable token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A keyed MAC over `parts`, URL-safe. Used for CSRF tokens.
pub fn mac(key: &[u8], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` header value (RFC 6750;
/// the scheme name is case-insensitive, RFC 7235 §2.1), if it is one.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Secrets Chorus must read again, such as chat webhook addresses: sealed
/// with XChaCha20-Poly1305 (a random 192-bit nonce per seal) under a key
/// derived from the server's secret key for one purpose, so the database
/// alone does not give them away. A sealed value opens only with the same
/// secret key and purpose.
pub struct SecretBox {
    cipher: chacha20poly1305::XChaCha20Poly1305,
    purpose: &'static str,
}

/// Marks the format of a sealed value (base64 of nonce and ciphertext).
const SEALED_PREFIX: &str = "v1.";

impl SecretBox {
    pub fn new(server_key: &[u8], purpose: &'static str) -> SecretBox {
        use chacha20poly1305::KeyInit;
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(server_key).expect("HMAC accepts any key length");
        mac.update(b"chorus sealed secret\0");
        mac.update(purpose.as_bytes());
        let key = mac.finalize().into_bytes();
        SecretBox {
            cipher: chacha20poly1305::XChaCha20Poly1305::new(&key),
            purpose,
        }
    }

    pub fn seal(&self, secret: &str) -> String {
        use chacha20poly1305::aead::{Aead, Payload};
        let mut nonce = [0_u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                chacha20poly1305::XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: self.purpose.as_bytes(),
                },
            )
            .expect("sealing in memory does not fail");
        let mut whole = nonce.to_vec();
        whole.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(whole))
    }

    /// The secret, or None when the value was sealed with another key or
    /// purpose, or altered.
    pub fn open(&self, sealed: &str) -> Option<String> {
        use chacha20poly1305::aead::{Aead, Payload};
        let whole = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_PREFIX)?)
            .ok()?;
        if whole.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = whole.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                chacha20poly1305::XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: self.purpose.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_token_is_read_whatever_the_case_of_the_scheme() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash_password("purple kettle orbit lantern").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            verify_password("purple kettle orbit lantern", &hash),
            Verified::Yes
        );
        assert_eq!(
            verify_password("purple kettle orbit lanter", &hash),
            Verified::No
        );
        assert_eq!(verify_password("anything", "not a hash"), Verified::No);
    }

    #[test]
    fn a_weaker_stored_hash_verifies_but_asks_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"purple kettle orbit lantern")
        .unwrap()
        .to_string();
        assert_eq!(
            verify_password("purple kettle orbit lantern", &weak),
            Verified::YesButRehash
        );
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_purpose() {
        let sealed = SecretBox::new(b"key", "chat").seal("https://hooks.example/abc");
        assert!(!sealed.contains("hooks.example"));
        assert_eq!(
            SecretBox::new(b"key", "chat").open(&sealed).as_deref(),
            Some("https://hooks.example/abc")
        );
        assert_eq!(SecretBox::new(b"other", "chat").open(&sealed), None);
        assert_eq!(SecretBox::new(b"key", "mail").open(&sealed), None);
        assert_ne!(
            sealed,
            SecretBox::new(b"key", "chat").seal("https://hooks.example/abc")
        );
    }

    #[test]
    fn macs_depend_on_key_and_every_part() {
        let m = mac(b"key", &["csrf", "abc"]);
        assert_ne!(m, mac(b"other", &["csrf", "abc"]));
        assert_ne!(m, mac(b"key", &["csrf", "abd"]));
        assert_ne!(mac(b"key", &["ab", "c"]), mac(b"key", &["a", "bc"]));
        assert!(same_secret(&m, &mac(b"key", &["csrf", "abc"])));
    }
}
