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

use crate::{
    verify_role, verify_root, DelegatedRole, MetaFile, RoleName, Root, Snapshot, Targets,
    Timestamp, Verified,
};
use chrono::{DateTime, Utc};

use super::checks::{check_expiry, check_meta, parse, snapshot_meta, top_role, verify_top};
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
    /// Targets roles by name: the role that delegated them, the snapshot
    /// entry they were checked against, the role.
    targets: BTreeMap<String, TargetsEntry>,
    /// What a previous update of this process verified under the same root,
    /// offered again by the `resume_*` methods so that a poll where nothing
    /// changed re-verifies nothing.
    carried: Option<Carried>,
    /// Whether expiry is checked: always, except in a set made by
    /// [`TrustedSet::last_verified`] (browsing, never planning).
    expiry: Expiry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    Enforced,
    /// Roles are verified by signatures, versions and hashes only.
    Ignored,
}

type TargetsEntry = (String, MetaFile, Verified<Targets>);

struct Carried {
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    targets: BTreeMap<String, TargetsEntry>,
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
            carried: None,
            expiry: Expiry::Enforced,
        })
    }

    /// A set for reading the metadata earlier updates persisted when a
    /// refresh cannot be done (the index expired or is unreachable): every
    /// role is verified as [`TrustedSet::new`]'s are, signatures, versions,
    /// lengths and hashes, but expiry is not checked (see
    /// [`TrustedSet::expired`]). Only [`super::LastVerified`] builds one, and
    /// it can only browse: it has no refresh and is no [`super::Updater`].
    pub(crate) fn last_verified(
        root: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<TrustedSet, UpdateError> {
        let mut set = TrustedSet::new(root, now)?;
        set.expiry = Expiry::Ignored;
        Ok(set)
    }

    /// The top-level roles of this set that are expired at its start time,
    /// with their expiry (`timestamp.json`, `2026-12-05T10:00:00Z`), root first.
    pub fn expired(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut add = |r: Result<(), UpdateError>| {
            if let Err(UpdateError::Expired { name, expires }) = r {
                out.push((name, expires));
            }
        };
        add(check_expiry(&self.root, "root.json", self.now));
        if let Some(t) = &self.timestamp {
            add(check_expiry(t, "timestamp.json", self.now));
        }
        if let Some(s) = &self.snapshot {
            add(check_expiry(s, "snapshot.json", self.now));
        }
        if let Some(t) = self.targets("targets") {
            add(check_expiry(t, "targets.json", self.now));
        }
        out
    }

    /// Expiry as this set checks it (§5.3.10, §5.4.4, §5.5.6, §5.6.4).
    fn check_expiry<T: crate::Role>(&self, v: &Verified<T>, name: &str) -> Result<(), UpdateError> {
        match self.expiry {
            Expiry::Enforced => check_expiry(v, name, self.now),
            Expiry::Ignored => Ok(()),
        }
    }

    /// Starts a new update (at `now`) from the set a previous update of this
    /// process ended with: its root is the trusted root, and its timestamp,
    /// snapshot and targets roles can be taken over with the `resume_*`
    /// methods (as if read back from disk, without re-verifying signatures
    /// they already passed under this same root) until the root changes.
    ///
    /// Only the top-level targets role is carried over: delegated roles are
    /// read back from the metadata directory when a lookup needs them again,
    /// so a long-running agent holds no more than one update needs.
    pub fn resume(mut prev: TrustedSet, now: DateTime<Utc>) -> TrustedSet {
        let targets = prev
            .targets
            .remove_entry("targets")
            .into_iter()
            .collect::<BTreeMap<_, _>>();
        TrustedSet {
            now,
            root: prev.root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
            expiry: prev.expiry,
            carried: Some(Carried {
                timestamp: prev.timestamp,
                snapshot: prev.snapshot,
                targets,
            }),
        }
    }

    /// Whether roles of a previous update can still be resumed (the root has
    /// not changed since).
    pub fn can_resume(&self) -> bool {
        self.carried.is_some()
    }

    /// Takes over the previous timestamp as the trusted one (for rollback
    /// checks and the 304 of an unchanged timestamp), like a stored file.
    pub fn resume_timestamp(&mut self) -> bool {
        assert!(
            self.snapshot.is_none(),
            "timestamp is resumed before snapshot"
        );
        if let Some(ts) = self.carried.as_mut().and_then(|c| c.timestamp.take()) {
            self.timestamp = Some(ts);
            return true;
        }
        false
    }

    /// Takes over the previous snapshot; `Ok(true)` when it is final (the
    /// version the timestamp lists, not expired), an error when it is only
    /// intermediate (kept for rollback checks), `Ok(false)` when there is none.
    pub fn resume_snapshot(&mut self) -> Result<bool, UpdateError> {
        self.check_final_timestamp()?;
        let Some(snap) = self.carried.as_mut().and_then(|c| c.snapshot.take()) else {
            return Ok(false);
        };
        self.snapshot = Some(snap);
        self.check_final_snapshot().map(|()| true)
    }

    /// Takes over a previous targets role when the snapshot lists it exactly
    /// as when it was verified, it was delegated by the same role, and it has
    /// not expired.
    pub fn resume_targets(&mut self, role: &str, delegator: &str) -> bool {
        if self.check_final_snapshot().is_err() {
            return false;
        }
        let Ok(meta) = self.targets_meta(role).cloned() else {
            return false;
        };
        let Some(entry) = self.carried.as_mut().and_then(|c| c.targets.remove(role)) else {
            return false;
        };
        let name = format!("{role}.json");
        if entry.0 != delegator || entry.1 != meta || self.check_expiry(&entry.2, &name).is_err() {
            return false;
        }
        self.targets.insert(role.to_string(), entry);
        true
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
        self.targets.get(role).map(|(_, _, t)| t)
    }

    /// Drops the delegated targets roles for which `keep` is false (the
    /// top-level targets role always stays).
    pub fn retain_delegated(&mut self, keep: impl Fn(&str) -> bool) {
        self.targets
            .retain(|role, _| role == "targets" || keep(role));
    }

    /// Whether `role` is trusted as delegated by `delegator`.
    pub fn has_targets(&self, role: &str, delegator: &str) -> bool {
        self.targets
            .get(role)
            .is_some_and(|(d, _, _)| d == delegator)
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
        // Roles verified under the previous root are verified again.
        self.carried = None;
        Ok(())
    }

    /// §5.3.10: the final root must not be expired.
    pub fn check_final_root(&self) -> Result<(), UpdateError> {
        self.check_expiry(&self.root, "root.json")
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
        self.check_expiry(ts, "timestamp.json")
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
        self.check_expiry(snap, "snapshot.json")?;
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
        self.check_expiry(&verified, &name)?;
        self.targets
            .insert(role.to_string(), (delegator.to_string(), meta, verified));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::payloads::TestKey as PrivateKey;
    use crate::{Role, RoleKeys, Signed, Signer, SPEC_VERSION};

    use super::*;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::new(seed)
    }

    fn at(days: i64) -> DateTime<Utc> {
        let now = "2030-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        now + chrono::Duration::days(days)
    }

    /// A root where `keys[role]` signs each top-level role (threshold 1).
    fn root(version: u64, keys: &[(&str, &PrivateKey)]) -> Root {
        let mut roles = BTreeMap::new();
        let mut all = BTreeMap::new();
        for (role, k) in keys {
            all.insert(k.key_id().clone(), k.public().clone());
            roles.insert(
                role.to_string(),
                RoleKeys {
                    keyids: vec![k.key_id().clone()],
                    threshold: 1,
                },
            );
        }
        Root {
            type_: "root".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: at(365),
            consistent_snapshot: true,
            keys: all,
            roles,
        }
    }

    fn sign<T: Role>(value: T, signers: &[&PrivateKey]) -> Vec<u8> {
        let signers: Vec<&dyn Signer> = signers.iter().map(|k| *k as &dyn Signer).collect();
        Signed::sign(value, &signers).unwrap().into_raw()
    }

    fn timestamp(version: u64, snapshot: u64, expires: i64) -> Timestamp {
        Timestamp {
            type_: "timestamp".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: at(expires),
            meta: BTreeMap::from([(
                "snapshot.json".to_string(),
                MetaFile {
                    version: snapshot,
                    length: None,
                    hashes: None,
                },
            )]),
        }
    }

    fn snapshot(version: u64, roles: &[(&str, u64)]) -> Snapshot {
        Snapshot {
            type_: "snapshot".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: at(30),
            meta: roles
                .iter()
                .map(|(r, v)| {
                    let info = MetaFile {
                        version: *v,
                        length: None,
                        hashes: None,
                    };
                    (format!("{r}.json"), info)
                })
                .collect(),
        }
    }

    struct Keys {
        root: PrivateKey,
        ts: PrivateKey,
        snap: PrivateKey,
        targets: PrivateKey,
    }

    fn keys() -> Keys {
        Keys {
            root: key(1),
            ts: key(2),
            snap: key(3),
            targets: key(4),
        }
    }

    fn root_of(k: &Keys, version: u64) -> Root {
        root(
            version,
            &[
                ("root", &k.root),
                ("timestamp", &k.ts),
                ("snapshot", &k.snap),
                ("targets", &k.targets),
            ],
        )
    }

    fn set(k: &Keys) -> TrustedSet {
        TrustedSet::new(sign(root_of(k, 1), &[&k.root]), at(0)).unwrap()
    }

    #[test]
    fn root_chain_needs_next_version_and_both_thresholds() {
        let k = keys();
        let new_root_key = key(9);
        let mut rotated = root_of(&k, 2);
        rotated
            .keys
            .insert(new_root_key.key_id().clone(), new_root_key.public().clone());
        rotated.roles.get_mut("root").unwrap().keyids = vec![new_root_key.key_id().clone()];
        // (offered root, signers, accepted)
        let cases: Vec<(Root, Vec<&PrivateKey>, bool)> = vec![
            (root_of(&k, 2), vec![&k.root], true),
            (root_of(&k, 3), vec![&k.root], false),
            (root_of(&k, 1), vec![&k.root], false),
            (rotated.clone(), vec![&k.root, &new_root_key], true),
            (rotated.clone(), vec![&new_root_key], false),
            (rotated, vec![&k.root], false),
            (root_of(&k, 2), vec![&k.ts], false),
        ];
        for (i, (offered, signers, ok)) in cases.into_iter().enumerate() {
            let mut s = set(&k);
            let result = s.update_root(sign(offered, &signers));
            assert_eq!(result.is_ok(), ok, "case {i}: {result:?}");
            assert_eq!(s.root().signed.version, if ok { 2 } else { 1 }, "case {i}");
        }
    }

    #[test]
    fn timestamp_rollback_equal_version_and_expiry() {
        let k = keys();
        // Trusted: timestamp 5 listing snapshot 5. (offered, outcome)
        let cases: Vec<(Timestamp, &str)> = vec![
            (timestamp(4, 5, 1), "rollback"),
            (timestamp(5, 5, 1), "unchanged"),
            (timestamp(6, 4, 1), "rollback"),
            (timestamp(6, 5, 1), "updated"),
            (timestamp(6, 6, -1), "expired"),
        ];
        for (i, (offered, outcome)) in cases.into_iter().enumerate() {
            let mut s = set(&k);
            s.update_timestamp(sign(timestamp(5, 5, 1), &[&k.ts]))
                .unwrap();
            let got = match s.update_timestamp(sign(offered, &[&k.ts])) {
                Ok(TimestampUpdate::Updated) => "updated",
                Ok(TimestampUpdate::Unchanged) => "unchanged",
                Err(UpdateError::Rollback { .. }) => "rollback",
                Err(UpdateError::Expired { .. }) => "expired",
                Err(e) => panic!("case {i}: {e}"),
            };
            assert_eq!(got, outcome, "case {i}");
        }
        // Signed by the wrong key: rejected.
        let mut s = set(&k);
        assert!(s
            .update_timestamp(sign(timestamp(1, 1, 1), &[&k.snap]))
            .is_err());
    }

    #[test]
    fn a_last_verified_set_ignores_expiry_but_not_signatures_or_versions() {
        let k = keys();
        let expired = timestamp(2, 2, -1);
        let mut enforced = set(&k);
        let err = enforced.update_timestamp(sign(expired.clone(), &[&k.ts]));
        assert!(matches!(err, Err(UpdateError::Expired { .. })), "{err:?}");

        let root = sign(root_of(&k, 1), &[&k.root]);
        let mut stale = TrustedSet::last_verified(root.clone(), at(0)).unwrap();
        stale
            .update_timestamp(sign(expired.clone(), &[&k.ts]))
            .unwrap();
        assert_eq!(
            stale.expired(),
            vec![(
                "timestamp.json".to_string(),
                "2029-12-31T00:00:00Z".to_string()
            )]
        );
        // Still refused: the wrong key, and a snapshot other than the listed one.
        let mut wrong_key = TrustedSet::last_verified(root, at(0)).unwrap();
        assert!(wrong_key
            .update_timestamp(sign(expired, &[&k.snap]))
            .is_err());
        let wrong_version = stale.update_snapshot(sign(snapshot(1, &[]), &[&k.snap]), true);
        assert!(
            matches!(wrong_version, Err(UpdateError::WrongVersion { .. })),
            "{wrong_version:?}"
        );
    }

    #[test]
    fn snapshot_may_not_drop_or_roll_back_roles() {
        let k = keys();
        // Trusted: snapshot 1 listing targets 3 and acme 2. (offered roles, ok)
        let cases: Vec<(Vec<(&str, u64)>, bool)> = vec![
            (vec![("targets", 3), ("acme", 2)], true),
            (vec![("targets", 4), ("acme", 2), ("new", 1)], true),
            (vec![("targets", 2), ("acme", 2)], false),
            (vec![("targets", 3), ("acme", 1)], false),
            (vec![("targets", 3)], false),
        ];
        for (i, (roles, ok)) in cases.into_iter().enumerate() {
            // As in a refresh: the new timestamp lists snapshot 2; the stored
            // snapshot 1 loads as intermediate (not final: wrong version) and
            // is the reference for the rollback checks of the new one.
            let mut s = set(&k);
            s.update_timestamp(sign(timestamp(2, 2, 1), &[&k.ts]))
                .unwrap();
            let trusted = snapshot(1, &[("targets", 3), ("acme", 2)]);
            let stored = s.update_snapshot(sign(trusted, &[&k.snap]), true);
            assert!(
                matches!(stored, Err(UpdateError::WrongVersion { .. })),
                "{stored:?}"
            );
            let result = s.update_snapshot(sign(snapshot(2, &roles), &[&k.snap]), false);
            assert_eq!(result.is_ok(), ok, "case {i}: {result:?}");
        }
    }

    #[test]
    fn key_rotation_of_timestamp_or_snapshot_is_detected() {
        let k = keys();
        let initial = root_of(&k, 1);
        let other = key(7);
        for (role, rotated) in [
            ("timestamp", true),
            ("snapshot", true),
            ("targets", false),
            ("root", false),
        ] {
            let mut s = set(&k);
            let mut next = root_of(&k, 2);
            next.keys
                .insert(other.key_id().clone(), other.public().clone());
            next.roles.get_mut(role).unwrap().keyids = vec![other.key_id().clone()];
            let signers: Vec<&PrivateKey> = if role == "root" {
                vec![&k.root, &other]
            } else {
                vec![&k.root]
            };
            s.update_root(sign(next, &signers)).unwrap();
            assert_eq!(
                s.timestamp_or_snapshot_keys_rotated(&initial),
                rotated,
                "{role}"
            );
        }
    }
}
