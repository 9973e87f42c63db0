//! Signature verification: key ids, one signature, a role's threshold.
//!
//! Keys and signatures are securesystemslib's encodings, what python-tuf,
//! go-tuf and tuf-on-ci write:
//!
//! | keytype | scheme | `keyval.public` | `sig` (hex) |
//! | --- | --- | --- | --- |
//! | `ed25519` | `ed25519` | 64 hex | 64-byte signature |
//! | `ecdsa`, `ecdsa-sha2-nistp256` | `ecdsa-sha2-nistp256` | PEM SubjectPublicKeyInfo | DER ECDSA over SHA-256 |
//! | `rsa` | `rsassa-pss-sha256` | PEM SubjectPublicKeyInfo | PSS, MGF1-SHA-256, 32-byte salt |
//! | `rsa` | `rsa-pkcs1v15-sha256` | PEM SubjectPublicKeyInfo | PKCS#1 v1.5 SHA-256 |
//!
//! [`Verified<T>`] can only be made here, by [`verify_role`] or [`verify_root`],
//! so a function that takes a `Verified<T>` knows its signatures were checked.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ed25519_dalek::Signature as EdSignature;
use p256::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;

use super::metadata::{Key, KeyId, Role, RoleKeys, RoleName, Root};
use super::{to_canonical, Signed, TufError};

/// TUF key id of `key`: hex sha256 of its canonical JSON
/// (`{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}`).
pub fn key_id(key: &Key) -> KeyId {
    let bytes = to_canonical(key).expect("a public key always encodes");
    KeyId(super::sha256_hex(&bytes))
}

/// The `(keytype, scheme)` pairs this crate verifies (and `hsp keygen` makes
/// the ed25519 and ECDSA ones).
pub const SUPPORTED_KEYS: &[(&str, &str)] = &[
    ("ed25519", "ed25519"),
    ("ecdsa", "ecdsa-sha2-nistp256"),
    ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"),
    ("rsa", "rsassa-pss-sha256"),
    ("rsa", "rsa-pkcs1v15-sha256"),
];

/// RSA moduli below this many bits are refused (NIST: 2048 at least).
pub const RSA_MIN_BITS: usize = 2048;

/// A public key ready to verify signatures with.
#[derive(Clone, Debug)]
pub enum VerifyKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
    RsaPss(rsa::pss::VerifyingKey<rsa::sha2::Sha256>),
    RsaPkcs1(rsa::pkcs1v15::VerifyingKey<rsa::sha2::Sha256>),
}

/// What makes two keys the same key, whatever key ids list them: the
/// ed25519 point, the compressed P-256 point, the RSA modulus and exponent.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyIdentity {
    Ed25519([u8; 32]),
    Other(Vec<u8>),
}

impl VerifyKey {
    /// Whether `sig_hex` is a valid signature of `message` by this key.
    /// ed25519 is verified strictly (no malleable or small-order signatures).
    pub fn verify(&self, message: &[u8], sig_hex: &str) -> bool {
        let Ok(bytes) = hex::decode(sig_hex) else {
            return false;
        };
        match self {
            VerifyKey::Ed25519(key) => EdSignature::from_slice(&bytes)
                .is_ok_and(|sig| key.verify_strict(message, &sig).is_ok()),
            VerifyKey::EcdsaP256(key) => p256::ecdsa::Signature::from_der(&bytes)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            VerifyKey::RsaPss(key) => rsa::pss::Signature::try_from(bytes.as_slice())
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            VerifyKey::RsaPkcs1(key) => rsa::pkcs1v15::Signature::try_from(bytes.as_slice())
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
        }
    }

    /// The key material, to count one key once however many ids list it.
    pub fn identity(&self) -> KeyIdentity {
        match self {
            VerifyKey::Ed25519(key) => KeyIdentity::Ed25519(*key.as_bytes()),
            VerifyKey::EcdsaP256(key) => {
                KeyIdentity::Other(key.to_encoded_point(true).as_bytes().to_vec())
            }
            VerifyKey::RsaPss(key) => rsa_identity(key.as_ref()),
            VerifyKey::RsaPkcs1(key) => rsa_identity(key.as_ref()),
        }
    }
}

fn rsa_identity(key: &rsa::RsaPublicKey) -> KeyIdentity {
    let mut bytes = key.n().to_bytes_be();
    bytes.push(0);
    bytes.extend(key.e().to_bytes_be());
    KeyIdentity::Other(bytes)
}

/// The verifying key of `key`, or why it is unusable.
pub fn verifying_key(keyid: &KeyId, key: &Key) -> Result<VerifyKey, TufError> {
    let public = key.keyval.public.as_str();
    let bad = |reason: String| TufError::BadPublicKey {
        keyid: keyid.to_string(),
        keytype: key.keytype.clone(),
        reason,
    };
    match (key.keytype.as_str(), key.scheme.as_str()) {
        ("ed25519", "ed25519") => {
            let bytes: [u8; 32] = hex::decode(public)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("keyval.public is not 64 hex characters".into()))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(VerifyKey::Ed25519)
                .map_err(|_| bad("keyval.public is not an ed25519 point".into()))
        }
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            p256::ecdsa::VerifyingKey::from_public_key_pem(public)
                .map(VerifyKey::EcdsaP256)
                .map_err(|e| {
                    bad(format!(
                        "keyval.public is not a PEM P-256 public key (SubjectPublicKeyInfo): {e}"
                    ))
                })
        }
        ("rsa", scheme @ ("rsassa-pss-sha256" | "rsa-pkcs1v15-sha256")) => {
            let rsa = rsa::RsaPublicKey::from_public_key_pem(public).map_err(|e| {
                bad(format!(
                    "keyval.public is not a PEM RSA public key (SubjectPublicKeyInfo, at most 4096 bits): {e}"
                ))
            })?;
            let bits = rsa.n().bits();
            if bits < RSA_MIN_BITS {
                return Err(bad(format!(
                    "RSA key of {bits} bits; at least {RSA_MIN_BITS} are needed"
                )));
            }
            Ok(if scheme == "rsassa-pss-sha256" {
                VerifyKey::RsaPss(rsa::pss::VerifyingKey::new(rsa))
            } else {
                VerifyKey::RsaPkcs1(rsa::pkcs1v15::VerifyingKey::new(rsa))
            })
        }
        _ => Err(TufError::UnsupportedKey {
            keyid: keyid.to_string(),
            keytype: key.keytype.clone(),
            scheme: key.scheme.clone(),
        }),
    }
}

/// Whether `sig_hex` is a valid signature of `message` by `key`.
pub fn verify_signature(key: &VerifyKey, message: &[u8], sig_hex: &str) -> bool {
    key.verify(message, sig_hex)
}

/// Number of distinct keys of `role_keys` (looked up in `keys`) with a valid
/// signature over `signed.canonical()`. Unknown key ids, unusable keys, bad
/// signatures and one key listed under several ids count nothing more, as the
/// TUF spec says. (Two signatures with one key id make the file invalid when
/// it is parsed: [`Signed::from_bytes`].)
pub fn count_valid<T>(
    signed: &Signed<T>,
    keys: &BTreeMap<KeyId, Key>,
    role_keys: &RoleKeys,
) -> usize {
    let allowed: BTreeSet<&KeyId> = role_keys.keyids.iter().collect();
    let mut counted: BTreeSet<KeyIdentity> = BTreeSet::new();
    for s in &signed.signatures {
        if !allowed.contains(&s.keyid) {
            continue;
        }
        let Some(key) = keys.get(&s.keyid) else {
            continue;
        };
        let Ok(vk) = verifying_key(&s.keyid, key) else {
            continue;
        };
        let identity = vk.identity();
        if !counted.contains(&identity) && vk.verify(signed.canonical(), &s.sig) {
            counted.insert(identity);
        }
    }
    counted.len()
}

/// Metadata whose signatures met its role's threshold. Only this module makes
/// one; it derefs to the [`Signed<T>`].
#[derive(Clone, Debug)]
pub struct Verified<T>(Signed<T>);

impl<T> Verified<T> {
    pub fn into_inner(self) -> Signed<T> {
        self.0
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = Signed<T>;
    fn deref(&self) -> &Signed<T> {
        &self.0
    }
}

impl<T: Role> Verified<T> {
    /// Errs when the role's `expires` is at or before `now`.
    pub fn check_expiry(&self, role: &str, now: DateTime<Utc>) -> Result<(), TufError> {
        let expires = self.0.signed.expires();
        if expires <= now {
            return Err(TufError::Expired {
                role: role.to_string(),
                expires: expires
                    .format(super::metadata::expires_format::FORMAT)
                    .to_string(),
            });
        }
        Ok(())
    }
}

fn check_threshold<T>(
    signed: &Signed<T>,
    role: &str,
    keys: &BTreeMap<KeyId, Key>,
    role_keys: &RoleKeys,
) -> Result<(), TufError> {
    if role_keys.threshold == 0 {
        return Err(TufError::ZeroThreshold {
            role: role.to_string(),
        });
    }
    let valid = count_valid(signed, keys, role_keys);
    if valid < role_keys.threshold as usize {
        return Err(TufError::Threshold {
            role: role.to_string(),
            valid,
            threshold: role_keys.threshold,
        });
    }
    Ok(())
}

/// Verifies that `signed` carries at least `role_keys.threshold` valid
/// signatures from distinct keys of `role_keys.keyids` (keys looked up in
/// `keys`, the delegator's key map: root's `keys` for top-level roles, a
/// targets role's `delegations.keys` for delegated roles). `role` names the
/// role in errors. Does not check expiry or versions.
pub fn verify_role<T>(
    signed: Signed<T>,
    role: &str,
    keys: &BTreeMap<KeyId, Key>,
    role_keys: &RoleKeys,
) -> Result<Verified<T>, TufError> {
    check_threshold(&signed, role, keys, role_keys)?;
    Ok(Verified(signed))
}

/// Verifies a root: signed by the threshold of `trusted`'s root role AND by the
/// threshold of its own root role (TUF 1.0 §5.3.4). To bootstrap from a root
/// you trust out of band, pass its own payload as `trusted`.
pub fn verify_root(new: Signed<Root>, trusted: &Root) -> Result<Verified<Root>, TufError> {
    let missing = || TufError::Threshold {
        role: "root".into(),
        valid: 0,
        threshold: 1,
    };
    let old_role = trusted.role(RoleName::Root).ok_or_else(missing)?;
    check_threshold(&new, "root (trusted keys)", &trusted.keys, old_role)?;
    let new_role = new.signed.role(RoleName::Root).ok_or_else(missing)?.clone();
    let new_keys = new.signed.keys.clone();
    check_threshold(&new, "root (new keys)", &new_keys, &new_role)?;
    Ok(Verified(new))
}

#[cfg(test)]
mod tests {
    use super::super::metadata::{Snapshot, SPEC_VERSION};
    use super::super::payloads::TestKey;
    use super::super::Signer;
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            type_: "snapshot".into(),
            spec_version: SPEC_VERSION.into(),
            version: 1,
            expires: "2030-01-01T00:00:00Z".parse().unwrap(),
            meta: BTreeMap::new(),
        }
    }

    fn keys(ks: &[&TestKey]) -> BTreeMap<KeyId, Key> {
        ks.iter().map(|k| (k.key_id(), k.public())).collect()
    }

    #[test]
    fn threshold_counts_distinct_valid_keys() {
        let (a, b, c) = (TestKey::new(1), TestKey::new(2), TestKey::new(3));
        let all = keys(&[&a, &b, &c]);
        let role = |threshold| RoleKeys {
            keyids: vec![a.key_id(), b.key_id()],
            threshold,
        };
        // (signers, threshold, ok)
        let cases: Vec<(Vec<&dyn Signer>, u32, bool)> = vec![
            (vec![&a], 1, true),
            (vec![&a], 2, false),
            (vec![&a, &b], 2, true),
            (vec![&c], 1, false), // not one of the role's keys
            (vec![&a, &c], 2, false),
            (vec![], 1, false),
            (vec![&a, &b], 0, false), // zero threshold is never enough
        ];
        for (i, (signers, threshold, ok)) in cases.into_iter().enumerate() {
            let signed = Signed::sign(snapshot(), &signers).unwrap();
            let reread = Signed::<Snapshot>::from_bytes(signed.raw().to_vec()).unwrap();
            assert_eq!(reread.canonical(), signed.canonical());
            let result = verify_role(reread, "snapshot", &all, &role(threshold));
            assert_eq!(result.is_ok(), ok, "case {i}");
        }
    }

    #[test]
    fn duplicate_signatures_of_one_key_count_once() {
        let a = TestKey::new(1);
        let mut signed = Signed::sign(snapshot(), &[&a]).unwrap();
        let dup = signed.signatures[0].clone();
        signed.signatures.push(dup);
        let role = RoleKeys {
            keyids: vec![a.key_id()],
            threshold: 2,
        };
        assert!(verify_role(signed, "snapshot", &keys(&[&a]), &role).is_err());
    }

    #[test]
    fn any_changed_byte_of_the_payload_breaks_the_signature() {
        let a = TestKey::new(7);
        let signed = Signed::sign(snapshot(), &[&a]).unwrap();
        let role = RoleKeys {
            keyids: vec![a.key_id()],
            threshold: 1,
        };
        let raw = signed.raw().to_vec();
        let start = raw.windows(9).position(|w| w == b"\"signed\":").unwrap() + 9;
        for i in start..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let Ok(parsed) = Signed::<Snapshot>::from_bytes(bad) else {
                continue;
            };
            if parsed.canonical() == signed.canonical() {
                continue; // e.g. a change JSON does not see
            }
            assert!(
                verify_role(parsed, "snapshot", &keys(&[&a]), &role).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn root_rotation_needs_old_and_new_thresholds() {
        let (old, new) = (TestKey::new(1), TestKey::new(2));
        let root = |k: &TestKey, version| Root {
            type_: "root".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: "2030-01-01T00:00:00Z".parse().unwrap(),
            consistent_snapshot: true,
            keys: keys(&[k]),
            roles: RoleName::ALL
                .iter()
                .map(|r| {
                    let rk = RoleKeys {
                        keyids: vec![k.key_id()],
                        threshold: 1,
                    };
                    (r.as_str().to_string(), rk)
                })
                .collect(),
        };
        let v1 = root(&old, 1);
        for (signers, ok) in [
            (vec![&old as &dyn Signer], false),
            (vec![&new as &dyn Signer], false),
            (vec![&old as &dyn Signer, &new], true),
        ] {
            let v2 = Signed::sign(root(&new, 2), &signers).unwrap();
            assert_eq!(verify_root(v2, &v1).is_ok(), ok);
        }
        // Signatures added one at a time give the same file.
        let once = Signed::sign(root(&new, 2), &[&old, &new]).unwrap();
        let stepwise = Signed::sign(root(&new, 2), &[&new])
            .unwrap()
            .add_signature(&old)
            .unwrap();
        assert_eq!(once.raw(), stepwise.raw());
    }

    #[test]
    fn key_id_is_sha256_of_canonical_key() {
        let k = TestKey::new(9).public();
        let canonical = format!(
            r#"{{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#,
            k.keyval.public
        );
        assert_eq!(key_id(&k).0, super::super::sha256_hex(canonical.as_bytes()));
    }

    type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

    /// A signer of another key type, as the tests make them.
    struct OtherKey {
        public: Key,
        sign: SignFn,
    }

    impl Signer for OtherKey {
        fn key_id(&self) -> KeyId {
            key_id(&self.public)
        }
        fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
            (self.sign)(message)
        }
    }

    fn pem_key(keytype: &str, scheme: &str, pem: String) -> Key {
        Key {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: super::super::KeyVal { public: pem },
        }
    }

    /// An ECDSA P-256 key and the RSA key of `test-rsa-2048.pem` with each
    /// RSA scheme, in securesystemslib's encodings (PEM SubjectPublicKeyInfo,
    /// DER ECDSA signatures, raw RSA signatures).
    fn other_keys() -> Vec<OtherKey> {
        use p256::ecdsa::signature::Signer as _;
        use p256::pkcs8::{EncodePublicKey as _, LineEnding};
        use rsa::pkcs8::DecodePrivateKey as _;
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};

        let ecdsa = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let ecdsa_pem = ecdsa
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let rsa = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("test-rsa-2048.pem")).unwrap();
        let rsa_pem = rsa
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let pss = rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(rsa.clone());
        let pkcs1 = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa);
        vec![
            OtherKey {
                public: pem_key("ecdsa", "ecdsa-sha2-nistp256", ecdsa_pem),
                sign: Box::new(move |m| {
                    let sig: p256::ecdsa::Signature = ecdsa.sign(m);
                    sig.to_der().as_bytes().to_vec()
                }),
            },
            OtherKey {
                public: pem_key("rsa", "rsassa-pss-sha256", rsa_pem.clone()),
                sign: Box::new(move |m| pss.sign_with_rng(&mut rand::thread_rng(), m).to_vec()),
            },
            OtherKey {
                public: pem_key("rsa", "rsa-pkcs1v15-sha256", rsa_pem),
                sign: Box::new(move |m| pkcs1.sign(m).to_vec()),
            },
        ]
    }

    /// Each key type signs alone and all sign together (a threshold of four
    /// distinct keys, though the two RSA schemes share one key: see below);
    /// the files are valid JSON (PEM newlines escaped) that read back to the
    /// same canonical bytes, and a changed signature byte fails.
    #[test]
    fn ecdsa_and_rsa_keys_verify_beside_ed25519() {
        let ed = TestKey::new(1);
        let others = other_keys();
        let mut all: BTreeMap<KeyId, Key> = keys(&[&ed]);
        for k in &others {
            all.insert(k.key_id(), k.public.clone());
        }
        let mut signers: Vec<&dyn Signer> = vec![&ed];
        signers.extend(others.iter().map(|k| k as &dyn Signer));
        for signer in &signers {
            let role = RoleKeys {
                keyids: vec![signer.key_id()],
                threshold: 1,
            };
            let signed = Signed::sign(snapshot(), &[*signer]).unwrap();
            let reread = Signed::<Snapshot>::from_bytes(signed.raw().to_vec()).unwrap();
            assert_eq!(reread.canonical(), signed.canonical());
            assert!(verify_role(reread.clone(), "snapshot", &all, &role).is_ok());
            let mut bad = reread;
            let sig = &mut bad.signatures[0].sig;
            let flipped = if sig.ends_with('0') { '1' } else { '0' };
            sig.replace_range(sig.len() - 1.., &flipped.to_string());
            assert!(verify_role(bad, "snapshot", &all, &role).is_err());
        }
        // A role listing every key: the two RSA schemes are one RSA key, so
        // they count once, and a threshold of 4 is out of reach.
        let keyids: Vec<KeyId> = signers.iter().map(|k| k.key_id()).collect();
        let signed = Signed::sign(snapshot(), &signers).unwrap();
        let file: serde_json::Value = serde_json::from_slice(signed.raw()).unwrap();
        assert_eq!(file["signatures"].as_array().unwrap().len(), 4);
        for (threshold, ok) in [(3, true), (4, false)] {
            let role = RoleKeys {
                keyids: keyids.clone(),
                threshold,
            };
            let reread = Signed::<Snapshot>::from_bytes(signed.raw().to_vec()).unwrap();
            assert_eq!(
                verify_role(reread, "snapshot", &all, &role).is_ok(),
                ok,
                "threshold {threshold}"
            );
        }
    }

    #[test]
    fn a_pem_of_the_wrong_kind_or_size_is_a_bad_key() {
        let ecdsa_pem = other_keys().remove(0).public.keyval.public;
        for key in [
            pem_key("rsa", "rsassa-pss-sha256", ecdsa_pem.clone()),
            pem_key("ecdsa", "ecdsa-sha2-nistp256", "not a pem".into()),
            pem_key("ed25519", "ed25519", ecdsa_pem),
        ] {
            let err = verifying_key(&key_id(&key), &key).err().unwrap();
            assert!(matches!(err, TufError::BadPublicKey { .. }), "{err}");
        }
        let unknown = pem_key("rsa", "rsa-pkcs1v15-sha512", String::new());
        assert!(matches!(
            verifying_key(&key_id(&unknown), &unknown),
            Err(TufError::UnsupportedKey { .. })
        ));
    }

    /// TUF 1.0 §4.2: a key id signs once; a file listing it twice is invalid
    /// (as python-tuf), whatever the signatures are.
    #[test]
    fn a_file_with_one_key_id_twice_is_invalid() {
        let a = TestKey::new(1);
        let signed = Signed::sign(snapshot(), &[&a]).unwrap();
        let mut file: serde_json::Value = serde_json::from_slice(signed.raw()).unwrap();
        let sig = file["signatures"][0].clone();
        file["signatures"].as_array_mut().unwrap().push(sig);
        let err = Signed::<Snapshot>::from_bytes(serde_json::to_vec(&file).unwrap()).unwrap_err();
        assert!(matches!(err, TufError::DuplicateSignature { .. }), "{err}");
    }
}
