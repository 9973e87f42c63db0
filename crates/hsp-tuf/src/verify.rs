//! Signature verification: key ids, one ed25519 signature, a role's threshold.
//!
//! [`Verified<T>`] can only be made here, by [`verify_role`] or [`verify_root`],
//! so a function that takes a `Verified<T>` knows its signatures were checked.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature as EdSignature, VerifyingKey};

use super::metadata::{Key, KeyId, Role, RoleKeys, RoleName, Root};
use super::{to_canonical, Signed, TufError};

/// TUF key id of `key`: hex sha256 of its canonical JSON
/// (`{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}`).
pub fn key_id(key: &Key) -> KeyId {
    let bytes = to_canonical(key).expect("a public key always encodes");
    KeyId(super::sha256_hex(&bytes))
}

/// The ed25519 public key of `key`, or why it is unusable.
pub fn verifying_key(keyid: &KeyId, key: &Key) -> Result<VerifyingKey, TufError> {
    if key.keytype != "ed25519" || key.scheme != "ed25519" {
        return Err(TufError::UnsupportedKey {
            keyid: keyid.to_string(),
            keytype: key.keytype.clone(),
            scheme: key.scheme.clone(),
        });
    }
    let bad = || TufError::BadPublicKey {
        keyid: keyid.to_string(),
    };
    let bytes: [u8; 32] = hex::decode(&key.keyval.public)
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

/// Whether `sig_hex` is a valid ed25519 signature of `message` by `key`
/// (strict verification: no malleable or small-order signatures).
pub fn verify_signature(key: &VerifyingKey, message: &[u8], sig_hex: &str) -> bool {
    let Ok(bytes) = hex::decode(sig_hex) else {
        return false;
    };
    let Ok(sig) = EdSignature::from_slice(&bytes) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

/// Number of distinct keys of `role_keys` (looked up in `keys`) with a valid
/// signature over `signed.canonical()`. Unknown key ids, unusable keys, bad
/// signatures and repeated keys are ignored, as the TUF spec says.
pub fn count_valid<T>(
    signed: &Signed<T>,
    keys: &BTreeMap<KeyId, Key>,
    role_keys: &RoleKeys,
) -> usize {
    let allowed: BTreeSet<&KeyId> = role_keys.keyids.iter().collect();
    let mut counted: BTreeSet<[u8; 32]> = BTreeSet::new();
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
        if !counted.contains(vk.as_bytes()) && verify_signature(&vk, signed.canonical(), &s.sig) {
            counted.insert(*vk.as_bytes());
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
}
