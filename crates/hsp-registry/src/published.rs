//! What a built index serves (an OUT folder, or a verified mirror of one): the
//! documents of every publisher role its snapshot lists, each read from its
//! content-addressed file and checked against the signed sha256 and length;
//! and from the registry-signed API, each version's yank and every interface.
//!
//! The folder is read as `hsp build` reads its own OUT: the metadata is taken
//! as the build left it (a remote index is verified by `hsp mirror` into a
//! folder first), but no byte is used before it matched the metadata.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hsp_index::api::{InterfaceIndex, ServiceIndex};
use hsp_index::registry::PUBLISHERS_DIR;
use hsp_index::Interface;
use hsp_tuf::{Signed, TargetFile, Targets};

use crate::bins;
use crate::metadata::{served_snapshot, target_file_path, METADATA_DIR};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no built index there (no metadata/timestamp.json naming a readable snapshot)", path.display())]
    NotAnIndex { path: PathBuf },
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not what the metadata signs for {target} (length or sha256 differ)", path.display())]
    Mismatch { path: PathBuf, target: String },
    #[error("{}: not {what}: {message}", path.display())]
    Parse {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
}

/// The targets of a built index, by role.
pub struct Served {
    root: PathBuf,
    /// Every targets role the snapshot lists: name -> metadata.
    roles: BTreeMap<String, Signed<Targets>>,
}

/// A document target a publisher role signs.
pub struct ServedDocument<'a> {
    /// `services/<id>/<file>`.
    pub target: &'a str,
    /// The publisher (its role's name).
    pub publisher: &'a str,
    pub file: &'a TargetFile,
}

impl ServedDocument<'_> {
    /// Where the document was in the registry repo it was built from.
    pub fn repo_path(&self) -> String {
        format!("{PUBLISHERS_DIR}/{}/{}", self.publisher, self.target)
    }
}

impl Served {
    /// Reads the metadata of the build `root` serves now.
    pub fn read(root: &Path) -> Result<Served, Error> {
        let not_index = || Error::NotAnIndex {
            path: root.to_path_buf(),
        };
        let (_, snapshot) = served_snapshot(root).ok_or_else(not_index)?;
        let mut roles = BTreeMap::new();
        for (file, m) in &snapshot.signed.meta {
            let Some(name) = file.strip_suffix(".json") else {
                continue;
            };
            let path = root
                .join(METADATA_DIR)
                .join(format!("{}.{file}", m.version));
            let bytes = std::fs::read(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let role = Signed::<Targets>::from_bytes(bytes).map_err(|e| Error::Parse {
                path: path.clone(),
                what: "targets metadata",
                message: format!("{e:#}"),
            })?;
            roles.insert(name.to_string(), role);
        }
        Ok(Served {
            root: root.to_path_buf(),
            roles,
        })
    }

    /// The documents its publisher roles sign, by target path.
    pub fn documents(&self) -> impl Iterator<Item = ServedDocument<'_>> {
        self.roles
            .iter()
            .filter(|(name, _)| name.as_str() != "targets" && !bins::is_api_role(name))
            .flat_map(|(name, role)| {
                role.signed
                    .targets
                    .iter()
                    .map(move |(target, file)| ServedDocument {
                        target,
                        publisher: name,
                        file,
                    })
            })
    }

    /// The bytes of `target`, checked against `file`.
    pub fn read_target(&self, target: &str, file: &TargetFile) -> Result<Vec<u8>, Error> {
        let sha256 = file.sha256().unwrap_or_default();
        let path = self.root.join(target_file_path(target, sha256));
        let bytes = std::fs::read(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        if bytes.len() as u64 != file.length || hsp_tuf::sha256_hex(&bytes) != sha256 {
            return Err(Error::Mismatch {
                path,
                target: target.to_string(),
            });
        }
        Ok(bytes)
    }

    /// An API file (`api/...`), parsed.
    fn api<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Error> {
        let file = self
            .roles
            .iter()
            .filter(|(name, _)| bins::is_api_role(name))
            .find_map(|(_, role)| role.signed.targets.get(path));
        let Some(file) = file else {
            return Ok(None);
        };
        let bytes = self.read_target(path, file)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Parse {
                path: self.root.join(path),
                what: "an API file",
                message: e.to_string(),
            })
    }

    /// Each version's yank as the registry published it (the publisher's or
    /// the maintainers'), by document target path.
    pub fn yanks(&self) -> Result<BTreeMap<String, String>, Error> {
        let mut ids: Vec<&str> = self
            .documents()
            .filter_map(|d| d.target.strip_prefix("services/")?.split_once('/'))
            .map(|(id, _)| id)
            .collect();
        ids.dedup();
        let mut out = BTreeMap::new();
        for id in ids {
            let index: Option<ServiceIndex> = self.api(&hsp_index::api::service_path(id))?;
            for v in index.into_iter().flat_map(|i| i.versions) {
                if let Some(reason) = v.yanked {
                    out.insert(v.target, reason);
                }
            }
        }
        Ok(out)
    }

    /// The interfaces the API lists, by id.
    pub fn interfaces(&self) -> Result<BTreeMap<String, Interface>, Error> {
        let catalogue: Option<hsp_index::api::Catalogue> =
            self.api(hsp_index::api::CATALOGUE_PATH)?;
        let mut out = BTreeMap::new();
        for entry in catalogue.into_iter().flat_map(|c| c.interfaces) {
            let index: Option<InterfaceIndex> =
                self.api(&hsp_index::api::interface_path(&entry.id))?;
            if let Some(i) = index {
                out.insert(entry.id, i.interface);
            }
        }
        Ok(out)
    }
}
