//! Shared by the index tests: running `hsp`, a registry fixture signed with
//! real keys, the python-tuf client, and file tree snapshots.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Runs `hsp` with `args`.
pub fn hsp<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(hsp_tests::bin("hsp"))
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("running hsp")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `hsp`, panics unless it succeeds; returns stderr.
pub fn hsp_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = hsp(args);
    assert!(o.status.success(), "hsp failed: {}", text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `hsp`, panics if it succeeds; returns stderr.
pub fn hsp_fails<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = hsp(args);
    assert!(!o.status.success(), "hsp should have failed: {}", text(&o));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
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

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let init = tmp.path().join("init");
        let keys = tmp.path().join("keys");
        hsp_ok(["init", s(&init), "--keys", s(&keys), "--name", "example"]);
        let repo = tmp.path().join("repo");
        copy_tree(&hsp_tests::root().join("examples/registry"), &repo);
        std::fs::create_dir_all(repo.join("keys")).unwrap();
        std::fs::copy(init.join("keys/1.root.json"), repo.join("keys/1.root.json")).unwrap();
        let mut f = Fixture {
            repo,
            keys,
            publisher_keys: BTreeMap::new(),
            tmp,
        };
        for name in f.publishers() {
            let key = f.tmp.path().join(format!("pkeys/{name}.key"));
            std::fs::create_dir_all(key.parent().unwrap()).unwrap();
            hsp_ok(["keygen", "--out", s(&key)]);
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

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn copy_tree(from: &Path, to: &Path) {
    for f in files_under(from) {
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}

/// Every file under `dir`: relative path to bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            (rel, bytes)
        })
        .collect()
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

/// Runs tests/tuf/client.py with the project's python-tuf; returns its JSON
/// output, or Err(stderr) when the client failed.
pub fn python_tuf(args: &[&str], targets: &[String]) -> Result<serde_json::Value, String> {
    let python = hsp_tests::tool(".venv/bin/python");
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), serde_json::to_vec(targets).unwrap()).unwrap();
    let o = Command::new(python)
        .arg(hsp_tests::root().join("tests/tuf/client.py"))
        .args(args)
        .args(["--targets", s(list.path())])
        .output()
        .expect("running python");
    if o.status.success() {
        Ok(serde_json::from_slice(&o.stdout).expect("client prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}
