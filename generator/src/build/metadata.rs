//! The top-level targets, snapshot and timestamp metadata of one build, and
//! the file layout of the TUF repository (consistent snapshots).
//!
//! ```text
//! metadata/N.root.json       every root version (clients walk the chain)
//! metadata/root.json         the newest root, for bootstrapping clients
//! metadata/V.targets.json    API files as targets; one delegation per publisher
//! metadata/V.<publisher>.json the publisher's signed metadata, verbatim
//! metadata/V.snapshot.json   the version of every targets role
//! metadata/timestamp.json    the snapshot's version, length and sha256
//! targets/<dir>/<sha256>.<name>  every target, content-addressed
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hsp_index::tuf::{
    Delegations, MetaFile, Signed, Signer, Snapshot, TargetFile, Targets, Timestamp, SPEC_VERSION,
};
use hsp_index::RegistryConfig;

use super::publishers::PublisherRole;
use super::trust::TopKeys;
use crate::clock;

pub const METADATA_DIR: &str = "metadata";
pub const TARGETS_DIR: &str = "targets";

/// `targets/<dir>/<sha256>.<name>` for target `path`.
pub fn target_file_path(path: &str, sha256: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, name)) => format!("{TARGETS_DIR}/{dir}/{sha256}.{name}"),
        None => format!("{TARGETS_DIR}/{sha256}.{path}"),
    }
}

/// The signed top-level roles of one build.
pub struct TopLevel {
    pub targets: Signed<Targets>,
    pub snapshot: Signed<Snapshot>,
    pub timestamp: Signed<Timestamp>,
}

fn signers(keys: &[hsp_keys::PrivateKey]) -> Vec<&dyn Signer> {
    keys.iter().map(|k| k as &dyn Signer).collect()
}

/// Signs targets (listing `api` targets and delegating to `publishers`, in name
/// order), snapshot and timestamp, all at version [`clock::version_at`]`(now)`.
pub fn sign_top_level(
    keys: &TopKeys,
    config: &RegistryConfig,
    api: BTreeMap<String, TargetFile>,
    publishers: &[PublisherRole],
    now: DateTime<Utc>,
) -> anyhow::Result<TopLevel> {
    let version = clock::version_at(now);
    let mut delegated_keys = BTreeMap::new();
    let mut roles = Vec::new();
    for p in publishers {
        delegated_keys.extend(p.keys.iter().map(|(k, v)| (k.clone(), v.clone())));
        roles.push(p.delegation.clone());
    }
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let targets = Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: clock::plus_days(now, config.expiry.targets_days),
        targets: api,
        delegations: Some(Delegations {
            keys: delegated_keys,
            roles,
        }),
    };
    let targets = Signed::sign(targets, &signers(&keys.targets))?;
    let snapshot = sign_snapshot(keys, config, version, now, &targets, publishers)?;
    let timestamp = sign_timestamp(&keys.timestamp, config, version, now, &snapshot)?;
    Ok(TopLevel {
        targets,
        snapshot,
        timestamp,
    })
}

fn sign_snapshot(
    keys: &TopKeys,
    config: &RegistryConfig,
    version: u64,
    now: DateTime<Utc>,
    targets: &Signed<Targets>,
    publishers: &[PublisherRole],
) -> anyhow::Result<Signed<Snapshot>> {
    let meta_version = |version| MetaFile {
        version,
        length: None,
        hashes: None,
    };
    let mut meta = BTreeMap::new();
    meta.insert(
        "targets.json".to_string(),
        meta_version(targets.signed.version),
    );
    for p in publishers {
        meta.insert(
            format!("{}.json", p.delegation.name),
            meta_version(p.metadata.signed.version),
        );
    }
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
}
