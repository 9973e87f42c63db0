//! Fixture registries on disk and the `hsp` binary that builds them (the
//! model is cargo-test-support's `registry` module):
//!
//! - [`RegistryBuilder`] writes a registry repo from a few calls (registry
//!   config, interfaces, publishers, documents); [`dev_build`] signs it with
//!   `hsp build --dev-keys`.
//! - [`Fixture`] is a copy of `examples/registry` signed with real keys: fresh
//!   publisher keys and a registry root made by `hsp init`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value as Json};
use tempfile::TempDir;

use crate::fs::{copy_tree, files_under, write_json};
use crate::{s, show};

/// `examples/registry` in the workspace.
pub fn examples_registry() -> PathBuf {
    crate::root().join("examples/registry")
}

/// A registry repo to write: `registry.json`, `interfaces/`, and per publisher
/// `publisher.json` and `services/<id>/<version>.json`.
///
/// ```no_run
/// # use hsp_test_support::registry::RegistryBuilder;
/// # use serde_json::json;
/// let repo = RegistryBuilder::new("applytest", "apply ENV test registry")
///     .interface_from_examples("http-ui")
///     .publisher("apply", "Apply test", &["org.apply"])
///     .document(json!({"id": "org.apply.web", "version": "1.0.0", "publisher": "apply"}))
///     .write(std::path::Path::new("/tmp/repo"));
/// ```
#[derive(Clone, Debug)]
pub struct RegistryBuilder {
    config: Json,
    interfaces: Vec<String>,
    publishers: Vec<Json>,
    documents: Vec<Json>,
}

impl RegistryBuilder {
    /// A registry named `name` with no interfaces, publishers or documents.
    pub fn new(name: &str, title: &str) -> RegistryBuilder {
        RegistryBuilder {
            config: json!({"name": name, "title": title}),
            interfaces: Vec::new(),
            publishers: Vec::new(),
            documents: Vec::new(),
        }
    }

    /// A lab registry: `http://` and `file://` artifact URLs allowed (the
    /// tests' artifacts are local files).
    pub fn lab_artifact_urls(mut self) -> RegistryBuilder {
        self.config["policy"] = json!({"lab_artifact_urls": true});
        self
    }

    /// The interface `id`, copied from `examples/registry/interfaces`.
    pub fn interface_from_examples(mut self, id: &str) -> RegistryBuilder {
        self.interfaces.push(id.to_string());
        self
    }

    /// A publisher owning `namespaces`. Its listed key is a placeholder: a
    /// `--dev-keys` build signs with the development keys instead.
    pub fn publisher(mut self, name: &str, title: &str, namespaces: &[&str]) -> RegistryBuilder {
        self.publishers.push(json!({
            "name": name,
            "title": title,
            "namespaces": namespaces,
            "keys": [{"keytype": "ed25519", "scheme": "ed25519",
                      "keyval": {"public": crate::PLACEHOLDER_KEY}}]
        }));
        self
    }

    /// A document, written where its `publisher`, `id` and `version` say.
    pub fn document(mut self, doc: Json) -> RegistryBuilder {
        self.documents.push(doc);
        self
    }

    /// Writes the repo at `repo` and returns it.
    pub fn write(self, repo: &Path) -> PathBuf {
        write_json(&repo.join("registry.json"), &self.config);
        std::fs::create_dir_all(repo.join("interfaces")).unwrap();
        for id in &self.interfaces {
            std::fs::copy(
                examples_registry().join(format!("interfaces/{id}.json")),
                repo.join(format!("interfaces/{id}.json")),
            )
            .unwrap();
        }
        for p in &self.publishers {
            let name = p["name"].as_str().unwrap();
            write_json(&repo.join(format!("publishers/{name}/publisher.json")), p);
        }
        for d in &self.documents {
            write_document(repo, d);
        }
        repo.to_path_buf()
    }
}

/// Writes `doc` to `publishers/<publisher>/services/<id>/<version>.json` of `repo`.
pub fn write_document(repo: &Path, doc: &Json) -> PathBuf {
    let field = |k: &str| {
        doc[k]
            .as_str()
            .unwrap_or_else(|| panic!("document without {k}: {doc}"))
    };
    let path = repo.join(format!(
        "publishers/{}/services/{}/{}.json",
        field("publisher"),
        field("id"),
        field("version")
    ));
    write_json(&path, doc);
    path
}

/// `hsp build REPO --dev-keys --out OUT EXTRA...`, which must succeed: a
/// development build signed with the well-known dev keys. Returns stderr.
pub fn dev_build(repo: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build", s(repo), "--dev-keys", "--out", s(out)];
    args.extend_from_slice(extra);
    let stderr = hsp_ok(args);
    assert!(stderr.contains("DEVELOPMENT BUILD"), "{stderr}");
    stderr
}

/// Runs `hsp` with `args`.
pub fn hsp<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(crate::bin("hsp"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("running hsp")
}

/// Runs `hsp`, panics unless it succeeds; returns stderr.
pub fn hsp_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = hsp(args);
    assert!(o.status.success(), "hsp failed: {}", show(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `hsp`, panics if it succeeds; returns stderr.
pub fn hsp_fails<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = hsp(args);
    assert!(!o.status.success(), "hsp should have failed: {}", show(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of examples/registry whose publishers have fresh keys (private halves
/// in `publisher_keys`) and signed metadata, with a registry root made by
/// `hsp init` (keys in `keys`).
pub struct Fixture {
    pub tmp: TempDir,
    pub repo: PathBuf,
    pub keys: PathBuf,
    pub publisher_keys: BTreeMap<String, PathBuf>,
}

impl Default for Fixture {
    fn default() -> Fixture {
        Fixture::new()
    }
}

impl Fixture {
    /// Copies `examples/registry`, makes the keys and signs every publisher.
    pub fn new() -> Fixture {
        Fixture::with_key_types("ed25519", &["ed25519"])
    }

    /// The same with keys of other types (`hsp keygen --type`): the
    /// registry's of `registry`, the `n`th publisher's of `publishers[n %
    /// len]`.
    pub fn with_key_types(registry: &str, publishers: &[&str]) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let init = tmp.path().join("init");
        let keys = tmp.path().join("keys");
        hsp_ok([
            "init",
            s(&init),
            "--keys",
            s(&keys),
            "--name",
            "example",
            "--key-type",
            registry,
        ]);
        let repo = tmp.path().join("repo");
        copy_tree(&crate::root().join("examples/registry"), &repo);
        std::fs::create_dir_all(repo.join("keys")).unwrap();
        std::fs::copy(init.join("keys/1.root.json"), repo.join("keys/1.root.json")).unwrap();
        let mut f = Fixture {
            repo,
            keys,
            publisher_keys: BTreeMap::new(),
            tmp,
        };
        for (n, name) in f.publishers().into_iter().enumerate() {
            let key = f.tmp.path().join(format!("pkeys/{name}.key"));
            std::fs::create_dir_all(key.parent().unwrap()).unwrap();
            let kind = publishers[n % publishers.len()];
            hsp_ok(["keygen", "--out", s(&key), "--type", kind]);
            f.set_publisher_keys(&name, &[&key]);
            f.publisher_keys.insert(name.clone(), key);
            f.sign(&name);
        }
        f
    }

    pub fn publishers(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.repo.join("publishers"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn publisher_dir(&self, name: &str) -> PathBuf {
        self.repo.join("publishers").join(name)
    }

    /// Sets the publisher's listed keys to the public halves of `keys`.
    pub fn set_publisher_keys(&self, name: &str, keys: &[&Path]) {
        let path = self.publisher_dir(name).join("publisher.json");
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let publics: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                let p = format!("{}.pub", k.display());
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
            })
            .collect();
        record["keys"] = serde_json::Value::Array(publics);
        std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap() + "\n").unwrap();
    }

    pub fn sign(&self, name: &str) {
        let key = &self.publisher_keys[name];
        hsp_ok(["sign", "--key", s(key), s(&self.publisher_dir(name))]);
    }

    /// One document of the publisher (the first by path).
    pub fn a_document(&self, name: &str) -> PathBuf {
        let mut docs = files_under(&self.publisher_dir(name).join("services"));
        docs.sort();
        docs.remove(0)
    }

    /// `hsp build REPO --keys KEYS --out OUT EXTRA...`, which must succeed.
    pub fn build(&self, out: &Path, extra: &[&str]) -> String {
        hsp_ok(self.build_args(out, extra))
    }

    /// The same build, whatever its outcome.
    pub fn build_output(&self, out: &Path, extra: &[&str]) -> Output {
        hsp(self.build_args(out, extra))
    }

    /// The same build, which must fail: its stderr.
    pub fn build_fails(&self, out: &Path, extra: &[&str]) -> String {
        hsp_fails(self.build_args(out, extra))
    }

    fn build_args<'a>(&'a self, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "build",
            s(&self.repo),
            "--keys",
            s(&self.keys),
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        args
    }
}

/// Every TUF target path a build of `repo` must publish, worked out from the
/// repo alone: each document, the catalogue, one file per service and per
/// interface.
pub fn expected_targets(repo: &Path) -> Vec<String> {
    let mut out = vec!["api/catalogue.json".to_string()];
    let mut services = std::collections::BTreeSet::new();
    for f in files_under(&repo.join("publishers")) {
        let rel = f
            .strip_prefix(repo.join("publishers"))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if let Some((_, target)) = rel.split_once('/') {
            if let Some(rest) = target.strip_prefix("services/") {
                out.push(target.to_string());
                services.insert(rest.split('/').next().unwrap().to_string());
            }
        }
    }
    out.extend(services.iter().map(|id| format!("api/services/{id}.json")));
    for f in files_under(&repo.join("interfaces")) {
        let id = f.file_stem().unwrap().to_string_lossy();
        out.push(format!("api/interfaces/{id}.json"));
    }
    out.sort();
    out
}
