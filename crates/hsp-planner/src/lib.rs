//! The planner: resolves an environment against an index into a [`Plan`].
//!
//! ```text
//! environment file --env--> Environment ─┐
//! deployed plan ---------> Deployed ─────┼─ solve (PubGrub) ─ render ─> Plan
//! verified index --------> IndexSource ──┘        └─ explain ─> Explanation
//! ```
//!
//! - [`env`]: reads and checks the environment file (positions, secret-file modes).
//! - [`source`]: the [`IndexSource`] trait the solver reads through, and an
//!   in-memory implementation.
//! - `solve`: the PubGrub model (services, dedicated instances, and one virtual
//!   "choice" package per requirement whose versions are candidate providers).
//! - `render`: names, start order and `${...}` templates into a [`Plan`];
//!   `reason`: the sentence saying why each instance runs what it runs.
//! - `policy`: licences and update mode.
//! - [`explain`]: failures in sentences.
//! - [`deployed`]: what runs now, and the [`Action`]s to the new plan.
//! - `yanked`: planned releases that are yanked (kept because they are
//!   deployed) and the newest release that could replace each ([`yanked()`]).
//!
//! Preference, most important first: an external service the environment declares
//! that may serve the consumer (its `consumers`; externals pin their interface:
//! index providers are then not candidates), whose binding is free (a dedicated
//! requirement never shares one: the external's `binding` or the consumer's
//! `per_consumer` entry, see `solve`); the
//! provider and version already deployed (versions move only within the update
//! mode unless the environment pins or asks for a range that excludes the
//! deployed version); the environment's preferred provider; a service the
//! environment wants anyway; then providers by id, and the newest allowed release.
//! Policy: licences (`policy.licenses`), yanked releases (never chosen unless
//! deployed), update mode, pins, the versions this site marked bad, and the
//! target (a host target needs an artifact for the host's platform, passed in
//! as [`PlanOptions::host_platform`]). Optional requirements bind only to externals and
//! wanted services; the planner never adds a service for them.
//!
//! **Invariant:** solving and rendering do no I/O: the index comes through
//! [`IndexSource`], the rest as values; only [`env::read_environment`] touches files.
//! **Invariant:** secret values are never read: a plan holds [`hsp_index::plan::SecretRef`]s.

pub mod deployed;
pub mod env;
pub mod explain;
mod policy;
mod reason;
mod render;
mod solve;
pub mod source;
mod yanked;

use hsp_index::{Environment, Plan};

pub use deployed::{actions, Action, Deployed, DeployedInstance};
pub use env::{read_environment, EnvError, LoadedEnvironment};
pub use explain::Explanation;
pub use policy::MAX_DEDICATED_DEPTH;
pub use solve::Rank;
pub use source::{read_registry_dir, IndexSource, MemorySource, SourceError};
pub use yanked::{yanked, Yanked};

/// Why planning failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No combination of versions and providers satisfies the environment.
    #[error("{0}")]
    NoSolution(Box<Explanation>),
    #[error("reading the index")]
    Source(#[source] SourceError),
    #[error("instance {instance}: config {name} {message} (hint: {hint})")]
    Config {
        instance: String,
        name: String,
        message: String,
        hint: String,
    },
    /// A dedicated requirement would share one binding of an external with
    /// another requirement (both would use one database).
    #[error("external {external}: {} would use {binding}, but a dedicated requirement needs a binding no other consumer uses (hint: {hint})", and_list(.users))]
    SharedExternal {
        external: String,
        /// "its binding" or "the binding per_consumer.<key>".
        binding: String,
        /// `<consumer>'s `<req>` (dedicated|shared)`, in plan order.
        users: Vec<String>,
        hint: String,
    },
    #[error("instance {instance}: {message}")]
    Render { instance: String, message: String },
    #[error("the plan has a dependency cycle among {} (hint: bind one of their requirements to an external service)", .0.join(", "))]
    Cycle(Vec<String>),
    #[error("instance name {name} would be used by both {first} and {second} (hint: name the wanted service differently)")]
    NameClash {
        name: String,
        first: String,
        second: String,
    },
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What the planner is told about the place it plans for, beyond the
/// environment file (the planner does no I/O to find out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// The platform of the host a `host` target deploys to (`linux-x86_64`,
    /// as the host driver names it): releases without an artifact for it are
    /// not candidates. `None`: not checked (planning for another machine).
    pub host_platform: Option<String>,
}

/// Plans `env` against `index`, continuing from `deployed`, without knowing
/// the host's platform ([`plan_with`] with the default [`PlanOptions`]).
pub fn plan(
    env: &Environment,
    index: &dyn IndexSource,
    deployed: &Deployed,
) -> Result<Plan, PlanError> {
    plan_with(env, index, deployed, &PlanOptions::default())
}

/// Plans `env` against `index`, continuing from `deployed`: only releases
/// deployable on the environment's target are candidates (a docker target:
/// an image for every task; a host target: an artifact for
/// `options.host_platform`).
pub fn plan_with(
    env: &Environment,
    index: &dyn IndexSource,
    deployed: &Deployed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let solver = solve::Solver::new(index, env, deployed, options);
    match pubgrub::resolve(&solver, solve::Pkg::Root, solve::Ver::Root) {
        Ok(solution) => render::build(&solver, &solution),
        Err(pubgrub::PubGrubError::NoSolution(tree)) => {
            let explanation = PlanError::NoSolution(Box::new(explain::explain(&solver, tree)));
            if env.externals.is_empty() {
                return Err(explanation);
            }
            // Without the claims, does a plan exist? Then the only trouble is
            // requirements that would share an external's binding: say which.
            let mut relaxed = solve::Solver::new(index, env, deployed, options);
            relaxed.claims = false;
            match pubgrub::resolve(&relaxed, solve::Pkg::Root, solve::Ver::Root) {
                Ok(solution) => match render::build(&relaxed, &solution) {
                    Err(e @ PlanError::SharedExternal { .. }) => Err(e),
                    _ => Err(explanation),
                },
                Err(_) => Err(explanation),
            }
        }
        Err(pubgrub::PubGrubError::ErrorRetrievingDependencies { source, .. })
        | Err(pubgrub::PubGrubError::ErrorChoosingVersion { source, .. })
        | Err(pubgrub::PubGrubError::ErrorInShouldCancel(source)) => {
            Err(PlanError::Source(source.0))
        }
    }
}
