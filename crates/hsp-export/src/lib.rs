//! Exporters: Kubernetes manifests, a Helm chart and a Compose file from one
//! resolved [`Plan`].
//!
//! All three read the same [`model::Model`] of the plan: one *unit* per task of
//! each instance, named `<instance>-<task>` — the DNS name the planner renders for
//! `${self.<task>.<port>}` and for bindings, so a Kubernetes Service and a Compose
//! service carry exactly that name. Plain env values go to ConfigMaps (Compose:
//! `environment`); any env value with a secret part goes *as a whole* to a Secret
//! (Compose: an env file), because neither format can splice a secret into text.
//!
//! Volumes are the agent's: one per instance and volume name,
//! [`hsp_index::plan::volume_name`] (`<instance>-<volume>`), mounted by every task
//! of the instance that declares it. On Kubernetes a volume that more than one pod
//! may mount (replicas, or two tasks) is `ReadWriteMany`, the others
//! `ReadWriteOnce`; the READMEs say so.
//!
//! Secrets: a plan holds only [`SecretRef`](hsp_index::plan::SecretRef)s. Without
//! `inline_secrets`, exports contain placeholders `<hsp:KEY>` and a README listing
//! what to fill; with it, file secrets are read and generated ones are generated
//! once per export, so every place that uses one gets the same value.
//!
//! Output is deterministic: the same plan and options give byte-identical files
//! (placeholders mode; inline mode differs only in generated values).
//!
//! **Invariant:** exports never contain a secret value unless
//! [`Options::inline_secrets`] is set, and then only in files marked
//! [`OutFile::secret`] (written mode 0600).

mod compose;
mod helm;
mod kubernetes;
mod model;
mod readme;
mod secrets;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hsp_index::Plan;

pub use secrets::{SecretSource, SystemSecrets};

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A folder of manifests for `kubectl apply -f`.
    Kubernetes,
    /// A Helm chart folder.
    Helm,
    /// A Compose project folder (`compose.yaml`).
    Compose,
}

/// Export options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Write secret values: read file secrets, generate generated ones.
    pub inline_secrets: bool,
    /// Registry (`host[:port]`) that replaces every image's registry: a mirror
    /// serving the same digests.
    pub registry: Option<String>,
}

/// The exported files, by path relative to the output folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Export {
    pub files: BTreeMap<String, OutFile>,
    /// The secrets the environment uses: placeholders to fill, or (with
    /// `inline_secrets`) what the export holds.
    pub secrets: Vec<SecretUse>,
}

/// One secret of the environment and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretUse {
    /// Stable key, e.g. `oidc-client-secret` (Helm: `secrets.<key>` or
    /// `generatedSecrets.<key>`).
    pub key: String,
    /// `<hsp:KEY>`, as written in place of the value.
    pub placeholder: String,
    /// Where the value comes from.
    pub reference: hsp_index::plan::SecretRef,
    /// `(unit, env var)` pairs whose values contain it.
    pub used_by: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutFile {
    pub contents: String,
    /// Holds secret values: written mode 0600.
    pub secret: bool,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("instance {instance}, task {task}: image {image:?} is not pinned by digest (hint: use `repo[:tag]@sha256:<64 hex>`)")]
    ImageNotPinned {
        instance: String,
        task: String,
        image: String,
    },
    #[error("{name:?} cannot be used as a Kubernetes or Compose name: {why} (hint: shorten the instance or task name in the environment)")]
    Name { name: String, why: &'static str },
    #[error("{name:?} is used by two objects ({first} and {second}) (hint: rename one of them in the environment)")]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
    #[error("instance {instance}, task {task}: health check names port {port:?}, which the task does not have")]
    HealthPort {
        instance: String,
        task: String,
        port: String,
    },
    #[error("secret {key}: {why}")]
    SecretValue { key: String, why: &'static str },
    #[error("reading secret file {path}")]
    ReadSecret {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("secret file {path} has mode {mode:o}: it must not be readable by group or others (hint: chmod 600 {path})")]
    SecretMode { path: String, mode: u32 },
    #[error("secret file {path} is not a regular file (hint: point secret_file at a file holding the value)")]
    SecretNotFile { path: String },
    #[error("secret file {path} is owned by uid {owner}, not by the user exporting (uid {user}) (hint: chown {user} {path})")]
    SecretOwner { path: String, owner: u32, user: u32 },
    #[error(
        "secret file {path} is larger than {} bytes (hint: a secret file holds one value)",
        hsp_index::secret_file::MAX_SECRET_BYTES
    )]
    SecretTooLarge { path: String },
    #[error("serializing YAML")]
    Yaml(#[from] serde_yaml::Error),
    #[error("serializing JSON")]
    Json(#[from] serde_json::Error),
    #[error("{} is not empty and holds no earlier export (hint: choose a new folder)", path.display())]
    NotEmpty { path: PathBuf },
    #[error("{} exists and was not written by an earlier export: not overwriting it (hint: move it away, or export into a new folder)", path.display())]
    Overwrite { path: PathBuf },
    #[error("writing {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Exports `plan` as `format`. `source` is asked for secret values only when
/// `options.inline_secrets` is set.
pub fn export(
    plan: &Plan,
    format: Format,
    options: &Options,
    source: &mut dyn SecretSource,
) -> Result<Export, ExportError> {
    let model = model::Model::new(plan, options)?;
    let secrets = if options.inline_secrets {
        secrets::Secrets::inline(&model.atoms, source)?
    } else {
        secrets::Secrets::Placeholders
    };
    let files = match format {
        Format::Kubernetes => kubernetes::export(&model, &secrets)?,
        Format::Helm => helm::export(&model, &secrets)?,
        Format::Compose => compose::export(&model, &secrets)?,
    };
    let uses = model
        .atoms
        .iter()
        .map(|(r, key)| SecretUse {
            key: key.to_string(),
            placeholder: secrets::placeholder(key),
            reference: r.clone(),
            used_by: readme::uses(&model, r),
        })
        .collect();
    Ok(Export {
        files,
        secrets: uses,
    })
}

/// Lists the files an export wrote, so that exporting again into the same
/// folder replaces exactly those and never deletes anything else.
const MARKER: &str = ".hsp-export";

impl Export {
    /// Writes the files under `dir` (created if missing). A folder that is not
    /// empty must hold an earlier export (its marker file); the files that export
    /// listed are removed first, so nothing stale is applied later.
    pub fn write(&self, dir: &Path) -> Result<(), ExportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ExportError::Write { path, source }
        };
        let marker = dir.join(MARKER);
        let mut owned: Vec<String> = Vec::new();
        if dir.exists() {
            if marker.exists() {
                let old = std::fs::read_to_string(&marker).map_err(io(&marker))?;
                owned = old
                    .lines()
                    .filter(|l| is_safe_relative(l))
                    .map(String::from)
                    .collect();
            } else if std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
                return Err(ExportError::NotEmpty {
                    path: dir.to_path_buf(),
                });
            }
        }
        // Never overwrite a file the earlier export did not write (e.g. an env
        // file the operator filled in from an `.example`).
        for rel in self.files.keys() {
            let p = dir.join(rel);
            if p.exists() && !owned.contains(rel) {
                return Err(ExportError::Overwrite { path: p });
            }
        }
        for rel in &owned {
            let p = dir.join(rel);
            if p.is_file() {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut listed = String::new();
        for (rel, file) in &self.files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            write_file(&path, file).map_err(io(&path))?;
            listed.push_str(rel);
            listed.push('\n');
        }
        std::fs::write(&marker, listed).map_err(io(&marker))
    }
}

fn is_safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

fn write_file(path: &Path, file: &OutFile) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if file.secret { 0o600 } else { 0o644 });
    }
    let mut f = options.open(path)?;
    f.write_all(file.contents.as_bytes())?;
    f.sync_all()
}

/// A small plan for unit tests: `db` (no health check), `web` (HTTP health,
/// CPUs, a command with `$`), `cron` (no ports, depends on `web`).
#[cfg(test)]
pub(crate) fn test_plan() -> Plan {
    let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let task = |name: &str, extra: serde_json::Value| {
        let mut t = serde_json::json!({
            "name": name, "image": format!("example.org/{name}@{d}"), "ports": [], "env": {},
            "memory_mib": 64, "instances": {"min": 1, "max": 1}, "stop_timeout_s": 5,
        });
        t.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        t
    };
    let generated =
        serde_json::json!({"secret": {"kind": "generated", "instance": "db", "name": "PASSWORD"}});
    serde_json::from_value(serde_json::json!({
        "environment": "unit",
        "instances": [
            {"name": "db", "service": "org.example.db", "version": "1.0.0+b1", "license": "MIT", "reason": "r",
             "dedicated_to": "web", "tasks": [task("main", serde_json::json!({
                "ports": [{"name": "sql", "port": 5432, "protocol": "tcp"}],
                "env": {"PASSWORD": [generated.clone()]},
                "volumes": [{"name": "data", "path": "/data"}]}))]},
            {"name": "web", "service": "org.example.web", "version": "2.0.0", "license": "MIT", "reason": "r",
             "depends_on": ["db"],
             "bindings": {"db": {"interface": "sql", "version": "1.0.0", "provider": {"kind": "instance", "name": "db"}, "values": {}}},
             "tasks": [task("app", serde_json::json!({
                "command": ["serve", "--home=$(HOME)", "--cost=$5"], "cpus": 0.5,
                "instances": {"min": 2, "max": 5},
                "ports": [{"name": "http", "port": 8080, "protocol": "http"}],
                "env": {"URL": [{"text": "sql://u:"}, generated, {"text": "@db-main:5432"}], "PRICE": [{"text": "$5"}]},
                "health": {"http": {"port": "http", "path": "/healthz"}, "interval_s": 5, "timeout_s": 2, "start_period_s": 12, "retries": 2}}))]},
            {"name": "cron", "service": "org.example.cron", "version": "3.0.0", "license": "MIT", "reason": "r",
             "depends_on": ["web"], "tasks": [task("job", serde_json::json!({}))]}
        ],
        "externals": [{"name": "mail", "interface": "smtp", "version": "1.0.0",
                       "values": {"host": [{"text": "10.0.0.25"}], "port": [{"text": "25"}]}}]
    }))
    .unwrap()
}

/// One instance `care` whose `app` task (up to `app_max` instances) and
/// `worker` task (one) both declare volume `documents`; only `app` has `cache`.
#[cfg(test)]
pub(crate) fn shared_volume_plan(app_max: u32) -> Plan {
    let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let task = |name: &str, max: u32, volumes: serde_json::Value| {
        serde_json::json!({
            "name": name, "image": format!("example.org/care@{d}"), "ports": [], "env": {},
            "memory_mib": 64, "instances": {"min": 1, "max": max}, "stop_timeout_s": 5,
            "volumes": volumes,
        })
    };
    serde_json::from_value(serde_json::json!({
        "environment": "unit",
        "instances": [
            {"name": "care", "service": "org.example.care", "version": "1.0.0", "license": "MIT", "reason": "r",
             "tasks": [
                task("app", app_max, serde_json::json!([
                    {"name": "documents", "path": "/srv/documents"}, {"name": "cache", "path": "/srv/cache"}])),
                task("worker", 1, serde_json::json!([{"name": "documents", "path": "/work/documents"}])),
             ]}
        ],
    }))
    .unwrap()
}

/// Two consumers of one external Postgres, each with a binding of its own
/// (`per_consumer`): what the planner renders into their env and the plan's
/// `externals`.
#[cfg(test)]
pub(crate) fn per_consumer_plan() -> Plan {
    let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let file = |p: &str| serde_json::json!([{"secret": {"kind": "file", "path": p}}]);
    let text = |t: &str| serde_json::json!([{"text": t}]);
    let consumer = |name: &str, db: &str, user: &str, pw: &str| {
        serde_json::json!({
            "name": name, "service": format!("org.example.{name}"), "version": "1.0.0",
            "license": "MIT", "reason": "r",
            "bindings": {"db": {"interface": "postgres", "version": "16", "provider": {"kind": "external", "name": "pg-main"},
                                "values": {"host": text("pg.example"), "database": text(db), "user": text(user), "password": file(pw)}}},
            "tasks": [{"name": "app", "image": format!("example.org/{name}@{d}"), "ports": [],
                       "env": {"DB_HOST": text("pg.example"), "DB_NAME": text(db), "DB_USER": text(user), "DB_PASSWORD": file(pw)},
                       "memory_mib": 64, "instances": {"min": 1, "max": 1}, "stop_timeout_s": 5}]
        })
    };
    serde_json::from_value(serde_json::json!({
        "environment": "unit",
        "instances": [
            consumer("keycloak", "keycloak", "keycloak", "/s/pg-keycloak"),
            consumer("care", "care", "care_app", "/s/pg-care"),
        ],
        "externals": [{"name": "pg-main", "interface": "postgres", "version": "16",
                       "values": {"host": text("pg.example"), "password": file("/s/pg-shared")},
                       "per_consumer": {
                           "keycloak": {"database": text("keycloak"), "user": text("keycloak"), "password": file("/s/pg-keycloak")},
                           "care": {"database": text("care"), "user": text("care_app"), "password": file("/s/pg-care")}}}]
    }))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_consumer_values_reach_their_consumer() {
        struct Files;
        impl SecretSource for Files {
            fn read_file(&mut self, path: &str) -> Result<String, ExportError> {
                Ok(format!("pw-of-{}", path.trim_start_matches("/s/")))
            }
            fn generate(&mut self) -> String {
                "gen".into()
            }
        }
        let plan = per_consumer_plan();
        let inline = Options {
            inline_secrets: true,
            ..Options::default()
        };
        for format in [Format::Kubernetes, Format::Helm, Format::Compose] {
            let out = export(&plan, format, &Options::default(), &mut Files).unwrap();
            let keys: Vec<&str> = out.secrets.iter().map(|s| s.key.as_str()).collect();
            for want in ["pg-keycloak", "pg-care"] {
                assert!(keys.contains(&want), "{format:?}: {keys:?}");
            }
        }
        // Compose: each service's env file holds its own database, user, password.
        let out = export(&plan, Format::Compose, &inline, &mut Files).unwrap();
        for (unit, db, user, pw, other) in [
            (
                "keycloak-app",
                "keycloak",
                "keycloak",
                "pw-of-pg-keycloak",
                "pw-of-pg-care",
            ),
            (
                "care-app",
                "care",
                "care_app",
                "pw-of-pg-care",
                "pw-of-pg-keycloak",
            ),
        ] {
            let compose: serde_json::Value =
                serde_yaml::from_str(&out.files["compose.yaml"].contents).unwrap();
            let env = &compose["services"][unit]["environment"];
            assert_eq!(env["DB_NAME"], db, "{unit}: {env}");
            assert_eq!(env["DB_USER"], user, "{unit}: {env}");
            let secrets = &out.files[&format!("secrets/{unit}.env")].contents;
            assert!(
                secrets.contains(&format!("DB_PASSWORD=\"{pw}\"")),
                "{unit}: {secrets}"
            );
            assert!(!secrets.contains(other), "{unit}: {secrets}");
        }
        // Kubernetes: each instance's manifests name its own values only; the
        // external's ConfigMap lists each consumer's own plain fields.
        let out = export(&plan, Format::Kubernetes, &Options::default(), &mut Files).unwrap();
        let kc = &out.files["30-keycloak.yaml"].contents;
        let care = &out.files["30-care.yaml"].contents;
        assert!(kc.contains("keycloak") && !kc.contains("care_app"), "{kc}");
        assert!(
            care.contains("care_app") && !care.contains("value: keycloak"),
            "{care}"
        );
        let ext = &out.files["20-externals.yaml"].contents;
        for want in [
            "keycloak.database: keycloak",
            "care.user: care_app",
            "host: pg.example",
        ] {
            assert!(ext.contains(want), "{want}: {ext}");
        }
    }

    #[test]
    fn exports_are_deterministic_and_hold_no_secret_without_inline() {
        struct Never;
        impl SecretSource for Never {
            fn read_file(&mut self, path: &str) -> Result<String, ExportError> {
                panic!("read {path} without --inline-secrets")
            }
            fn generate(&mut self) -> String {
                panic!("generated without --inline-secrets")
            }
        }
        for format in [Format::Kubernetes, Format::Helm, Format::Compose] {
            let a = export(&test_plan(), format, &Options::default(), &mut Never).unwrap();
            let b = export(&test_plan(), format, &Options::default(), &mut Never).unwrap();
            assert_eq!(a, b, "{format:?}");
            assert!(a.files.values().all(|f| !f.secret), "{format:?}");
        }
    }

    #[test]
    fn safe_relative_paths() {
        for (rel, ok) in [
            ("compose.yaml", true),
            ("templates/a.yaml", true),
            ("", false),
            ("/etc/passwd", false),
            ("../x", false),
            ("a/../../x", false),
            ("a//b", false),
        ] {
            assert_eq!(is_safe_relative(rel), ok, "{rel}");
        }
    }

    #[test]
    fn write_refuses_foreign_folder_and_replaces_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.txt"), "keep").unwrap();
        let export = Export {
            secrets: vec![],
            files: BTreeMap::from([
                (
                    "a.yaml".to_string(),
                    OutFile {
                        contents: "a".into(),
                        secret: false,
                    },
                ),
                (
                    "s/b.env".to_string(),
                    OutFile {
                        contents: "b".into(),
                        secret: true,
                    },
                ),
            ]),
        };
        assert!(matches!(
            export.write(dir.path()),
            Err(ExportError::NotEmpty { .. })
        ));

        let out = dir.path().join("out");
        export.write(&out).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("s/b.env"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let smaller = Export {
            secrets: vec![],
            files: BTreeMap::from([(
                "c.yaml".to_string(),
                OutFile {
                    contents: "c".into(),
                    secret: false,
                },
            )]),
        };
        std::fs::write(out.join("notes.txt"), "user file").unwrap();
        smaller.write(&out).unwrap();
        assert!(
            !out.join("a.yaml").exists(),
            "stale file of the earlier export removed"
        );
        assert!(!out.join("s/b.env").exists());
        assert!(out.join("c.yaml").exists());
        assert!(
            out.join("notes.txt").exists(),
            "files the export did not write are kept"
        );

        // An operator's file where the export would write is never overwritten.
        std::fs::create_dir_all(out.join("s")).unwrap();
        std::fs::write(out.join("s/b.env"), "filled by the operator").unwrap();
        assert!(matches!(
            export.write(&out),
            Err(ExportError::Overwrite { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(out.join("s/b.env")).unwrap(),
            "filled by the operator"
        );
        assert!(out.join("c.yaml").exists(), "nothing removed when refusing");
    }
}
