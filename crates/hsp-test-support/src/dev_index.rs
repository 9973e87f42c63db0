//! A small signed index for `hsp-agent apply ENV` tests: a registry repo with one
//! service whose artifact is a local tar.gz running the busybox httpd test
//! script (`tests/fixtures/images/svc/bin/start`), built with
//! `hsp build --dev-keys` into `<dir>/out`, and the environment file that deploys
//! it with the host driver. Used by `e2e::deploy::apply_env` (on this machine) and
//! `e2e::deploy::systemd` (inside a container running systemd, same paths).

use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use crate::fs::write_json;
use crate::registry::{dev_build, write_document, RegistryBuilder};

/// The service every dev index publishes.
pub const ID: &str = "org.apply.web";

/// A registry repo under `<dir>/repo`, its builds in `<dir>/out`.
pub struct DevIndex {
    pub dir: PathBuf,
    /// Build time of the last build (Unix seconds); each build moves it on.
    now: u64,
    /// Versions declare a secret config `API_TOKEN`, passed as `TOKEN`.
    secret: bool,
    /// Where artifacts are fetched from: `<base>/artifacts/web-<version>.tar.gz`
    /// (a server of `dir`); `None`: file:// URLs.
    artifact_base: Option<String>,
}

impl DevIndex {
    /// Writes the registry, publisher and interface files.
    pub fn new(dir: &Path) -> DevIndex {
        RegistryBuilder::new("applytest", "apply ENV test registry")
            .lab_artifact_urls()
            .interface_from_examples("http-ui")
            .publisher("apply", "Apply test", &["org.apply"])
            .write(&dir.join("repo"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        DevIndex {
            dir: dir.to_path_buf(),
            now,
            secret: false,
            artifact_base: None,
        }
    }

    /// Versions added from now on name their artifact at
    /// `<base>/artifacts/web-<version>.tar.gz`: `base` serves this index's `dir`.
    /// The artifact file is whatever `<dir>/artifacts/web-<version>.tar.gz`
    /// holds when the version is added (the test service when missing).
    pub fn with_artifact_base(mut self, base: &str) -> DevIndex {
        self.artifact_base = Some(base.trim_end_matches('/').to_string());
        self
    }

    /// Versions added from now on take a secret `API_TOKEN` (required config,
    /// `"config": {"<id>": {"API_TOKEN": {"secret_file": ...}}}` in the
    /// environment) and pass it to the task as `TOKEN`.
    pub fn with_secret(mut self) -> DevIndex {
        self.secret = true;
        self
    }

    /// The built index (metadata/, targets/).
    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// The artifact for `version`: the test service script and a VERSION file.
    fn artifact(&self, version: &str) -> Json {
        let file = format!("artifacts/web-{version}.tar.gz");
        let mut a = host_artifact(&self.dir.join(&file), version);
        if let Some(base) = &self.artifact_base {
            a["url"] = format!("{base}/{file}").into();
        }
        a
    }

    /// Adds `version` of the service, serving on `port`. `env` adds variables
    /// (`FAIL` makes a broken release; a secret is `{"secret": "NAME"}` config).
    pub fn add_version(&self, version: &str, port: u16, env: Json) {
        self.add_version_on(version, port, env, &hsp_deploy::host::platform());
    }

    /// [`DevIndex::add_version`] with its artifact published for `platform`
    /// only (e.g. another machine's, so this host cannot run it).
    pub fn add_version_on(&self, version: &str, port: u16, env: Json, platform: &str) {
        let mut artifact = self.artifact(version);
        artifact["platform"] = platform.into();
        let mut task_env = json!({"PORT": port.to_string(), "VERSION": version});
        for (k, v) in env.as_object().into_iter().flatten() {
            task_env[k] = v.clone();
        }
        let mut doc = json!({
            "id": ID,
            "version": version,
            "name": "Apply test web",
            "summary": "busybox httpd serving its version.",
            "publisher": "apply",
            "license": "MIT",
            "provides": [{"interface": "http-ui", "version": "1.0.0", "task": "app", "port": "http",
                          "binding": {"url": "http://${self.app.http}/"}}],
            "tasks": [{
                "name": "app",
                "image": format!("example.org/apply/web:{version}@sha256:{}", "3".repeat(64)),
                "ports": [{"name": "http", "port": port}],
                "env": task_env,
                "memory_mib": 64,
                "health": {"http": {"port": "http", "path": "/healthz"},
                           "interval_s": 1, "timeout_s": 1, "start_period_s": 1, "retries": 3},
                "stop_timeout_s": 2
            }],
            "artifacts": [artifact],
            "smoke_test": {"task": "app", "http": {"port": "http", "path": "/healthz"}},
        });
        if self.secret {
            doc["config"] = json!([{"name": "API_TOKEN", "secret": true, "required": true,
                                    "description": "Token the service checks."}]);
            doc["tasks"][0]["env"]["TOKEN"] = json!("${config.API_TOKEN}");
        }
        write_document(&self.dir.join("repo"), &doc);
    }

    /// Marks `version` yanked with `reason` (takes effect with the next build).
    pub fn yank(&self, version: &str, reason: &str) {
        let path = self.dir.join(format!(
            "repo/publishers/apply/services/{ID}/{version}.json"
        ));
        let mut doc: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        doc["yanked"] = reason.into();
        write_document(&self.dir.join("repo"), &doc);
    }

    /// `hsp build --dev-keys` into `out` (in place after the first build), one
    /// second later than the previous build so agents follow.
    pub fn build(&mut self) {
        self.now += 1;
        dev_build(
            &self.dir.join("repo"),
            &self.out(),
            &["--no-site", "--now", &self.now.to_string()],
        );
    }

    /// The environment file `<dir>/site/env.json` deploying `services` to the
    /// host target with its root in `<dir>/hostroot`; `extra` is merged in.
    pub fn write_env(&self, name: &str, services: Json, extra: Json) -> PathBuf {
        let p = self.dir.join("site/env.json");
        let mut env = json!({
            "name": name,
            "index": {"url": self.out().display().to_string(),
                      "root": self.out().join("metadata/1.root.json").display().to_string()},
            "services": services,
            "target": {"kind": "host", "root": self.dir.join("hostroot").display().to_string()}
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            env[k] = v.clone();
        }
        write_json(&p, &env);
        p
    }
}

/// A host artifact at `path` (written if missing): the test service script
/// (`tests/fixtures/images/svc/bin/start`) and a VERSION file holding
/// `version`; returns its document entry (file:// URL, sha256, size).
pub fn host_artifact(path: &Path, version: &str) -> Json {
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let script =
            std::fs::read(crate::root().join("tests/fixtures/images/svc/bin/start")).unwrap();
        hsp_deploy::host::archive::build_tar_gz(
            &[
                ("bin/start", &script, 0o755),
                ("VERSION", version.as_bytes(), 0o644),
            ],
            path,
        )
        .unwrap();
    }
    let bytes = std::fs::read(path).unwrap();
    json!({
        "platform": hsp_deploy::host::platform(),
        "url": format!("file://{}", path.display()),
        "sha256": hsp_tuf::sha256_hex(&bytes),
        "size": bytes.len(),
        "entrypoint": "bin/start",
    })
}
