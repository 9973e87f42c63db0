//! `hsp diff BASE HEAD`: what a change to a registry means for a reviewer and
//! for sites, computed from two [`Snapshot`]s: versions added, yanked (or
//! yank lifted), changed and deleted (the last two are errors `hsp check
//! --base` reports); interfaces added, changed and removed; for each service,
//! licence and licensing-model changes of its newest version; and for each
//! added version, how its requirements and provided interfaces differ from
//! the newest earlier version's, which is what changes a site's plan when it
//! upgrades. Text, JSON and Markdown (a pull-request comment).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use hsp_index::api::{ProvideSummary, RequireSummary, VersionEntry};
use hsp_index::version::parse_version;
use serde::Serialize;

use crate::base::{Snapshot, SnapshotDoc};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diff {
    pub added: Vec<Version>,
    pub yanked: Vec<Yanked>,
    /// Yanks lifted.
    pub unyanked: Vec<Version>,
    /// Published versions whose document changed other than by its yank.
    pub changed: Vec<Version>,
    pub deleted: Vec<Version>,
    pub interfaces: Vec<InterfaceChange>,
    pub licences: Vec<LicenceChange>,
    pub requirements: Vec<RequirementChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Version {
    pub service: String,
    pub version: String,
    /// The document's repo path.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Yanked {
    #[serde(flatten)]
    pub version: Version,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InterfaceChange {
    pub interface: String,
    /// `added`, `changed` or `removed`.
    pub change: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LicenceChange {
    pub service: String,
    /// Newest version in the base and in the head.
    pub from_version: String,
    pub to_version: String,
    pub from: String,
    pub to: String,
    /// Whether the licensing declaration (model, terms) changed.
    pub licensing_changed: bool,
}

/// An added version against the newest earlier version of its service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequirementChange {
    pub service: String,
    pub version: String,
    pub previous: String,
    /// One line per difference, e.g. `requires db: postgres >=13 -> >=15`.
    pub changes: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }
}

fn version_of(d: &SnapshotDoc) -> Version {
    Version {
        service: d.value.id.clone(),
        version: d.value.version.clone(),
        path: d.path.clone(),
    }
}

/// `head` against `base`.
pub fn diff(base: &Snapshot, head: &Snapshot) -> Diff {
    let mut out = Diff::default();
    for (target, new) in &head.documents {
        let Some(old) = base.documents.get(target) else {
            out.added.push(version_of(new));
            continue;
        };
        match (&old.value.yanked, &new.value.yanked) {
            (None, Some(reason)) => out.yanked.push(Yanked {
                version: version_of(new),
                reason: reason.clone(),
            }),
            (Some(_), None) => out.unyanked.push(version_of(new)),
            _ => {}
        }
        let mut a = old.value.clone();
        let mut b = new.value.clone();
        a.yanked = None;
        b.yanked = None;
        if a != b {
            out.changed.push(version_of(new));
        }
    }
    for (target, old) in &base.documents {
        if !head.documents.contains_key(target) {
            out.deleted.push(version_of(old));
        }
    }
    let ids: BTreeSet<&String> = base
        .interfaces
        .keys()
        .chain(head.interfaces.keys())
        .collect();
    for id in ids {
        let change = match (base.interfaces.get(id), head.interfaces.get(id)) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(a), Some(b)) if a != b => "changed",
            _ => continue,
        };
        out.interfaces.push(InterfaceChange {
            interface: id.clone(),
            change,
        });
    }
    let (old_services, new_services) = (by_service(base), by_service(head));
    for (id, versions) in &new_services {
        let (Some(new), Some(old)) = (
            newest(versions),
            old_services.get(id).and_then(|v| newest(v)),
        ) else {
            continue;
        };
        let licensing_changed = old.value.licensing != new.value.licensing;
        if old.value.license != new.value.license || licensing_changed {
            out.licences.push(LicenceChange {
                service: id.to_string(),
                from_version: old.value.version.clone(),
                to_version: new.value.version.clone(),
                from: old.value.license.clone(),
                to: new.value.license.clone(),
                licensing_changed,
            });
        }
    }
    for added in &out.added {
        let versions = &new_services[added.service.as_str()];
        let Ok(mine) = parse_version(&added.version) else {
            continue;
        };
        let previous = versions
            .iter()
            .filter(|d| parse_version(&d.value.version).is_ok_and(|v| v < mine))
            .max_by_key(|d| parse_version(&d.value.version).ok());
        let (Some(previous), Some(doc)) = (
            previous,
            versions.iter().find(|d| d.value.version == added.version),
        ) else {
            continue;
        };
        let changes = entry_changes(
            &VersionEntry::new(&previous.value, String::new()),
            &VersionEntry::new(&doc.value, String::new()),
        );
        if !changes.is_empty() {
            out.requirements.push(RequirementChange {
                service: added.service.clone(),
                version: added.version.clone(),
                previous: previous.value.version.clone(),
                changes,
            });
        }
    }
    out
}

fn by_service(s: &Snapshot) -> BTreeMap<&str, Vec<&SnapshotDoc>> {
    let mut out: BTreeMap<&str, Vec<&SnapshotDoc>> = BTreeMap::new();
    for d in s.documents.values() {
        out.entry(d.value.id.as_str()).or_default().push(d);
    }
    out
}

/// The newest version not yanked (the newest when all are).
fn newest<'a>(versions: &[&'a SnapshotDoc]) -> Option<&'a SnapshotDoc> {
    let key = |d: &&&SnapshotDoc| {
        (
            d.value.yanked.is_none(),
            parse_version(&d.value.version).ok(),
        )
    };
    versions.iter().max_by_key(key).copied()
}

fn require_text(r: &RequireSummary) -> String {
    let mut s = format!("{} {}", r.interface, r.version);
    if r.scope == hsp_index::document::Scope::Dedicated {
        s += " dedicated";
    }
    if r.optional {
        s += " optional";
    }
    if !r.features.is_empty() {
        s += &format!(" [{}]", r.features.join(", "));
    }
    s
}

fn provide_text(p: &ProvideSummary) -> String {
    let mut s = format!("{} {}", p.interface, p.version);
    if !p.features.is_empty() {
        s += &format!(" [{}]", p.features.join(", "));
    }
    s
}

/// What differs in what resolution reads: requirements by name, provided
/// interfaces by interface.
fn entry_changes(old: &VersionEntry, new: &VersionEntry) -> Vec<String> {
    let mut out = Vec::new();
    let old_r: BTreeMap<&str, &RequireSummary> =
        old.requires.iter().map(|r| (r.name.as_str(), r)).collect();
    let new_r: BTreeMap<&str, &RequireSummary> =
        new.requires.iter().map(|r| (r.name.as_str(), r)).collect();
    for (name, r) in &new_r {
        match old_r.get(name) {
            None => out.push(format!("requires {name}: {} (new)", require_text(r))),
            Some(o) if o != r => out.push(format!(
                "requires {name}: {} -> {}",
                require_text(o),
                require_text(r)
            )),
            _ => {}
        }
    }
    for (name, o) in &old_r {
        if !new_r.contains_key(name) {
            out.push(format!("requires {name}: {} (no longer)", require_text(o)));
        }
    }
    let old_p: BTreeMap<&str, &ProvideSummary> = old
        .provides
        .iter()
        .map(|p| (p.interface.as_str(), p))
        .collect();
    let new_p: BTreeMap<&str, &ProvideSummary> = new
        .provides
        .iter()
        .map(|p| (p.interface.as_str(), p))
        .collect();
    for (id, p) in &new_p {
        match old_p.get(id) {
            None => out.push(format!("provides {} (new)", provide_text(p))),
            Some(o) if o != p => out.push(format!(
                "provides {} -> {}",
                provide_text(o),
                provide_text(p)
            )),
            _ => {}
        }
    }
    for (id, o) in &old_p {
        if !new_p.contains_key(id) {
            out.push(format!("provides {} (no longer)", provide_text(o)));
        }
    }
    out
}

/// Plain text, one line per item, or `no changes`.
pub fn text(d: &Diff) -> String {
    render(d, false)
}

/// Markdown for a pull-request comment.
pub fn markdown(d: &Diff) -> String {
    render(d, true)
}

fn render(d: &Diff, md: bool) -> String {
    let mut s = String::new();
    if md {
        s += "## Registry changes\n\n";
    }
    if d.is_empty() {
        s += "No changes to services or interfaces.\n";
        return s;
    }
    let code = |t: &str| if md { format!("`{t}`") } else { t.to_string() };
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        if md {
            let _ = writeln!(s, "### {title}\n");
            for l in lines {
                let _ = writeln!(s, "- {l}");
            }
            s.push('\n');
        } else {
            let _ = writeln!(s, "{title}:");
            for l in lines {
                let _ = writeln!(s, "  {l}");
            }
        }
    };
    let v = |x: &Version| format!("{} {}", code(&x.service), x.version);
    section("Added", d.added.iter().map(v).collect());
    section(
        "Yanked",
        d.yanked
            .iter()
            .map(|y| format!("{}: {}", v(&y.version), y.reason))
            .collect(),
    );
    section("Yank lifted", d.unyanked.iter().map(v).collect());
    section(
        "Changed after publication (refused by `hsp check --base`)",
        d.changed
            .iter()
            .map(|x| format!("{} ({})", v(x), x.path))
            .collect(),
    );
    section(
        "Deleted (refused by `hsp check --base`)",
        d.deleted
            .iter()
            .map(|x| format!("{} ({})", v(x), x.path))
            .collect(),
    );
    section(
        "Interfaces",
        d.interfaces
            .iter()
            .map(|i| format!("{} {}", code(&i.interface), i.change))
            .collect(),
    );
    section(
        "Licences",
        d.licences
            .iter()
            .map(|l| {
                let mut t = format!(
                    "{} {} -> {}: {} -> {}",
                    code(&l.service),
                    l.from_version,
                    l.to_version,
                    code(&l.from),
                    code(&l.to)
                );
                if l.licensing_changed {
                    t += " (licensing declaration changed)";
                }
                t
            })
            .collect(),
    );
    section(
        "Requirements (what changes a site's plan on upgrade)",
        d.requirements
            .iter()
            .map(|r| {
                format!(
                    "{} {} (from {}): {}",
                    code(&r.service),
                    r.version,
                    r.previous,
                    r.changes.join("; ")
                )
            })
            .collect(),
    );
    s
}
