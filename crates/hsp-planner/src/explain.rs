//! Why an environment cannot be planned, in sentences.
//!
//! Two parts: PubGrub's derivation (each step a "Because ..., ..." sentence in the
//! planner's words: services, requirements, candidates; the model of uv's
//! `pubgrub/report.rs`), then, for every requirement and wanted service the
//! derivation mentions, each candidate and why it was ruled out (licence not
//! allowed, yanked, interface version outside the range, missing feature, update
//! mode, or "allowed" when only the combination fails).

use std::fmt;

use hsp_index::document::Scope;
use hsp_index::version::{parse_range, parse_version};
use pubgrub::{DerivationTree, Derived, External, Map, ReportFormatter, Reporter, Term};

use super::solve::{Candidate, ChoiceKey, DedicatedKey, Pkg, Reason, Solver, Ver, VS};

type Tree = DerivationTree<Pkg, VS, Reason>;
type Ext = External<Pkg, VS, Reason>;

/// A failure explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub environment: String,
    /// The derivation, one sentence per line.
    pub derivation: Vec<String>,
    /// Per requirement or wanted service: the candidates and their verdicts.
    pub subjects: Vec<Subject>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// e.g. "org.hapifhir.server requires `db` (postgres >=13, <17, dedicated)".
    pub title: String,
    pub candidates: Vec<Verdict>,
    /// A remark on the whole list, e.g. that externals pin the interface.
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// e.g. "org.postgresql.server 16.4.0" or "external hospital-pg".
    pub candidate: String,
    /// Why it is ruled out; empty when it is allowed and only the combination fails.
    pub ruled_out: Vec<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "environment `{}` cannot be planned.", self.environment)?;
        for line in &self.derivation {
            writeln!(f, "  {line}")?;
        }
        for s in &self.subjects {
            writeln!(f)?;
            writeln!(f, "{}:", s.title)?;
            if s.candidates.is_empty() {
                writeln!(f, "  - no candidates")?;
            }
            for c in &s.candidates {
                if c.ruled_out.is_empty() {
                    writeln!(
                        f,
                        "  - {}: allowed, but fails together with the rest (see above)",
                        c.candidate
                    )?;
                } else {
                    writeln!(f, "  - {}: {}", c.candidate, c.ruled_out.join("; "))?;
                }
            }
            if let Some(n) = &s.note {
                writeln!(f, "  note: {n}")?;
            }
        }
        Ok(())
    }
}

pub(crate) fn explain(solver: &Solver, tree: Tree) -> Explanation {
    let report = Sentences::report_with_formatter(&tree, &Words { solver });
    let derivation = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let mut pkgs: Vec<&Pkg> = tree.packages().into_iter().collect();
    pkgs.sort_by_key(|p| p.to_string());
    let mut subjects = Vec::new();
    for p in &wanted_first(solver, &pkgs) {
        match p {
            Pkg::Choice(c) => subjects.push(requirement(solver, c)),
            Pkg::Shared(s) if solver.wanted(s).is_some() => subjects.push(wanted(solver, s)),
            _ => {}
        }
    }
    Explanation {
        environment: solver.env.name.clone(),
        derivation,
        subjects,
    }
}

/// Wanted services in environment order first, then the rest by name.
fn wanted_first<'p>(solver: &Solver, pkgs: &[&'p Pkg]) -> Vec<&'p Pkg> {
    let mut out: Vec<&Pkg> = Vec::new();
    for w in &solver.env.services {
        out.extend(
            pkgs.iter()
                .filter(|p| matches!(p, Pkg::Shared(s) if **s == *w.id)),
        );
    }
    out.extend(
        pkgs.iter()
            .filter(|p| !matches!(p, Pkg::Shared(s) if solver.wanted(s).is_some())),
    );
    out
}

fn wanted(solver: &Solver, id: &str) -> Subject {
    let w = solver.wanted(id).expect("wanted");
    let title = match &w.pin {
        Some(pin) => format!("the environment wants {id} pinned to {pin}"),
        None => format!("the environment wants {id} {}", w.version),
    };
    let Ok(Some(s)) = solver.service(id) else {
        return Subject {
            title,
            candidates: vec![],
            note: Some(format!(
                "{id} is not in the index (check the id with `hsp-agent search`)"
            )),
        };
    };
    let range = parse_range(&w.version).ok();
    let pin = w.pin.as_deref().and_then(|p| parse_version(p).ok());
    let pkg = Pkg::Shared(id.into());
    let candidates = s
        .versions
        .iter()
        .map(|(v, i)| {
            let mut out = Vec::new();
            if range.as_ref().is_some_and(|r| !r.matches(v)) {
                out.push(format!("outside the wanted range {}", w.version));
            }
            if pin.as_ref().is_some_and(|p| p != v) {
                out.push("not the pinned version".into());
            }
            if let Some(r) = solver.unavailable(&pkg, &s.index.versions[*i], v) {
                out.push(r.to_string());
            }
            Verdict {
                candidate: format!("{id} {v}"),
                ruled_out: out,
            }
        })
        .collect();
    Subject {
        title,
        candidates,
        note: None,
    }
}

fn requirement(solver: &Solver, c: &ChoiceKey) -> Subject {
    let spec = &c.spec;
    let title = format!("{} requires {}", c.consumer, spec);
    let range = parse_range(&spec.range).ok();
    let fits_range = |v: &str| {
        range
            .as_ref()
            .is_some_and(|r| parse_version(v).is_ok_and(|v| r.matches(&v)))
    };
    let missing = |have: &[String]| -> Vec<String> {
        spec.features
            .iter()
            .filter(|f| !have.contains(f))
            .cloned()
            .collect()
    };
    let names = solver.consumer_names(&c.consumer);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let externals: Vec<_> = solver
        .env
        .externals
        .iter()
        .filter(|e| e.interface == spec.interface && e.serves(&names))
        .collect();
    let mut candidates = Vec::new();
    if !externals.is_empty() {
        for e in externals {
            let mut out = Vec::new();
            if !fits_range(&e.version) {
                out.push(format!(
                    "offers {} {}, outside {}",
                    spec.interface, e.version, spec.range
                ));
            }
            let m = missing(&e.features);
            if !m.is_empty() {
                out.push(format!("lacks feature {}", m.join(", ")));
            }
            candidates.push(Verdict {
                candidate: format!("external {}", e.name),
                ruled_out: out,
            });
        }
        let note = format!(
            "the environment declares externals for `{}`, so index providers are not considered",
            spec.interface
        );
        return Subject {
            title,
            candidates,
            note: Some(note),
        };
    }
    let ix = match solver.interface(&spec.interface) {
        Ok(Some(ix)) => ix,
        _ => {
            return Subject {
                title,
                candidates,
                note: Some(format!(
                    "the index does not define interface `{}`",
                    spec.interface
                )),
            }
        }
    };
    for p in &ix.providers {
        let mut out = Vec::new();
        let shared = spec.scope == Scope::Shared;
        if shared
            && c.consumer.service() == Some(p.service.as_str())
            && matches!(c.consumer, Pkg::Shared(_))
        {
            out.push("a service cannot satisfy its own requirement".into());
        }
        if spec.optional && !(shared && solver.wanted(&p.service).is_some()) {
            out.push("an optional requirement binds only to externals and services the environment wants".into());
        }
        if !fits_range(&p.interface_version) {
            out.push(format!(
                "offers {} {}, outside {}",
                spec.interface, p.interface_version, spec.range
            ));
        }
        let m = missing(&p.features);
        if !m.is_empty() {
            out.push(format!("lacks feature {}", m.join(", ")));
        }
        let target = match spec.scope {
            Scope::Shared => Pkg::Shared(p.service.as_str().into()),
            Scope::Dedicated => Pkg::Dedicated(std::sync::Arc::new(DedicatedKey {
                consumer: c.consumer.clone(),
                req: spec.name.clone(),
                service: p.service.as_str().into(),
            })),
        };
        if let (Ok(Some(s)), Ok(v)) = (solver.service(&p.service), parse_version(&p.version)) {
            if let Some(e) = s.entry(&v) {
                if let Some(r) = solver.unavailable(&target, e, &v) {
                    out.push(r.to_string());
                }
            }
        }
        candidates.push(Verdict {
            candidate: format!("{} {}", p.service, p.version),
            ruled_out: out,
        });
    }
    let note = ix
        .providers
        .is_empty()
        .then(|| format!("no service in the index provides `{}`", spec.interface));
    Subject {
        title,
        candidates,
        note,
    }
}

/// PubGrub's default reporter, with the planner's words.
type Sentences = pubgrub::DefaultStringReporter;

struct Words<'a, 'b> {
    solver: &'b Solver<'a>,
}

impl Words<'_, '_> {
    /// The members of a version set, in words.
    fn set(&self, pkg: &Pkg, set: &VS) -> String {
        if *set == VS::full() {
            return match pkg {
                Pkg::Choice(_) => "any candidate".into(),
                _ => "any release".into(),
            };
        }
        match self.members(pkg, set).as_slice() {
            [] => "no release".into(),
            [one] => one.clone(),
            [a, b] => format!("{a} or {b}"),
            many => format!("one of {}", many.join(", ")),
        }
    }

    /// The members of a version set that is not full, by name.
    fn members(&self, pkg: &Pkg, set: &VS) -> Vec<String> {
        match pkg {
            Pkg::Choice(c) => match self.solver.candidates(c) {
                Ok(cands) => cands
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| set.contains(&Ver::Candidate(*i as u32)))
                    .map(|(_, c)| self.candidate(c))
                    .collect(),
                Err(_) => vec![],
            },
            Pkg::Claim(_) => set
                .as_singleton()
                .map(|v| v.to_string())
                .into_iter()
                .collect(),
            _ => match pkg.service().map(|s| self.solver.service(s)) {
                Some(Ok(Some(s))) => s
                    .versions
                    .iter()
                    .filter(|(v, _)| set.contains(&Ver::Release(v.clone())))
                    .map(|(v, _)| v.to_string())
                    .collect(),
                _ => vec![],
            },
        }
    }

    /// "X cannot be used", "neither X nor Y can be used", "none of X, Y, Z can
    /// be used": a positive term that rules everything in it out.
    fn cannot_be_used(&self, pkg: &Pkg, set: &VS) -> String {
        let members = if *set == VS::full() {
            vec![]
        } else {
            self.members(pkg, set)
        };
        let (prefix, suffix) = match pkg {
            Pkg::Choice(c) => (
                String::new(),
                format!(" for {}'s `{}`", c.consumer, c.spec.name),
            ),
            _ => (format!("{pkg} "), String::new()),
        };
        match members.as_slice() {
            [] | [_] => format!("{} cannot be used", self.subject(pkg, set)),
            [a, b] => format!("neither {prefix}{a} nor {b} can be used{suffix}"),
            many => format!("none of {prefix}{} can be used{suffix}", many.join(", ")),
        }
    }

    fn candidate(&self, c: &Candidate) -> String {
        match c {
            Candidate::External(i) => format!("external {}", self.solver.env.externals[*i].name),
            Candidate::Provider { service, .. } => service.to_string(),
            Candidate::Unbound => "leaving it unbound".into(),
        }
    }

    fn term(&self, pkg: &Pkg, term: &Term<VS>) -> String {
        match term {
            Term::Positive(set) => self.subject(pkg, set),
            Term::Negative(set) => format!("not {}", self.subject(pkg, set)),
        }
    }

    fn subject(&self, pkg: &Pkg, set: &VS) -> String {
        match pkg {
            Pkg::Root => "the environment".into(),
            Pkg::Choice(c) => format!(
                "{} for {}'s `{}`",
                self.set(pkg, set),
                c.consumer,
                c.spec.name
            ),
            Pkg::Claim(c) => {
                let ext = &self.solver.env.externals[c.external].name;
                let binding = match &c.binding {
                    None => format!("external {ext}'s binding"),
                    Some(k) => format!("external {ext}'s binding for {k}"),
                };
                format!("{binding} {}", self.set(pkg, set))
            }
            _ => format!("{pkg} {}", self.set(pkg, set)),
        }
    }
}

impl ReportFormatter<Pkg, VS, Reason> for Words<'_, '_> {
    type Output = String;

    fn format_external(&self, e: &Ext) -> String {
        match e {
            External::NotRoot(..) => "the environment is being planned".into(),
            External::NoVersions(pkg @ Pkg::Choice(c), set) => {
                if *set == VS::full() {
                    format!(
                        "nothing can satisfy {}'s requirement {}",
                        c.consumer, c.spec
                    )
                } else {
                    let others = self.set(pkg, &set.complement());
                    format!(
                        "{}'s requirement `{}` has no candidate besides {others}",
                        c.consumer, c.spec.name
                    )
                }
            }
            External::NoVersions(pkg, set) => {
                let service = pkg.service().unwrap_or_default();
                match self.solver.service(service) {
                    Ok(Some(_)) => format!("no release of {pkg} is {}", self.set(pkg, set)),
                    _ => format!("{service} is not in the index"),
                }
            }
            External::Custom(pkg, set, reason) => reason.about(&self.subject(pkg, set)),
            External::FromDependencyOf(Pkg::Root, _, dep, dset) => {
                let id = dep.service().unwrap_or_default();
                let none = match self.solver.service(id) {
                    Ok(Some(s)) if *dset == VS::empty() => {
                        let all: Vec<String> =
                            s.versions.iter().map(|(v, _)| v.to_string()).collect();
                        format!(
                            ", but no release is in that range (releases: {})",
                            all.join(", ")
                        )
                    }
                    Ok(None) => ", which is not in the index".into(),
                    _ => String::new(),
                };
                let wants = match self.solver.wanted(id) {
                    Some(w) if w.pin.is_some() => format!(
                        "the environment wants {id} pinned to {}",
                        w.pin.as_deref().unwrap_or("")
                    ),
                    Some(w) => format!("the environment wants {id} {}", w.version),
                    None => format!("the environment wants {id}"),
                };
                format!("{wants}{none}")
            }
            External::FromDependencyOf(p, set, Pkg::Choice(c), _) => {
                format!("{} requires {}", self.subject(p, set), c.spec)
            }
            External::FromDependencyOf(p @ Pkg::Choice(_), set, dep, dset) => {
                format!(
                    "choosing {} needs {}",
                    self.subject(p, set),
                    self.subject(dep, dset)
                )
            }
            External::FromDependencyOf(p, set, dep, dset) => {
                format!("{} needs {}", self.subject(p, set), self.subject(dep, dset))
            }
        }
    }

    fn format_terms(&self, terms: &Map<Pkg, Term<VS>>) -> String {
        let mut v: Vec<(&Pkg, &Term<VS>)> = terms.iter().collect();
        v.sort_by_key(|(p, _)| p.to_string());
        match v.as_slice() {
            [] | [(Pkg::Root, _)] => "the environment cannot be planned".into(),
            [(Pkg::Choice(c), Term::Positive(s))] if *s == VS::full() => {
                format!(
                    "no candidate for {}'s `{}` can be used",
                    c.consumer, c.spec.name
                )
            }
            [(p, Term::Positive(s))] => self.cannot_be_used(p, s),
            [(p, Term::Negative(s))] => format!("{} is required", self.subject(p, s)),
            [(p1, Term::Positive(s1)), (p2, Term::Negative(s2))]
            | [(p2, Term::Negative(s2)), (p1, Term::Positive(s1))] => {
                if **p1 == Pkg::Root {
                    format!("the environment needs {}", self.subject(p2, s2))
                } else {
                    format!("{} needs {}", self.subject(p1, s1), self.subject(p2, s2))
                }
            }
            many => {
                let parts: Vec<String> = many.iter().map(|(p, t)| self.term(p, t)).collect();
                format!("{} are incompatible", parts.join(" and "))
            }
        }
    }

    fn explain_both_external(&self, e1: &Ext, e2: &Ext, current: &Map<Pkg, Term<VS>>) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(e1),
            self.format_external(e2),
            self.format_terms(current)
        )
    }

    fn explain_both_ref(
        &self,
        r1: usize,
        d1: &Derived<Pkg, VS, Reason>,
        r2: usize,
        d2: &Derived<Pkg, VS, Reason>,
        current: &Map<Pkg, Term<VS>>,
    ) -> String {
        format!(
            "Because {} ({r1}) and {} ({r2}), {}.",
            self.format_terms(&d1.terms),
            self.format_terms(&d2.terms),
            self.format_terms(current)
        )
    }

    fn explain_ref_and_external(
        &self,
        r: usize,
        d: &Derived<Pkg, VS, Reason>,
        e: &Ext,
        current: &Map<Pkg, Term<VS>>,
    ) -> String {
        format!(
            "Because {} ({r}) and {}, {}.",
            self.format_terms(&d.terms),
            self.format_external(e),
            self.format_terms(current)
        )
    }

    fn and_explain_external(&self, e: &Ext, current: &Map<Pkg, Term<VS>>) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(e),
            self.format_terms(current)
        )
    }

    fn and_explain_ref(
        &self,
        r: usize,
        d: &Derived<Pkg, VS, Reason>,
        current: &Map<Pkg, Term<VS>>,
    ) -> String {
        format!(
            "And because {} ({r}), {}.",
            self.format_terms(&d.terms),
            self.format_terms(current)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior: &Ext,
        e: &Ext,
        current: &Map<Pkg, Term<VS>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(e),
            self.format_terms(current)
        )
    }
}
