//! TUF clients against repositories: a static file server on 127.0.0.1 whose
//! folder can be switched between requests and which logs what it served,
//! running `hsp-agent`, the python-tuf scenarios of
//! `tests/tuf_attacks/scenarios.py` (built with python-tuf's Metadata API) with
//! the checks every runner of their plans applies, and python-tuf's client
//! (`tests/tuf/client.py`) against what `hsp build` writes.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

use crate::fs::tree;
use crate::{s, show};

/// One request the server answered.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub status: u16,
    pub bytes: u64,
}

/// Serves the files of a folder over HTTP on an ephemeral port; sends an
/// `ETag` and answers `If-None-Match` with 304, like common static servers.
pub struct Server {
    pub url: String,
    root: Arc<Mutex<PathBuf>>,
    log: Arc<Mutex<Vec<Hit>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("binding 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let root = Arc::new(Mutex::new(root.to_path_buf()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, root, log) = (server.clone(), root.clone(), log.clone());
            std::thread::spawn(move || {
                for req in server.incoming_requests() {
                    let base = root.lock().unwrap().clone();
                    let (status, body, etag) = answer(&base, &req);
                    let path = req.url().to_string();
                    log.lock().unwrap().push(Hit {
                        path,
                        status,
                        bytes: body.len() as u64,
                    });
                    let mut resp = tiny_http::Response::from_data(body).with_status_code(status);
                    if let Some(etag) = etag {
                        resp.add_header(
                            tiny_http::Header::from_bytes("ETag", etag.as_bytes()).unwrap(),
                        );
                    }
                    let _ = req.respond(resp);
                }
            })
        };
        Server {
            url: format!("http://127.0.0.1:{port}"),
            root,
            log,
            server,
            thread: Some(thread),
        }
    }

    /// Serves `root` from the next request on.
    pub fn set_root(&self, root: &Path) {
        *self.root.lock().unwrap() = root.to_path_buf();
    }

    /// The requests answered since the last call.
    pub fn take_log(&self) -> Vec<Hit> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(base: &Path, req: &tiny_http::Request) -> (u16, Vec<u8>, Option<String>) {
    let raw = req.url().split('?').next().unwrap_or("");
    let mut path = base.to_path_buf();
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode(seg);
        if seg == ".." || seg == "." || seg.contains('/') {
            return (403, Vec::new(), None);
        }
        path.push(seg);
    }
    let Ok(meta) = std::fs::metadata(&path) else {
        return (404, b"not found".to_vec(), None);
    };
    if !meta.is_file() {
        return (404, b"not found".to_vec(), None);
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let etag = format!(
        "\"{}-{}\"",
        meta.len(),
        mtime.map(|d| d.as_nanos()).unwrap_or(0)
    );
    let inm = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("If-None-Match"));
    if inm.is_some_and(|h| h.value.as_str() == etag) {
        return (304, Vec::new(), Some(etag));
    }
    (200, std::fs::read(&path).unwrap_or_default(), Some(etag))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `hsp-agent` with `args` (under `faketime OFFSET` when given).
pub fn agent<I, S>(args: I, faketime: Option<&str>) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let bin = crate::bin("hsp-agent");
    let mut cmd = match faketime {
        Some(offset) => {
            let ft = Path::new("/usr/bin/faketime");
            assert!(ft.exists(), "faketime is missing: run .ci/install first");
            let mut c = Command::new(ft);
            c.arg("-f").arg(offset).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(args).output().expect("running hsp-agent")
}

/// The `signed.version` of a trusted metadata file.
pub fn version_of(metadata_dir: &Path, role: &str) -> u64 {
    let path = metadata_dir.join(format!("{role}.json"));
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    v["signed"]["version"].as_u64().unwrap()
}

/// A target path as `hsp-agent tuf download` names the file (percent-encoded).
pub fn target_file_name(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A scenario of `tests/tuf_attacks/scenarios.py`, built with python-tuf into
/// a temporary folder: `root.json`, `stages/<n>/{metadata,targets}`, and the
/// plan of steps to run against them.
pub struct Scenario {
    pub name: String,
    /// Holds `out`; removed on drop.
    pub tmp: tempfile::TempDir,
    /// `root.json`, `stages/`, `plan.json`.
    pub out: PathBuf,
    pub steps: Vec<Value>,
}

impl Scenario {
    /// Runs `scenarios.py NAME` (python-tuf from `.ci/install`'s venv).
    pub fn build(name: &str) -> Scenario {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("repo");
        let o = Command::new(crate::tool(".venv/bin/python"))
            .arg(scenarios_py())
            .arg(name)
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "scenarios.py {name}: {}", show(&o));
        let plan: Value =
            serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
        let steps = plan["steps"].as_array().cloned().unwrap_or_default();
        assert!(!steps.is_empty(), "{name}: no steps");
        Scenario {
            name: name.to_string(),
            tmp,
            out,
            steps,
        }
    }

    /// The trusted root the client starts from.
    pub fn root(&self) -> PathBuf {
        self.out.join("root.json")
    }

    /// `stages/<n>/<part>` (`part` empty: the stage folder).
    pub fn stage(&self, n: u64, part: &str) -> PathBuf {
        self.out.join(format!("stages/{n}")).join(part)
    }

    /// A folder for the client's own state.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The names `scenarios.py --list` prints, in order.
    pub fn names() -> Vec<String> {
        let o = Command::new(crate::tool(".venv/bin/python"))
            .arg(scenarios_py())
            .arg("--list")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn scenarios_py() -> PathBuf {
    crate::root().join("tests/tuf_attacks/scenarios.py")
}

/// After a rejected step: the metadata directory must be as it was `before`,
/// except for the roles the step lists in `persisted` (roots of the chain
/// that verified, §5.3.8), which must hold the listed versions.
pub fn assert_unchanged_but_persisted(
    ctx: &str,
    step: &Value,
    metadata_dir: &Path,
    before: BTreeMap<String, Vec<u8>>,
) {
    // Only role files are trusted metadata; dotfiles (the HTTP validators
    // cache) may change with any fetch.
    let roles = |t: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        t.into_iter().filter(|(f, _)| !f.starts_with('.')).collect()
    };
    let (mut after, mut before) = (roles(tree(metadata_dir)), roles(before));
    for (role, v) in step["persisted"].as_object().into_iter().flatten() {
        assert_eq!(
            version_of(metadata_dir, role),
            v.as_u64().unwrap(),
            "{ctx}: persisted {role} version"
        );
        after.remove(&format!("{role}.json"));
        before.remove(&format!("{role}.json"));
    }
    let changed: std::collections::BTreeSet<&String> = after
        .keys()
        .chain(before.keys())
        .filter(|f| after.get(*f) != before.get(*f))
        .collect();
    assert!(
        changed.is_empty(),
        "{ctx}: a rejected update changed the trusted metadata: {changed:?} (now {:?})",
        changed
            .iter()
            .map(|f| (
                f.as_str(),
                version_of(metadata_dir, f.trim_end_matches(".json"))
            ))
            .collect::<Vec<_>>()
    );
}

/// After an accepted step: the trusted versions and the target content the
/// step lists.
pub fn assert_accepted_state(ctx: &str, step: &Value, metadata_dir: &Path, target_dir: &Path) {
    for (role, v) in step["versions"].as_object().into_iter().flatten() {
        assert_eq!(
            version_of(metadata_dir, role),
            v.as_u64().unwrap(),
            "{ctx}: trusted {role} version"
        );
    }
    if let Some(content) = step["content"].as_str() {
        let file = target_dir.join(target_file_name(step["target"].as_str().unwrap()));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), content, "{ctx}");
    }
}

/// The files a step expects to be downloaded (with a body), in order.
pub fn expected_fetches(step: &Value) -> Option<Vec<&str>> {
    step["fetched"]
        .as_array()
        .map(|a| a.iter().map(|p| p.as_str().unwrap()).collect())
}

/// Runs tests/tuf/client.py with the project's python-tuf; returns its JSON
/// output, or Err(stderr) when the client failed.
pub fn python_tuf(args: &[&str], targets: &[String]) -> Result<serde_json::Value, String> {
    let python = crate::tool(".venv/bin/python");
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), serde_json::to_vec(targets).unwrap()).unwrap();
    let o = Command::new(python)
        .arg(crate::root().join("tests/tuf/client.py"))
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
