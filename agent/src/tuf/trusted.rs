//! The trusted metadata set: the steps of the TUF 1.0 detailed client
//! workflow (§5.3 to §5.6) that decide what to trust, with no I/O.
//!
//! Metadata is loaded in the order root → timestamp → snapshot → targets →
//! delegated targets. As in python-tuf's `TrustedMetadataSet`, a timestamp or
//! snapshot may be loaded as *intermediate* metadata (expired, or a snapshot
//! whose version does not match the timestamp yet): it then only serves as the
//! reference for rollback checks of the newer file that must replace it, and
//! nothing after it can be loaded until it does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hsp_index::tuf::{
    verify_role, verify_root, DelegatedRole, Hashes, MetaFile, Role, RoleKeys, RoleName, Root,
    Signed, Snapshot, Targets, Timestamp, TufError, Verified,
};
use sha2::Digest;

use super::error::UpdateError;

/// What happened to a timestamp offered to [`TrustedSet::update_timestamp`].
#[derive(Debug, PartialEq, Eq)]
pub enum TimestampUpdate {
    /// It replaced the trusted one (or there was none).
    Updated,
    /// Same version as the trusted one: the trusted one stays (§5.4.3.1).
    Unchanged,
}

/// The metadata trusted so far in one update.
pub struct TrustedSet {
    now: DateTime<Utc>,
    root: Verified<Root>,
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    /// Targets roles by name, with the name of the role that delegated them.
    targets: BTreeMap<String, (String, Verified<Targets>)>,
}

impl TrustedSet {
    /// Starts from a root trusted out of band (§5.2): it must be signed by its
    /// own root threshold; its expiry is checked after the root chain.
    /// `now` is the fixed update start time (§5.1).
    pub fn new(root: Vec<u8>, now: DateTime<Utc>) -> Result<TrustedSet, UpdateError> {
        let name = "root.json";
        let signed = parse::<Root>(name, root)?;
        let own = signed.signed.clone();
        let root = verify_root(signed, &own).map_err(|e| UpdateError::metadata(name, e))?;
        Ok(TrustedSet {
            now,
            root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    pub fn timestamp(&self) -> Option<&Verified<Timestamp>> {
        self.timestamp.as_ref()
    }

    pub fn snapshot(&self) -> Option<&Verified<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// A trusted targets role (`targets` or a delegated role's name).
    pub fn targets(&self, role: &str) -> Option<&Verified<Targets>> {
        self.targets.get(role).map(|(_, t)| t)
    }

    /// Whether `role` is trusted as delegated by `delegator`.
    pub fn has_targets(&self, role: &str, delegator: &str) -> bool {
        self.targets.get(role).is_some_and(|(d, _)| d == delegator)
    }

    /// §5.3.4–5.3.7: `bytes` must be root version N+1, signed by a threshold
    /// of the trusted root's keys and a threshold of its own keys. Its expiry
    /// does not matter yet.
    pub fn update_root(&mut self, bytes: Vec<u8>) -> Result<(), UpdateError> {
        assert!(self.timestamp.is_none(), "root is updated before timestamp");
        let expected = self.root.signed.version + 1;
        let name = format!("{expected}.root.json");
        let signed = parse::<Root>(&name, bytes)?;
        let new =
            verify_root(signed, &self.root.signed).map_err(|e| UpdateError::metadata(&name, e))?;
        if new.signed.version != expected {
            return Err(UpdateError::WrongVersion {
                name,
                expected: expected.to_string(),
                found: new.signed.version,
            });
        }
        self.root = new;
        Ok(())
    }

    /// §5.3.10: the final root must not be expired.
    pub fn check_final_root(&self) -> Result<(), UpdateError> {
        check_expiry(&self.root, "root.json", self.now)
    }

    /// §5.3.11: whether the timestamp or snapshot keys (or thresholds) differ
    /// between `initial` and the final root; the trusted timestamp and snapshot
    /// must then be dropped (fast-forward attack recovery).
    pub fn timestamp_or_snapshot_keys_rotated(&self, initial: &Root) -> bool {
        [RoleName::Timestamp, RoleName::Snapshot].iter().any(|r| {
            let key_set = |root: &Root| {
                root.role(*r).map(|rk| {
                    let mut ids: Vec<_> = rk
                        .keyids
                        .iter()
                        .map(|id| (id.clone(), root.keys.get(id).cloned()))
                        .collect();
                    ids.sort_by(|a, b| a.0.cmp(&b.0));
                    (ids, rk.threshold)
                })
            };
            key_set(initial) != key_set(&self.root.signed)
        })
    }

    /// §5.4: a new timestamp, signed by the root's timestamp keys, not older
    /// than the trusted one and not listing an older snapshot. An expired one
    /// is kept as intermediate (for rollback checks) and reported as an error.
    pub fn update_timestamp(&mut self, bytes: Vec<u8>) -> Result<TimestampUpdate, UpdateError> {
        assert!(
            self.snapshot.is_none(),
            "timestamp is updated before snapshot"
        );
        self.check_final_root()?;
        let name = "timestamp.json";
        let new = verify_top::<Timestamp>(&self.root.signed, RoleName::Timestamp, name, bytes)?;
        let new_meta = snapshot_meta(&new.signed)?.clone();
        if let Some(old) = &self.timestamp {
            if new.signed.version < old.signed.version {
                return Err(UpdateError::Rollback {
                    name: name.into(),
                    trusted: old.signed.version,
                    found: new.signed.version,
                });
            }
            if new.signed.version == old.signed.version {
                return Ok(TimestampUpdate::Unchanged);
            }
            let old_meta = snapshot_meta(&old.signed)?;
            if new_meta.version < old_meta.version {
                return Err(UpdateError::Rollback {
                    name: "snapshot.json (as listed in timestamp.json)".into(),
                    trusted: old_meta.version,
                    found: new_meta.version,
                });
            }
        }
        self.timestamp = Some(new);
        self.check_final_timestamp()?;
        Ok(TimestampUpdate::Updated)
    }

    /// §5.4.4: the trusted timestamp must not be expired.
    pub fn check_final_timestamp(&self) -> Result<(), UpdateError> {
        let ts = self.timestamp.as_ref().ok_or(UpdateError::NotRefreshed)?;
        check_expiry(ts, "timestamp.json", self.now)
    }

    /// §5.5: a new snapshot matching the timestamp's length and hashes (unless
    /// `trusted_bytes`: the bytes were verified before and stored by us),
    /// signed by the snapshot keys, dropping no role and rolling back no role
    /// version of the trusted snapshot. Kept as intermediate when expired or
    /// when its version is not the one the timestamp lists.
    pub fn update_snapshot(
        &mut self,
        bytes: Vec<u8>,
        trusted_bytes: bool,
    ) -> Result<(), UpdateError> {
        assert!(
            self.targets.is_empty(),
            "snapshot is updated before targets"
        );
        self.check_final_timestamp()?;
        let name = "snapshot.json";
        let ts = self.timestamp.as_ref().ok_or(UpdateError::NotRefreshed)?;
        let meta = snapshot_meta(&ts.signed)?.clone();
        if !trusted_bytes {
            check_meta(name, "timestamp.json", &bytes, &meta)?;
        }
        let new = verify_top::<Snapshot>(&self.root.signed, RoleName::Snapshot, name, bytes)?;
        if let Some(old) = &self.snapshot {
            for (file, old_info) in &old.signed.meta {
                let Some(new_info) = new.signed.meta.get(file) else {
                    return Err(UpdateError::SnapshotDropsRole {
                        version: new.signed.version,
                        name: file.clone(),
                    });
                };
                if new_info.version < old_info.version {
                    return Err(UpdateError::Rollback {
                        name: format!("{file} (as listed in snapshot.json)"),
                        trusted: old_info.version,
                        found: new_info.version,
                    });
                }
            }
        }
        self.snapshot = Some(new);
        self.check_final_snapshot()
    }

    /// §5.5.4, §5.5.6: the trusted snapshot is the version the timestamp
    /// lists and is not expired.
    pub fn check_final_snapshot(&self) -> Result<(), UpdateError> {
        let snap = self.snapshot.as_ref().ok_or(UpdateError::NotRefreshed)?;
        check_expiry(snap, "snapshot.json", self.now)?;
        let ts = self.timestamp.as_ref().ok_or(UpdateError::NotRefreshed)?;
        let expected = snapshot_meta(&ts.signed)?.version;
        if snap.signed.version != expected {
            return Err(UpdateError::WrongVersion {
                name: "snapshot.json".into(),
                expected: format!("{expected} (as listed in timestamp.json)"),
                found: snap.signed.version,
            });
        }
        Ok(())
    }

    /// The snapshot's entry for a targets role, used to choose the URL and
    /// length cap of its download.
    pub fn targets_meta(&self, role: &str) -> Result<&MetaFile, UpdateError> {
        let snap = self.snapshot.as_ref().ok_or(UpdateError::NotRefreshed)?;
        let file = format!("{role}.json");
        snap.signed.meta.get(&file).ok_or(UpdateError::NotListed {
            name: file,
            listed_by: "snapshot.json".into(),
        })
    }

    /// §5.6.1–5.6.5 (and the same for delegated roles): `bytes` must match the
    /// snapshot's length, hashes and version for `role`, be signed by the keys
    /// `delegator` (`root` for top-level targets) gives it, and not be expired.
    pub fn update_targets(
        &mut self,
        bytes: Vec<u8>,
        role: &str,
        delegator: &str,
    ) -> Result<(), UpdateError> {
        self.check_final_snapshot()?;
        let name = format!("{role}.json");
        let meta = self.targets_meta(role)?.clone();
        check_meta(&name, "snapshot.json", &bytes, &meta)?;
        let signed = parse::<Targets>(&name, bytes)?;
        let verified = if delegator == "root" {
            let rk = top_role(&self.root.signed, RoleName::Targets, &name)?;
            verify_role(signed, role, &self.root.signed.keys, rk)
        } else {
            let parent = self.targets(delegator).ok_or(UpdateError::NotRefreshed)?;
            let delegations = parent.signed.delegations.as_ref();
            let Some((keys, d)) = delegations.and_then(|ds| {
                ds.roles
                    .iter()
                    .find(|d| d.name == role)
                    .map(|d| (&ds.keys, d))
            }) else {
                return Err(UpdateError::NotListed {
                    name: role.into(),
                    listed_by: format!("the delegations of {delegator}.json"),
                });
            };
            verify_role(signed, role, keys, &d.role_keys())
        }
        .map_err(|e| UpdateError::metadata(&name, e))?;
        if verified.signed.version != meta.version {
            return Err(UpdateError::WrongVersion {
                name,
                expected: format!("{} (as listed in snapshot.json)", meta.version),
                found: verified.signed.version,
            });
        }
        check_expiry(&verified, &name, self.now)?;
        self.targets
            .insert(role.to_string(), (delegator.to_string(), verified));
        Ok(())
    }

    /// The delegations of a trusted targets role that cover `target_path`, in
    /// order (§5.6.7.2).
    pub fn delegations_for<'a>(
        &'a self,
        role: &str,
        target_path: &'a str,
    ) -> Vec<&'a DelegatedRole> {
        self.targets(role)
            .and_then(|t| t.signed.delegations.as_ref())
            .map(|d| d.roles.iter().filter(|r| r.matches(target_path)).collect())
            .unwrap_or_default()
    }
}

/// Roles whose `spec_version` can be checked (all of them).
pub trait SpecVersion {
    fn spec_version(&self) -> &str;
}

macro_rules! spec_version {
    ($($t:ty),*) => {$(
        impl SpecVersion for $t {
            fn spec_version(&self) -> &str {
                &self.spec_version
            }
        }
    )*};
}
spec_version!(Root, Targets, Snapshot, Timestamp);

/// Parses a metadata file of type `T` whose `spec_version` is 1.x.
fn parse<T: Role + SpecVersion>(name: &str, bytes: Vec<u8>) -> Result<Signed<T>, UpdateError> {
    let signed = Signed::<T>::from_bytes(bytes).map_err(|e| UpdateError::metadata(name, e))?;
    let spec = signed.signed.spec_version();
    if spec.split('.').next() != Some("1") {
        return Err(UpdateError::metadata(
            name,
            TufError::WrongType {
                expected: "spec_version 1.x",
                found: spec.to_string(),
            },
        ));
    }
    Ok(signed)
}

fn top_role<'a>(root: &'a Root, role: RoleName, name: &str) -> Result<&'a RoleKeys, UpdateError> {
    root.role(role).ok_or_else(|| UpdateError::NotListed {
        name: format!("{name} keys"),
        listed_by: "root.json".into(),
    })
}

fn verify_top<T: Role + SpecVersion>(
    root: &Root,
    role: RoleName,
    name: &str,
    bytes: Vec<u8>,
) -> Result<Verified<T>, UpdateError> {
    let rk = top_role(root, role, name)?;
    let signed = parse::<T>(name, bytes)?;
    verify_role(signed, role.as_str(), &root.keys, rk).map_err(|e| UpdateError::metadata(name, e))
}

fn snapshot_meta(ts: &Timestamp) -> Result<&MetaFile, UpdateError> {
    ts.snapshot_meta().ok_or(UpdateError::NotListed {
        name: "snapshot.json".into(),
        listed_by: "timestamp.json".into(),
    })
}

fn check_expiry<T: Role>(
    v: &Verified<T>,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), UpdateError> {
    v.check_expiry(name, now).map_err(|_| UpdateError::Expired {
        name: name.into(),
        expires: v.signed.expires().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

/// Checks `bytes` against the length and hashes a snapshot or timestamp entry
/// lists (each only when listed).
fn check_meta(
    name: &str,
    listed_by: &str,
    bytes: &[u8],
    meta: &MetaFile,
) -> Result<(), UpdateError> {
    if let Some(len) = meta.length {
        check_length(name, listed_by, bytes.len() as u64, len)?;
    }
    if let Some(hashes) = &meta.hashes {
        check_hashes(name, listed_by, bytes, hashes)?;
    }
    Ok(())
}

pub(crate) fn check_length(
    name: &str,
    listed_by: &str,
    actual: u64,
    expected: u64,
) -> Result<(), UpdateError> {
    if actual != expected {
        return Err(UpdateError::WrongLength {
            name: name.into(),
            listed_by: listed_by.into(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Every listed hash must match; sha256 and sha512 are supported.
pub(crate) fn check_hashes(
    name: &str,
    listed_by: &str,
    bytes: &[u8],
    hashes: &Hashes,
) -> Result<(), UpdateError> {
    for (algorithm, expected) in hashes {
        let actual = match algorithm.as_str() {
            "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
            "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
            _ => {
                return Err(UpdateError::UnsupportedHash {
                    name: name.into(),
                    algorithm: algorithm.clone(),
                })
            }
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(UpdateError::WrongHash {
                name: name.into(),
                listed_by: listed_by.into(),
                algorithm: algorithm.clone(),
            });
        }
    }
    Ok(())
}
