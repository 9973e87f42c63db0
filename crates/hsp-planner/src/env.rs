//! Loading and checking an environment file, with `file:line:col` positions.
//!
//! This is the planner's only module that touches the filesystem: it reads the
//! environment file and `stat`s each secret file (mode must be owner-only, e.g.
//! 0600) — it never reads a secret's contents. Relative secret-file paths are made
//! absolute (against the environment file's folder) so that a plan's
//! [`hsp_index::plan::SecretRef::File`] means the same thing from any working dir;
//! so is a host target's artifact mirror folder (`target.mirror`).

use std::fmt;
use std::path::{Path, PathBuf};

use hsp_check::locate::{escape, field_path, locate};
use hsp_check::structure;
use hsp_index::artifact_mirror::ArtifactMirror;
use hsp_index::environment::{ConfigValue, Environment, TargetKind};
use hsp_index::name::{
    describe_char, is_env_name, is_name, is_reverse_dns, line_control, value_control,
};
use hsp_index::secret_file::{check_secret_file, SecretFileError};
use hsp_index::version::{parse_range, parse_version};

/// An environment file that parsed and passed every check.
#[derive(Clone, Debug)]
pub struct LoadedEnvironment {
    /// The environment, secret-file paths made absolute.
    pub env: Environment,
    /// The file it was read from.
    pub path: PathBuf,
    /// Its bytes, for positions of fields found wrong later ([`LoadedEnvironment::at`]).
    bytes: Vec<u8>,
}

impl LoadedEnvironment {
    /// `file:line:col: field` of the value at JSON `pointer` (e.g. `/index/url`),
    /// for a problem found after loading (against the state directory, say).
    pub fn at(&self, pointer: &str) -> String {
        let pos = locate(&self.bytes, pointer, false);
        format!(
            "{}:{}:{}: {}",
            self.path.display(),
            pos.line,
            pos.column,
            field_path(pointer)
        )
    }
}

/// One problem in an environment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvIssue {
    pub line: usize,
    pub column: usize,
    /// Field path, e.g. `services[1].version`.
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Why an environment file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("reading environment file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Issues(path, issues))]
    Invalid {
        path: PathBuf,
        issues: Vec<EnvIssue>,
    },
}

struct Issues<'a>(&'a Path, &'a [EnvIssue]);

impl fmt::Display for Issues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, i) in self.1.iter().enumerate() {
            if n > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}:{}: ", self.0.display(), i.line, i.column)?;
            if !i.field.is_empty() {
                write!(f, "{}: ", i.field)?;
            }
            f.write_str(&i.message)?;
            if let Some(h) = &i.hint {
                write!(f, " (hint: {h})")?;
            }
        }
        Ok(())
    }
}

/// Reads, parses and checks an environment file (see the module docs for the I/O).
pub fn read_environment(path: &Path) -> Result<LoadedEnvironment, EnvError> {
    let bytes = std::fs::read(path).map_err(|source| EnvError::Read {
        path: path.into(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    parse_environment(path, &bytes, &dir, &|p: &Path| secret_file_problem(p))
}

/// Parses and checks environment text. `secret_check` says what is wrong with a
/// secret file and how to fix it (`None` when it is fine); `base` is where relative paths start.
pub fn parse_environment(
    path: &Path,
    bytes: &[u8],
    base: &Path,
    secret_check: &dyn Fn(&Path) -> Option<(String, String)>,
) -> Result<LoadedEnvironment, EnvError> {
    let invalid = |issues| EnvError::Invalid {
        path: path.into(),
        issues,
    };
    let schema = schemars::schema_for!(Environment);
    let mut env: Environment = match structure::parse(bytes, &schema) {
        Ok(e) => e,
        Err(broken) => {
            let name = path.display().to_string();
            let issues = hsp_check::resolve_all(broken.findings, &name, bytes)
                .into_iter()
                .map(|d| EnvIssue {
                    line: d.line,
                    column: d.column,
                    field: d.field,
                    message: d.message,
                    hint: d
                        .hint
                        .or_else(|| Some("`hsp-agent schema` prints every field".into())),
                })
                .collect();
            return Err(invalid(issues));
        }
    };
    let mut c = Checker {
        bytes,
        issues: Vec::new(),
    };
    c.check(&env);
    for (ptr, file) in secret_files(&mut env) {
        let abs = if Path::new(file.as_str()).is_absolute() {
            PathBuf::from(&*file)
        } else {
            base.join(&*file)
        };
        if let Some((problem, hint)) = secret_check(&abs) {
            c.issue(&format!("{ptr}/secret_file"), problem, Some(hint));
        }
        *file = abs.display().to_string();
    }
    if env.target.kind == TargetKind::Host {
        if let Some(value) = &mut env.target.mirror {
            match ArtifactMirror::parse(value, base) {
                Ok(mirror) => *value = mirror.to_value(),
                Err(problem) => c.issue(
                    "/target/mirror",
                    problem,
                    Some("a host target's artifact mirror is a folder (absolute, or relative to the environment file), a file:// URL or an http(s):// base URL, e.g. \"/media/usb/hsp-mirror\" or \"http://10.0.0.5:8080/artifacts\"".into()),
                ),
            }
        }
    }
    if c.issues.is_empty() {
        Ok(LoadedEnvironment {
            env,
            path: path.into(),
            bytes: bytes.to_vec(),
        })
    } else {
        Err(invalid(c.issues))
    }
}

/// What is wrong with a secret file, without reading it.
pub fn secret_file_problem(path: &Path) -> Option<(String, String)> {
    let chmod = format!("chmod 600 {}", path.display());
    match check_secret_file(path) {
        Ok(()) => None,
        Err(SecretFileError::Read(e)) => {
            let hint = format!("write the value to {} and {chmod}; relative paths start at the environment file's folder", path.display());
            Some((
                format!("secret file {} cannot be read: {e}", path.display()),
                hint,
            ))
        }
        Err(SecretFileError::NotFile) => Some((
            format!("secret file {} is not a regular file", path.display()),
            "point secret_file at a file holding the value".into(),
        )),
        Err(SecretFileError::Mode(mode)) => Some((
            format!(
                "secret file {} has mode {mode:04o}; it must be readable by its owner only (0600)",
                path.display()
            ),
            chmod,
        )),
        Err(SecretFileError::Owner { owner, user }) => Some((
            format!(
                "secret file {} is owned by uid {owner}; it must be owned by the user hsp-agent runs as (uid {user})",
                path.display()
            ),
            format!("chown {user} {}", path.display()),
        )),
        Err(SecretFileError::TooLarge) => Some((
            format!(
                "secret file {} is larger than {} bytes",
                path.display(),
                hsp_index::secret_file::MAX_SECRET_BYTES
            ),
            "a secret file holds one value (a password, a key)".into(),
        )),
    }
}

/// Every secret-file reference with its JSON pointer, mutable.
fn secret_files(env: &mut Environment) -> Vec<(String, &mut String)> {
    let mut out = Vec::new();
    for (n, e) in env.externals.iter_mut().enumerate() {
        for (field, v) in e.binding.iter_mut() {
            if let ConfigValue::Secret(s) = v {
                out.push((
                    format!("/externals/{n}/binding/{}", escape(field)),
                    &mut s.secret_file,
                ));
            }
        }
        for (consumer, fields) in e.per_consumer.iter_mut() {
            for (field, v) in fields.iter_mut() {
                if let ConfigValue::Secret(s) = v {
                    out.push((
                        format!(
                            "/externals/{n}/per_consumer/{}/{}",
                            escape(consumer),
                            escape(field)
                        ),
                        &mut s.secret_file,
                    ));
                }
            }
        }
    }
    for (scope, values) in env.config.iter_mut() {
        for (name, v) in values.iter_mut() {
            if let ConfigValue::Secret(s) = v {
                out.push((
                    format!("/config/{}/{}", escape(scope), escape(name)),
                    &mut s.secret_file,
                ));
            }
        }
    }
    out
}

struct Checker<'a> {
    bytes: &'a [u8],
    issues: Vec<EnvIssue>,
}

impl Checker<'_> {
    fn issue(&mut self, pointer: &str, message: String, hint: Option<String>) {
        self.issue_at(pointer, false, message, hint);
    }

    fn issue_at(&mut self, pointer: &str, at_key: bool, message: String, hint: Option<String>) {
        let pos = locate(self.bytes, pointer, at_key);
        self.issues.push(EnvIssue {
            line: pos.line,
            column: pos.column,
            field: field_path(pointer),
            message,
            hint,
        });
    }

    /// A control character in `text`: none at all in a one-line text (a URL,
    /// a path), none but tab and line breaks in a value.
    fn control(&mut self, pointer: &str, text: &str, one_line: bool) {
        let found = if one_line {
            line_control(text)
        } else {
            value_control(text)
        };
        if let Some(c) = found {
            let hint = if one_line {
                "remove it: this field is one line of text"
            } else {
                "remove it: only tab, line feed and carriage return may appear in a value (a NUL cannot reach a process at all)"
            };
            self.issue(
                pointer,
                format!("holds the control character {}", describe_char(c)),
                Some(hint.into()),
            );
        }
    }

    /// A literal value or a secret file's path.
    fn value(&mut self, pointer: &str, v: &ConfigValue) {
        match v {
            ConfigValue::Literal(text) => self.control(pointer, text, false),
            ConfigValue::Secret(s) => {
                self.control(&format!("{pointer}/secret_file"), &s.secret_file, true)
            }
        }
    }

    fn check(&mut self, env: &Environment) {
        if !is_name(&env.name) {
            self.issue(
                "/name",
                format!("{:?} is not a valid name", env.name),
                Some(
                    "use lowercase letters, digits and `-`, starting with a letter, e.g. `clinic`"
                        .into(),
                ),
            );
        }
        if env.index.url.trim().is_empty() {
            self.issue(
                "/index/url",
                "the index location is empty".into(),
                Some("an https:// or http:// URL, or a local folder".into()),
            );
        }
        let mut names = std::collections::BTreeMap::new();
        let mut ids = std::collections::BTreeMap::new();
        for (n, s) in env.services.iter().enumerate() {
            let at = format!("/services/{n}");
            if !is_reverse_dns(&s.id) {
                self.issue(
                    &format!("{at}/id"),
                    format!("{:?} is not a service id", s.id),
                    Some("reverse-DNS, e.g. `org.hapifhir.server`".into()),
                );
            }
            if let Some(prev) = ids.insert(s.id.clone(), n) {
                self.issue(
                    &format!("{at}/id"),
                    format!("service {} is already wanted by services[{prev}]", s.id),
                    Some("list each service once".into()),
                );
            }
            let range = parse_range(&s.version);
            if let Err(e) = &range {
                self.issue(
                    &format!("{at}/version"),
                    format!("{:?} is not a version range: {e}", s.version),
                    Some("e.g. \"^7.4\", \">=13, <17\" or \"*\"".into()),
                );
            }
            if let Some(pin) = &s.pin {
                match parse_version(pin) {
                    Err(e) => self.issue(
                        &format!("{at}/pin"),
                        format!("{pin:?} is not a version: {e}"),
                        Some("e.g. \"7.4.0\"".into()),
                    ),
                    Ok(v) => {
                        if let Ok(r) = &range {
                            if !r.matches(&v) {
                                self.issue(
                                    &format!("{at}/pin"),
                                    format!("pin {pin} is outside the wanted range {}", s.version),
                                    Some("widen `version` or change the pin".into()),
                                );
                            }
                        }
                    }
                }
            }
            if let Some(name) = &s.name {
                if !is_name(name) {
                    self.issue(
                        &format!("{at}/name"),
                        format!("{name:?} is not a valid instance name"),
                        Some("lowercase letters, digits and `-`, starting with a letter".into()),
                    );
                }
                if let Some(prev) = names.insert(name.clone(), n) {
                    self.issue(
                        &format!("{at}/name"),
                        format!("instance name {name} is already used by services[{prev}]"),
                        None,
                    );
                }
            }
        }
        let mut ext_names = std::collections::BTreeSet::new();
        for (n, e) in env.externals.iter().enumerate() {
            let at = format!("/externals/{n}");
            if !is_name(&e.name) {
                self.issue(
                    &format!("{at}/name"),
                    format!("{:?} is not a valid name", e.name),
                    Some("lowercase letters, digits and `-`, e.g. `hospital-smtp`".into()),
                );
            }
            if !ext_names.insert(e.name.clone()) || names.contains_key(&e.name) {
                self.issue(
                    &format!("{at}/name"),
                    format!("name {} is used twice", e.name),
                    Some("externals and services need distinct names".into()),
                );
            }
            if !is_name(&e.interface) {
                self.issue(
                    &format!("{at}/interface"),
                    format!("{:?} is not an interface id", e.interface),
                    Some("e.g. `postgres`, `smtp`, `fhir`".into()),
                );
            }
            if let Err(err) = parse_version(&e.version) {
                self.issue(
                    &format!("{at}/version"),
                    format!("{:?} is not a version: {err}", e.version),
                    Some("the interface version it offers, e.g. \"16\" or \"4.0.1\"".into()),
                );
            }
            for (k, c) in e.consumers.iter().enumerate() {
                if !is_name(c) && !c.contains('.') {
                    self.issue(
                        &format!("{at}/consumers/{k}"),
                        format!("{c:?} is not an instance name or a service id"),
                        Some(
                            "the instance names it may serve, e.g. [\"keycloak\", \"care\"]".into(),
                        ),
                    );
                }
            }
            for c in e.per_consumer.keys() {
                if !e.serves(&[c.as_str()]) {
                    self.issue(
                        &format!("{at}/per_consumer/{}", escape(c)),
                        format!("{c} has a binding of its own but is not in consumers"),
                        Some(format!(
                            "add \"{c}\" to {at}/consumers, or remove its per_consumer entry"
                        )),
                    );
                }
            }
        }
        for (field, text) in [
            ("/index/url", &env.index.url),
            ("/index/root", &env.index.root),
        ] {
            self.control(field, text, true);
        }
        if let Some(mirror) = &env.target.mirror {
            self.control("/target/mirror", mirror, true);
        }
        for (n, e) in env.externals.iter().enumerate() {
            for (field, v) in &e.binding {
                self.value(&format!("/externals/{n}/binding/{}", escape(field)), v);
            }
            for (consumer, fields) in &e.per_consumer {
                for (field, v) in fields {
                    self.value(
                        &format!(
                            "/externals/{n}/per_consumer/{}/{}",
                            escape(consumer),
                            escape(field)
                        ),
                        v,
                    );
                }
            }
        }
        for (scope, values) in &env.config {
            for (name, v) in values {
                self.value(&format!("/config/{}/{}", escape(scope), escape(name)), v);
            }
        }
        for (scope, values) in &env.config {
            for name in values.keys() {
                if !is_env_name(name) {
                    self.issue_at(
                        &format!("/config/{}/{}", escape(scope), escape(name)),
                        true,
                        format!("{name:?} is not a config name"),
                        Some("config names are `[A-Z0-9_]+`".into()),
                    );
                }
            }
        }
        if let Some(licences) = &env.policy.licenses {
            for (n, l) in licences.iter().enumerate() {
                if spdx::license_id(l).is_none() && !l.starts_with("LicenseRef-") {
                    let hint = spdx::imprecise_license_id(l)
                        .map(|(id, _)| format!("did you mean {}?", id.name));
                    self.issue(
                        &format!("/policy/licenses/{n}"),
                        format!("{l:?} is not an SPDX licence id"),
                        hint.or_else(|| Some("e.g. `Apache-2.0`, `MIT`, `GPL-3.0`".into())),
                    );
                }
            }
        }
        if let Some(w) = &env.policy.window {
            for (field, v) in [("start", &w.start), ("end", &w.end)] {
                if !is_hhmm(v) {
                    self.issue(
                        &format!("/policy/window/{field}"),
                        format!("{v:?} is not a time of day"),
                        Some("write `HH:MM`, 24-hour UTC, e.g. \"02:00\"".into()),
                    );
                }
            }
            for (n, d) in w.days.iter().enumerate() {
                if !["mon", "tue", "wed", "thu", "fri", "sat", "sun"].contains(&d.as_str()) {
                    self.issue(
                        &format!("/policy/window/days/{n}"),
                        format!("{d:?} is not a day"),
                        Some("use mon, tue, wed, thu, fri, sat or sun".into()),
                    );
                }
            }
        }
        for (iface, service) in &env.policy.preferred {
            if !is_reverse_dns(service) {
                self.issue(&format!("/policy/preferred/{}", escape(iface)), format!("{service:?} is not a service id"), Some("map an interface id to a service id, e.g. `\"postgres\": \"org.postgresql.server\"`".into()));
            }
        }
        if env.target.kind == TargetKind::Host && env.target.root.is_none() {
            self.issue(
                "/target",
                "a host target needs `root`, the folder where services are unpacked and run".into(),
                Some("e.g. `\"root\": \"/var/lib/hsp\"`".into()),
            );
        }
    }
}

fn is_hhmm(s: &str) -> bool {
    let Some((h, m)) = s.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, bad_secrets: bool) -> Result<LoadedEnvironment, String> {
        let check = move |p: &Path| {
            bad_secrets.then(|| {
                let problem = format!(
                    "secret file {} has mode 0644; it must be readable by its owner only (0600)",
                    p.display()
                );
                (problem, format!("chmod 600 {}", p.display()))
            })
        };
        parse_environment(
            Path::new("env.json"),
            text.as_bytes(),
            Path::new("/site"),
            &check,
        )
        .map_err(|e| e.to_string())
    }

    const BASE: &str = r#"{
  "name": "clinic",
  "index": {"url": "https://index.example", "root": "root.json"},
  "target": {"kind": "docker"}"#;

    #[test]
    fn reports_positions() {
        for (extra, bad_secrets, want) in [
            ("", false, None),
            (
                r#","services": [{"id": "org.hapifhir.server", "version": "^x"}]"#,
                false,
                Some("env.json:5:56: services[0].version: \"^x\" is not a version range"),
            ),
            (
                r#","services": [{"id": "org.hapifhir.server", "colour": "red"}]"#,
                false,
                Some("env.json:5:"),
            ),
            (
                r#","config": {"org.hapifhir.server": {"SECRET": {"secret_file": "s.txt"}}}"#,
                true,
                Some("env.json:5:63: config.org.hapifhir.server.SECRET.secret_file: secret file /site/s.txt has mode 0644; it must be readable by its owner only (0600) (hint: chmod 600 /site/s.txt)"),
            ),
            (
                r#","policy": {"licenses": ["Apache2"]}"#,
                false,
                Some("policy.licenses[0]: \"Apache2\" is not an SPDX licence id (hint: did you mean Apache-2.0?)"),
            ),
            (
                r#","externals": [{"name": "Mail", "interface": "smtp", "version": "x"}]"#,
                false,
                Some("externals[0].name"),
            ),
            (
                r#","externals": [{"name": "pg", "interface": "postgres", "version": "16", "consumers": ["care"], "per_consumer": {"keycloak": {"database": "kc"}}}]"#,
                false,
                Some("externals[0].per_consumer.keycloak: keycloak has a binding of its own but is not in consumers"),
            ),
            (
                r#","externals": [{"name": "pg", "interface": "postgres", "version": "16", "per_consumer": {"care": {"password": {"secret_file": "pg-care"}}}}]"#,
                true,
                Some("externals[0].per_consumer.care.password.secret_file: secret file /site/pg-care has mode 0644"),
            ),
            (
                r#","externals": [{"name": "pg", "interface": "postgres", "version": "16", "consumers": ["Care App"]}]"#,
                false,
                Some("externals[0].consumers[0]: \"Care App\" is not an instance name or a service id"),
            ),
        ] {
            let text = format!("{BASE}\n{extra}}}");
            let got = load(&text, bad_secrets);
            match want {
                None => assert!(got.is_ok(), "{got:?}"),
                Some(w) => {
                    let e = got.expect_err(&text);
                    assert!(e.contains(w), "{e}\n  does not contain\n{w}");
                }
            }
        }
    }

    #[test]
    fn duplicate_keys_and_control_characters_are_refused() {
        // The same config key twice in one map: an error at the second, naming the first.
        let dup = format!("{BASE},\"config\": {{\"x.y\": {{\n \"A\": \"1\",\n \"A\": \"2\"}}}}}}");
        let e = load(&dup, false).unwrap_err();
        assert!(e.starts_with("env.json:6:2:"), "{e}");
        assert!(e.contains("at 5:2 and at 6:2"), "both positions: {e}");
        // A NUL (or another control character) in a value.
        for c in ["\\u0000", "\\u001b"] {
            let text = format!("{BASE},\"config\": {{\"x.y\": {{\"A\": \"a{c}b\"}}}}}}");
            let e = load(&text, false).unwrap_err();
            assert!(
                e.contains("config.x.y.A") && e.contains("control character"),
                "{c}: {e}"
            );
        }
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = load("{\n  \"name\": \"x\",,\n}", false).unwrap_err();
        assert!(e.starts_with("env.json:2:"), "{e}");
    }

    #[test]
    fn a_host_mirror_is_a_folder_or_a_url() {
        let host = |mirror: &str| {
            format!(
                "{{\"name\": \"clinic\", \"index\": {{\"url\": \"/i\", \"root\": \"r.json\"}},\n\"target\": {{\"kind\": \"host\", \"root\": \"/srv\",\n  \"mirror\": {mirror:?}}}}}"
            )
        };
        for (mirror, want) in [
            ("usb/mirror", "/site/usb/mirror"),
            ("/media/usb", "/media/usb"),
            ("file:///media/usb", "/media/usb"),
            ("http://10.0.0.5:8080/a/", "http://10.0.0.5:8080/a"),
        ] {
            let env = load(&host(mirror), false).unwrap().env;
            assert_eq!(env.target.mirror.as_deref(), Some(want), "{mirror}");
        }
        let e = load(&host("ftp://mirror/a"), false).unwrap_err();
        assert!(
            e.starts_with("env.json:3:13: target.mirror: \"ftp://mirror/a\" is neither a folder nor a file://, http:// or https:// URL (hint: "),
            "{e}"
        );
        // A Docker target's mirror is a registry, left as it is.
        let docker = format!("{BASE}\n}}").replace(
            r#""kind": "docker""#,
            r#""kind": "docker", "mirror": "127.0.0.1:5000""#,
        );
        let env = load(&docker, false).unwrap().env;
        assert_eq!(env.target.mirror.as_deref(), Some("127.0.0.1:5000"));
    }

    #[test]
    fn secret_paths_become_absolute() {
        let text =
            format!("{BASE},\"config\": {{\"x.y\": {{\"A\": {{\"secret_file\": \"sub/a\"}}}}}}}}");
        let env = load(&text, false).unwrap().env;
        assert_eq!(
            env.config["x.y"]["A"],
            ConfigValue::Secret(hsp_index::environment::SecretFile {
                secret_file: "/site/sub/a".into()
            })
        );
    }
}
