//! A registry as it stood somewhere else: a *base* to compare the repo with
//! (`hsp check --base`, `hsp build` against the index it replaces, `hsp
//! diff`). Three kinds, told apart by what the argument names:
//!
//! - a folder holding `metadata/timestamp.json`: a built index ([`Served`]);
//! - a folder holding `registry.json`: a registry repo, read from disk;
//! - anything else: a git revision of the repo (`origin/main`, a tag, a
//!   commit), read with git.
//!
//! A URL is mirrored (and verified) into a folder by the caller first.
//! Each gives a [`Snapshot`]: the documents by target path (with the yank
//! sites see, the publisher's or the maintainers'), and the interfaces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hsp_check::Published;
use hsp_index::{Document, Interface};

use crate::metadata::METADATA_DIR;
use crate::published::Served;
use crate::repo::{self, split_path};

/// Where a base is.
#[derive(Clone, Debug, PartialEq)]
pub enum Base {
    Index(PathBuf),
    Repo(PathBuf),
    Git(String),
}

impl Base {
    /// What `arg` names (see the module docs).
    pub fn parse(arg: &str) -> Base {
        let path = Path::new(arg);
        if path.join(METADATA_DIR).join("timestamp.json").is_file() {
            Base::Index(path.to_path_buf())
        } else if path.join(hsp_index::registry::CONFIG_FILE).is_file() {
            Base::Repo(path.to_path_buf())
        } else {
            Base::Git(arg.to_string())
        }
    }

    /// Reads the base; a git revision is one of the repo at `repo`'s.
    pub fn load(&self, repo: &Path) -> anyhow::Result<Snapshot> {
        match self {
            Base::Index(dir) => Snapshot::of_index(dir),
            Base::Repo(dir) => {
                let loaded =
                    repo::load(dir).with_context(|| format!("loading {}", dir.display()))?;
                Ok(Snapshot::of_repo(loaded))
            }
            Base::Git(rev) => {
                let input = repo::git::read_input_at(repo, rev)?;
                Ok(Snapshot::of_repo(hsp_check::validate_repo(input)))
            }
        }
    }
}

/// A document as published: where it was in the repo, its bytes and its
/// value (yanked as sites see it).
#[derive(Clone, Debug)]
pub struct SnapshotDoc {
    pub path: String,
    pub bytes: Vec<u8>,
    pub value: Document,
}

/// A registry's documents (by target path) and interfaces (by id).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub documents: BTreeMap<String, SnapshotDoc>,
    pub interfaces: BTreeMap<String, Interface>,
}

impl Snapshot {
    /// A loaded repo (its diagnostics are not looked at: a base is what was
    /// published, a head is checked by `hsp check`).
    pub fn of_repo(repo: hsp_check::Repo) -> Snapshot {
        let documents = repo
            .documents
            .into_iter()
            .filter_map(|d| {
                let target = split_path(&d.path)?.1.to_string();
                let doc = SnapshotDoc {
                    path: d.path,
                    bytes: d.bytes,
                    value: d.value,
                };
                Some((target, doc))
            })
            .collect();
        let interfaces = repo
            .interfaces
            .into_iter()
            .map(|i| (i.value.id.clone(), i.value))
            .collect();
        Snapshot {
            documents,
            interfaces,
        }
    }

    /// A built index in `dir`.
    pub fn of_index(dir: &Path) -> anyhow::Result<Snapshot> {
        let served = Served::read(dir)?;
        let yanks = served.yanks()?;
        let mut documents = BTreeMap::new();
        for d in served.documents() {
            let bytes = served.read_target(d.target, d.file)?;
            let mut value: Document = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a conformance document", d.repo_path()))?;
            if let Some(reason) = yanks.get(d.target) {
                value.yanked = Some(reason.clone());
            }
            let doc = SnapshotDoc {
                path: d.repo_path(),
                bytes,
                value,
            };
            documents.insert(d.target.to_string(), doc);
        }
        Ok(Snapshot {
            documents,
            interfaces: served.interfaces()?,
        })
    }

    /// The published documents, for [`hsp_check::check_immutable`].
    pub fn published(&self) -> BTreeMap<String, Published> {
        self.documents
            .iter()
            .map(|(t, d)| {
                let p = Published {
                    path: d.path.clone(),
                    bytes: d.bytes.clone(),
                };
                (t.clone(), p)
            })
            .collect()
    }
}

/// `hsp check --base`'s rule: the documents of `head` (a loaded repo)
/// against `base` (E102, E103).
pub fn check_immutable(base: &Snapshot, head: &hsp_check::Repo) -> Vec<hsp_check::Diagnostic> {
    hsp_check::check_immutable(
        &base.published(),
        head.documents
            .iter()
            .map(|d| (d.path.as_str(), d.bytes.as_slice())),
        |p| split_path(p).map(|(_, t)| t.to_string()),
    )
}
