//! Password hashing with argon2id (RustCrypto `argon2`, its default parameters:
//! m = 19 MiB, t = 2, p = 1, the OWASP recommendation). Verification compares in
//! constant time inside `argon2`.

use std::sync::LazyLock;

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

/// Argon2's working memory (19 MiB for the default parameters), kept to be reused.
/// Left to the allocator, each verification's block was freed into glibc's heap, whose
/// mmap threshold then rises to keep such blocks: RSS grew past 1.5 GiB under a burst
/// of Basic requests. Reused, memory is bounded by the number of `Memory` values.
#[derive(Default)]
pub struct Memory(Vec<Block>);

/// Whether `password` matches `phc`. A stored hash that cannot be parsed matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    verify_in(password, phc, &mut Memory::default())
}

/// [`verify`], computing in `memory`, which grows to fit the hash's parameters.
pub fn verify_in(password: &str, phc: &str, memory: &mut Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let (Ok(algorithm), Ok(version)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from),
    ) else {
        return false;
    };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::default());
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory.0[..blocks])
            .map_err(|_| argon2::password_hash::Error::Password)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|computed| computed == expected)
}

/// A hash of a random password with the same parameters as real ones. Checking a
/// password against it for an unknown login costs what a wrong password costs, so the
/// response time does not tell which logins exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: LazyLock<String> = LazyLock::new(|| hash(&crate::ids::new_token()));
    &DECOY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct horsE", &phc));
        assert!(!verify("", &phc));
        assert!(!verify("correct horse", "not a phc string"));
    }

    #[test]
    fn reused_memory_verifies_like_fresh_memory() {
        let phc = hash("pw");
        let mut memory = Memory::default();
        assert!(verify_in("pw", &phc, &mut memory));
        assert!(!verify_in("wrong", &phc, &mut memory));
        assert!(verify_in("pw", &phc, &mut memory));
        // Smaller and larger parameters than the buffer holds.
        for m in [8, 32 * 1024] {
            let params = Params::new(m, 1, 1, None).unwrap();
            let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"pw", &SaltString::encode_b64(&[7; 16]).unwrap())
                .unwrap()
                .to_string();
            assert!(verify_in("pw", &small, &mut memory), "{small}");
            assert!(!verify_in("px", &small, &mut memory), "{small}");
            assert!(verify("pw", &small), "{small}");
        }
    }
}
