//! The registry's API roles: `hsp-api`, delegated `api/*` by the top-level
//! targets role, splits the API files over hash bins (`hsp-api-XX-YY`, TUF
//! `path_hash_prefixes`) so that a client looking up one API file downloads
//! one small bin, and a change to one API file re-signs one bin.
//!
//! **Invariant:** every API file lies in exactly one bin, chosen by the first
//! byte of the sha256 of its target path; bin count is a power of two, so
//! each bin covers a contiguous range of 2-hex-digit prefixes.

use std::collections::BTreeMap;

use hsp_tuf::{self as tuf, DelegatedRole, Delegations, Key, KeyId, TargetFile};

/// The role the top-level targets role delegates the API files to.
pub const API_ROLE: &str = "hsp-api";

/// Target paths [`API_ROLE`] may sign (`hsp_index::api` paths).
const API_PATHS: [&str; 3] = ["api/*.json", "api/services/*.json", "api/interfaces/*.json"];

/// About this many API files per bin, at most (fewer bins give a smaller
/// snapshot; smaller bins give cheaper lookups and re-signs).
const FILES_PER_BIN: usize = 256;

/// Whether `name` is [`API_ROLE`] or one of its bins (reserved: no publisher
/// may take these names).
pub fn is_api_role(name: &str) -> bool {
    name == API_ROLE || name.starts_with("hsp-api-")
}

/// The delegation from top-level targets to [`API_ROLE`].
pub fn api_delegation(keys: &BTreeMap<KeyId, Key>, threshold: u32) -> DelegatedRole {
    DelegatedRole {
        name: API_ROLE.into(),
        keyids: keys.keys().cloned().collect(),
        threshold,
        terminating: true,
        paths: Some(API_PATHS.iter().map(|p| p.to_string()).collect()),
        path_hash_prefixes: None,
    }
}

/// How many bins for `files` API files: a power of two from 1 to 256.
fn bin_count(files: usize) -> usize {
    files
        .div_ceil(FILES_PER_BIN)
        .next_power_of_two()
        .clamp(1, 256)
}

/// A bin's role name and targets.
pub type Bin = (String, BTreeMap<String, TargetFile>);

/// Splits `api` into bins: [`API_ROLE`]'s delegations (keys `keys`) and each
/// bin's name and targets, in name order.
pub fn split(
    api: BTreeMap<String, TargetFile>,
    keys: &BTreeMap<KeyId, Key>,
    threshold: u32,
) -> (Delegations, Vec<Bin>) {
    let count = bin_count(api.len());
    let width = 256 / count;
    let mut bins: Vec<Bin> = (0..count)
        .map(|i| {
            let (first, last) = (i * width, (i + 1) * width - 1);
            (
                format!("{API_ROLE}-{first:02x}-{last:02x}"),
                BTreeMap::new(),
            )
        })
        .collect();
    for (path, file) in api {
        let hash = tuf::sha256_hex(path.as_bytes());
        let first_byte = usize::from_str_radix(&hash[..2], 16).expect("hex digest");
        bins[first_byte / width].1.insert(path, file);
    }
    let roles = (0..count)
        .map(|i| DelegatedRole {
            name: bins[i].0.clone(),
            keyids: keys.keys().cloned().collect(),
            threshold,
            terminating: true,
            paths: None,
            path_hash_prefixes: Some(
                (i * width..(i + 1) * width)
                    .map(|p| format!("{p:02x}"))
                    .collect(),
            ),
        })
        .collect();
    let delegations = Delegations {
        keys: keys.clone(),
        roles,
    };
    (delegations, bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_counts_are_powers_of_two_with_at_most_256_files_each() {
        for (files, bins) in [
            (0, 1),
            (1, 1),
            (256, 1),
            (257, 2),
            (10_010, 64),
            (10_000_000, 256),
        ] {
            assert_eq!(bin_count(files), bins, "{files} files");
        }
    }

    #[test]
    fn every_file_lies_in_the_one_bin_whose_prefixes_match_its_path_hash() {
        let api: BTreeMap<String, TargetFile> = (0..1000)
            .map(|i| {
                (
                    format!("api/services/s{i}.json"),
                    TargetFile::from_bytes(b"{}"),
                )
            })
            .collect();
        let (delegations, bins) = split(api.clone(), &BTreeMap::new(), 1);
        assert_eq!(bins.len(), 4);
        assert_eq!(delegations.roles.len(), 4);
        assert_eq!(bins.iter().map(|(_, t)| t.len()).sum::<usize>(), api.len());
        for path in api.keys() {
            let matching: Vec<&str> = delegations
                .roles
                .iter()
                .filter(|r| r.matches(path))
                .map(|r| r.name.as_str())
                .collect();
            assert_eq!(matching.len(), 1, "{path}: {matching:?}");
            let (_, targets) = bins.iter().find(|(n, _)| n == matching[0]).unwrap();
            assert!(targets.contains_key(path));
        }
        assert_eq!(bins[0].0, "hsp-api-00-3f");
        assert_eq!(bins[3].0, "hsp-api-c0-ff");
    }

    #[test]
    fn the_api_role_covers_every_api_path_and_nothing_else() {
        let d = api_delegation(&BTreeMap::new(), 1);
        for (path, covered) in [
            ("api/catalogue.json", true),
            ("api/services/com.acme.x.json", true),
            ("api/interfaces/org.hl7.fhir.r4.json", true),
            ("services/com.acme.x/1.0.0.json", false),
            ("api/services/a/b.json", false),
        ] {
            assert_eq!(d.matches(path), covered, "{path}");
        }
    }
}
