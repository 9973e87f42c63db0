//! Shared by the export tests: running `hsp-agent export`, the real tools
//! (kubernetes-validate, helm, docker compose) and reading YAML back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value as Json;

/// Kubernetes versions every manifest is validated against (kubernetes-validate
/// ships schemas for 1.25 to 1.37).
pub const KUBERNETES_VERSIONS: [&str; 2] = ["1.29.0", "1.33.0"];

pub fn worked_example_plan() -> PathBuf {
    crate::root().join("tests/fixtures/plans/worked-example.json")
}

/// The output of a finished command, checked by the caller.
pub struct Ran(pub Output);

impl Ran {
    pub fn success(self) -> Output {
        assert!(
            self.0.status.success(),
            "command failed:\n{}{}",
            text(&self.0.stdout),
            text(&self.0.stderr)
        );
        self.0
    }

    pub fn failure(self) -> Output {
        assert!(
            !self.0.status.success(),
            "command succeeded but should fail:\n{}",
            text(&self.0.stderr)
        );
        self.0
    }
}

/// `hsp-agent export --plan PLAN --out OUT ARGS...`.
pub fn export(plan: &Path, args: &[&str], out: &Path) -> Ran {
    let output = Command::new(crate::bin("hsp-agent"))
        .arg("export")
        .arg("--plan")
        .arg(plan)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("running hsp-agent");
    Ran(output)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every exported file by relative path (without the export's marker file).
pub fn exported_files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.file_name().unwrap() != ".hsp-export" {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The documents of a multi-document YAML text (empty ones skipped).
pub fn yaml_docs(text: &str) -> Vec<Json> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| {
            Json::deserialize(d).unwrap_or_else(|e| panic!("YAML does not parse: {e}\n{text}"))
        })
        .filter(|d| !d.is_null())
        .collect()
}

/// The documents of every `.yaml` file directly in `dir`.
pub fn yaml_docs_in(dir: &Path) -> Vec<Json> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .flat_map(|p| yaml_docs(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

pub fn find<'a>(docs: &'a [Json], kind: &str, name: &str) -> &'a Json {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} among {} documents", docs.len()))
}

/// Runs `kubernetes-validate --strict` on `files` for each of
/// [`KUBERNETES_VERSIONS`] and checks that every document passed.
pub fn kubernetes_validate(files: &[PathBuf]) {
    let tool = crate::tool(".venv/bin/kubernetes-validate");
    let docs: usize = files
        .iter()
        .map(|f| yaml_docs(&std::fs::read_to_string(f).unwrap()).len())
        .sum();
    assert!(docs > 0);
    for version in KUBERNETES_VERSIONS {
        let out = Command::new(&tool)
            .args(["--strict", "-k", version])
            .args(files)
            .output()
            .unwrap();
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "kubernetes-validate --strict -k {version}:\n{report}"
        );
        let passed = report
            .lines()
            .filter(|l| l.contains(" passed for resource "))
            .count();
        assert_eq!(
            passed, docs,
            "kubernetes-validate -k {version} checked every document:\n{report}"
        );
    }
}

/// The real helm binary with its config, cache and data in `tmp`.
pub fn helm(tmp: &Path) -> Command {
    let mut c = Command::new(crate::tool(".tools/bin/helm"));
    for (var, sub) in [
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("XDG_DATA_HOME", "xdg-data"),
    ] {
        c.env(var, tmp.join(sub));
    }
    c
}

/// `helm template clinic CHART ARGS...`, which must succeed.
pub fn helm_template(tmp: &Path, chart: &Path, args: &[String]) -> String {
    let out = helm(tmp)
        .args(["template", "clinic"])
        .arg(chart)
        .args(["--namespace", "clinic"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "helm template:\n{}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `docker compose` (the v2 plugin .ci/install puts under .tools/docker) in `dir`.
pub fn docker_compose(dir: &Path) -> Command {
    let config = crate::tool(".tools/docker");
    crate::tool(".tools/docker/cli-plugins/docker-compose");
    let mut c = Command::new("docker");
    c.env("DOCKER_CONFIG", config)
        .arg("compose")
        .current_dir(dir);
    c
}

/// The worked example's two operator secret files, with values unique to the
/// test, written mode 0600 with a trailing newline (as editors leave them).
pub struct SecretFiles {
    pub oidc: String,
    pub smtp: String,
    pub oidc_path: PathBuf,
    pub smtp_path: PathBuf,
}

impl SecretFiles {
    pub fn new(dir: &Path) -> SecretFiles {
        let secrets = dir.join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        let unique = format!(
            "{}-{}",
            std::process::id(),
            dir.file_name().unwrap().to_string_lossy()
        );
        let s = SecretFiles {
            oidc: format!("oidc-Secret-{unique}"),
            smtp: format!("smtp-Secret-{unique}"),
            // Same file names as in the fixture, so the secret keys stay the same.
            oidc_path: secrets.join("oidc-client-secret"),
            smtp_path: secrets.join("smtp-password"),
        };
        for (p, v) in [(&s.oidc_path, &s.oidc), (&s.smtp_path, &s.smtp)] {
            std::fs::write(p, format!("{v}\n")).unwrap();
            crate::set_mode(p, 0o600);
        }
        s
    }

    /// The worked example with its secret files pointing here.
    pub fn plan(&self, dir: &Path) -> PathBuf {
        let text = std::fs::read_to_string(worked_example_plan()).unwrap();
        let text = text
            .replace(
                "/etc/hsp/clinic/oidc-client-secret",
                self.oidc_path.to_str().unwrap(),
            )
            .replace(
                "/etc/hsp/clinic/smtp-password",
                self.smtp_path.to_str().unwrap(),
            );
        let p = dir.join("plan-with-local-secrets.json");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `--set-file` arguments for the chart's required secrets.
    pub fn helm_set_files(&self) -> Vec<String> {
        vec![
            format!(
                "--set-file=secrets.oidc-client-secret={}",
                self.oidc_path.display()
            ),
            format!(
                "--set-file=secrets.smtp-password={}",
                self.smtp_path.display()
            ),
        ]
    }
}
