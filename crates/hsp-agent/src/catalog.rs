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
//! **Invariant:** only a catalogue refreshed with expiry checked plans
//! (`Catalog<Updater>` is the [`IndexSource`]); the last verified metadata of
//! an expired or unreachable index ([`Browsing::LastVerified`]) is only browsed
//! (`search`, `show`), with a warning.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hsp_index::api::{self, Catalogue, InterfaceIndex, ServiceIndex};
use hsp_index::registry::document_target_path;
use hsp_index::Document;
use serde::{Deserialize, Serialize};

use hsp_planner::{IndexSource, SourceError};
use hsp_tuf::client::{fetch, updater_for, LastVerified, UpdateError, Updater};

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
    /// sha256 of the root.json `init` was given (the trust anchor; the
    /// trusted root moves on with rotations), so an environment's
    /// `index.root` can be checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_sha256: Option<String>,
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
        let root_sha256 = Some(hsp_tuf::sha256_hex(&root));
        Updater::init(&metadata, root)?;
        let config = StateConfig {
            url: url.map(str::to_string),
            root_sha256,
        };
        let bytes = serde_json::to_vec_pretty(&config).expect("state config serializes");
        hsp_tuf::client::store::write_atomic(&self.config_path(), &bytes)?;
        Ok(())
    }

    /// The trusted root as it is now (after any rotations).
    pub fn trusted_root(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.metadata_dir().join("root.json"))
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

/// Where a [`Catalog`] reads verified target files from.
pub trait Targets {
    fn get_target(&mut self, path: &str) -> Result<Vec<u8>, UpdateError>;
}

impl Targets for Updater {
    fn get_target(&mut self, path: &str) -> Result<Vec<u8>, UpdateError> {
        Updater::get_target(self, path)
    }
}

/// What `search` and `show` read: the freshly refreshed index, or, when the
/// refresh failed because the index expired or is unreachable, the metadata
/// the last refreshes verified ([`LastVerified`], expiry not checked).
pub enum Browsing {
    Fresh(Updater),
    LastVerified(LastVerified),
}

impl Targets for Browsing {
    fn get_target(&mut self, path: &str) -> Result<Vec<u8>, UpdateError> {
        match self {
            Browsing::Fresh(u) => u.get_target(path),
            Browsing::LastVerified(l) => l.get_target(path),
        }
    }
}

/// The JSON API of a verified index, fetched on demand. Only a
/// `Catalog<Updater>`, refreshed with expiry checked, is an [`IndexSource`]:
/// plans are never made from a [`Browsing`] catalogue.
pub struct Catalog<S = Updater> {
    updater: Mutex<S>,
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
}

impl Catalog<Browsing> {
    /// For browsing: the refreshed index or, when the refresh fails because
    /// metadata expired or the index is unreachable, the last verified
    /// metadata with the warning to print (which role expired when, and why
    /// the refresh failed). Any other failure (an attack: a bad signature, a
    /// rollback) is the error it is.
    pub fn browse(
        state: &StateDir,
        url: Option<&str>,
    ) -> Result<(Catalog<Browsing>, Option<String>), CatalogError> {
        let mut updater = state.updater(url)?;
        let refresh = match updater.refresh() {
            Ok(()) => return Ok((Catalog::wrap(Browsing::Fresh(updater)), None)),
            Err(e) if e.is_expired_or_unreachable() => e,
            Err(e) => return Err(e.into()),
        };
        let Ok(last) = updater.last_verified() else {
            return Err(refresh.into());
        };
        let mut why = refresh.to_string();
        let mut source = std::error::Error::source(&refresh);
        while let Some(s) = source {
            why = format!("{why}: {s}");
            source = s.source();
        }
        let expired: Vec<String> = last
            .expired()
            .into_iter()
            .map(|(name, at)| format!("the index's {} expired at {at}", role(&name)))
            .collect();
        let head = if expired.is_empty() {
            "the index could not be refreshed".to_string()
        } else {
            expired.join(", ")
        };
        let warning = format!("{head}; showing the last verified metadata (refresh: {why})");
        Ok((Catalog::wrap(Browsing::LastVerified(last)), Some(warning)))
    }
}

/// `timestamp` for `timestamp.json`.
fn role(file: &str) -> &str {
    file.strip_suffix(".json").unwrap_or(file)
}

impl<S: Targets> Catalog<S> {
    fn wrap(source: S) -> Catalog<S> {
        Catalog {
            updater: Mutex::new(source),
        }
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

/// An index location in one spelling, to compare two: an http(s) URL
/// without trailing `/`, or a folder (`file://` or a path, relative to
/// `base`) made absolute and canonical where it exists.
pub fn normalize_location(location: &str, base: &Path) -> String {
    let l = location.trim();
    if l.starts_with("http://") || l.starts_with("https://") {
        return l.trim_end_matches('/').to_string();
    }
    let path = Path::new(l.strip_prefix("file://").unwrap_or(l));
    let abs = base.join(path);
    std::fs::canonicalize(&abs)
        .unwrap_or(abs)
        .display()
        .to_string()
        .trim_end_matches('/')
        .to_string()
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

    fn validation(
        &self,
        id: &str,
        version: &str,
    ) -> Result<Option<hsp_index::validation::Report>, SourceError> {
        if !is_plain_id(id) || !is_plain_id(version) {
            return Ok(None);
        }
        Ok(self.json(&hsp_index::api::validation_path(id, version))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_compare_in_one_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index");
        std::fs::create_dir(&index).unwrap();
        let canonical = std::fs::canonicalize(&index).unwrap().display().to_string();
        for (location, base, want) in [
            (
                "https://index.example/",
                Path::new("/x"),
                "https://index.example".to_string(),
            ),
            (
                "http://10.0.0.5:8080",
                Path::new("/x"),
                "http://10.0.0.5:8080".to_string(),
            ),
            ("index", dir.path(), canonical.clone()),
            ("index/", dir.path(), canonical.clone()),
            (
                &format!("file://{}", index.display()),
                Path::new("/x"),
                canonical.clone(),
            ),
            (
                &index.display().to_string(),
                Path::new("/x"),
                canonical.clone(),
            ),
            (
                "/no/such/index/",
                Path::new("/x"),
                "/no/such/index".to_string(),
            ),
        ] {
            assert_eq!(normalize_location(location, base), want, "{location}");
        }
    }
}
