//! argon2id hashing and SHA-256 digests (random tokens are in [`crate::token`], re-exported
//! here).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use super::{DomainError, DomainResult};

pub use crate::token::{random_hex32, random_token};

/// SHA-256 of `s`, hex.
pub fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// argon2id PHC string of `secret` (CPU-heavy: call from `spawn_blocking`, see [`hash_async`]).
pub fn hash(secret: &str) -> DomainResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::Internal(format!("argon2: {e}")))
}

/// Whether `secret` matches the PHC string `phc`.
pub fn verify(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(secret.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// [`hash`] off the async runtime.
pub async fn hash_async(secret: String) -> DomainResult<String> {
    tokio::task::spawn_blocking(move || hash(&secret))
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?
}

/// [`verify`] off the async runtime.
pub async fn verify_async(secret: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&secret, &phc)).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_and_verify() {
        let h = super::hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("s3cret", &h));
        assert!(!super::verify("other", &h));
        assert_eq!(super::random_token(20).len(), 20);
    }
}
