//! The verified index as the rest of the agent reads it: a site's state
//! directory ([`StateDir`]) and the JSON API targets loaded lazily through
//! the TUF [`Updater`] ([`Catalog`]).
//!
//! ```text
//! <state>/index.json     {"url": "<index base>"}: where the index is
//! <state>/metadata/      trusted TUF metadata (root.json, timestamp.json, ...)
//! <state>/targets/       verified target files, named by percent-encoded path
//! <index>/metadata/      the repository's metadata (`hsp build` output)
//! <index>/targets/       the repository's targets
//! ```
//!
//! **Invariant:** every byte a [`Catalog`] returns was verified against the
//! trusted metadata (hash and length from a signed targets role).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hsp_index::api::{self, Catalogue, InterfaceIndex, ServiceIndex};
use hsp_index::registry::document_target_path;
use hsp_index::Document;
use serde::{Deserialize, Serialize};

use hsp_planner::{IndexSource, SourceError};
use hsp_tuf::client::{fetch, updater_for, UpdateError, Updater};

/// Why the state directory or a catalogue file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: cannot read the state directory's index.json (hint: run `hsp-agent init --state {} --root ROOT --index URL`)", .path.parent().unwrap_or(Path::new(".")).display())]
    NoState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid index.json")]
    BadState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{dir}: already trusts a root (hint: pass --force to replace the trust anchor)")]
    AlreadyInitialized { dir: PathBuf },
    #[error("the state directory names no index location (hint: pass --index URL)")]
    NoIndex,
    #[error("updating the index")]
    Update(#[from] UpdateError),
    #[error("{target}: verified, but not valid JSON of this kind")]
    Parse {
        target: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: cannot write")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `<state>/index.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateConfig {
    /// The index base: `https://...`, `http://...`, `file://...` or a folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A site's state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    pub fn targets_dir(&self) -> PathBuf {
        self.dir.join("targets")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    /// Whether a trusted root is already there.
    pub fn is_initialized(&self) -> bool {
        self.metadata_dir().join("root.json").exists()
    }

    /// Sets up the directory trusting `root` (checked to be a root signed by
    /// its own threshold) and, if given, the index location. No network.
    pub fn init(&self, root: Vec<u8>, url: Option<&str>, force: bool) -> Result<(), CatalogError> {
        if self.is_initialized() && !force {
            return Err(CatalogError::AlreadyInitialized {
                dir: self.dir.clone(),
            });
        }
        if let Some(url) = url {
            fetch::open(url)?;
        }
        let metadata = self.metadata_dir();
        if force && metadata.exists() {
            std::fs::remove_dir_all(&metadata).map_err(|source| CatalogError::Write {
                path: metadata.clone(),
                source,
            })?;
        }
        Updater::init(&metadata, root)?;
        let config = StateConfig {
            url: url.map(str::to_string),
        };
        let bytes = serde_json::to_vec_pretty(&config).expect("state config serializes");
        hsp_tuf::client::store::write_atomic(&self.config_path(), &bytes)?;
        Ok(())
    }

    pub fn config(&self) -> Result<StateConfig, CatalogError> {
        let path = self.config_path();
        let bytes = std::fs::read(&path).map_err(|source| CatalogError::NoState {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| CatalogError::BadState { path, source })
    }

    /// An updater over this state and the index at `url` (default: the one
    /// recorded by `init`).
    pub fn updater(&self, url: Option<&str>) -> Result<Updater, CatalogError> {
        let config = self.config()?;
        let url = url
            .map(str::to_string)
            .or(config.url)
            .ok_or(CatalogError::NoIndex)?;
        Ok(updater_for(
            &url,
            &self.metadata_dir(),
            &self.targets_dir(),
        )?)
    }
}

/// The JSON API of a verified index, fetched on demand.
pub struct Catalog {
    updater: Mutex<Updater>,
}

impl Catalog {
    /// Refreshes `updater` (the TUF client workflow) and wraps it.
    pub fn open(mut updater: Updater) -> Result<Catalog, CatalogError> {
        updater.refresh()?;
        Ok(Catalog {
            updater: Mutex::new(updater),
        })
    }

    /// Refreshes the state directory's index and opens its catalogue.
    pub fn open_state(state: &StateDir, url: Option<&str>) -> Result<Catalog, CatalogError> {
        Catalog::open(state.updater(url)?)
    }

    /// Verified bytes of a target.
    pub fn target(&self, path: &str) -> Result<Vec<u8>, CatalogError> {
        let mut up = self.updater.lock().unwrap_or_else(|e| e.into_inner());
        Ok(up.get_target(path)?)
    }

    /// Like [`Catalog::target`], but `None` when no trusted role lists `path`.
    pub fn target_if_listed(&self, path: &str) -> Result<Option<Vec<u8>>, CatalogError> {
        match self.target(path) {
            Err(CatalogError::Update(UpdateError::UnknownTarget { .. })) => Ok(None),
            other => other.map(Some),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, CatalogError> {
        let Some(bytes) = self.target_if_listed(path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| CatalogError::Parse {
                target: path.into(),
                source,
            })
    }

    /// `api/catalogue.json`.
    pub fn catalogue(&self) -> Result<Catalogue, CatalogError> {
        self.json(api::CATALOGUE_PATH)?
            .ok_or(CatalogError::Update(UpdateError::UnknownTarget {
                path: api::CATALOGUE_PATH.into(),
            }))
    }

    /// `api/services/<id>.json`, `None` when the index has no such service.
    pub fn service(&self, id: &str) -> Result<Option<ServiceIndex>, CatalogError> {
        if !is_plain_id(id) {
            return Ok(None);
        }
        self.json(&api::service_path(id))
    }

    /// `api/interfaces/<id>.json`, `None` when the index has no such interface.
    pub fn interface(&self, id: &str) -> Result<Option<InterfaceIndex>, CatalogError> {
        if !is_plain_id(id) {
            return Ok(None);
        }
        self.json(&api::interface_path(id))
    }

    /// The publisher-signed conformance document of one version.
    pub fn document(&self, id: &str, version: &str) -> Result<Option<Document>, CatalogError> {
        if !is_plain_id(id) || !is_plain_id(version) {
            return Ok(None);
        }
        self.json(&document_target_path(id, version))
    }
}

/// Ids and versions are one path segment.
fn is_plain_id(s: &str) -> bool {
    !s.is_empty() && !s.contains('/') && s != "." && s != ".."
}

impl IndexSource for Catalog {
    fn service(&self, id: &str) -> Result<Option<ServiceIndex>, SourceError> {
        Ok(Catalog::service(self, id)?)
    }

    fn interface(&self, id: &str) -> Result<Option<InterfaceIndex>, SourceError> {
        Ok(Catalog::interface(self, id)?)
    }

    fn document(&self, id: &str, version: &str) -> Result<Document, SourceError> {
        Catalog::document(self, id, version)?
            .ok_or_else(|| format!("the index has no document for {id} {version}").into())
    }
}
