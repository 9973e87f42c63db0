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
    /// first), or the `--registry` folder.
    pub fn open_index(&self) -> anyhow::Result<Box<dyn IndexSource>> {
        Ok(match &self.registry {
            Some(dir) => Box::new(planner::read_registry_dir(dir)?),
            None => Box::new(self.index.open()?),
        })
    }

    /// Plans the environment against `index`, continuing from `deployment`.
    pub fn plan(&self, index: &dyn IndexSource, deployment: &Deployment) -> anyhow::Result<Plan> {
        planner::plan(self.env(), index, &deployment.deployed())
            .with_context(|| format!("planning {}", self.path().display()))
    }
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
        }
    }

    /// The planner's input: what runs, with the versions marked bad.
    pub fn deployed(&self) -> Deployed {
        self.now
            .as_ref()
            .map(Deployed::from)
            .unwrap_or_default()
            .with_bad_versions(self.bad_versions.clone())
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
