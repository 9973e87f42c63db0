//! [`PrivateKey`]: an ed25519 signing key with its public half and TUF key id.

use ed25519_dalek::{Signer as _, SigningKey};
use hsp_tuf::{key_id, KeyId, Signer};
use hsp_tuf::{KeyVal, PublicKey};
use sha2::Digest;

/// An ed25519 private key. `Debug` prints only the key id.
#[derive(Clone)]
pub struct PrivateKey {
    signing: SigningKey,
    public: PublicKey,
    key_id: KeyId,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.key_id)
    }
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> PrivateKey {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        PrivateKey::from_seed(seed)
    }

    /// The key whose 32-byte ed25519 seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> PrivateKey {
        let signing = SigningKey::from_bytes(&seed);
        let public = PublicKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: hex::encode(signing.verifying_key().as_bytes()),
            },
        };
        let key_id = key_id(&public);
        PrivateKey {
            signing,
            public,
            key_id,
        }
    }

    /// A DEVELOPMENT key derived from a fixed, public seed and `label` (e.g.
    /// `root`, `publisher/hapi`): anyone can recompute it, so it protects
    /// nothing. `hsp build --dev-keys` uses these so that development builds are
    /// byte-identical across runs.
    pub fn dev(label: &str) -> PrivateKey {
        let mut h = sha2::Sha256::new();
        h.update(b"hsp development key, public, never for production\0");
        h.update(label.as_bytes());
        PrivateKey::from_seed(h.finalize().into())
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The 32-byte seed (what a private key file stores).
    pub(crate) fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl Signer for PrivateKey {
    fn key_id(&self) -> KeyId {
        self.key_id.clone()
    }

    fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsp_tuf::verify::{verify_signature, verifying_key};

    #[test]
    fn signatures_verify_with_the_public_half_only() {
        for (name, key) in [
            ("random", PrivateKey::generate()),
            ("seeded", PrivateKey::from_seed([5; 32])),
            ("dev", PrivateKey::dev("root")),
        ] {
            let vk = verifying_key(key.key_id(), key.public()).unwrap();
            let sig = hex::encode(key.sign(b"message"));
            assert!(verify_signature(&vk, b"message", &sig), "{name}");
            assert!(!verify_signature(&vk, b"messagE", &sig), "{name}");
        }
    }

    #[test]
    fn dev_keys_are_stable_and_distinct_per_label() {
        assert_eq!(PrivateKey::dev("a").key_id(), PrivateKey::dev("a").key_id());
        assert_ne!(PrivateKey::dev("a").key_id(), PrivateKey::dev("b").key_id());
        assert_ne!(
            PrivateKey::generate().key_id(),
            PrivateKey::generate().key_id()
        );
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let key = PrivateKey::from_seed([0xab; 32]);
        let text = format!("{key:?}");
        assert!(!text.contains(&hex::encode(key.seed())));
        assert!(text.contains(key.key_id().as_str()));
    }
}
