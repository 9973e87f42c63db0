//! The `signed` payloads of TUF 1.0 metadata, shaped exactly as the
//! specification and python-tuf write them.
//!
//! Role file names in a repository with consistent snapshots: `N.root.json`,
//! `N.targets.json`, `N.<delegated>.json`, `N.snapshot.json` and an unversioned
//! `timestamp.json`; targets are stored as `HASH.name` beside their path.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pattern::path_matches;

/// A public key in TUF's encoding (securesystemslib's: see [`super::verify`]
/// for the supported types). Fields it does not know (`keyid_hash_algorithms`
/// of older securesystemslib, `x-...` extensions) are tolerated, as TUF
/// requires: signatures cover the metadata as received, not this struct.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicKey {
    /// `ed25519`, `ecdsa` (or `ecdsa-sha2-nistp256`), `rsa`.
    pub keytype: String,
    /// `ed25519`, `ecdsa-sha2-nistp256`, `rsassa-pss-sha256`, `rsa-pkcs1v15-sha256`.
    pub scheme: String,
    /// `{"public": "<64 hex>"}` for ed25519, a PEM public key otherwise.
    pub keyval: KeyVal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyVal {
    pub public: String,
}

/// The key type of role metadata: the same shape as a publisher's key.
pub use PublicKey as Key;

/// The TUF specification version written in every role.
pub const SPEC_VERSION: &str = "1.0.31";

/// A key id: hex sha256 of the canonical JSON of the public key
/// (see [`super::key_id`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for KeyId {
    fn from(s: &str) -> Self {
        KeyId(s.to_string())
    }
}

pub use super::hashes::Hashes;

/// Common fields of every role's `signed` payload.
pub trait Role: Serialize + for<'de> Deserialize<'de> {
    /// The `_type` value: `root`, `targets`, `snapshot`, `timestamp`.
    const TYPE: &'static str;
    fn version(&self) -> u64;
    fn expires(&self) -> DateTime<Utc>;
}

/// Serde for `expires`: `YYYY-MM-DDTHH:MM:SSZ`, the only form python-tuf accepts.
pub mod expires_format {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format(FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(|reason| {
            serde::de::Error::custom(format!(
                "expires {s:?}: {reason}; write it as YYYY-MM-DDTHH:MM:SSZ \
                 (UTC, year 0001-9999, seconds 00-59)"
            ))
        })
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`: four-digit year 0001-9999,
    /// seconds 00-59 (no leap second, no fraction, no offset), as Python's
    /// `datetime.strptime` in python-tuf reads it.
    pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
        let b = s.as_bytes();
        let shape = b.len() == 20
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            });
        if !shape {
            return Err("not of the form YYYY-MM-DDTHH:MM:SSZ".into());
        }
        if &s[..4] == "0000" {
            return Err("year 0000 is out of range".into());
        }
        if &s[17..19] > "59" {
            return Err(format!("second {} is out of range", &s[17..19]));
        }
        NaiveDateTime::parse_from_str(s, FORMAT)
            .map(|n| n.and_utc())
            .map_err(|e| format!("not a valid date and time ({e})"))
    }
}

macro_rules! role_impl {
    ($t:ty, $name:literal) => {
        impl Role for $t {
            const TYPE: &'static str = $name;
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> DateTime<Utc> {
                self.expires
            }
        }
    };
}

/// The four top-level role names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleName {
    Root,
    Targets,
    Snapshot,
    Timestamp,
}

impl RoleName {
    pub const ALL: [RoleName; 4] = [
        RoleName::Root,
        RoleName::Targets,
        RoleName::Snapshot,
        RoleName::Timestamp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Root => "root",
            RoleName::Targets => "targets",
            RoleName::Snapshot => "snapshot",
            RoleName::Timestamp => "timestamp",
        }
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which keys sign a role and how many must.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    pub keyids: Vec<KeyId>,
    pub threshold: u32,
}

/// `root.json`: the keys of every top-level role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Root {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expires_format")]
    pub expires: DateTime<Utc>,
    pub consistent_snapshot: bool,
    pub keys: BTreeMap<KeyId, Key>,
    /// Keyed by `root`, `targets`, `snapshot`, `timestamp`.
    pub roles: BTreeMap<String, RoleKeys>,
}
role_impl!(Root, "root");

impl Root {
    /// The key list and threshold of a top-level role, if the root defines it.
    pub fn role(&self, name: RoleName) -> Option<&RoleKeys> {
        self.roles.get(name.as_str())
    }
}

/// `targets.json` or a delegated role's `<name>.json`: target files and delegations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expires_format")]
    pub expires: DateTime<Utc>,
    /// Target path (`/`-separated, relative) to its length and hashes.
    pub targets: BTreeMap<String, TargetFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
}
role_impl!(Targets, "targets");

/// A target file's length and hashes, and optional custom data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFile {
    pub length: u64,
    pub hashes: Hashes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<serde_json::Value>,
}

impl TargetFile {
    /// Length and sha256 of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> TargetFile {
        TargetFile {
            length: bytes.len() as u64,
            hashes: Hashes::from([("sha256".to_string(), super::sha256_hex(bytes))]),
            custom: None,
        }
    }

    /// The sha256 hex digest, if listed.
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}

/// Keys and roles a targets role delegates to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delegations {
    pub keys: BTreeMap<KeyId, Key>,
    /// In priority order.
    pub roles: Vec<DelegatedRole>,
}

/// One delegation: a role name, its keys, and the target paths it may sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    pub name: String,
    pub keyids: Vec<KeyId>,
    pub threshold: u32,
    pub terminating: bool,
    /// Shell-style patterns ([`path_matches`]); `*`, `?` and `[seq]` do not cross `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
}

impl DelegatedRole {
    /// Whether this delegation covers `target_path` (TUF 1.0 §5.6.7.2.1: the
    /// pattern and the path have the same number of `/` segments and each
    /// segment matches; or the path's sha256 starts with a hash prefix).
    pub fn matches(&self, target_path: &str) -> bool {
        if let Some(paths) = &self.paths {
            return paths.iter().any(|p| path_matches(p, target_path));
        }
        if let Some(prefixes) = &self.path_hash_prefixes {
            let h = super::sha256_hex(target_path.as_bytes());
            return prefixes.iter().any(|p| h.starts_with(p.as_str()));
        }
        false
    }

    /// The role's keys as a [`RoleKeys`].
    pub fn role_keys(&self) -> RoleKeys {
        RoleKeys {
            keyids: self.keyids.clone(),
            threshold: self.threshold,
        }
    }
}

/// A version (and optionally length and hashes) of a metadata file, as listed
/// in snapshot (`<role>.json`) and timestamp (`snapshot.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
}

/// `snapshot.json`: the version of every targets role's metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expires_format")]
    pub expires: DateTime<Utc>,
    /// Keyed by file name: `targets.json`, `<delegated>.json`.
    pub meta: BTreeMap<String, MetaFile>,
}
role_impl!(Snapshot, "snapshot");

/// `timestamp.json`: the current snapshot's version, length and hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expires_format")]
    pub expires: DateTime<Utc>,
    /// Exactly one entry, `snapshot.json`.
    pub meta: BTreeMap<String, MetaFile>,
}
role_impl!(Timestamp, "timestamp");

impl Timestamp {
    /// The `snapshot.json` entry.
    pub fn snapshot_meta(&self) -> Option<&MetaFile> {
        self.meta.get("snapshot.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns() {
        for (pattern, path, expected) in [
            (
                "services/org.hapifhir/*",
                "services/org.hapifhir/1.0.0.json",
                true,
            ),
            (
                "services/org.hapifhir.*/*",
                "services/org.hapifhir.server/7.4.json",
                true,
            ),
            (
                "services/org.hapifhir.*/*",
                "services/org.hapifhirx.server/7.4.json",
                false,
            ),
            (
                "services/org.hapifhir.*/*",
                "services/org.hapifhir.a/b/c.json",
                false,
            ),
            ("services/*", "services/a/b.json", false),
            ("api/*.json", "api/catalogue.json", true),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("*", "", true),
            ("*x*y", "axxbxy", true),
        ] {
            assert_eq!(path_matches(pattern, path), expected, "{pattern} vs {path}");
        }
    }

    #[test]
    fn expires_round_trip_and_strict_format() {
        let json = r#"{"_type":"timestamp","spec_version":"1.0.31","version":3,"expires":"2030-01-02T03:04:05Z","meta":{"snapshot.json":{"version":2}}}"#;
        let t: Timestamp = serde_json::from_str(json).unwrap();
        assert_eq!(t.snapshot_meta().unwrap().version, 2);
        assert_eq!(serde_json::to_string(&t).unwrap(), json);
        for (expires, reason) in [
            ("2030-01-02T03:04:05.5Z", "not of the form"),
            ("2030-01-02T03:04:05+00:00", "not of the form"),
            ("2030-01-02 03:04:05Z", "not of the form"),
            ("+10000-01-02T03:04:05Z", "not of the form"),
            ("10000-01-02T03:04:05Z", "not of the form"),
            ("2030-1-02T03:04:05Z", "not of the form"),
            ("0000-01-02T03:04:05Z", "year 0000"),
            ("2030-12-31T23:59:60Z", "second 60"),
            ("2030-02-30T03:04:05Z", "not a valid date"),
            ("2030-01-02T24:00:00Z", "not a valid date"),
        ] {
            let bad = json.replace("2030-01-02T03:04:05Z", expires);
            let err = serde_json::from_str::<Timestamp>(&bad).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(reason), "{expires}: {text}");
            assert!(text.contains("YYYY-MM-DDTHH:MM:SSZ"), "{expires}: {text}");
            assert!(text.contains("column"), "{expires}: {text}");
        }
        for ok in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            let text = json.replace("2030-01-02T03:04:05Z", ok);
            let t: Timestamp = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&t).unwrap(), text);
        }
    }

    #[test]
    fn keys_tolerate_unknown_fields() {
        let key = r#"{"keytype":"ed25519","scheme":"ed25519","keyid_hash_algorithms":["sha256","sha512"],"keyval":{"public":"ab","x-extra":1},"x-custom":{"a":[1]}}"#;
        let k: PublicKey = serde_json::from_str(key).unwrap();
        assert_eq!(k.keyval.public, "ab");
        assert_eq!(k.scheme, "ed25519");
    }
}
