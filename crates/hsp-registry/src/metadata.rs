//! The top-level targets, snapshot and timestamp metadata of one build, and
//! the file layout of the TUF repository (consistent snapshots).
//!
//! ```text
//! metadata/N.root.json       every root version (clients walk the chain)
//! metadata/root.json         the newest root, for bootstrapping clients
//! metadata/V.targets.json    one delegation per publisher, then one to hsp-api
//! metadata/V.<publisher>.json the publisher's signed metadata, verbatim
//! metadata/V.hsp-api.json    delegates api/* to hash bins by path hash
//! metadata/V.hsp-api-XX-YY.json  a bin: the API files whose path's sha256
//!                            starts with XX..=YY
//! metadata/V.snapshot.json   the version of every targets role
//! metadata/timestamp.json    the snapshot's version, length and sha256
//! targets/<dir>/<sha256>.<name>  every target, content-addressed
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use hsp_index::RegistryConfig;
use hsp_tuf::{
    self as tuf, Delegations, Key, KeyId, MetaFile, RoleName, Signed, Signer, Snapshot, TargetFile,
    Targets, Timestamp, SPEC_VERSION,
};

use crate::bins::{self, API_ROLE};
use crate::clock;
use crate::publishers::PublisherRole;
use crate::trust::TopKeys;

pub const METADATA_DIR: &str = "metadata";
pub const TARGETS_DIR: &str = "targets";

/// `targets/<dir>/<sha256>.<name>` for target `path`.
pub fn target_file_path(path: &str, sha256: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, name)) => format!("{TARGETS_DIR}/{dir}/{sha256}.{name}"),
        None => format!("{TARGETS_DIR}/{sha256}.{path}"),
    }
}

/// The registry-signed targets roles of one build, snapshot and timestamp.
pub struct TopLevel {
    pub targets: Signed<Targets>,
    /// `hsp-api` then its bins, in name order: (role name, metadata).
    pub api_roles: Vec<(String, Signed<Targets>)>,
    pub snapshot: Signed<Snapshot>,
    pub timestamp: Signed<Timestamp>,
}

fn signers(keys: &[hsp_keys::PrivateKey]) -> Vec<&dyn Signer> {
    keys.iter().map(|k| k as &dyn Signer).collect()
}

/// Signs top-level targets (no targets of its own; delegating to `publishers`
/// in name order, then to [`API_ROLE`] for the `api` targets, split into hash
/// bins), snapshot and timestamp at version [`clock::version_at`]`(now)`. A
/// registry-signed targets role whose content equals what `previous` serves is
/// kept as it was (see [`sign_or_reuse`]), so clients re-download only what
/// changed.
pub fn sign_top_level(
    keys: &TopKeys,
    config: &RegistryConfig,
    api: BTreeMap<String, TargetFile>,
    publishers: &[PublisherRole],
    previous: &Previous,
    now: DateTime<Utc>,
) -> anyhow::Result<TopLevel> {
    let version = clock::version_at(now);
    let root = &keys.roots.last().expect("chain has a root").signed;
    let threshold = root.role(RoleName::Targets).map_or(1, |r| r.threshold);
    let registry_keys: BTreeMap<KeyId, Key> = keys
        .targets
        .iter()
        .map(|k| (k.key_id().clone(), k.public().clone()))
        .collect();
    let body = |targets, delegations: Option<Delegations>| Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: clock::plus_days(now, config.expiry.targets_days),
        targets,
        delegations,
    };
    let sign = |name: &str, targets: Targets| {
        sign_or_reuse(
            targets,
            &keys.targets,
            previous.roles.get(name),
            now,
            config.expiry.targets_days,
        )
    };

    let (api_delegations, bins) = bins::split(api, &registry_keys, threshold);
    let mut api_roles = vec![(
        API_ROLE.to_string(),
        sign(API_ROLE, body(BTreeMap::new(), Some(api_delegations)))?,
    )];
    for (role, targets) in bins {
        let metadata = sign(&role, body(targets, None))?;
        api_roles.push((role, metadata));
    }

    let mut delegated_keys = registry_keys.clone();
    let mut roles = Vec::new();
    for p in publishers {
        delegated_keys.extend(p.keys.iter().map(|(k, v)| (k.clone(), v.clone())));
        roles.push(p.delegation.clone());
    }
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    roles.push(bins::api_delegation(&registry_keys, threshold));
    let targets = sign(
        "targets",
        body(
            BTreeMap::new(),
            Some(Delegations {
                keys: delegated_keys,
                roles,
            }),
        ),
    )?;

    let mut versions = vec![("targets".to_string(), targets.signed.version)];
    versions.extend(
        publishers
            .iter()
            .map(|p| (p.delegation.name.clone(), p.version)),
    );
    versions.extend(api_roles.iter().map(|(n, m)| (n.clone(), m.signed.version)));
    let snapshot = sign_snapshot(keys, config, version, now, versions)?;
    let timestamp = sign_timestamp(&keys.timestamp, config, version, now, &snapshot)?;
    Ok(TopLevel {
        targets,
        api_roles,
        snapshot,
        timestamp,
    })
}

/// `body` signed with `keys`, or `previous` unchanged when it has the same
/// targets and delegations, is signed by every one of `keys`, and is not past
/// half its lifetime (`lifetime_days`) at `now`. Reusing keeps the role's
/// version, so clients that trust it download nothing.
pub fn sign_or_reuse(
    body: Targets,
    keys: &[hsp_keys::PrivateKey],
    previous: Option<&Signed<Targets>>,
    now: DateTime<Utc>,
    lifetime_days: u32,
) -> anyhow::Result<Signed<Targets>> {
    if let Some(prev) = previous {
        let fresh = prev.signed.expires > clock::plus_days(now, lifetime_days / 2);
        let same = prev.signed.targets == body.targets
            && prev.signed.delegations == body.delegations
            && prev.signed.spec_version == body.spec_version
            && prev.signed.version <= body.version;
        if fresh && same && signed_by_all(prev, keys) {
            return Ok(prev.clone());
        }
    }
    Ok(Signed::sign(body, &signers(keys))?)
}

/// Whether every key in `keys` has a valid signature on `metadata`.
fn signed_by_all(metadata: &Signed<Targets>, keys: &[hsp_keys::PrivateKey]) -> bool {
    keys.iter().all(|k| {
        let Ok(vk) = tuf::verifying_key(k.key_id(), k.public()) else {
            return false;
        };
        metadata.signatures.iter().any(|s| {
            &s.keyid == k.key_id() && tuf::verify_signature(&vk, metadata.canonical(), &s.sig)
        })
    })
}

/// The registry-signed targets roles the build in OUT serves now (top-level
/// `targets`, [`API_ROLE`] and its bins), by role name. Read best effort: a
/// missing or unreadable OUT gives none (everything is signed afresh).
#[derive(Default)]
pub struct Previous {
    pub roles: BTreeMap<String, Signed<Targets>>,
    /// The version of every targets role the served snapshot lists, by name.
    pub versions: BTreeMap<String, u64>,
}

impl Previous {
    pub fn read(out: &Path) -> Previous {
        let meta = out.join(METADATA_DIR);
        let read = |name: &str| std::fs::read(meta.join(name)).ok();
        let snapshot = served_snapshot(out).map(|(_, s)| s);
        let mut roles = BTreeMap::new();
        let mut versions = BTreeMap::new();
        for (file, m) in snapshot.iter().flat_map(|s| &s.signed.meta) {
            let Some(name) = file.strip_suffix(".json") else {
                continue;
            };
            versions.insert(name.to_string(), m.version);
            if name != "targets" && !bins::is_api_role(name) {
                continue;
            }
            let parsed = read(&format!("{}.{file}", m.version))
                .and_then(|b| Signed::<Targets>::from_bytes(b).ok());
            if let Some(role) = parsed.filter(|r| r.signed.version == m.version) {
                roles.insert(name.to_string(), role);
            }
        }
        Previous { roles, versions }
    }

    /// The API files the served build lists: path -> hex sha256.
    pub fn api_targets(&self) -> std::collections::HashMap<&str, &str> {
        self.roles
            .iter()
            .filter(|(name, _)| bins::is_api_role(name))
            .flat_map(|(_, m)| &m.signed.targets)
            .filter_map(|(path, t)| Some((path.as_str(), t.sha256()?)))
            .collect()
    }

    /// Whether the served build lists role `name` at `version`. Its targets
    /// were then all published (and flushed) before that build's commit point,
    /// and stay while this build references them too.
    pub fn serves(&self, name: &str, version: u64) -> bool {
        self.versions.get(name) == Some(&version)
    }
}

/// The snapshot the build in OUT serves now (`N.snapshot.json`, N as its
/// `timestamp.json` names it): file name and metadata, or `None` when OUT
/// holds no readable build.
pub fn served_snapshot(out: &Path) -> Option<(String, Signed<Snapshot>)> {
    let meta = out.join(METADATA_DIR);
    let read = |name: &str| std::fs::read(meta.join(name)).ok();
    let timestamp = Signed::<Timestamp>::from_bytes(read("timestamp.json")?).ok()?;
    let name = format!(
        "{}.snapshot.json",
        timestamp.signed.snapshot_meta()?.version
    );
    let snapshot = Signed::<Snapshot>::from_bytes(read(&name)?).ok()?;
    Some((name, snapshot))
}

fn sign_snapshot(
    keys: &TopKeys,
    config: &RegistryConfig,
    version: u64,
    now: DateTime<Utc>,
    roles: Vec<(String, u64)>,
) -> anyhow::Result<Signed<Snapshot>> {
    let meta = roles
        .into_iter()
        .map(|(name, version)| {
            let file = MetaFile {
                version,
                length: None,
                hashes: None,
            };
            (format!("{name}.json"), file)
        })
        .collect();
    let snapshot = Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: clock::plus_days(now, config.expiry.snapshot_days),
        meta,
    };
    Ok(Signed::sign(snapshot, &signers(&keys.snapshot))?)
}

/// Timestamp over `snapshot` (version, length, sha256).
pub fn sign_timestamp(
    keys: &[hsp_keys::PrivateKey],
    config: &RegistryConfig,
    version: u64,
    now: DateTime<Utc>,
    snapshot: &Signed<Snapshot>,
) -> anyhow::Result<Signed<Timestamp>> {
    let file = TargetFile::from_bytes(snapshot.raw());
    let timestamp = Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: clock::plus_days(now, config.expiry.timestamp_days),
        meta: BTreeMap::from([(
            "snapshot.json".to_string(),
            MetaFile {
                version: snapshot.signed.version,
                length: Some(file.length),
                hashes: Some(file.hashes),
            },
        )]),
    };
    Ok(Signed::sign(timestamp, &signers(keys))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_paths_are_content_addressed_in_their_folder() {
        for (path, expected) in [
            ("api/catalogue.json", "targets/api/h.catalogue.json"),
            ("services/a.b/1.0.json", "targets/services/a.b/h.1.0.json"),
            ("top.json", "targets/h.top.json"),
        ] {
            assert_eq!(target_file_path(path, "h"), expected);
        }
    }

    #[test]
    fn a_role_is_reused_only_when_unchanged_fresh_and_signed_by_the_current_keys() {
        use hsp_keys::PrivateKey;
        let now: DateTime<Utc> = "2026-11-26T00:00:00Z".parse().unwrap();
        let (key, other) = (PrivateKey::dev("a"), PrivateKey::dev("b"));
        let body = |version, days, file: &[u8]| Targets {
            type_: "targets".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: clock::plus_days(now, days),
            targets: BTreeMap::from([("api/x.json".to_string(), TargetFile::from_bytes(file))]),
            delegations: None,
        };
        let prev = Signed::sign(body(1, 30, b"x"), &[&key as &dyn Signer]).unwrap();
        let mut tampered: serde_json::Value = serde_json::from_slice(prev.raw()).unwrap();
        tampered["signed"]["targets"]["api/x.json"]["length"] = 2.into();
        let tampered =
            Signed::<Targets>::from_bytes(serde_json::to_vec(&tampered).unwrap()).unwrap();
        let by_other = Signed::sign(body(1, 30, b"x"), &[&other as &dyn Signer]).unwrap();
        let near_expiry = Signed::sign(body(1, 10, b"x"), &[&key as &dyn Signer]).unwrap();
        for (case, previous, new, reused) in [
            ("unchanged", Some(&prev), body(2, 30, b"x"), true),
            ("no previous", None, body(2, 30, b"x"), false),
            ("changed targets", Some(&prev), body(2, 30, b"y"), false),
            (
                "past half its lifetime",
                Some(&near_expiry),
                body(2, 30, b"x"),
                false,
            ),
            (
                "signed by another key",
                Some(&by_other),
                body(2, 30, b"x"),
                false,
            ),
            ("tampered in OUT", Some(&tampered), body(2, 30, b"x"), false),
        ] {
            let got = sign_or_reuse(new, std::slice::from_ref(&key), previous, now, 30).unwrap();
            assert_eq!(got.signed.version == 1, reused, "{case}");
            assert_eq!(
                got.raw() == prev.raw(),
                reused && case == "unchanged",
                "{case}"
            );
        }
    }
}
