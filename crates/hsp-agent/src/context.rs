//! What every command knows about an environment, worked out in one place:
//! the environment file (read once), what the journal says is deployed, and
//! the plan against an index.
//!
//! ```text
//! EnvContext::load(ENV)        the environment file, read once
//!   ├─ snapshot()              <state>/<env>/journal.json, unlocked   (plan, export)
//!   └─ Locked::open            lock <state>/<env>, then its journal    (apply, run)
//!          └─ Deployment ─ deployed() ─┐
//!   open_index() ─ IndexSource ────────┴─ EnvContext::plan ─> Plan
//! ```
//!
//! `status` reads the same unlocked journal ([`read_journal`]) and lists its
//! instances in the same order ([`in_start_order`]).
//!
//! Two directories, one type each: the site's state directory
//! ([`crate::catalog::StateDir`]: index location, trusted metadata, targets)
//! and the environment's directory inside it ([`hsp_deploy::EnvDir`],
//! `<state>/<env>`: journal, secrets, host releases), which exists only locked.
//!
//! **Invariant:** a change is planned only under the environment's lock:
//! `apply` and `run` plan from a [`Locked`], which takes the lock before it
//! reads the journal and holds it until the apply is done.
//! **Invariant:** "what is deployed" has one definition, [`Deployment::from_journal`]
//! (the last healthy spec of each instance in start order, and the versions
//! marked bad), so `plan`, `apply`, `run` and `export` plan from the same input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hsp_deploy::journal::{journal_path, InstanceRecord};
use hsp_deploy::{EnvDir, Journal};
use hsp_index::{Environment, Plan};
use hsp_planner::{self as planner, Deployed, IndexSource, LoadedEnvironment};

use crate::catalog::{normalize_location, StateDir};
use crate::cmd::search::IndexArgs;

/// An environment file read once, with where its services come from.
pub struct EnvContext {
    loaded: LoadedEnvironment,
    index: IndexArgs,
    /// DEVELOPMENT ONLY: a registry repo folder read unverified.
    registry: Option<PathBuf>,
}

impl EnvContext {
    /// Reads and checks the environment file.
    pub fn load(
        path: &Path,
        index: &IndexArgs,
        registry: Option<&Path>,
    ) -> anyhow::Result<EnvContext> {
        Ok(EnvContext::new(
            planner::read_environment(path)?,
            index,
            registry,
        ))
    }

    pub fn new(
        loaded: LoadedEnvironment,
        index: &IndexArgs,
        registry: Option<&Path>,
    ) -> EnvContext {
        EnvContext {
            loaded,
            index: index.clone(),
            registry: registry.map(Path::to_path_buf),
        }
    }

    pub fn env(&self) -> &Environment {
        &self.loaded.env
    }

    /// The environment file, as given.
    pub fn path(&self) -> &Path {
        &self.loaded.path
    }

    /// The site's state directory.
    pub fn state(&self) -> &Path {
        &self.index.state
    }

    /// What is deployed now, from the journal read without the lock: for
    /// commands that change nothing.
    pub fn snapshot(&self) -> anyhow::Result<Deployment> {
        let name = &self.env().name;
        let journal = read_journal(self.state(), name)?;
        Ok(Deployment::from_journal(journal.as_ref(), name))
    }

    /// The warning to give before planning against an unverified registry
    /// folder (`--registry`), if one was asked for.
    pub fn unverified_warning(&self) -> Option<String> {
        self.registry.as_ref().map(|dir| {
            format!(
                "--registry reads {} UNVERIFIED; for development only",
                dir.display()
            )
        })
    }

    /// Opens what the services are read from: the verified index (refreshed
    /// first, after [`EnvContext::check_index`]), or the `--registry` folder.
    pub fn open_index(&self) -> anyhow::Result<Box<dyn IndexSource>> {
        Ok(match &self.registry {
            Some(dir) => Box::new(planner::read_registry_dir(dir)?),
            None => {
                self.check_index()?;
                Box::new(self.index.open()?)
            }
        })
    }

    /// The environment's `index` must name the index the state directory was
    /// set up for by `hsp-agent init`: `index.url` its location (unless
    /// `--index` overrides it for this run), `index.root` the root it was
    /// given (or the root it trusts now). A disagreement is an error saying
    /// which to change, rather than one of them silently winning.
    pub fn check_index(&self) -> anyhow::Result<()> {
        let state = StateDir::new(self.state());
        let config = state.config()?;
        let env = &self.env().index;
        let base = self.path().parent().unwrap_or(Path::new("."));
        let s = self.state().display();
        if let (None, Some(recorded)) = (&self.index.index, &config.url) {
            let (ours, theirs) = (
                normalize_location(&env.url, base),
                normalize_location(recorded, Path::new(".")),
            );
            if ours != theirs {
                anyhow::bail!(
                    "{}: {:?} is not the index the state directory {s} reads ({recorded:?}, set by `hsp-agent init`) (hint: change index.url to {recorded:?}; or, to use this index, run `hsp-agent init --state {s} --root ROOT --index {:?} --force`; or pass --index for one run)",
                    self.loaded.at("/index/url"),
                    env.url,
                    env.url
                );
            }
        }
        let root_path = base.join(&env.root);
        let root = std::fs::read(&root_path).map_err(|e| {
            anyhow::anyhow!(
                "{}: {} cannot be read: {e} (hint: point index.root at the root.json given to `hsp-agent init --state {s}`, relative to the environment file)",
                self.loaded.at("/index/root"),
                root_path.display()
            )
        })?;
        let sha = hsp_tuf::sha256_hex(&root);
        let trusted = state.trusted_root().ok();
        let same = config.root_sha256.as_deref() == Some(sha.as_str())
            || trusted.as_deref().map(hsp_tuf::sha256_hex).as_deref() == Some(sha.as_str())
            // A state set up before the anchor was recorded: an older root
            // may be an ancestor of the trusted one.
            || (config.root_sha256.is_none()
                && root_version(&root) < trusted.as_deref().map_or(0, root_version));
        if !same {
            anyhow::bail!(
                "{}: {} is not the root the state directory {s} trusts (hint: point index.root at the root.json given to `hsp-agent init --state {s}`; or, to trust this one, run `hsp-agent init --state {s} --root {} --index URL --force`)",
                self.loaded.at("/index/root"),
                root_path.display(),
                root_path.display()
            );
        }
        Ok(())
    }

    /// Plans the environment against `index`, continuing from `deployment`,
    /// for this machine: a host target's releases need an artifact for its
    /// platform.
    pub fn plan(&self, index: &dyn IndexSource, deployment: &Deployment) -> anyhow::Result<Plan> {
        planner::plan_with(self.env(), index, &deployment.deployed(), &plan_options())
            .with_context(|| format!("planning {}", self.path().display()))
    }

    /// The instances of `plan` (from [`EnvContext::plan`]) whose release is
    /// yanked, with what could replace each.
    pub fn yanked(
        &self,
        index: &dyn IndexSource,
        deployment: &Deployment,
        plan: &Plan,
    ) -> anyhow::Result<Vec<planner::Yanked>> {
        planner::yanked(
            self.env(),
            index,
            &deployment.deployed(),
            &plan_options(),
            plan,
        )
        .with_context(|| format!("checking {} for yanked releases", self.path().display()))
    }
}

/// `signed.version` of a root metadata file (0 when it is not one).
fn root_version(bytes: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v["signed"]["version"].as_u64())
        .unwrap_or(0)
}

/// What the planner is told about this machine.
fn plan_options() -> planner::PlanOptions {
    planner::PlanOptions {
        host_platform: Some(hsp_deploy::host::platform()),
    }
}

/// Records in the journal which planned releases are yanked (and clears the
/// note of the others), after an apply planned against the index; `status`
/// shows it.
pub fn record_yanked(dir: &EnvDir, plan: &Plan, yanked: &[planner::Yanked]) -> anyhow::Result<()> {
    let mut journal = dir.load()?;
    let now = chrono::Utc::now();
    for inst in &plan.instances {
        let Some(rec) = journal.instances.get_mut(&inst.name) else {
            continue;
        };
        rec.yanked = yanked.iter().find(|y| y.instance == inst.name).map(|y| {
            hsp_deploy::journal::YankedRelease {
                version: y.version.clone(),
                reason: y.reason.clone(),
                replacement: y.replacement.clone(),
                not_chosen: y.not_chosen.clone(),
                checked: now,
            }
        });
    }
    dir.save(&journal)
        .with_context(|| format!("writing {}", dir.journal_path().display()))
}

/// What the journal says is deployed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deployment {
    /// The last healthy spec of each instance, in start order, as a plan;
    /// `None` when the environment was never applied.
    pub now: Option<Plan>,
    /// Versions marked bad after rollbacks, per instance: the planner leaves
    /// them out until a newer release appears.
    pub bad_versions: Vec<(String, BTreeMap<String, String>)>,
    /// Versions marked bad for instances that never became healthy, per
    /// service: left out for any new instance of that service.
    pub undeployed_bad: Vec<(String, BTreeMap<String, String>)>,
}

impl Deployment {
    /// The one reading of a journal as "what is deployed".
    pub fn from_journal(journal: Option<&Journal>, environment: &str) -> Deployment {
        let Some(journal) = journal else {
            return Deployment::default();
        };
        let instances = in_start_order(journal)
            .filter_map(|(_, r)| r.good.clone())
            .collect();
        Deployment {
            now: Some(Plan {
                environment: environment.to_string(),
                instances,
                externals: vec![],
            }),
            bad_versions: journal
                .instances
                .iter()
                .map(|(n, r)| (n.clone(), r.bad_versions.clone()))
                .collect(),
            undeployed_bad: journal
                .instances
                .values()
                .filter(|r| r.good.is_none() && !r.bad_versions.is_empty())
                .filter_map(|r| Some((r.service()?.to_string(), r.bad_versions.clone())))
                .collect(),
        }
    }

    /// The planner's input: what runs, with the versions marked bad.
    pub fn deployed(&self) -> Deployed {
        let mut deployed = self
            .now
            .as_ref()
            .map(Deployed::from)
            .unwrap_or_default()
            .with_bad_versions(self.bad_versions.clone());
        for (service, marks) in &self.undeployed_bad {
            deployed = deployed.with_undeployed_bad(service, marks.clone());
        }
        deployed
    }
}

/// An environment's directory, locked, and its journal read under the lock.
pub struct Locked {
    pub dir: EnvDir,
    pub journal: Journal,
}

impl Locked {
    /// Takes the lock of `<state>/<environment>` (creating it), then reads the journal.
    pub fn open(state: &Path, environment: &str) -> anyhow::Result<Locked> {
        let dir = EnvDir::open(state, environment)?;
        let journal = dir
            .load()
            .with_context(|| format!("reading {}", dir.journal_path().display()))?;
        Ok(Locked { dir, journal })
    }

    pub fn deployment(&self) -> Deployment {
        Deployment::from_journal(Some(&self.journal), &self.dir.environment)
    }
}

/// The journal of `environment` without taking the lock; `None` when it was
/// never applied with this state directory.
pub fn read_journal(state: &Path, environment: &str) -> anyhow::Result<Option<Journal>> {
    Journal::snapshot(state, environment)
        .with_context(|| format!("reading {}", journal_path(state, environment).display()))
}

/// A journal's instances in the start order of the last plan, then any it
/// recorded outside that order.
pub fn in_start_order(journal: &Journal) -> impl Iterator<Item = (&String, &InstanceRecord)> {
    let ordered = journal
        .order
        .iter()
        .filter_map(|n| journal.instances.get_key_value(n));
    let rest = journal
        .instances
        .iter()
        .filter(|(n, _)| !journal.order.contains(n));
    ordered.chain(rest)
}

/// Reads a plan as `hsp-agent plan --json` prints it.
pub fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {e} (hint: pass a plan as `hsp-agent plan --json` prints it)",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

#[cfg(test)]
mod tests {
    use hsp_index::plan::PlannedInstance;
    use hsp_index::Document;
    use hsp_planner::MemorySource;

    use super::*;
    use crate::cmd;

    const APP: &str = "org.example.app";

    fn document(version: &str) -> Document {
        serde_json::from_value(serde_json::json!({
            "id": APP, "version": version, "name": "App", "summary": "test",
            "publisher": "example", "license": "MIT",
            "tasks": [{"name": "app", "image": format!("example.org/app:{version}@sha256:{}", "0".repeat(64)),
                       "ports": [{"name": "http", "port": 8080, "protocol": "http"}], "memory_mib": 64}]
        }))
        .expect("a document")
    }

    fn index(versions: &[&str]) -> MemorySource {
        MemorySource::new(vec![], versions.iter().map(|v| document(v)).collect())
    }

    /// An environment wanting the app (update mode minor), with its state in `state`.
    fn context(state: &Path) -> EnvContext {
        let text = r#"{"name": "clinic", "index": {"url": "https://index.example", "root": "root.json"},
                       "target": {"kind": "docker"}, "services": [{"id": "org.example.app"}]}"#;
        let loaded = planner::env::parse_environment(
            Path::new("/site/clinic.json"),
            text.as_bytes(),
            Path::new("/site"),
            &|_| None,
        )
        .expect("a valid environment");
        let index = IndexArgs {
            state: state.to_path_buf(),
            index: None,
        };
        EnvContext::new(loaded, &index, None)
    }

    /// The instance a fresh plan against `versions` deploys.
    fn planned(ctx: &EnvContext, versions: &[&str]) -> PlannedInstance {
        let plan = ctx.plan(&index(versions), &Deployment::default()).unwrap();
        plan.instances.into_iter().next().expect("one instance")
    }

    /// Writes a journal: `good` deployed and healthy, `bad` versions marked bad.
    fn write_journal(state: &Path, good: PlannedInstance, bad: &[&str]) {
        let dir = EnvDir::open(state, "clinic").unwrap();
        let mut journal = dir.load().unwrap();
        journal.order = vec![good.name.clone()];
        let record = journal.record(&good.name);
        record.good = Some(good);
        for v in bad {
            record
                .bad_versions
                .insert(v.to_string(), "unhealthy: /health 503".into());
        }
        dir.save(&journal).unwrap();
    }

    fn versions(plan: &Plan) -> Vec<(&str, &str)> {
        plan.instances
            .iter()
            .map(|i| (i.name.as_str(), i.version.as_str()))
            .collect()
    }

    #[test]
    fn export_leaves_out_a_version_marked_bad() {
        let state = tempfile::tempdir().unwrap();
        let ctx = context(state.path());
        let good = planned(&ctx, &["1.0.0"]);
        write_journal(state.path(), good, &["1.2.0"]);
        let index = index(&["1.0.0", "1.1.0", "1.2.0"]);

        let exported = ctx
            .plan(&index, &cmd::export::deployment(&ctx).unwrap())
            .unwrap();
        assert_eq!(versions(&exported), [("app", "1.1.0")]);
        // Without the mark the newest release is chosen: the mark is what
        // keeps 1.2.0 out.
        let unmarked = Deployment {
            bad_versions: vec![],
            ..cmd::export::deployment(&ctx).unwrap()
        };
        assert_eq!(
            versions(&ctx.plan(&index, &unmarked).unwrap()),
            [("app", "1.2.0")]
        );
    }

    #[test]
    fn plan_export_and_apply_plan_from_the_same_deployment() {
        let state = tempfile::tempdir().unwrap();
        let ctx = context(state.path());
        let good = planned(&ctx, &["1.0.0"]);
        for bad in [&[][..], &["1.2.0"], &["1.1.0", "1.2.0"]] {
            write_journal(state.path(), good.clone(), bad);
            let index = index(&["1.0.0", "1.1.0", "1.2.0"]);
            let for_plan = cmd::plan::deployment(&ctx, None).unwrap();
            let for_export = cmd::export::deployment(&ctx).unwrap();
            let for_apply = Locked::open(state.path(), "clinic").unwrap().deployment();
            assert_eq!(for_plan, for_export, "marked bad: {bad:?}");
            assert_eq!(for_plan, for_apply, "marked bad: {bad:?}");
            let plan = ctx.plan(&index, &for_plan).unwrap();
            let export = ctx.plan(&index, &for_export).unwrap();
            assert_eq!(plan, export, "marked bad: {bad:?}");
            let want = match bad.len() {
                0 => "1.2.0",
                1 => "1.1.0",
                _ => "1.0.0",
            };
            assert_eq!(versions(&plan), [("app", want)], "marked bad: {bad:?}");
        }
    }

    #[test]
    fn plan_deployed_elsewhere_keeps_this_sites_marks() {
        let state = tempfile::tempdir().unwrap();
        let ctx = context(state.path());
        let good = planned(&ctx, &["1.0.0"]);
        write_journal(state.path(), good.clone(), &["1.2.0"]);
        let other = state.path().join("deployed.json");
        let deployed = Plan {
            environment: "clinic".into(),
            instances: vec![PlannedInstance {
                version: "1.1.0".into(),
                ..good
            }],
            externals: vec![],
        };
        std::fs::write(&other, serde_json::to_vec(&deployed).unwrap()).unwrap();
        let deployment = cmd::plan::deployment(&ctx, Some(&other)).unwrap();
        assert_eq!(deployment.now.as_ref(), Some(&deployed));
        let plan = ctx
            .plan(&index(&["1.0.0", "1.1.0", "1.2.0"]), &deployment)
            .unwrap();
        assert_eq!(versions(&plan), [("app", "1.1.0")]);
    }

    #[test]
    fn deployment_reads_the_journal_in_start_order() {
        let instance = |name: &str| -> PlannedInstance {
            serde_json::from_value(serde_json::json!({
                "name": name, "service": APP, "version": "1.0.0", "license": "MIT",
                "reason": "test", "tasks": []
            }))
            .unwrap()
        };
        let mut journal = Journal {
            environment: "clinic".into(),
            order: vec!["web".into(), "db".into(), "gone".into()],
            ..Journal::default()
        };
        for name in ["db", "web", "extra"] {
            journal.record(name).good = Some(instance(name));
        }
        journal.record("new").last_error = Some("never healthy".into());
        journal
            .record("new")
            .bad_versions
            .insert("1.0.0".into(), "unhealthy".into());

        let deployment = Deployment::from_journal(Some(&journal), "clinic");
        let now = deployment.now.as_ref().unwrap();
        let names: Vec<&str> = now.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["web", "db", "extra"]);
        assert_eq!(now.environment, "clinic");
        let order: Vec<&str> = in_start_order(&journal).map(|(n, _)| n.as_str()).collect();
        assert_eq!(order, ["web", "db", "extra", "new"]);
        assert_eq!(
            deployment.bad_versions.iter().find(|(n, _)| n == "new"),
            Some(&(
                "new".to_string(),
                BTreeMap::from([("1.0.0".to_string(), "unhealthy".to_string())])
            ))
        );
        assert_eq!(
            Deployment::from_journal(None, "clinic"),
            Deployment::default()
        );
    }

    /// A first install that failed leaves no good spec, only its marks: the
    /// planner still leaves the marked version out (plan and apply agree with
    /// what the rollout would refuse), until the mark is cleared.
    #[test]
    fn marks_of_a_failed_first_install_keep_its_version_out() {
        let state = tempfile::tempdir().unwrap();
        let ctx = context(state.path());
        let dir = EnvDir::open(state.path(), "clinic").unwrap();
        let mut journal = dir.load().unwrap();
        let record = journal.record("app");
        record.service = Some(APP.into());
        record
            .bad_versions
            .insert("1.1.0".into(), "unhealthy: exit 3".into());
        dir.save(&journal).unwrap();
        drop(dir);
        let index = index(&["1.0.0", "1.1.0"]);
        let deployment = ctx.snapshot().unwrap();
        assert_eq!(deployment.now.as_ref().map(|p| p.instances.len()), Some(0));
        assert_eq!(
            versions(&ctx.plan(&index, &deployment).unwrap()),
            [("app", "1.0.0")]
        );
        let locked = Locked::open(state.path(), "clinic").unwrap();
        assert_eq!(locked.deployment(), deployment);
        let mut journal = locked.journal;
        assert_eq!(journal.clear_bad(APP, "1.1").len(), 1);
        let cleared = Deployment::from_journal(Some(&journal), "clinic");
        assert_eq!(
            versions(&ctx.plan(&index, &cleared).unwrap()),
            [("app", "1.1.0")]
        );
    }

    #[test]
    fn a_change_is_planned_only_by_the_holder_of_the_lock() {
        let state = tempfile::tempdir().unwrap();
        let ctx = context(state.path());
        let locked = Locked::open(state.path(), "clinic").unwrap();
        let err = Locked::open(state.path(), "clinic").err().unwrap();
        assert!(format!("{err:#}").contains("holds the lock"), "{err:#}");
        // Commands that change nothing still read while it is held.
        assert_eq!(ctx.snapshot().unwrap(), Deployment::default());
        drop(locked);
        Locked::open(state.path(), "clinic").unwrap();
    }
}
