//! The PubGrub model of an environment.
//!
//! Packages (see [`Pkg`]):
//! - `Root`: the environment; version `Root`; depends on each wanted service's
//!   shared instance with the wanted range (or pin).
//! - `Shared(service)`: the one instance of a service that wanted entries and
//!   shared requirements use. Versions are the service's releases.
//! - `Dedicated{consumer, req, service}`: a provider instance of its own for one
//!   consumer's dedicated requirement. Versions are the service's releases.
//! - `Choice{consumer, spec}`: a virtual package per (consumer instance,
//!   requirement) whose "versions" are candidate numbers: what satisfies the
//!   requirement, in preference order (an external, a provider service, or, for an
//!   optional requirement, nothing). Choosing candidate `i` makes the package
//!   depend on that provider's instance restricted to the releases that offer the
//!   interface in range with the features asked for. The requirement's spec is
//!   part of the package so that two consumer releases that define a requirement
//!   differently are different packages.
//!
//! - `Claim{external, binding}`: a virtual package per binding of an external
//!   (its `binding`, or one `per_consumer` entry) whose one version says who
//!   uses it: `Claimant(None)` for shared requirements, `Claimant(Some(..))`
//!   for one dedicated requirement. Choosing an external makes the choice
//!   depend on that claim, so two dedicated requirements (or a dedicated and a
//!   shared one) never get one binding: the solver takes another external that
//!   may serve one of them, or fails.
//!
//! Policy (licences, yanked, update mode) is not a structural constraint: a
//! release that policy rules out answers [`Dependencies::Unavailable`] with the
//! reason, so failures explain it, and `choose_version` offers such releases only
//! after every allowed one.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use hsp_index::api::{InterfaceIndex, RequireSummary, ServiceIndex, VersionEntry};
use hsp_index::document::Scope;
use hsp_index::environment::{Environment, TargetKind};
use hsp_index::version::{parse_range, parse_version};
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges,
};
use semver::Version;

use super::deployed::{Deployed, DeployedInstance};
pub(crate) use super::policy::{
    in_window, licence_allowed, licence_base, mode_name, Reason, MAX_DEDICATED_DEPTH,
};
use super::source::{IndexSource, SourceError};
use super::PlanOptions;

pub(crate) type VS = Ranges<Ver>;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Pkg {
    Root,
    Shared(Arc<str>),
    Dedicated(Arc<DedicatedKey>),
    Choice(Arc<ChoiceKey>),
    Claim(Arc<ClaimKey>),
}

/// One binding of an external: its own (`binding`) or a `per_consumer` entry.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct ClaimKey {
    /// Index into the environment's externals.
    pub external: usize,
    /// The `per_consumer` key, `None` for the external's `binding`.
    pub binding: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct DedicatedKey {
    pub consumer: Pkg,
    pub req: String,
    pub service: Arc<str>,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct ChoiceKey {
    pub consumer: Pkg,
    pub spec: ReqSpec,
}

/// A requirement as the solver sees it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct ReqSpec {
    pub name: String,
    pub interface: String,
    pub range: String,
    pub scope: Scope,
    pub optional: bool,
    pub features: Vec<String>,
}

impl From<&RequireSummary> for ReqSpec {
    fn from(r: &RequireSummary) -> Self {
        ReqSpec {
            name: r.name.clone(),
            interface: r.interface.clone(),
            range: r.version.clone(),
            scope: r.scope,
            optional: r.optional,
            features: r.features.clone(),
        }
    }
}

impl fmt::Display for ReqSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({} {}", self.name, self.interface, self.range)?;
        if !self.features.is_empty() {
            write!(f, " with {}", self.features.join(", "))?;
        }
        if self.scope == Scope::Dedicated {
            f.write_str(", dedicated")?;
        }
        if self.optional {
            f.write_str(", optional")?;
        }
        f.write_str(")")
    }
}

impl Pkg {
    /// The service of an instance package.
    pub fn service(&self) -> Option<&str> {
        match self {
            Pkg::Shared(s) => Some(s),
            Pkg::Dedicated(d) => Some(&d.service),
            _ => None,
        }
    }

    fn dedicated_depth(&self) -> usize {
        match self {
            Pkg::Dedicated(d) => 1 + d.consumer.dedicated_depth(),
            _ => 0,
        }
    }
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("the environment"),
            Pkg::Shared(s) => f.write_str(s),
            Pkg::Dedicated(d) => write!(
                f,
                "{} (dedicated to {}'s `{}`)",
                d.service, d.consumer, d.req
            ),
            Pkg::Choice(c) => write!(f, "{}'s requirement {}", c.consumer, c.spec),
            Pkg::Claim(c) => match &c.binding {
                None => write!(f, "external #{}'s binding", c.external),
                Some(k) => write!(f, "external #{}'s binding for {k}", c.external),
            },
        }
    }
}

/// A PubGrub version: the root's, a release, or a candidate number.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) enum Ver {
    Root,
    Release(Version),
    Candidate(u32),
    /// Who uses a binding of an external: shared requirements (`None`), or
    /// one dedicated requirement.
    Claimant(Option<Arc<str>>),
}

impl fmt::Display for Ver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ver::Root => f.write_str("(root)"),
            Ver::Release(v) => write!(f, "{v}"),
            Ver::Candidate(i) => write!(f, "candidate #{i}"),
            Ver::Claimant(None) => f.write_str("shared"),
            Ver::Claimant(Some(c)) => write!(f, "used by {c} alone"),
        }
    }
}

/// Why a candidate provider ranks where it does (lower is preferred).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Rank {
    /// An external service the environment declares.
    External,
    /// The provider this requirement is bound to in the deployed plan.
    Bound,
    /// A provider with a deployed shared instance.
    Deployed,
    /// The environment's preferred provider for the interface.
    Preferred,
    /// A service the environment wants anyway.
    Wanted,
    /// Any other provider, by service id.
    Other,
    /// Leave an optional requirement unbound.
    Unbound,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Candidate {
    /// Index into the environment's externals.
    External(usize),
    Provider {
        service: Arc<str>,
        versions: VS,
        rank: Rank,
    },
    Unbound,
}

/// A service's releases, parsed once.
#[derive(Debug)]
pub(crate) struct Service {
    pub index: ServiceIndex,
    /// Parsed versions with their entry index, newest first; unparsable ones are skipped.
    pub versions: Vec<(Version, usize)>,
}

impl Service {
    pub fn entry(&self, v: &Version) -> Option<&VersionEntry> {
        self.versions
            .iter()
            .find(|(x, _)| x == v)
            .map(|(_, i)| &self.index.versions[*i])
    }
}

/// Reading the index failed while solving.
#[derive(Debug, thiserror::Error)]
#[error("reading the index")]
pub struct SourceFailure(#[source] pub SourceError);

/// The dependency provider: environment, deployed state and index, with caches.
pub(crate) struct Solver<'a> {
    pub source: &'a dyn IndexSource,
    pub env: &'a Environment,
    pub deployed: &'a Deployed,
    licences: Option<Vec<String>>,
    /// A host target's platform (`linux-x86_64`): releases without an
    /// artifact for it are unavailable. `None`: not checked.
    host_platform: Option<String>,
    services: RefCell<HashMap<String, Option<Rc<Service>>>>,
    /// (service, version) -> why the release cannot run on the target.
    on_target: RefCell<HashMap<(String, String), Option<Reason>>>,
    interfaces: RefCell<HashMap<String, Option<Rc<InterfaceIndex>>>>,
    choices: RefCell<HashMap<Arc<ChoiceKey>, Rc<Vec<Candidate>>>>,
    /// Whether a dedicated requirement claims its external's binding (off
    /// only to find out which requirements would share one, for the error).
    pub claims: bool,
}

impl<'a> Solver<'a> {
    pub fn new(
        source: &'a dyn IndexSource,
        env: &'a Environment,
        deployed: &'a Deployed,
        options: &PlanOptions,
    ) -> Self {
        let licences = env
            .policy
            .licenses
            .as_ref()
            .map(|l| l.iter().map(|x| licence_base(x).to_string()).collect());
        Solver {
            source,
            env,
            deployed,
            licences,
            host_platform: options.host_platform.clone(),
            services: RefCell::default(),
            on_target: RefCell::default(),
            interfaces: RefCell::default(),
            choices: RefCell::default(),
            claims: true,
        }
    }

    pub fn service(&self, id: &str) -> Result<Option<Rc<Service>>, SourceFailure> {
        if let Some(s) = self.services.borrow().get(id) {
            return Ok(s.clone());
        }
        let loaded = self
            .source
            .service(id)
            .map_err(SourceFailure)?
            .map(|index| {
                let mut versions: Vec<(Version, usize)> = index
                    .versions
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| parse_version(&e.version).ok().map(|v| (v, i)))
                    .collect();
                versions.sort_by(|a, b| b.0.cmp(&a.0));
                Rc::new(Service { index, versions })
            });
        self.services
            .borrow_mut()
            .insert(id.to_string(), loaded.clone());
        Ok(loaded)
    }

    pub fn interface(&self, id: &str) -> Result<Option<Rc<InterfaceIndex>>, SourceFailure> {
        if let Some(s) = self.interfaces.borrow().get(id) {
            return Ok(s.clone());
        }
        let loaded = self
            .source
            .interface(id)
            .map_err(SourceFailure)?
            .map(Rc::new);
        self.interfaces
            .borrow_mut()
            .insert(id.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// The wanted entry of a service, if the environment wants it.
    pub fn wanted(&self, service: &str) -> Option<&'a hsp_index::environment::WantedService> {
        self.env.services.iter().find(|s| s.id == service)
    }

    /// The name an instance package has regardless of the solution: the wanted
    /// name, or the deployed name.
    pub fn stable_name(&self, pkg: &Pkg) -> Option<String> {
        match pkg {
            Pkg::Shared(s) => {
                if let Some(name) = self.wanted(s).and_then(|w| w.name.clone()) {
                    return Some(name);
                }
                self.deployed.shared_instance(s).map(|(n, _)| n.to_string())
            }
            Pkg::Dedicated(d) => self
                .stable_name(&d.consumer)
                .map(|c| dedicated_name(&c, &d.req)),
            _ => None,
        }
    }

    /// The names an external's `consumers` and `per_consumer` may know a
    /// consumer package by, before the solution names it: its stable name (else
    /// the last label of its service id, the name it gets unless two clash), then
    /// its service id. Rendering checks again with the final name.
    pub fn consumer_names(&self, pkg: &Pkg) -> Vec<String> {
        let name = match pkg {
            Pkg::Shared(s) => Some(
                self.stable_name(pkg)
                    .unwrap_or_else(|| s.rsplit('.').next().unwrap_or(s).to_string()),
            ),
            Pkg::Dedicated(d) => self
                .consumer_names(&d.consumer)
                .first()
                .map(|c| dedicated_name(c, &d.req)),
            _ => None,
        };
        name.into_iter()
            .chain(pkg.service().map(str::to_string))
            .collect()
    }

    /// The deployed instance a package continues, if any.
    pub fn deployed_instance(&self, pkg: &Pkg) -> Option<&'a DeployedInstance> {
        let service = pkg.service()?;
        let name = self.stable_name(pkg)?;
        self.deployed
            .instances
            .get(&name)
            .filter(|i| i.service == service)
    }

    fn deployed_version(&self, pkg: &Pkg) -> Option<Version> {
        self.deployed_instance(pkg)
            .and_then(|i| parse_version(&i.version).ok())
    }

    /// Why policy rules out release `v` of instance `pkg`, if it does.
    pub fn exclusion(&self, pkg: &Pkg, entry: &VersionEntry, v: &Version) -> Option<Reason> {
        let marks = match self.deployed_instance(pkg) {
            Some(d) => Some(&d.bad_versions),
            // Not deployed: the marks of this service's failed first installs.
            None => pkg
                .service()
                .and_then(|s| self.deployed.undeployed_bad.get(s)),
        };
        if let Some(why) = marks.and_then(|m| {
            m.iter()
                .find(|(b, _)| parse_version(b).is_ok_and(|b| b == *v))
        }) {
            return Some(Reason::MarkedBad(why.1.clone()));
        }
        let deployed = self.deployed_version(pkg);
        if let Some(why) = &entry.yanked {
            if deployed.as_ref() != Some(v) {
                return Some(Reason::Yanked(why.clone()));
            }
        }
        if let Some(l) = &self.licences {
            if !licence_allowed(l, &entry.license) {
                return Some(Reason::Licence {
                    license: entry.license.clone(),
                    allowed: self.env.policy.licenses.clone().unwrap_or_default(),
                });
            }
        }
        if let Some(d) = deployed {
            let mode = self.env.policy.update;
            if self.window_applies(pkg, &d) && !in_window(&d, v, mode) {
                return Some(Reason::Window { deployed: d, mode });
            }
        }
        None
    }

    /// Why release `entry` of `service` cannot run on the environment's
    /// target, if it cannot: a host target needs an artifact for its
    /// platform, a docker target an image for every task; and with
    /// `policy.require_validated`, a passing validation. Reads the release's
    /// document (once), so it is asked only of releases the solver tries or
    /// an explanation names.
    pub fn off_target(
        &self,
        service: &str,
        entry: &VersionEntry,
    ) -> Result<Option<Reason>, SourceFailure> {
        let platform = match (self.env.target.kind, &self.host_platform) {
            (TargetKind::Host, Some(p)) => Some(p),
            (TargetKind::Host, None) if !self.env.policy.require_validated => return Ok(None),
            // A host of unknown platform: only the validation is checked.
            (TargetKind::Host, None) => None,
            (TargetKind::Docker, _) => None,
        };
        let host_unknown = self.env.target.kind == TargetKind::Host && platform.is_none();
        let key = (service.to_string(), entry.version.clone());
        if let Some(r) = self.on_target.borrow().get(&key) {
            return Ok(r.clone());
        }
        let doc = self
            .source
            .document(service, &entry.version)
            .map_err(SourceFailure)?;
        let reason = match platform {
            Some(p) if !doc.artifacts.iter().any(|a| a.platform == *p) => {
                Some(Reason::NoArtifact {
                    platform: p.clone(),
                    have: doc.artifacts.iter().map(|a| a.platform.clone()).collect(),
                })
            }
            Some(_) => None,
            None if host_unknown => None,
            None => doc
                .tasks
                .iter()
                .find(|t| t.image.trim().is_empty())
                .map(|t| Reason::NoImage {
                    task: t.name.clone(),
                }),
        };
        let reason = match reason {
            None if self.env.policy.require_validated => self.unvalidated(service, entry)?,
            r => r,
        };
        self.on_target.borrow_mut().insert(key, reason.clone());
        Ok(reason)
    }

    /// With `policy.require_validated`: why the release is not validated.
    fn unvalidated(
        &self,
        service: &str,
        entry: &VersionEntry,
    ) -> Result<Option<Reason>, SourceFailure> {
        let report = self
            .source
            .validation(service, &entry.version)
            .map_err(SourceFailure)?;
        Ok(match report {
            Some(r) if r.passed() => None,
            Some(r) => Some(Reason::NotValidated(Some(r.failures()))),
            None => Some(Reason::NotValidated(None)),
        })
    }

    /// Why release `v` of `pkg` cannot be chosen: policy, or the target. For
    /// explanations: an index read that fails counts as no reason.
    pub fn unavailable(&self, pkg: &Pkg, entry: &VersionEntry, v: &Version) -> Option<Reason> {
        self.exclusion(pkg, entry, v)
            .or_else(|| self.off_target(pkg.service()?, entry).ok().flatten())
    }

    /// The update window binds unless the environment explicitly asks otherwise
    /// (a pin, or a wanted range that excludes the deployed version).
    fn window_applies(&self, pkg: &Pkg, d: &Version) -> bool {
        let Pkg::Shared(s) = pkg else { return true };
        match self.wanted(s) {
            Some(w) if w.pin.is_some() => false,
            Some(w) => parse_range(&w.version).is_ok_and(|r| r.matches(d)),
            None => true,
        }
    }

    /// The releases of `service` whose `interface` offer fits `spec`.
    fn offering(&self, ix: &InterfaceIndex, service: &str, spec: &ReqSpec) -> VS {
        let Ok(range) = parse_range(&spec.range) else {
            return VS::empty();
        };
        let mut set = VS::empty();
        for p in ix.providers.iter().filter(|p| p.service == service) {
            let fits = parse_version(&p.interface_version).is_ok_and(|iv| range.matches(&iv))
                && spec.features.iter().all(|f| p.features.contains(f));
            if let (true, Ok(v)) = (fits, parse_version(&p.version)) {
                set = set.union(&VS::singleton(Ver::Release(v)));
            }
        }
        set
    }

    /// What can satisfy a requirement, most preferred first.
    pub fn candidates(&self, key: &Arc<ChoiceKey>) -> Result<Rc<Vec<Candidate>>, SourceFailure> {
        if let Some(c) = self.choices.borrow().get(key) {
            return Ok(c.clone());
        }
        let spec = &key.spec;
        let mut out = Vec::new();
        let externals: Vec<(usize, &hsp_index::environment::ExternalService)> = self
            .env
            .externals
            .iter()
            .enumerate()
            .filter(|(_, e)| e.interface == spec.interface)
            .collect();
        let names = self.consumer_names(&key.consumer);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let externals: Vec<_> = externals
            .into_iter()
            .filter(|(_, e)| e.serves(&names))
            .collect();
        if !externals.is_empty() {
            // Externals that may serve this consumer pin the interface for it:
            // index providers are not candidates.
            let range = parse_range(&spec.range).ok();
            for (i, e) in externals {
                let fits = range
                    .as_ref()
                    .is_some_and(|r| parse_version(&e.version).is_ok_and(|v| r.matches(&v)))
                    && spec.features.iter().all(|f| e.features.contains(f));
                if fits {
                    out.push(Candidate::External(i));
                }
            }
        } else if let Some(ix) = self.interface(&spec.interface)? {
            let bound = self.bound_provider(&key.consumer, &spec.name);
            let own = key.consumer.service();
            let mut services: Vec<&str> = ix.providers.iter().map(|p| p.service.as_str()).collect();
            services.dedup();
            let mut ranked = Vec::new();
            for s in services {
                let shared = spec.scope == Scope::Shared;
                if shared && Some(s) == own && matches!(key.consumer, Pkg::Shared(_)) {
                    continue; // an instance cannot serve its own requirement
                }
                let wanted = shared && self.wanted(s).is_some();
                if spec.optional && !wanted {
                    continue; // optional requirements never add services
                }
                let versions = self.offering(&ix, s, spec);
                if versions.is_empty() {
                    continue;
                }
                let rank = if bound.as_deref() == Some(s) {
                    Rank::Bound
                } else if shared && self.deployed.shared_instance(s).is_some() {
                    Rank::Deployed
                } else if self
                    .env
                    .policy
                    .preferred
                    .get(&spec.interface)
                    .map(String::as_str)
                    == Some(s)
                {
                    Rank::Preferred
                } else if wanted {
                    Rank::Wanted
                } else {
                    Rank::Other
                };
                ranked.push((rank, s.to_string(), versions));
            }
            ranked.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            out.extend(
                ranked
                    .into_iter()
                    .map(|(rank, s, versions)| Candidate::Provider {
                        service: s.into(),
                        versions,
                        rank,
                    }),
            );
        }
        if spec.optional {
            out.push(Candidate::Unbound);
        }
        let out = Rc::new(out);
        self.choices.borrow_mut().insert(key.clone(), out.clone());
        Ok(out)
    }

    /// The service bound to `req` of the deployed instance `consumer` continues.
    fn bound_provider(&self, consumer: &Pkg, req: &str) -> Option<String> {
        let name = self.stable_name(consumer)?;
        let inst = self.deployed.instances.get(&name)?;
        match inst.bindings.get(req)? {
            hsp_index::plan::ProviderRef::Instance(p) => {
                self.deployed.instances.get(p).map(|i| i.service.clone())
            }
            hsp_index::plan::ProviderRef::External(_) => None,
        }
    }

    /// Releases of an instance package in the order `choose_version` offers them.
    fn release_order(&self, pkg: &Pkg, service: &Service) -> Vec<Version> {
        let (mut ok, mut excluded) = (Vec::new(), Vec::new());
        for (v, i) in &service.versions {
            if self
                .exclusion(pkg, &service.index.versions[*i], v)
                .is_none()
            {
                ok.push(v.clone());
            } else {
                excluded.push(v.clone());
            }
        }
        ok.extend(excluded);
        ok
    }

    fn root_dependencies(&self) -> Result<DependencyConstraints<Pkg, VS>, SourceFailure> {
        let mut deps = DependencyConstraints::default();
        for w in &self.env.services {
            let set = match self.service(&w.id)? {
                None => VS::full(),
                Some(s) => {
                    let range = parse_range(&w.version).ok();
                    let pin = w.pin.as_deref().and_then(|p| parse_version(p).ok());
                    let mut set = VS::empty();
                    for (v, _) in &s.versions {
                        let fits = range.as_ref().is_some_and(|r| r.matches(v))
                            && pin.as_ref().is_none_or(|p| p == v);
                        if fits {
                            set = set.union(&VS::singleton(Ver::Release(v.clone())));
                        }
                    }
                    set
                }
            };
            deps.insert(Pkg::Shared(w.id.as_str().into()), set);
        }
        Ok(deps)
    }
}

/// `<consumer>-<requirement>` with `_` turned into `-`.
pub(crate) fn dedicated_name(consumer: &str, req: &str) -> String {
    format!("{consumer}-{}", req.replace('_', "-"))
}

impl DependencyProvider for Solver<'_> {
    type P = Pkg;
    type V = Ver;
    type VS = VS;
    type M = Reason;
    type Err = SourceFailure;
    type Priority = (u8, u32, Reverse<usize>);

    fn prioritize(
        &self,
        pkg: &Pkg,
        range: &VS,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let count = match pkg {
            Pkg::Root | Pkg::Claim(_) => 1,
            Pkg::Choice(c) => self
                .candidates(c)
                .map(|c| {
                    (0..c.len())
                        .filter(|i| range.contains(&Ver::Candidate(*i as u32)))
                        .count()
                })
                .unwrap_or(0),
            _ => match pkg.service().map(|s| self.service(s)) {
                Some(Ok(Some(s))) => s
                    .versions
                    .iter()
                    .filter(|(v, _)| range.contains(&Ver::Release(v.clone())))
                    .count(),
                _ => 0,
            },
        };
        let wanted = matches!(pkg, Pkg::Shared(s) if self.wanted(s).is_some());
        (u8::from(wanted), stats.conflict_count(), Reverse(count))
    }

    fn choose_version(&self, pkg: &Pkg, range: &VS) -> Result<Option<Ver>, SourceFailure> {
        Ok(match pkg {
            Pkg::Root => Some(Ver::Root).filter(|v| range.contains(v)),
            Pkg::Choice(c) => {
                let n = self.candidates(c)?.len() as u32;
                (0..n).map(Ver::Candidate).find(|v| range.contains(v))
            }
            // Claims are asked for as single versions.
            Pkg::Claim(_) => range
                .as_singleton()
                .cloned()
                .or_else(|| Some(Ver::Claimant(None)).filter(|v| range.contains(v))),
            _ => {
                let Some(s) = self.service(pkg.service().unwrap_or_default())? else {
                    return Ok(None);
                };
                self.release_order(pkg, &s)
                    .into_iter()
                    .map(Ver::Release)
                    .find(|v| range.contains(v))
            }
        })
    }

    fn get_dependencies(
        &self,
        pkg: &Pkg,
        ver: &Ver,
    ) -> Result<Dependencies<Pkg, VS, Reason>, SourceFailure> {
        let mut deps = DependencyConstraints::default();
        match (pkg, ver) {
            (Pkg::Root, _) => return Ok(Dependencies::Available(self.root_dependencies()?)),
            (Pkg::Choice(c), Ver::Candidate(i)) => {
                let cands = self.candidates(c)?;
                if let (Some(Candidate::External(e)), true) = (cands.get(*i as usize), self.claims)
                {
                    let ext = &self.env.externals[*e];
                    let names = self.consumer_names(&c.consumer);
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let key = ClaimKey {
                        external: *e,
                        binding: ext.own_binding(&names).map(str::to_string),
                    };
                    let claimant = match c.spec.scope {
                        Scope::Shared => None,
                        Scope::Dedicated => {
                            Some(format!("{}'s `{}`", c.consumer, c.spec.name).into())
                        }
                    };
                    deps.insert(
                        Pkg::Claim(Arc::new(key)),
                        VS::singleton(Ver::Claimant(claimant)),
                    );
                }
                if let Some(Candidate::Provider {
                    service, versions, ..
                }) = cands.get(*i as usize)
                {
                    let target = match c.spec.scope {
                        Scope::Shared => Pkg::Shared(service.clone()),
                        Scope::Dedicated => Pkg::Dedicated(Arc::new(DedicatedKey {
                            consumer: c.consumer.clone(),
                            req: c.spec.name.clone(),
                            service: service.clone(),
                        })),
                    };
                    deps.insert(target, versions.clone());
                }
            }
            (_, Ver::Release(v)) => {
                let Some(s) = self.service(pkg.service().unwrap_or_default())? else {
                    return Ok(Dependencies::Available(deps));
                };
                let Some(entry) = s.entry(v) else {
                    return Ok(Dependencies::Available(deps));
                };
                if let Some(reason) = self.exclusion(pkg, entry, v) {
                    return Ok(Dependencies::Unavailable(reason));
                }
                if let Some(reason) = self.off_target(pkg.service().unwrap_or_default(), entry)? {
                    return Ok(Dependencies::Unavailable(reason));
                }
                if pkg.dedicated_depth() > MAX_DEDICATED_DEPTH {
                    return Ok(Dependencies::Unavailable(Reason::TooDeep));
                }
                for r in &entry.requires {
                    let key = ChoiceKey {
                        consumer: pkg.clone(),
                        spec: ReqSpec::from(r),
                    };
                    deps.insert(Pkg::Choice(Arc::new(key)), VS::full());
                }
            }
            _ => {}
        }
        Ok(Dependencies::Available(deps))
    }
}
/// One instance of the solution.
pub(crate) struct Inst {
    pub(crate) pkg: Pkg,
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) doc: hsp_index::Document,
    /// Requirement name -> chosen candidate.
    pub(crate) choices: std::collections::BTreeMap<String, (Candidate, usize)>,
}
