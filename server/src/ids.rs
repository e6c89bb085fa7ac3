//! Random identifiers and secrets: space ids and tokens.
//!
//! Both are 32 bytes from the operating system's CSPRNG, written as unpadded
//! base64url: 43 characters of `[A-Za-z0-9_-]`, the shape upstream space ids have.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Length of an id or token in characters.
pub const ID_LEN: usize = 43;

fn random_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new space id, like `IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8`.
pub fn new_space_id() -> String {
    random_id()
}

/// A new token: 256 random bits, shown to its owner once and stored only as [`token_hash`].
pub fn new_token() -> String {
    random_id()
}

/// Whether `s` has the shape of an id this server issues (space id or token).
pub fn is_well_formed(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the store keeps of a token. Tokens carry 256 bits of entropy, so a fast
/// hash is enough: nothing is gained by guessing preimages of a random string.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_upstream_shape_and_differ() {
        let a = new_space_id();
        let b = new_space_id();
        assert!(is_well_formed(&a), "{a}");
        assert!(is_well_formed(&b), "{b}");
        assert_ne!(a, b);
        assert!(is_well_formed(
            "IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8"
        ));
    }

    #[test]
    fn malformed_ids_are_recognised() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed(
            "IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y"
        ));
        assert!(!is_well_formed(
            "IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p+0Y8"
        ));
        assert!(!is_well_formed(
            "IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8="
        ));
    }
}
