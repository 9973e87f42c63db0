//! The checks the trusted set applies to one metadata file, with no state:
//! parsing (spec version 1.x), signatures of a top-level role, expiry, and the
//! length and hashes a parent lists.

use crate::{
    verify_role, Hashes, MetaFile, Role, RoleKeys, RoleName, Root, Signed, Snapshot, Targets,
    Timestamp, TufError, Verified,
};
use chrono::{DateTime, Utc};
use sha2::Digest;

use super::error::UpdateError;

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
pub(crate) fn parse<T: Role + SpecVersion>(
    name: &str,
    bytes: Vec<u8>,
) -> Result<Signed<T>, UpdateError> {
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

pub(crate) fn top_role<'a>(
    root: &'a Root,
    role: RoleName,
    name: &str,
) -> Result<&'a RoleKeys, UpdateError> {
    root.role(role).ok_or_else(|| UpdateError::NotListed {
        name: format!("{name} keys"),
        listed_by: "root.json".into(),
    })
}

pub(crate) fn verify_top<T: Role + SpecVersion>(
    root: &Root,
    role: RoleName,
    name: &str,
    bytes: Vec<u8>,
) -> Result<Verified<T>, UpdateError> {
    let rk = top_role(root, role, name)?;
    let signed = parse::<T>(name, bytes)?;
    verify_role(signed, role.as_str(), &root.keys, rk).map_err(|e| UpdateError::metadata(name, e))
}

pub(crate) fn snapshot_meta(ts: &Timestamp) -> Result<&MetaFile, UpdateError> {
    ts.snapshot_meta().ok_or(UpdateError::NotListed {
        name: "snapshot.json".into(),
        listed_by: "timestamp.json".into(),
    })
}

pub(crate) fn check_expiry<T: Role>(
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
pub(crate) fn check_meta(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_lengths_must_match_when_listed() {
        let bytes = b"hello";
        let sha = crate::sha256_hex(bytes);
        for (length, hashes, ok) in [
            (Some(5), Some(vec![("sha256", sha.as_str())]), true),
            (None, None, true),
            (Some(4), None, false),
            (None, Some(vec![("sha256", "00")]), false),
            (None, Some(vec![("md5", "00")]), false),
        ] {
            let meta = MetaFile {
                version: 1,
                length,
                hashes: hashes.map(|h| {
                    h.into_iter()
                        .map(|(a, d)| (a.to_string(), d.to_string()))
                        .collect()
                }),
            };
            assert_eq!(check_meta("x", "y", bytes, &meta).is_ok(), ok, "{meta:?}");
        }
    }
}
