//! [`PrivateKey`]: an ed25519 or ECDSA P-256 signing key with its public half
//! and TUF key id.

use ed25519_dalek::{Signer as _, SigningKey};
use hsp_tuf::{key_id, KeyId, Signer};
use hsp_tuf::{KeyVal, PublicKey};
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use sha2::Digest;

/// The key types `hsp keygen` makes and `hsp` signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `ed25519`/`ed25519`: 32-byte keys, 64-byte signatures (the default).
    Ed25519,
    /// `ecdsa`/`ecdsa-sha2-nistp256`: what cloud KMS, HSMs and PIV tokens hold;
    /// PEM public keys and DER signatures, as securesystemslib writes them.
    EcdsaP256,
}

impl KeyType {
    /// The TUF `keytype` and `scheme`.
    pub fn tuf_names(self) -> (&'static str, &'static str) {
        match self {
            KeyType::Ed25519 => ("ed25519", "ed25519"),
            KeyType::EcdsaP256 => ("ecdsa", "ecdsa-sha2-nistp256"),
        }
    }
}

#[derive(Clone)]
enum Secret {
    Ed25519(SigningKey),
    EcdsaP256(p256::ecdsa::SigningKey),
}

/// A private key. `Debug` prints only the key id.
#[derive(Clone)]
pub struct PrivateKey {
    secret: Secret,
    public: PublicKey,
    key_id: KeyId,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.key_id)
    }
}

impl PrivateKey {
    /// A new random ed25519 key from the operating system's generator.
    pub fn generate() -> PrivateKey {
        PrivateKey::generate_of(KeyType::Ed25519)
    }

    /// A new random key of type `kind` from the operating system's generator.
    pub fn generate_of(kind: KeyType) -> PrivateKey {
        match kind {
            KeyType::Ed25519 => {
                let mut seed = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
                PrivateKey::from_seed(seed)
            }
            KeyType::EcdsaP256 => {
                PrivateKey::from_ecdsa(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
            }
        }
    }

    /// The ed25519 key whose 32-byte seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> PrivateKey {
        let signing = SigningKey::from_bytes(&seed);
        let public = PublicKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: hex::encode(signing.verifying_key().as_bytes()),
            },
        };
        PrivateKey::assemble(Secret::Ed25519(signing), public)
    }

    fn from_ecdsa(signing: p256::ecdsa::SigningKey) -> PrivateKey {
        let (keytype, scheme) = KeyType::EcdsaP256.tuf_names();
        let pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key always encodes");
        let public = PublicKey {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: KeyVal { public: pem },
        };
        PrivateKey::assemble(Secret::EcdsaP256(signing), public)
    }

    /// The ECDSA P-256 key of a PKCS#8 PEM private key.
    pub(crate) fn from_pkcs8_pem(pem: &str) -> Option<PrivateKey> {
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .ok()
            .map(PrivateKey::from_ecdsa)
    }

    fn assemble(secret: Secret, public: PublicKey) -> PrivateKey {
        let key_id = key_id(&public);
        PrivateKey {
            secret,
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

    pub fn key_type(&self) -> KeyType {
        match self.secret {
            Secret::Ed25519(_) => KeyType::Ed25519,
            Secret::EcdsaP256(_) => KeyType::EcdsaP256,
        }
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// What a private key file stores in `keyval.private`: the hex ed25519
    /// seed, or a PKCS#8 PEM for ECDSA.
    pub(crate) fn private_text(&self) -> String {
        match &self.secret {
            Secret::Ed25519(k) => hex::encode(k.to_bytes()),
            Secret::EcdsaP256(k) => k
                .to_pkcs8_pem(LineEnding::LF)
                .expect("a P-256 key always encodes")
                .to_string(),
        }
    }

    /// The signature of `message`: 64 bytes for ed25519, DER for ECDSA
    /// (deterministic, RFC 6979).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
            Secret::EcdsaP256(k) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(k, message);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }
}

impl Signer for PrivateKey {
    fn key_id(&self) -> KeyId {
        self.key_id.clone()
    }

    fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
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
            ("ecdsa", PrivateKey::generate_of(KeyType::EcdsaP256)),
        ] {
            let vk = verifying_key(key.key_id(), key.public()).unwrap();
            let sig = hex::encode(key.sign(b"message"));
            assert!(verify_signature(&vk, b"message", &sig), "{name}");
            assert!(!verify_signature(&vk, b"messagE", &sig), "{name}");
        }
    }

    #[test]
    fn ecdsa_keys_are_securesystemslib_shaped() {
        let key = PrivateKey::generate_of(KeyType::EcdsaP256);
        assert_eq!(key.key_type(), KeyType::EcdsaP256);
        assert_eq!(key.public().keytype, "ecdsa");
        assert_eq!(key.public().scheme, "ecdsa-sha2-nistp256");
        let pem = &key.public().keyval.public;
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"), "{pem}");
        // DER: SEQUENCE of two INTEGERs.
        assert_eq!(key.sign(b"m")[0], 0x30);
        let again = PrivateKey::from_pkcs8_pem(&key.private_text()).unwrap();
        assert_eq!(again.key_id(), key.key_id());
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
        for key in [
            PrivateKey::from_seed([0xab; 32]),
            PrivateKey::generate_of(KeyType::EcdsaP256),
        ] {
            let text = format!("{key:?}");
            assert!(!text.contains(&key.private_text()));
            assert!(text.contains(key.key_id().as_str()));
        }
    }
}
