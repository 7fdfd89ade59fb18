//! Random tokens: passwords, API tokens and ids that nobody should guess.
//!
//! Neutral helpers with no knowledge of the domain, so that `db/` (the embedded cluster's
//! password) and the domain (credentials) can both use them.

use rand::Rng;

/// A random alphanumeric token of `len` characters.
pub fn random_token(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// 32 random lowercase hex characters.
pub fn random_hex32() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn lengths_and_alphabet() {
        let t = super::random_token(20);
        assert_eq!(t.len(), 20);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        let h = super::random_hex32();
        assert_eq!(h.len(), 32);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
