//! Rules on one conformance document (after it parsed): [`check`] runs them all,
//! in a fixed order, through one `Checker`.
//!
//! Here: identity (id, version, names, URLs), config, templates, artifacts and
//! the smoke test. The others are `impl Checker` blocks beside the data they
//! judge: the licence in `licence`, provides and requires in `binding`, tasks
//! in `task`.
//!
//! With the registry's interfaces in the [`Context`], the rules that need them run
//! too: interfaces exist, bindings fill the interface's fields, features exist,
//! `${<requirement>.<field>}` names a binding field.

use std::collections::{HashMap, HashSet};

use super::format::{
    is_env_name, is_name, is_platform, is_relative_path, is_reverse_dns, is_sha256, is_web_url,
};
use super::template::{refs, Ref};
use super::{Code, Finding, LicencePolicy};
use hsp_index::document::Document;
use hsp_index::interface::Interface;
use hsp_index::name::{describe_char, line_control, value_control};
use hsp_index::version::parse_version;

/// Largest sane memory limit per task: 1 TiB.
pub const MAX_MEMORY_MIB: u32 = 1 << 20;
/// Longest allowed stop timeout, in seconds.
pub const MAX_STOP_TIMEOUT_S: u32 = 15;

/// What a document is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub licences: &'a LicencePolicy,
    pub artifacts: ArtifactPolicy,
    /// The registry's interfaces by id; `None` outside a registry, which skips
    /// the rules that need them.
    pub interfaces: Option<&'a HashMap<&'a str, &'a Interface>>,
    /// The registry maintainers' yanks (`registry.json`), which summaries
    /// carry as the document's own yank.
    pub yanks: &'a [hsp_index::registry::Yank],
}

/// `^(?:pattern)$` compiled, or the compiler's error. Registries repeat a few
/// patterns across many documents, so each thread keeps what it compiled (up to
/// a bound): compiling dominated checking before.
fn whole_value_regex(pattern: &str) -> Result<regex::Regex, String> {
    use std::cell::RefCell;
    thread_local! {
        static COMPILED: RefCell<HashMap<String, Result<regex::Regex, String>>> =
            RefCell::new(HashMap::new());
    }
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(r) = c.get(pattern) {
            return r.clone();
        }
        let r = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string());
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
        r
    })
}

/// What the registry's policy allows of host artifacts.
#[derive(Clone, Copy, Debug)]
pub struct ArtifactPolicy {
    /// `http://` and `file://` URLs too (a lab registry).
    pub lab_urls: bool,
    /// Largest declared size, in bytes.
    pub max_size: u64,
}

impl ArtifactPolicy {
    pub fn new(policy: &hsp_index::registry::Policy) -> ArtifactPolicy {
        ArtifactPolicy {
            lab_urls: policy.lab_artifact_urls,
            max_size: policy.max_artifact_size,
        }
    }
}

impl Default for ArtifactPolicy {
    fn default() -> ArtifactPolicy {
        ArtifactPolicy::new(&Default::default())
    }
}

/// Every finding on `doc`.
pub fn check(doc: &Document, ctx: &Context) -> Vec<Finding> {
    let mut c = Checker {
        doc,
        ctx,
        out: Vec::new(),
    };
    c.identity();
    c.licence();
    c.provides();
    c.requires();
    c.config();
    c.tasks();
    c.artifacts();
    c.smoke_test();
    c.out
}

pub(super) struct Checker<'a> {
    pub(super) doc: &'a Document,
    pub(super) ctx: &'a Context<'a>,
    pub(super) out: Vec<Finding>,
}

impl<'a> Checker<'a> {
    pub(super) fn push(&mut self, f: Finding) {
        self.out.push(f);
    }

    pub(super) fn err(&mut self, code: Code, ptr: impl Into<String>, msg: impl Into<String>) {
        self.out.push(Finding::new(code, ptr, msg));
    }

    /// A control character in a one-line text (`one_line`) or a value (see
    /// `hsp_index::name::value_control`).
    pub(super) fn control(&mut self, ptr: impl Into<String>, value: &str, one_line: bool) {
        let found = if one_line {
            line_control(value)
        } else {
            value_control(value)
        };
        if let Some(c) = found {
            let hint = if one_line {
                "write it on one line, without control characters"
            } else {
                "only tab, line feed and carriage return may appear in a value; remove the others"
            };
            self.push(
                Finding::new(
                    Code::ControlCharacter,
                    ptr,
                    format!("holds the control character {}", describe_char(c)),
                )
                .hint(hint),
            );
        }
    }

    fn identity(&mut self) {
        let d = self.doc;
        if !is_reverse_dns(&d.id) {
            self.push(
                Finding::new(Code::IdFormat, "/id", format!("`{}` is not a reverse-DNS id", d.id))
                    .hint("lowercase labels of a-z, 0-9 and -, separated by dots, e.g. `org.hapifhir.server`"),
            );
        }
        if parse_version(&d.version).is_err() {
            self.push(
                Finding::new(
                    Code::VersionFormat,
                    "/version",
                    format!("`{}` is not a semantic version", d.version),
                )
                .hint("write MAJOR.MINOR.PATCH, e.g. `7.4.0` (`7.4` is read as `7.4.0`)"),
            );
        }
        for (ptr, value) in [("/name", &d.name), ("/summary", &d.summary)] {
            if value.trim().is_empty() {
                self.err(Code::EmptyField, ptr, "must not be empty");
            }
            self.control(ptr, value, true);
        }
        if !is_name(&d.publisher) {
            self.push(
                Finding::new(
                    Code::NameFormat,
                    "/publisher",
                    format!("`{}` is not a publisher name", d.publisher),
                )
                .hint("publisher names are `[a-z][a-z0-9-]*`, the folder under publishers/"),
            );
        }
        for (ptr, url) in [("/homepage", &d.homepage), ("/support_url", &d.support_url)] {
            if let Some(u) = url.as_deref().filter(|u| !is_web_url(u)) {
                self.err(Code::UrlFormat, ptr, format!("`{u}` is not an http(s) URL"));
            }
        }
    }

    fn config(&mut self) {
        let mut seen = HashSet::new();
        for (i, c) in self.doc.config.iter().enumerate() {
            let base = format!("/config/{i}");
            if !is_env_name(&c.name) {
                self.push(
                    Finding::new(
                        Code::EnvName,
                        format!("{base}/name"),
                        format!("`{}` is not a config name", c.name),
                    )
                    .hint("config names are `[A-Z0-9_]+`, e.g. `OIDC_CLIENT_SECRET`"),
                );
            }
            if !seen.insert(&c.name) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/name"),
                    format!("config entry `{}` is declared twice", c.name),
                );
            }
            if let Some(p) = &c.pattern {
                // Matched against the whole value, as the agent does.
                match whole_value_regex(p) {
                    Err(e) => self.push(
                        Finding::new(Code::ConfigPattern, format!("{base}/pattern"), format!("`{p}` is not a regular expression: {}", first_line(&e)))
                            .hint("the syntax is Rust's `regex` crate; the pattern must match the whole value"),
                    ),
                    Ok(re) => {
                        if let Some(d) = c.default.as_deref().filter(|d| !re.is_match(d)) {
                            self.err(Code::ConfigPattern, format!("{base}/default"), format!("the default `{d}` does not match the pattern `{p}`"));
                        }
                        if let Some(e) = c.example.as_deref().filter(|e| !re.is_match(e)) {
                            self.err(Code::ConfigPattern, format!("{base}/example"), format!("the example `{e}` does not match the pattern `{p}`"));
                        }
                    }
                }
            }
            if let Some(d) = &c.default {
                self.control(format!("{base}/default"), d, false);
            }
            if c.secret && c.default.is_some() {
                self.push(
                    Finding::new(Code::SecretDefault, format!("{base}/default"), format!("secret `{}` has a default value", c.name))
                        .hint("remove the default, or set `generate: true` to have the agent create one per site"),
                );
            }
            if let Some(e) = &c.example {
                self.control(format!("{base}/example"), e, false);
            }
            if c.secret && c.example.is_some() {
                self.push(
                    Finding::new(Code::SecretDefault, format!("{base}/example"), format!("secret `{}` has an example value, published with the document", c.name))
                        .hint("remove the example: `hsp validate` generates a value for a required secret"),
                );
            }
        }
    }

    fn artifacts(&mut self) {
        let mut seen = HashSet::new();
        for (i, a) in self.doc.artifacts.iter().enumerate() {
            let base = format!("/artifacts/{i}");
            if !is_platform(&a.platform) {
                self.push(
                    Finding::new(
                        Code::NameFormat,
                        format!("{base}/platform"),
                        format!("`{}` is not a platform", a.platform),
                    )
                    .hint("`<os>-<arch>`, e.g. `linux-x86_64` or `linux-aarch64`"),
                );
            }
            if !seen.insert(&a.platform) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/platform"),
                    format!("platform `{}` has two artifacts", a.platform),
                );
            }
            let web = is_web_url(&a.url);
            let https = web && a.url.starts_with("https://");
            let lab_url = web || a.url.starts_with("file://");
            if https || (lab_url && self.ctx.artifacts.lab_urls) {
                // Allowed.
            } else if lab_url {
                self.push(
                    Finding::new(
                        Code::UrlFormat,
                        format!("{base}/url"),
                        format!("`{}`: artifacts are fetched over https only", a.url),
                    )
                    .hint("serve the archive over https; a lab or test registry may allow http:// and file:// with `\"policy\": {\"lab_artifact_urls\": true}` in registry.json"),
                );
            } else {
                self.err(
                    Code::UrlFormat,
                    format!("{base}/url"),
                    format!("`{}` is not an https URL", a.url),
                );
            }
            if !is_sha256(&a.sha256) {
                self.push(
                    Finding::new(
                        Code::ArtifactPin,
                        format!("{base}/sha256"),
                        "sha256 must be 64 lowercase hex digits",
                    )
                    .hint("`sha256sum <archive>` prints it"),
                );
            }
            let max = self.ctx.artifacts.max_size;
            if a.size > max {
                self.push(
                    Finding::new(
                        Code::ArtifactPin,
                        format!("{base}/size"),
                        format!(
                            "{} bytes is more than the registry's limit of {max} bytes",
                            a.size
                        ),
                    )
                    .hint("ship a smaller archive, or raise `policy.max_artifact_size` in registry.json"),
                );
            }
            if a.size == 0 {
                self.push(
                    Finding::new(
                        Code::ArtifactPin,
                        format!("{base}/size"),
                        "size must be the archive's size in bytes",
                    )
                    .hint("`stat -c %s <archive>` prints it"),
                );
            }
            if !is_relative_path(&a.entrypoint) {
                self.err(
                    Code::UrlFormat,
                    format!("{base}/entrypoint"),
                    format!("`{}` is not a path inside the archive", a.entrypoint),
                );
            }
        }
    }

    fn smoke_test(&mut self) {
        let doc = self.doc;
        let Some(s) = &doc.smoke_test else {
            self.push(
                Finding::new(Code::NoSmokeTest, "", "there is no smoke test")
                    .hint("add `\"smoke_test\": {\"task\": \"app\", \"http\": {\"port\": \"http\", \"path\": \"/\"}}`"),
            );
            return;
        };
        match doc.task(&s.task) {
            None => self.unknown_task("/smoke_test/task".into(), &s.task),
            Some(t) => self.probe("/smoke_test", t, &s.http, &s.command),
        }
        if s.timeout_s == 0 {
            self.err(
                Code::HealthCheck,
                "/smoke_test/timeout_s",
                "timeout_s must be at least 1",
            );
        }
        if s.http.is_none() {
            for (field, set) in [
                ("status", s.status.is_some()),
                ("body_contains", s.body_contains.is_some()),
            ] {
                if set {
                    self.err(
                        Code::HealthCheck,
                        format!("/smoke_test/{field}"),
                        format!("{field} applies to an `http` smoke test only"),
                    );
                }
            }
        }
        if s.status.is_some_and(|c| !(100..=599).contains(&c)) {
            self.err(
                Code::HealthCheck,
                "/smoke_test/status",
                "status must be an HTTP status code, 100 to 599",
            );
        }
    }

    /// Every `${...}` in `value` resolves.
    pub(super) fn template(&mut self, ptr: String, value: &str) {
        let found = match refs(value) {
            Ok(r) => r,
            Err(e) => {
                self.err(Code::TemplateSyntax, ptr, e);
                return;
            }
        };
        for r in found {
            if let Some(f) = self.unresolved(&ptr, &r) {
                self.push(f);
            }
        }
    }

    fn unresolved(&self, ptr: &str, r: &Ref) -> Option<Finding> {
        let doc = self.doc;
        let bad = |msg: String, hint: String| {
            Some(Finding::new(Code::TemplateReference, ptr, msg).hint(hint))
        };
        match *r {
            Ref::Config(name) if !doc.config.iter().any(|c| c.name == name) => bad(
                format!("`${{config.{name}}}` names no config entry"),
                format!("declare `{{\"name\": \"{name}\"}}` under `config`"),
            ),
            Ref::SelfPort { task, port } => match doc.task(task) {
                None => bad(
                    format!("`${{self.{task}.{port}}}`: there is no task `{task}`"),
                    "use `${self.<task>.<port>}`".into(),
                ),
                Some(t) if t.port(port).is_none() => bad(
                    format!("`${{self.{task}.{port}}}`: task `{task}` has no port `{port}`"),
                    "declare the port under the task's ports".into(),
                ),
                Some(_) => None,
            },
            Ref::Requirement { name, field } => {
                let Some(req) = doc.requires.iter().find(|q| q.name == name) else {
                    return bad(
                        format!("`${{{name}.{field}}}` names no requirement `{name}`"),
                        format!("declare a requirement named `{name}`, or use `${{config.NAME}}` / `${{self.<task>.<port>}}`"),
                    );
                };
                let iface = self
                    .ctx
                    .interfaces
                    .and_then(|m| m.get(req.interface.as_str()))?;
                if iface.field(field).is_some() {
                    return None;
                }
                let fields: Vec<&str> = iface.fields.iter().map(|f| f.name.as_str()).collect();
                bad(
                    format!(
                        "`${{{name}.{field}}}`: interface `{}` has no binding field `{field}`",
                        iface.id
                    ),
                    format!("fields of `{}`: {}", iface.id, fields.join(", ")),
                )
            }
            Ref::Config(_) => None,
        }
    }
}

/// The last line of a multi-line error (the regex crate draws the pattern first).
fn first_line(msg: &str) -> &str {
    msg.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim()
        .trim_start_matches("error: ")
}

/// A valid document and the interfaces it uses, for the rules' unit tests.
#[cfg(test)]
pub(super) mod testing {
    use super::*;
    use hsp_index::registry::Policy;

    pub const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    pub fn base() -> Document {
        let text = r#"{
          "id": "com.acme.app", "version": "1.0.0", "name": "App", "summary": "s",
          "publisher": "acme", "license": "Apache-2.0",
          "provides": [{"interface": "fhir", "version": "4.0.1", "task": "app", "port": "http",
                        "binding": {"base_url": "http://${self.app.http}/fhir"}}],
          "requires": [{"name": "db", "interface": "postgres", "version": ">=13", "features": ["schema-owner"]}],
          "config": [{"name": "SECRET", "secret": true}],
          "tasks": [{"name": "app", "image": "acme/app:1@sha256:HEX",
                     "ports": [{"name": "http", "port": 8080}],
                     "env": {"DB": "${db.host}:${db.port}", "S": "${config.SECRET}"},
                     "memory_mib": 2048,
                     "health": {"http": {"port": "http", "path": "/health"}}}],
          "artifacts": [{"platform": "linux-x86_64", "url": "https://acme.example/a.tar.gz",
                         "sha256": "HEX", "size": 10, "entrypoint": "bin/app"}],
          "smoke_test": {"task": "app", "http": {"port": "http", "path": "/"}}
        }"#;
        serde_json::from_str(&text.replace("HEX", HEX)).unwrap()
    }

    pub fn interfaces() -> Vec<Interface> {
        let fhir = r#"{"id": "fhir", "name": "FHIR", "description": "d", "versioning": "v",
                       "fields": [{"name": "base_url", "type": "url"}]}"#;
        let pg = r#"{"id": "postgres", "name": "PG", "description": "d", "versioning": "v",
                     "fields": [{"name": "host", "type": "host"}, {"name": "port", "type": "port"},
                                {"name": "password", "type": "secret", "required": false}],
                     "features": [{"name": "schema-owner", "description": "d"}]}"#;
        vec![
            serde_json::from_str(fhir).unwrap(),
            serde_json::from_str(pg).unwrap(),
        ]
    }

    /// Codes and pointers of `doc`'s findings, with the interfaces known.
    pub fn findings(doc: &Document) -> Vec<(Code, String)> {
        let licences = LicencePolicy::new(&Policy::default());
        let ifaces = interfaces();
        let map: HashMap<&str, &Interface> = ifaces.iter().map(|i| (i.id.as_str(), i)).collect();
        let ctx = Context {
            licences: &licences,
            artifacts: ArtifactPolicy::default(),
            interfaces: Some(&map),
            yanks: &[],
        };
        check(doc, &ctx)
            .into_iter()
            .map(|f| (f.code, f.pointer))
            .collect()
    }

    /// One case: a name, a change to the base document, the expected findings.
    pub type Case = (
        &'static str,
        Box<dyn Fn(&mut Document)>,
        Vec<(Code, &'static str)>,
    );

    /// Runs a table of cases against the base document.
    pub fn table(cases: Vec<Case>) {
        for (name, mutate, want) in cases {
            let mut doc = base();
            mutate(&mut doc);
            let mut want: Vec<(Code, String)> =
                want.into_iter().map(|(c, p)| (c, p.to_string())).collect();
            let mut got = findings(&doc);
            want.sort();
            got.sort();
            assert_eq!(got, want, "{name}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{base, findings, table};
    use super::*;

    #[test]
    fn base_document_is_clean() {
        assert_eq!(findings(&base()), vec![]);
    }

    #[test]
    fn document_rules() {
        table(vec![
            (
                "id",
                Box::new(|d| d.id = "app".into()),
                vec![(Code::IdFormat, "/id")],
            ),
            (
                "lenient version",
                Box::new(|d| d.version = "7.4".into()),
                vec![],
            ),
            (
                "version",
                Box::new(|d| d.version = "v1".into()),
                vec![(Code::VersionFormat, "/version")],
            ),
            (
                "empty name",
                Box::new(|d| d.name = " ".into()),
                vec![(Code::EmptyField, "/name")],
            ),
            (
                "publisher",
                Box::new(|d| d.publisher = "Acme".into()),
                vec![(Code::NameFormat, "/publisher")],
            ),
            (
                "homepage",
                Box::new(|d| d.homepage = Some("www.acme".into())),
                vec![(Code::UrlFormat, "/homepage")],
            ),
            (
                "config name",
                Box::new(|d| d.config[0].name = "secret".into()),
                vec![
                    (Code::EnvName, "/config/0/name"),
                    (Code::TemplateReference, "/tasks/0/env/S"),
                ],
            ),
            (
                "secret default",
                Box::new(|d| d.config[0].default = Some("x".into())),
                vec![(Code::SecretDefault, "/config/0/default")],
            ),
            (
                "pattern",
                Box::new(|d| {
                    d.config[0].secret = false;
                    d.config[0].pattern = Some("[a-z]+".into());
                    d.config[0].default = Some("abc".into());
                }),
                vec![],
            ),
            (
                "pattern matches the whole value",
                Box::new(|d| {
                    d.config[0].secret = false;
                    d.config[0].pattern = Some("[a-z]+".into());
                    d.config[0].default = Some("abc1".into());
                }),
                vec![(Code::ConfigPattern, "/config/0/default")],
            ),
            (
                "example that does not match the pattern",
                Box::new(|d| {
                    d.config[0].secret = false;
                    d.config[0].pattern = Some("[a-z]+".into());
                    d.config[0].example = Some("abc1".into());
                }),
                vec![(Code::ConfigPattern, "/config/0/example")],
            ),
            (
                "secret example",
                Box::new(|d| d.config[0].example = Some("x".into())),
                vec![(Code::SecretDefault, "/config/0/example")],
            ),
            (
                "bad pattern",
                Box::new(|d| d.config[0].pattern = Some("([a-z]".into())),
                vec![(Code::ConfigPattern, "/config/0/pattern")],
            ),
            (
                "template syntax",
                Box::new(|d| {
                    d.tasks[0].env.insert("X".into(), "${db".into());
                }),
                vec![(Code::TemplateSyntax, "/tasks/0/env/X")],
            ),
            (
                "binding field ref",
                Box::new(|d| {
                    d.tasks[0].env.insert("X".into(), "${db.user}".into());
                }),
                vec![(Code::TemplateReference, "/tasks/0/env/X")],
            ),
            (
                "optional field ref",
                Box::new(|d| {
                    d.tasks[0].env.insert("X".into(), "${db.password}".into());
                }),
                vec![],
            ),
            (
                "own port ref",
                Box::new(|d| {
                    d.tasks[0]
                        .env
                        .insert("X".into(), "${self.worker.http}".into());
                }),
                vec![(Code::TemplateReference, "/tasks/0/env/X")],
            ),
            (
                "artifact platform",
                Box::new(|d| d.artifacts[0].platform = "linux".into()),
                vec![(Code::NameFormat, "/artifacts/0/platform")],
            ),
            (
                "artifact url",
                Box::new(|d| d.artifacts[0].url = "ftp://x/a.tgz".into()),
                vec![(Code::UrlFormat, "/artifacts/0/url")],
            ),
            (
                "artifact file url",
                Box::new(|d| d.artifacts[0].url = "file:///srv/a.tar.gz".into()),
                vec![(Code::UrlFormat, "/artifacts/0/url")],
            ),
            (
                "artifact http url",
                Box::new(|d| d.artifacts[0].url = "http://acme.example/a.tar.gz".into()),
                vec![(Code::UrlFormat, "/artifacts/0/url")],
            ),
            (
                "artifact larger than the registry allows",
                Box::new(|d| d.artifacts[0].size = (4 << 30) + 1),
                vec![(Code::ArtifactPin, "/artifacts/0/size")],
            ),
            (
                "artifact size at the registry's limit",
                Box::new(|d| d.artifacts[0].size = 4 << 30),
                vec![],
            ),
            (
                "artifact sha",
                Box::new(|d| d.artifacts[0].sha256 = "abc".into()),
                vec![(Code::ArtifactPin, "/artifacts/0/sha256")],
            ),
            (
                "artifact size",
                Box::new(|d| d.artifacts[0].size = 0),
                vec![(Code::ArtifactPin, "/artifacts/0/size")],
            ),
            (
                "artifact entrypoint",
                Box::new(|d| d.artifacts[0].entrypoint = "../bin".into()),
                vec![(Code::UrlFormat, "/artifacts/0/entrypoint")],
            ),
            (
                "no smoke test",
                Box::new(|d| d.smoke_test = None),
                vec![(Code::NoSmokeTest, "")],
            ),
            (
                "smoke task",
                Box::new(|d| d.smoke_test.as_mut().unwrap().task = "ui".into()),
                vec![(Code::UnknownTaskOrPort, "/smoke_test/task")],
            ),
            (
                "smoke probe",
                Box::new(|d| d.smoke_test.as_mut().unwrap().http = None),
                vec![(Code::HealthCheck, "/smoke_test")],
            ),
        ]);
    }

    #[test]
    fn outside_a_registry_interfaces_are_not_checked() {
        let mut doc = base();
        doc.requires[0].interface = "mysql".into();
        doc.provides[0].binding.clear();
        let licences = LicencePolicy::new(&Default::default());
        let ctx = Context {
            licences: &licences,
            artifacts: ArtifactPolicy::default(),
            interfaces: None,
            yanks: &[],
        };
        assert!(check(&doc, &ctx).is_empty());
    }

    #[test]
    fn a_lab_registry_allows_http_and_file_artifacts_and_sets_its_size_limit() {
        let licences = LicencePolicy::new(&Default::default());
        let check_with = |url: &str, size: u64, artifacts: ArtifactPolicy| {
            let mut doc = base();
            doc.artifacts[0].url = url.into();
            doc.artifacts[0].size = size;
            let ctx = Context {
                licences: &licences,
                artifacts,
                interfaces: None,
                yanks: &[],
            };
            check(&doc, &ctx)
                .into_iter()
                .map(|f| (f.code, f.pointer, f.hint))
                .collect::<Vec<_>>()
        };
        let lab = ArtifactPolicy {
            lab_urls: true,
            max_size: 1000,
        };
        for url in ["http://lab.example/a.tar.gz", "file:///srv/a.tar.gz"] {
            assert!(check_with(url, 1000, lab).is_empty(), "{url}");
            let found = check_with(url, 1000, ArtifactPolicy::default());
            assert_eq!(found.len(), 1, "{url}: {found:?}");
            assert!(
                found[0].2.as_deref().unwrap().contains("lab_artifact_urls"),
                "{found:?}"
            );
        }
        // Not a URL at all: refused even in a lab.
        assert_eq!(check_with("ftp://x/a.tgz", 1000, lab)[0].0, Code::UrlFormat);
        let found = check_with("https://acme.example/a.tar.gz", 1001, lab);
        assert_eq!(
            found
                .iter()
                .map(|f| (f.0, f.1.as_str()))
                .collect::<Vec<_>>(),
            [(Code::ArtifactPin, "/artifacts/0/size")]
        );
    }
}
