//! Validation of registry files: every rule, pure (data in, diagnostics out).
//!
//! The entry point is [`validate_repo`]: it takes the exact bytes of every file
//! of a registry repo (or of a loose set of documents), parses them, runs every
//! rule and returns the parsed values (each next to its path and bytes) together
//! with *all* diagnostics. Callers (`hsp check`, `hsp build`) decide what to do
//! with errors; nothing here stops at the first problem.
//!
//! Rules, by file:
//! - [`structure`]: JSON syntax, unknown/missing fields, wrong types (all of them,
//!   walked against the type's JSON Schema).
//! - `document`: per-document rules (formats, names, config, templates,
//!   artifacts, smoke test), with `task` (tasks: images, ports, env, resources,
//!   health), `binding` (provides and requires; binding fields and features when
//!   the registry's interfaces are known) and `licence` (SPDX and the
//!   open-source policy).
//! - `files`: interface, publisher and registry config rules.
//! - `immutable`: published versions against the registry's base (E102,
//!   E103), for `hsp check --base` and `hsp build`.
//! - `registry`: rules across files (file locations, namespaces, duplicate
//!   versions, publishers), with `open_source` (the open-source dependency
//!   rule).
//!
//! Diagnostics name the offending value by JSON pointer; [`locate`] turns that into
//! `line:column` only for reported problems. Codes are listed in [`Code::ALL`].

mod binding;
mod codes;
mod document;
mod files;
mod format;
mod immutable;
mod licence;
pub mod locate;
mod open_source;
mod registry;
pub mod report;
pub mod structure;
mod task;
mod template;
pub mod todo;
mod unread;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use rayon::prelude::*;
use schemars::schema::RootSchema;
use serde::Serialize;

pub use codes::Code;
pub use document::{ArtifactPolicy, Context};
pub use immutable::{check_immutable, Published};
pub use licence::LicencePolicy;
pub use locate::Position;
pub use open_source::{open_source_needs, Need, Providers};
pub use registry::{check_documents, check_yanks, folder_is_clean, Facts};
pub use unread::{kind_name, path_text, Unread, MAX_FILE_BYTES};

use hsp_index::registry::{
    CONFIG_FILE, INTERFACES_DIR, PUBLISHERS_DIR, PUBLISHER_FILE, SERVICES_DIR,
};
use hsp_index::{Document, Interface, Publisher, RegistryConfig};

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given in the input (repo-relative with `/` in a registry).
    pub path: String,
    /// 1-based line and column of the offending value (or key).
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub code: Code,
    /// JSON pointer of the offending value, e.g. `/requires/0/version`.
    pub pointer: String,
    /// The same as a field path, e.g. `requires[0].version`.
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: error[CODE]: field: message` and `  hint: ...` on a second line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}[{}]: ",
            self.path, self.line, self.column, self.code
        )?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A rule's finding before it is placed in its file.
#[derive(Clone, Debug)]
pub struct Finding {
    pub code: Code,
    pub pointer: String,
    /// Point at the member's key rather than its value (unknown fields).
    pub at_key: bool,
    /// A known position (syntax errors), overriding the pointer's.
    pub position: Option<Position>,
    pub message: String,
    pub hint: Option<String>,
}

impl Finding {
    pub fn new(code: Code, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            code,
            pointer: pointer.into(),
            at_key: false,
            position: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn at_key(mut self) -> Self {
        self.at_key = true;
        self
    }

    /// Places the finding in `path` whose text is `bytes` (for many findings
    /// of one file, [`resolve_all`] scans the text once).
    pub fn resolve(self, path: &str, bytes: &[u8]) -> Diagnostic {
        let pos = self
            .position
            .unwrap_or_else(|| locate::locate(bytes, &self.pointer, self.at_key));
        self.placed(path, pos)
    }

    fn placed(self, path: &str, pos: Position) -> Diagnostic {
        Diagnostic {
            path: path.to_string(),
            line: pos.line,
            column: pos.column,
            severity: if self.code.is_warning() {
                Severity::Warning
            } else {
                Severity::Error
            },
            code: self.code,
            field: locate::field_path(&self.pointer),
            pointer: self.pointer,
            message: self.message,
            hint: self.hint,
        }
    }
}

/// Places every finding of `path` whose text is `bytes`, in one pass over the
/// text (time linear in the text and the findings).
pub fn resolve_all(
    findings: impl IntoIterator<Item = Finding>,
    path: &str,
    bytes: &[u8],
) -> Vec<Diagnostic> {
    let findings: Vec<Finding> = findings.into_iter().collect();
    let wanted: Vec<(&str, bool)> = findings
        .iter()
        .filter(|f| f.position.is_none())
        .map(|f| (f.pointer.as_str(), f.at_key))
        .collect();
    let located = if wanted.is_empty() {
        Vec::new()
    } else {
        locate::locate_all(bytes, &wanted)
    };
    drop(wanted);
    let mut located = located.into_iter();
    findings
        .into_iter()
        .map(|f| {
            let pos = match f.position {
                Some(p) => p,
                None => located.next().unwrap_or(Position { line: 1, column: 1 }),
            };
            f.placed(path, pos)
        })
        .collect()
}

/// A file's path (repo-relative, `/`-separated) and exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A parsed file next to its path and the exact bytes it was parsed from (what
/// is signed and served).
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<T> {
    pub path: String,
    pub bytes: Vec<u8>,
    pub value: T,
}

/// What a file in a registry repo is, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Config,
    Interface,
    Publisher,
    Document,
}

/// The kind of the file at repo-relative `path` (with `/`), or `None` for files
/// validation ignores (signed publisher metadata `publishers/<n>/<n>.json`,
/// `keys/`, non-JSON files).
pub fn classify(path: &str) -> Option<Kind> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [f] if *f == CONFIG_FILE => Some(Kind::Config),
        [d, f] if *d == INTERFACES_DIR && f.ends_with(".json") => Some(Kind::Interface),
        [d, _, f] if *d == PUBLISHERS_DIR && *f == PUBLISHER_FILE => Some(Kind::Publisher),
        [d, _, s, ..] if *d == PUBLISHERS_DIR && *s == SERVICES_DIR && path.ends_with(".json") => {
            Some(Kind::Document)
        }
        _ => None,
    }
}

/// Every file to validate. With a `config` it is a registry repo and the
/// cross-file rules run; without, the documents are checked one by one (plus
/// duplicate versions among them).
#[derive(Clone, Debug, Default)]
pub struct RepoInput {
    pub config: Option<Source>,
    pub interfaces: Vec<Source>,
    pub publishers: Vec<Source>,
    pub documents: Vec<Source>,
    /// Files found but not read (shown path, why): each is reported.
    pub unread: Vec<(String, Unread)>,
}

impl RepoInput {
    pub fn push(&mut self, kind: Kind, source: Source) {
        match kind {
            Kind::Config => self.config = Some(source),
            Kind::Interface => self.interfaces.push(source),
            Kind::Publisher => self.publishers.push(source),
            Kind::Document => self.documents.push(source),
        }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        usize::from(self.config.is_some())
            + self.interfaces.len()
            + self.publishers.len()
            + self.documents.len()
            + self.unread.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A validated repo: the files that parsed (or whose only problems were unknown
/// fields), sorted by path, and every diagnostic sorted by path and position.
/// Consumers that publish files must refuse a repo that [`Repo::has_errors`].
#[derive(Clone, Debug, Default)]
pub struct Repo {
    pub config: Option<Loaded<RegistryConfig>>,
    pub interfaces: Vec<Loaded<Interface>>,
    pub publishers: Vec<Loaded<Publisher>>,
    pub documents: Vec<Loaded<Document>>,
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were checked (including those that did not parse).
    pub files: usize,
}

impl Repo {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    /// The interface with this id.
    pub fn interface(&self, id: &str) -> Option<&Loaded<Interface>> {
        self.interfaces.iter().find(|i| i.value.id == id)
    }

    /// The publisher with this name.
    pub fn publisher(&self, name: &str) -> Option<&Loaded<Publisher>> {
        self.publishers.iter().find(|p| p.value.name == name)
    }
}

fn schema_of<T: schemars::JsonSchema>(cell: &'static OnceLock<RootSchema>) -> &'static RootSchema {
    cell.get_or_init(|| schemars::schema_for!(T))
}

/// A file that did not parse: its located structural problems, and its value
/// without unknown fields when those were the only problems.
pub type Broken<T> = (Vec<Diagnostic>, Option<Box<T>>);

/// Parses one file of type `T`, or returns its structural problems located.
fn parse_file<T>(src: &Source, schema: &RootSchema) -> Result<T, Broken<T>>
where
    T: serde::de::DeserializeOwned,
{
    structure::parse::<T>(&src.bytes, schema).map_err(|b| {
        let ds = resolve_all(b.findings, &src.path, &src.bytes);
        (ds, b.recovered)
    })
}

macro_rules! parser {
    ($name:ident, $t:ty) => {
        /// Parses one file (structural rules only).
        pub fn $name(src: &Source) -> Result<$t, Broken<$t>> {
            static SCHEMA: OnceLock<RootSchema> = OnceLock::new();
            parse_file(src, schema_of::<$t>(&SCHEMA))
        }
    };
}

parser!(parse_document, Document);
parser!(parse_interface, Interface);
parser!(parse_publisher, Publisher);
parser!(parse_config, RegistryConfig);

/// Parses and checks one document on its own (no registry): what `hsp check`
/// does for a lone file.
/// The document is returned only when it parsed cleanly (it may still have
/// rule errors).
pub fn check_document(src: &Source, ctx: &Context) -> (Option<Document>, Vec<Diagnostic>) {
    let rules = |doc: &Document| -> Vec<Diagnostic> {
        resolve_all(document::check(doc, ctx), &src.path, &src.bytes)
    };
    match parse_document(src) {
        Ok(doc) => {
            let ds = rules(&doc);
            (Some(doc), ds)
        }
        Err((mut ds, recovered)) => {
            if let Some(doc) = recovered {
                ds.extend(rules(&doc));
            }
            (None, ds)
        }
    }
}

/// Parses one file and runs `rules` on it. A file that does not parse gives
/// `None`, except that a file whose only problems are unknown fields is kept
/// (read without them) so every other rule still reports on it.
fn load_one<T>(
    src: &Source,
    parse: fn(&Source) -> Result<T, Broken<T>>,
    rules: &dyn Fn(&T) -> Vec<Finding>,
) -> (Option<T>, Vec<Diagnostic>) {
    let (value, mut ds) = match parse(src) {
        Ok(value) => (value, Vec::new()),
        Err((ds, Some(value))) => (*value, ds),
        Err((ds, None)) => return (None, ds),
    };
    ds.extend(resolve_all(rules(&value), &src.path, &src.bytes));
    (Some(value), ds)
}

/// [`load_one`] over every source, in parallel, sorted by path.
fn load_all<T: Send + Sync>(
    sources: Vec<Source>,
    parse: fn(&Source) -> Result<T, Broken<T>>,
    rules: &(dyn Fn(&T) -> Vec<Finding> + Sync),
    diags: &mut Vec<Diagnostic>,
) -> Vec<Loaded<T>> {
    let results: Vec<(Option<Loaded<T>>, Vec<Diagnostic>)> = sources
        .into_par_iter()
        .map(|src| {
            let (value, ds) = load_one(&src, parse, rules);
            let loaded = value.map(|value| Loaded {
                path: src.path,
                bytes: src.bytes,
                value,
            });
            (loaded, ds)
        })
        .collect();
    let mut out = Vec::with_capacity(results.len());
    for (loaded, mut ds) in results {
        out.extend(loaded);
        diags.append(&mut ds);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Parses one document and runs the per-document rules, as [`validate_repo`]
/// does for each document: the document is returned when it parsed, or when
/// its only structural problems were unknown fields (read without them).
/// For callers that stream documents and keep only a summary (`hsp build`).
pub fn check_source(src: &Source, ctx: &Context) -> (Option<Document>, Vec<Diagnostic>) {
    let (doc, mut ds) = load_one(src, parse_document, &|d| document::check(d, ctx));
    ds.extend(resolve_all(
        todo::findings(&src.bytes),
        &src.path,
        &src.bytes,
    ));
    (doc, ds)
}

/// Parses and checks the registry config, interfaces and publishers, and (with
/// a config: a registry repo) runs the rules across them. The result has no
/// documents; its diagnostics are not sorted yet.
pub fn validate_files(
    config: Option<Source>,
    interfaces: Vec<Source>,
    publishers: Vec<Source>,
) -> Repo {
    let registry_mode = config.is_some();
    let files = usize::from(config.is_some()) + interfaces.len() + publishers.len();
    let mut diags = Vec::new();
    let config = config.and_then(|src| {
        let (value, mut ds) = match parse_config(&src) {
            Ok(value) => {
                let ds = resolve_all(files::check_config(&value), &src.path, &src.bytes);
                (Some(value), ds)
            }
            Err((ds, _)) => (None, ds),
        };
        diags.append(&mut ds);
        value.map(|value| Loaded {
            path: src.path,
            bytes: src.bytes,
            value,
        })
    });
    let interfaces = load_all(
        interfaces,
        parse_interface,
        &files::check_interface,
        &mut diags,
    );
    let publishers = load_all(
        publishers,
        parse_publisher,
        &files::check_publisher,
        &mut diags,
    );
    if registry_mode {
        diags.extend(registry::check_files(&interfaces, &publishers));
    }
    Repo {
        config,
        interfaces,
        publishers,
        documents: Vec::new(),
        diagnostics: diags,
        files,
    }
}

impl Repo {
    /// The licence policy of the registry config (the default without one).
    pub fn licence_policy(&self) -> LicencePolicy {
        let policy = self
            .config
            .as_ref()
            .map(|c| c.value.policy.clone())
            .unwrap_or_default();
        LicencePolicy::new(&policy)
    }

    /// The artifact rules of the registry config (the defaults without one).
    pub fn artifact_policy(&self) -> ArtifactPolicy {
        self.config
            .as_ref()
            .map(|c| ArtifactPolicy::new(&c.value.policy))
            .unwrap_or_default()
    }

    /// The interfaces by id, for a [`Context`].
    pub fn interfaces_by_id(&self) -> HashMap<&str, &Interface> {
        self.interfaces
            .iter()
            .map(|i| (i.value.id.as_str(), &i.value))
            .collect()
    }

    /// Sorts the diagnostics by path, position, code and message.
    pub fn sort_diagnostics(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            (&a.path, a.line, a.column, a.code, &a.message)
                .cmp(&(&b.path, b.line, b.column, b.code, &b.message))
        });
    }
}

/// Parses and checks every file, then runs the cross-file rules.
pub fn validate_repo(input: RepoInput) -> Repo {
    let registry_mode = input.config.is_some();
    let documents = input.documents;
    let mut repo = validate_files(input.config, input.interfaces, input.publishers);
    repo.files += documents.len() + input.unread.len();
    repo.diagnostics
        .extend(input.unread.iter().map(|(path, why)| why.diagnostic(path)));
    let licences = repo.licence_policy();
    let by_id = repo.interfaces_by_id();
    let yanks = repo
        .config
        .as_ref()
        .map_or(&[][..], |c| c.value.yanks.as_slice());
    let ctx = Context {
        licences: &licences,
        artifacts: repo.artifact_policy(),
        interfaces: registry_mode.then_some(&by_id),
        yanks,
    };
    let mut diags = Vec::new();
    let mut documents = load_all(
        documents,
        parse_document,
        &|d| document::check(d, &ctx),
        &mut diags,
    );
    for d in &documents {
        diags.extend(resolve_all(todo::findings(&d.bytes), &d.path, &d.bytes));
    }
    drop(by_id);
    // A maintainers' yank counts as the publisher's for every rule (the
    // bytes are untouched).
    for d in &mut documents {
        let v = &mut d.value;
        hsp_index::registry::apply_yanks(yanks, &v.id, &v.version, &mut v.yanked);
    }
    if let Some(config) = &repo.config {
        diags.extend(check_yanks(
            config,
            documents
                .iter()
                .map(|d| (d.value.id.as_str(), d.value.version.as_str())),
        ));
    }
    let facts: Vec<(&str, &Document)> = documents
        .iter()
        .map(|d| (d.path.as_str(), &d.value))
        .collect();
    let findings = check_documents(
        &facts,
        &repo.interfaces,
        &repo.publishers,
        registry_mode,
        &licences,
    );
    let mut by_doc: std::collections::BTreeMap<usize, Vec<Finding>> = Default::default();
    for (n, f) in findings {
        by_doc.entry(n).or_default().push(f);
    }
    for (n, fs) in by_doc {
        let d = &documents[n];
        diags.extend(resolve_all(fs, &d.path, &d.bytes));
    }
    drop(facts);
    repo.documents = documents;
    repo.diagnostics.append(&mut diags);
    repo.sort_diagnostics();
    repo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_layout() {
        for (path, want) in [
            ("registry.json", Some(Kind::Config)),
            ("interfaces/fhir.json", Some(Kind::Interface)),
            ("interfaces/README.md", None),
            ("publishers/acme/publisher.json", Some(Kind::Publisher)),
            ("publishers/acme/acme.json", None),
            (
                "publishers/acme/services/com.acme.app/1.0.0.json",
                Some(Kind::Document),
            ),
            ("publishers/acme/services/stray.json", Some(Kind::Document)),
            ("keys/1.root.json", None),
            ("sub/registry.json", None),
        ] {
            assert_eq!(classify(path), want, "{path}");
        }
    }

    #[test]
    fn diagnostics_print_as_path_line_column() {
        let text = b"{\n  \"requires\": [{\"version\": \"^x\"}]\n}";
        let d = Finding::new(
            Code::VersionRange,
            "/requires/0/version",
            "`^x` is not a version range",
        )
        .hint("e.g. `>=13, <17`")
        .resolve("a/1.0.json", text);
        assert_eq!(
            d.to_string(),
            "a/1.0.json:2:28: error[E012]: requires[0].version: `^x` is not a version range\n  hint: e.g. `>=13, <17`"
        );
        let w =
            Finding::new(Code::NoSmokeTest, "", "there is no smoke test").resolve("a.json", text);
        assert_eq!(
            w.to_string(),
            "a.json:1:1: warning[W003]: there is no smoke test"
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["code"], "E012");
        assert_eq!(json["severity"], "error");
        assert_eq!(json["field"], "requires[0].version");
        assert!(serde_json::to_value(&w).unwrap().get("hint").is_none());
    }

    #[test]
    fn a_loose_set_of_documents_skips_registry_rules() {
        let doc = br#"{"id": "com.acme.app", "version": "1.0.0", "name": "A", "summary": "s",
            "publisher": "nobody", "license": "MIT",
            "requires": [{"name": "db", "interface": "nowhere", "version": "*"}],
            "tasks": [{"name": "app", "image": "a@sha256:0000000000000000000000000000000000000000000000000000000000000000", "memory_mib": 64}],
            "smoke_test": {"task": "app", "command": ["true"]}}"#;
        let input = RepoInput {
            documents: vec![Source {
                path: "x/app.json".into(),
                bytes: doc.to_vec(),
            }],
            ..Default::default()
        };
        let repo = validate_repo(input);
        assert_eq!(repo.diagnostics, vec![]);
        assert_eq!((repo.files, repo.documents.len()), (1, 1));
        assert_eq!(
            repo.documents[0].bytes,
            doc.to_vec(),
            "the exact bytes are kept"
        );
    }
}
