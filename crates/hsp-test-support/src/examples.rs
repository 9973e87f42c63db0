//! The bundled example registry (`examples/registry`), read with the `hsp-index`
//! types for tests: every file must parse (unknown fields are errors) and lie where
//! its content says (layout in `index/src/registry.rs`), or loading panics with the
//! file and the problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hsp_index::registry::{
    CONFIG_FILE, INTERFACES_DIR, PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR,
};
use hsp_index::{Document, Interface, Publisher, RegistryConfig};
use serde::de::DeserializeOwned;

/// The example registry, read with the `hsp-index` types.
pub struct Registry {
    /// `examples/registry`.
    pub root: PathBuf,
    pub config: RegistryConfig,
    /// By interface id, with the file it came from.
    pub interfaces: BTreeMap<String, (PathBuf, Interface)>,
    /// By publisher name, with the file it came from.
    pub publishers: BTreeMap<String, (PathBuf, Publisher)>,
    /// Every conformance document, sorted by path.
    pub documents: Vec<(PathBuf, Document)>,
}

/// `examples/registry` in the workspace.
pub fn registry_root() -> PathBuf {
    crate::root().join("examples/registry")
}

/// Parses `path` as `T`, failing with the file, line and column.
pub fn parse<T: DeserializeOwned>(path: &Path) -> T {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively, sorted.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("listing {}: {e}", d.display()))
        {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The file name of `p`.
pub fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Reads the registry, checking that every file is one of the layout's kinds
/// and lies where its content says.
pub fn load() -> Registry {
    let root = registry_root();
    let config: RegistryConfig = parse(&root.join(CONFIG_FILE));
    let mut interfaces = BTreeMap::new();
    let mut publishers = BTreeMap::new();
    let mut documents = Vec::new();
    for path in json_files(&root) {
        let rel: Vec<String> = path
            .strip_prefix(&root)
            .unwrap()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let rel: Vec<&str> = rel.iter().map(String::as_str).collect();
        match rel.as_slice() {
            [CONFIG_FILE] => {}
            [INTERFACES_DIR, file] => {
                let i: Interface = parse(&path);
                assert_eq!(
                    format!("{}.json", i.id),
                    *file,
                    "{}: id does not match the file name",
                    path.display()
                );
                interfaces.insert(i.id.clone(), (path.clone(), i));
            }
            [PUBLISHERS_DIR, publisher, PUBLISHER_FILE] => {
                let p: Publisher = parse(&path);
                assert_eq!(
                    p.name,
                    *publisher,
                    "{}: name does not match the folder",
                    path.display()
                );
                publishers.insert(p.name.clone(), (path.clone(), p));
            }
            [PUBLISHERS_DIR, publisher, SERVICES_DIR, id, file] => {
                let d: Document = parse(&path);
                assert_eq!(
                    d.publisher,
                    *publisher,
                    "{}: publisher does not match the folder",
                    path.display()
                );
                assert_eq!(
                    d.id,
                    *id,
                    "{}: id does not match the folder",
                    path.display()
                );
                assert_eq!(
                    format!("{}.json", d.version),
                    *file,
                    "{}: version does not match the file name",
                    path.display()
                );
                documents.push((path.clone(), d));
            }
            _ => panic!(
                "{}: not part of the registry layout (see index/src/registry.rs)",
                path.display()
            ),
        }
    }
    Registry {
        root,
        config,
        interfaces,
        publishers,
        documents,
    }
}

impl Registry {
    /// Distinct service ids.
    pub fn ids(&self) -> BTreeSet<&str> {
        self.documents.iter().map(|(_, d)| d.id.as_str()).collect()
    }

    /// Every version of service `id`.
    pub fn versions(&self, id: &str) -> Vec<&Document> {
        self.documents
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d.id == id)
            .collect()
    }

    /// The interface `id`; panics when it is not defined.
    pub fn interface(&self, id: &str) -> &Interface {
        &self
            .interfaces
            .get(id)
            .unwrap_or_else(|| panic!("interface `{id}` is not defined"))
            .1
    }

    /// Every task image of every document.
    pub fn images(&self) -> Vec<&str> {
        self.documents
            .iter()
            .flat_map(|(_, d)| d.tasks.iter().map(|t| t.image.as_str()))
            .collect()
    }
}
