//! Rules on one conformance document (after it parsed).
//!
//! With the registry's interfaces in the [`Context`], the rules that need them run
//! too: interfaces exist, bindings fill the interface's fields, features exist,
//! `${<requirement>.<field>}` names a binding field.

use std::collections::{HashMap, HashSet};

use super::format::{
    image_problem, is_env_name, is_ident, is_name, is_platform, is_relative_path, is_reverse_dns,
    is_sha256, is_web_url,
};
use super::locate::escape;
use super::template::{refs, Ref};
use super::{Code, Finding, LicencePolicy};
use crate::document::{Document, Health, HttpProbe, Task};
use crate::interface::Interface;
use crate::version::{parse_range, parse_version};

/// Largest sane memory limit per task: 1 TiB.
pub const MAX_MEMORY_MIB: u32 = 1 << 20;
/// Longest allowed stop timeout, in seconds.
pub const MAX_STOP_TIMEOUT_S: u32 = 15;

/// What a document is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub licences: &'a LicencePolicy,
    /// The registry's interfaces by id; `None` outside a registry, which skips
    /// the rules that need them.
    pub interfaces: Option<&'a HashMap<&'a str, &'a Interface>>,
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

struct Checker<'a> {
    doc: &'a Document,
    ctx: &'a Context<'a>,
    out: Vec<Finding>,
}

impl<'a> Checker<'a> {
    fn push(&mut self, f: Finding) {
        self.out.push(f);
    }

    fn err(&mut self, code: Code, ptr: impl Into<String>, msg: impl Into<String>) {
        self.out.push(Finding::new(code, ptr, msg));
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

    fn licence(&mut self) {
        let open = match self.ctx.licences.is_open(&self.doc.license) {
            Ok(open) => open,
            Err(e) => {
                let hint = match e.suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "use an SPDX expression such as `Apache-2.0`, `MIT OR Apache-2.0` or `LicenseRef-<name>`".into(),
                };
                let msg = format!(
                    "`{}` is not an SPDX expression: {}",
                    self.doc.license, e.message
                );
                self.push(Finding::new(Code::LicenseExpression, "/license", msg).hint(hint));
                return;
            }
        };
        if open {
            return;
        }
        let Some(l) = &self.doc.licensing else {
            self.push(
                Finding::new(
                    Code::LicensePolicy,
                    "/license",
                    format!("`{}` is not an open-source licence of this registry and `licensing` is missing", self.doc.license),
                )
                .hint("declare `licensing` with `base_form`, `no_trial_period: true`, `no_revocation: true` and `terms_url`"),
            );
            return;
        };
        if !l.no_trial_period {
            self.push(
                Finding::new(Code::LicensePolicy, "/licensing/no_trial_period", "the base form must have no trial period")
                    .hint("HSP lists non-open services only when their base form is free forever (freemium)"),
            );
        }
        if !l.no_revocation {
            self.err(
                Code::LicensePolicy,
                "/licensing/no_revocation",
                "the base form must not be revocable",
            );
        }
        if l.base_form.trim().is_empty() {
            self.err(
                Code::LicensePolicy,
                "/licensing/base_form",
                "describe what the free base form does",
            );
        }
        if !is_web_url(&l.terms_url) {
            self.err(
                Code::LicensePolicy,
                "/licensing/terms_url",
                format!("`{}` is not an http(s) URL", l.terms_url),
            );
        }
    }

    fn interface(&mut self, ptr: String, id: &str) -> Option<&'a Interface> {
        if !is_name(id) {
            self.err(
                Code::NameFormat,
                ptr,
                format!("`{id}` is not an interface id (`[a-z][a-z0-9-]*`)"),
            );
            return None;
        }
        let known = self.ctx.interfaces?;
        let found = known.get(id).copied();
        if found.is_none() {
            let mut f = Finding::new(
                Code::UnknownInterface,
                ptr,
                format!("interface `{id}` is not defined in this registry"),
            );
            let ids: Vec<&str> = known.keys().copied().collect();
            f.hint = Some(match super::structure::closest(id, &ids) {
                Some(m) => format!("did you mean `{m}`?"),
                None => {
                    format!("add interfaces/{id}.json, or use one of the registry's interfaces")
                }
            });
            self.push(f);
        }
        found
    }

    fn features(&mut self, base: &str, features: &[String], iface: Option<&Interface>) {
        for (k, feat) in features.iter().enumerate() {
            if let Some(i) = iface.filter(|i| !i.features.iter().any(|f| &f.name == feat)) {
                let known: Vec<&str> = i.features.iter().map(|f| f.name.as_str()).collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                self.push(
                    Finding::new(
                        Code::UnknownFeature,
                        format!("{base}/features/{k}"),
                        format!("interface `{}` has no feature `{feat}`", i.id),
                    )
                    .hint(format!("features of `{}`: {known}", i.id)),
                );
            }
        }
    }

    fn provides(&mut self) {
        let doc = self.doc;
        let mut seen = HashSet::new();
        for (i, p) in doc.provides.iter().enumerate() {
            let base = format!("/provides/{i}");
            if !seen.insert(&p.interface) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/interface"),
                    format!("interface `{}` is provided twice", p.interface),
                );
            }
            let iface = self.interface(format!("{base}/interface"), &p.interface);
            if parse_version(&p.version).is_err() {
                self.err(
                    Code::VersionFormat,
                    format!("{base}/version"),
                    format!("`{}` is not a semantic version", p.version),
                );
            }
            self.task_port(&base, &p.task, &p.port);
            self.features(&base, &p.features, iface);
            for (k, v) in &p.binding {
                self.template(format!("{base}/binding/{}", escape(k)), v);
            }
            if let Some(iface) = iface {
                for k in p.binding.keys().filter(|k| iface.field(k).is_none()) {
                    let fields: Vec<&str> = iface.fields.iter().map(|f| f.name.as_str()).collect();
                    self.push(
                        Finding::new(
                            Code::Binding,
                            format!("{base}/binding/{}", escape(k)),
                            format!("interface `{}` has no binding field `{k}`", iface.id),
                        )
                        .at_key()
                        .hint(format!(
                            "fields of `{}`: {}",
                            iface.id,
                            fields.join(", ")
                        )),
                    );
                }
                let missing: Vec<&str> = iface
                    .fields
                    .iter()
                    .filter(|f| f.required && !p.binding.contains_key(&f.name))
                    .map(|f| f.name.as_str())
                    .collect();
                if !missing.is_empty() {
                    self.push(
                        Finding::new(
                            Code::Binding,
                            format!("{base}/binding"),
                            format!(
                                "binding misses required field(s) of `{}`: {}",
                                iface.id,
                                missing.join(", ")
                            ),
                        )
                        .hint("fill them, e.g. `\"base_url\": \"http://${self.app.http}/fhir\"`"),
                    );
                }
            }
        }
    }

    /// `task` exists and has a port `port`.
    fn task_port(&mut self, base: &str, task: &str, port: &str) {
        match self.doc.task(task) {
            None => self.unknown_task(format!("{base}/task"), task),
            Some(t) => self.port_of(t, format!("{base}/port"), port),
        }
    }

    fn unknown_task(&mut self, ptr: String, task: &str) {
        let names: Vec<&str> = self.doc.tasks.iter().map(|t| t.name.as_str()).collect();
        self.push(
            Finding::new(
                Code::UnknownTaskOrPort,
                ptr,
                format!("there is no task `{task}`"),
            )
            .hint(format!("tasks: {}", names.join(", "))),
        );
    }

    fn port_of(&mut self, t: &Task, ptr: String, port: &str) {
        if t.port(port).is_none() {
            let names: Vec<&str> = t.ports.iter().map(|p| p.name.as_str()).collect();
            let hint = if names.is_empty() {
                format!("declare it under tasks[].ports of `{}`", t.name)
            } else {
                format!("ports of `{}`: {}", t.name, names.join(", "))
            };
            self.push(
                Finding::new(
                    Code::UnknownTaskOrPort,
                    ptr,
                    format!("task `{}` has no port `{port}`", t.name),
                )
                .hint(hint),
            );
        }
    }

    fn requires(&mut self) {
        let mut seen = HashSet::new();
        for (i, r) in self.doc.requires.iter().enumerate() {
            let base = format!("/requires/{i}");
            if !is_ident(&r.name) || r.name == "config" || r.name == "self" {
                self.push(
                    Finding::new(Code::NameFormat, format!("{base}/name"), format!("`{}` is not a requirement name", r.name))
                        .hint("use `[a-z][a-z0-9_]*`, not `config` or `self`; it is how templates say `${<name>.<field>}`"),
                );
            }
            if !seen.insert(&r.name) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/name"),
                    format!("requirement `{}` is declared twice", r.name),
                );
            }
            let iface = self.interface(format!("{base}/interface"), &r.interface);
            if let Err(e) = parse_range(&r.version) {
                self.push(
                    Finding::new(
                        Code::VersionRange,
                        format!("{base}/version"),
                        format!("`{}` is not a version range: {e}", r.version),
                    )
                    .hint("e.g. `>=13, <17`, `^4.0` or `*`"),
                );
            }
            self.features(&base, &r.features, iface);
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
            if c.secret && c.default.is_some() {
                self.push(
                    Finding::new(Code::SecretDefault, format!("{base}/default"), format!("secret `{}` has a default value", c.name))
                        .hint("remove the default, or set `generate: true` to have the agent create one per site"),
                );
            }
        }
    }

    fn tasks(&mut self) {
        let doc = self.doc;
        if doc.tasks.is_empty() {
            self.err(
                Code::EmptyField,
                "/tasks",
                "a service needs at least one task",
            );
        }
        let mut seen = HashSet::new();
        for (i, t) in doc.tasks.iter().enumerate() {
            let base = format!("/tasks/{i}");
            if !is_name(&t.name) {
                self.err(
                    Code::NameFormat,
                    format!("{base}/name"),
                    format!("`{}` is not a task name (`[a-z][a-z0-9-]*`)", t.name),
                );
            }
            if !seen.insert(&t.name) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/name"),
                    format!("task `{}` is declared twice", t.name),
                );
            }
            if let Some(problem) = image_problem(&t.image) {
                self.push(
                    Finding::new(Code::ImageDigest, format!("{base}/image"), format!("image `{}` {problem}", t.image))
                        .hint("pin it: `repo:tag@sha256:<64 hex>`; `docker buildx imagetools inspect repo:tag` prints the digest"),
                );
            }
            self.ports(&base, t);
            for (k, v) in &t.env {
                let ptr = format!("{base}/env/{}", escape(k));
                if !is_env_name(k) {
                    self.push(
                        Finding::new(
                            Code::EnvName,
                            ptr.clone(),
                            format!("`{k}` is not an environment variable name"),
                        )
                        .at_key()
                        .hint("use `[A-Z0-9_]+`"),
                    );
                }
                self.template(ptr, v);
            }
            self.resources(&base, t);
            match &t.health {
                Some(h) => self.health(&format!("{base}/health"), t, h),
                None if !t.ports.is_empty() => self.push(
                    Finding::new(
                        Code::NoHealthCheck,
                        &base,
                        format!("task `{}` serves ports but has no health check", t.name),
                    )
                    .hint(
                        "add `\"health\": {\"http\": {\"port\": \"http\", \"path\": \"/health\"}}`",
                    ),
                ),
                None => {}
            }
            let mut vols = HashSet::new();
            for (k, v) in t.volumes.iter().enumerate() {
                if !is_name(&v.name) {
                    self.err(
                        Code::NameFormat,
                        format!("{base}/volumes/{k}/name"),
                        format!("`{}` is not a volume name", v.name),
                    );
                }
                if !vols.insert(&v.name) {
                    self.err(
                        Code::Duplicate,
                        format!("{base}/volumes/{k}/name"),
                        format!("volume `{}` is declared twice", v.name),
                    );
                }
                if !v.path.starts_with('/') {
                    self.err(
                        Code::UrlFormat,
                        format!("{base}/volumes/{k}/path"),
                        format!("`{}` is not an absolute path", v.path),
                    );
                }
            }
            if t.stop_timeout_s > MAX_STOP_TIMEOUT_S {
                self.push(
                    Finding::new(
                        Code::StopTimeout,
                        format!("{base}/stop_timeout_s"),
                        format!(
                            "{} s is above the {MAX_STOP_TIMEOUT_S} s limit",
                            t.stop_timeout_s
                        ),
                    )
                    .hint("services must stop within 15 s of SIGTERM so upgrades stay quick"),
                );
            }
        }
    }

    fn ports(&mut self, base: &str, t: &Task) {
        let mut names = HashSet::new();
        let mut numbers = HashSet::new();
        for (k, p) in t.ports.iter().enumerate() {
            let ptr = format!("{base}/ports/{k}");
            if !is_name(&p.name) {
                self.err(
                    Code::NameFormat,
                    format!("{ptr}/name"),
                    format!("`{}` is not a port name (`[a-z][a-z0-9-]*`)", p.name),
                );
            }
            if !names.insert(&p.name) {
                self.err(
                    Code::Duplicate,
                    format!("{ptr}/name"),
                    format!("port `{}` is declared twice", p.name),
                );
            }
            if p.port == 0 {
                self.err(
                    Code::Resources,
                    format!("{ptr}/port"),
                    "port 0 is not a port",
                );
            } else if !numbers.insert(p.port) {
                self.err(
                    Code::Duplicate,
                    format!("{ptr}/port"),
                    format!("port number {} is used twice", p.port),
                );
            }
        }
    }

    fn resources(&mut self, base: &str, t: &Task) {
        if t.memory_mib < 4 || t.memory_mib > MAX_MEMORY_MIB {
            self.push(
                Finding::new(
                    Code::Resources,
                    format!("{base}/memory_mib"),
                    format!("{} MiB is not a sane memory limit", t.memory_mib),
                )
                .hint("memory_mib is in MiB: 2 GiB is 2048"),
            );
        }
        if let Some(c) = t.cpus.filter(|c| !(*c > 0.0 && *c <= 1024.0)) {
            self.err(
                Code::Resources,
                format!("{base}/cpus"),
                format!("{c} is not a sane CPU count (above 0, at most 1024)"),
            );
        }
        if t.instances.max == 0 {
            self.err(
                Code::Resources,
                format!("{base}/instances/max"),
                "instances.max must be at least 1",
            );
        } else if t.instances.min > t.instances.max {
            self.push(
                Finding::new(
                    Code::Resources,
                    format!("{base}/instances/min"),
                    format!(
                        "instances.min ({}) is above instances.max ({})",
                        t.instances.min, t.instances.max
                    ),
                )
                .hint("min is how many copies always run, max the most an operator may scale to"),
            );
        }
    }

    fn probe(
        &mut self,
        base: &str,
        t: &Task,
        http: &Option<HttpProbe>,
        command: &Option<Vec<String>>,
    ) {
        match (http, command) {
            (Some(_), Some(_)) => self.err(
                Code::HealthCheck,
                base.to_string(),
                "give `http` or `command`, not both",
            ),
            (None, None) => self.err(
                Code::HealthCheck,
                base.to_string(),
                "give one of `http` or `command`",
            ),
            (Some(h), None) => {
                self.port_of(t, format!("{base}/http/port"), &h.port);
                if !h.path.starts_with('/') {
                    self.err(
                        Code::UrlFormat,
                        format!("{base}/http/path"),
                        format!("`{}` is not an absolute path", h.path),
                    );
                }
            }
            (None, Some(c)) if c.is_empty() => self.err(
                Code::HealthCheck,
                format!("{base}/command"),
                "the command is empty",
            ),
            (None, Some(_)) => {}
        }
    }

    fn health(&mut self, base: &str, t: &Task, h: &Health) {
        self.probe(base, t, &h.http, &h.command);
        if h.interval_s == 0 {
            self.err(
                Code::HealthCheck,
                format!("{base}/interval_s"),
                "interval_s must be at least 1",
            );
        }
        if h.timeout_s == 0 || h.timeout_s > h.interval_s.max(1) {
            self.push(
                Finding::new(
                    Code::HealthCheck,
                    format!("{base}/timeout_s"),
                    format!(
                        "timeout_s ({}) must be from 1 to interval_s ({})",
                        h.timeout_s, h.interval_s
                    ),
                )
                .hint("a probe must finish before the next one starts"),
            );
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
            if !(is_web_url(&a.url) || a.url.starts_with("file://")) {
                self.err(
                    Code::UrlFormat,
                    format!("{base}/url"),
                    format!("`{}` is not an https, http or file URL", a.url),
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
    }

    /// Every `${...}` in `value` resolves.
    fn template(&mut self, ptr: String, value: &str) {
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
