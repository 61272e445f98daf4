//! Passwords, device tokens and the wrong-password limit.
//!
//! Passwords are stored as argon2id PHC strings (RustCrypto's defaults:
//! 19 MiB, 2 passes), never in clear. A token is 32 random bytes; the
//! server keeps only its SHA-256, so a copy of the database opens no
//! device. Tokens expire, and headquarters can revoke all of a user's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::sync::hex;

/// The three roles, from the widest to the narrowest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Headquarters,
    Supervisor,
    Enumerator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "headquarters" => Role::Headquarters,
            "supervisor" => Role::Supervisor,
            "enumerator" => Role::Enumerator,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Headquarters => "headquarters",
            Role::Supervisor => "supervisor",
            Role::Enumerator => "enumerator",
        }
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system's random number source failed".to_string())?;
    Ok(bytes)
}

/// An argon2id PHC string for the password.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether the password is the one hashed in `phc`.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh token, as given to the device, and its hash, as stored.
pub fn new_token() -> Result<(String, String), String> {
    let token = format!("vct_{}", hex(&random_bytes::<32>()?));
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

/// Wrong passwords allowed per user, and per client address, in a window.
const PER_USER: u32 = 5;
const PER_ADDRESS: u32 = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts wrong passwords by user and by address. Kept in memory: a
/// restart forgives, which an attacker cannot cause from outside.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// `Some(seconds to wait)` when either key is over its limit.
    pub fn blocked(&self, user: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        let failures = self.failures.lock().ok()?;
        let check = |key: String, limit: u32| {
            failures.get(&key).and_then(|(n, since)| {
                let age = now.duration_since(*since);
                (*n >= limit && age < WINDOW).then(|| (WINDOW - age).as_secs().max(1))
            })
        };
        check(format!("user:{user}"), PER_USER).or(check(format!("addr:{address}"), PER_ADDRESS))
    }

    pub fn failed(&self, user: &str, address: &str) {
        let now = Instant::now();
        if let Ok(mut failures) = self.failures.lock() {
            for key in [format!("user:{user}"), format!("addr:{address}")] {
                let entry = failures.entry(key).or_insert((0, now));
                if now.duration_since(entry.1) >= WINDOW {
                    *entry = (0, now);
                }
                entry.0 += 1;
            }
        }
    }

    pub fn succeeded(&self, user: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&format!("user:{user}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_and_another_does_not() {
        let phc = hash_password("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("correct hors", &phc));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, ha) = new_token().expect("token");
        let (b, hb) = new_token().expect("token");
        assert_ne!(a, b);
        assert_eq!(ha, token_hash(&a));
        assert_ne!(ha, hb);
        assert!(!ha.contains(&a[4..]));
    }

    #[test]
    fn the_sixth_wrong_password_in_a_window_is_refused() {
        let limiter = LoginLimiter::default();
        for _ in 0..PER_USER {
            assert_eq!(limiter.blocked("ana", "10.0.0.1"), None);
            limiter.failed("ana", "10.0.0.1");
        }
        assert!(limiter.blocked("ana", "10.0.0.2").is_some());
        assert_eq!(limiter.blocked("ben", "10.0.0.2"), None);
        limiter.succeeded("ana");
        assert_eq!(limiter.blocked("ana", "10.0.0.2"), None);
    }
}
