//! Deploying a [`Plan`] to a Docker engine or to a bare-metal host.
//!
//! A driver knows how to observe, start, probe and stop *units*: one running copy
//! of one task of one planned instance (a container, or a supervised process). The
//! [`rollout`] engine is shared by both drivers: it walks the plan in order
//! (providers first), starts the new version of each instance next to the old one
//! where the driver allows it, waits until it is healthy, then stops the old one;
//! an unhealthy version is rolled back and marked bad in the [`journal`].
//!
//! - [`docker`]: containers, one network and named volumes per environment (bollard).
//! - [`host`]: verified artifacts unpacked into versioned folders, a `current`
//!   link, supervised processes, or systemd services where systemd is PID 1.
//! - [`health`]: HTTP and command probes.
//! - [`journal`]: the crash-safe record of what is deployed (write, fsync, rename),
//!   in the environment's locked directory [`EnvDir`] (`<state>/<env>`).
//! - [`report`]: what an apply did, per instance; `prune`: removing instances
//!   that left the plan, and `--purge` of the data earlier prunes kept.
//! - [`secrets`]: reading secret files and generating secrets in the state dir.
//! - [`schedule`]: update windows, poll jitter and backoff for the daemon.
//!
//! **Invariant:** a driver only lists, stops or removes resources carrying the
//! agent's labels (`org.hsp.agent.*` on Docker, `HSP_AGENT_*` in a process's
//! environment on a host) for its own environment.
//! **Invariant:** the journal is saved before each side effect that it describes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use hsp_index::plan::{PlannedInstance, PlannedTask};
use sha2::{Digest, Sha256};

#[cfg(feature = "docker")]
pub mod cgroup;
#[cfg(feature = "docker")]
pub mod docker;
pub mod health;
pub mod host;
pub mod journal;
mod prune;
pub mod report;
pub mod rollout;
pub mod scale;
pub mod schedule;
pub mod secrets;

pub use journal::{EnvDir, Journal};
pub use rollout::{apply, ApplyOptions, Outcome, Report};

/// Label (Docker) naming the environment a resource belongs to.
pub const LABEL_ENVIRONMENT: &str = "org.hsp.agent.environment";
/// Label naming the planned instance.
pub const LABEL_INSTANCE: &str = "org.hsp.agent.instance";
/// Label naming the task of the instance.
pub const LABEL_TASK: &str = "org.hsp.agent.task";
/// Label holding the service version.
pub const LABEL_VERSION: &str = "org.hsp.agent.version";
/// Label holding the replica number of the task.
pub const LABEL_REPLICA: &str = "org.hsp.agent.replica";
/// Label holding the hash of the instance spec the unit was started from.
pub const LABEL_SPEC: &str = "org.hsp.agent.spec";
/// Label holding the keyed hash of the unit's rendered env, secret values
/// included ([`secrets::env_hash`]): a secret file whose content changed gives
/// another hash, and the unit is restarted.
pub const LABEL_ENV_HASH: &str = "org.hsp.agent.env-hash";

/// One running (or stopped) copy of one task, as a driver observes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Container id, or supervisor pid on a host.
    pub id: String,
    /// Container name or unit name, for messages.
    pub name: String,
    pub instance: String,
    pub task: String,
    pub replica: u32,
    pub version: String,
    /// [`spec_hash`] of the instance this unit was started from.
    pub spec: String,
    /// [`secrets::env_hash`] of the env it was started with (`None`: unknown).
    pub env_hash: Option<String>,
    /// Whether the process runs (a container that exited is `false`).
    pub running: bool,
    /// Address the agent reaches its ports on.
    pub address: Option<IpAddr>,
}

/// What to start: one replica of one task of one instance.
pub struct UnitSpec<'a> {
    pub environment: &'a str,
    pub instance: &'a PlannedInstance,
    pub task: &'a PlannedTask,
    pub replica: u32,
    pub spec: &'a str,
    /// Rendered environment, secrets included: never log it.
    pub env: Vec<(String, String)>,
    /// [`secrets::env_hash`] of `env`.
    pub env_hash: &'a str,
}

impl UnitSpec<'_> {
    /// The unit's name ([`unit_name`]): container or systemd unit.
    pub fn name(&self) -> String {
        unit_name(
            self.environment,
            &self.instance.name,
            &self.task.name,
            self.replica,
            self.spec,
        )
    }
}

/// Result of one health probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    Healthy,
    /// Running, not (yet) healthy; the reason is shown to the operator.
    Unhealthy(String),
    /// The unit is gone or its process exited.
    Exited(String),
}

/// A deployment target: the rollout engine drives it.
pub trait Driver {
    /// `docker` or `host`, for status and messages.
    fn kind(&self) -> &'static str;
    /// Every unit of this environment the agent owns (carrying its labels).
    fn units(&mut self) -> Result<Vec<Unit>, Error>;
    /// Makes everything an instance needs available: network, images or
    /// artifacts, volumes. Idempotent.
    fn prepare(&mut self, instance: &PlannedInstance) -> Result<(), Error>;
    /// Starts one unit; replaces a stopped unit of the same name that the agent owns.
    fn start(&mut self, spec: &UnitSpec) -> Result<(), Error>;
    /// Stops and removes one unit the agent owns, waiting at most `timeout_s`
    /// before killing it. Never touches volumes.
    fn stop(&mut self, unit: &Unit, timeout_s: u32) -> Result<(), Error>;
    /// Probes a unit once.
    fn probe(&mut self, unit: &Unit, task: &PlannedTask, env: &[(String, String)]) -> Probe;
    /// How many copies of `task` this target runs (of its `instances.min`).
    fn replicas(&self, task: &PlannedTask) -> u32;
    /// The CPU time a running unit has used so far, in seconds (`None`
    /// when the target cannot tell). The scaler samples it twice.
    fn cpu_seconds(&mut self, _unit: &Unit) -> Option<f64> {
        None
    }
    /// Whether the old and new version of `instance` can run side by side.
    fn overlap(&self, instance: &PlannedInstance) -> bool;
    /// Records `instance` as the active version (host: the `current` link).
    fn activate(&mut self, instance: &PlannedInstance) -> Result<(), Error>;
    /// Deletes the persistent data of an instance (only `--purge`).
    fn remove_volumes(&mut self, instance: &str) -> Result<(), Error>;
    /// Called after an apply that left no instance: removes shared resources
    /// (the environment's network).
    fn teardown(&mut self) -> Result<(), Error>;
}

/// A short, stable hash of what an instance runs: a change of version, image,
/// command, env template, limits or volumes gives a new hash, so the units are
/// rolled. The `reason` sentence is left out.
pub fn spec_hash(instance: &PlannedInstance) -> String {
    let key = serde_json::json!({
        "name": instance.name,
        "service": instance.service,
        "version": instance.version,
        "tasks": instance.tasks,
    });
    let digest = Sha256::digest(key.to_string().as_bytes());
    hex::encode(&digest[..6])
}

/// The name of a unit: `hsp-<env>-<instance>-<task>-<replica>-<spec>`.
pub fn unit_name(
    environment: &str,
    instance: &str,
    task: &str,
    replica: u32,
    spec: &str,
) -> String {
    format!("hsp-{environment}-{instance}-{task}-{replica}-{spec}")
}

/// The labels every unit carries.
pub fn unit_labels(spec: &UnitSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_ENVIRONMENT.to_string(), spec.environment.to_string()),
        (LABEL_INSTANCE.to_string(), spec.instance.name.clone()),
        (LABEL_TASK.to_string(), spec.task.name.clone()),
        (LABEL_VERSION.to_string(), spec.instance.version.clone()),
        (LABEL_REPLICA.to_string(), spec.replica.to_string()),
        (LABEL_SPEC.to_string(), spec.spec.to_string()),
        (LABEL_ENV_HASH.to_string(), spec.env_hash.to_string()),
    ])
}

/// Reads labels back into a unit; `None` when one is missing or malformed.
pub fn unit_from_labels(
    id: String,
    name: String,
    labels: &std::collections::HashMap<String, String>,
    running: bool,
    address: Option<IpAddr>,
) -> Option<Unit> {
    Some(Unit {
        id,
        name,
        instance: labels.get(LABEL_INSTANCE)?.clone(),
        task: labels.get(LABEL_TASK)?.clone(),
        replica: labels.get(LABEL_REPLICA)?.parse().ok()?,
        version: labels.get(LABEL_VERSION)?.clone(),
        spec: labels.get(LABEL_SPEC)?.clone(),
        env_hash: labels.get(LABEL_ENV_HASH).cloned(),
        running,
        address,
    })
}

/// Names the agent builds resources from must be `[a-z0-9][a-z0-9-]*`.
/// Refuses a name that is not [`hsp_index::name::is_name`] (it becomes part of
/// container, unit, network, volume and folder names).
pub fn check_name(what: &'static str, name: &str) -> Result<(), Error> {
    if hsp_index::name::is_name(name) {
        Ok(())
    } else {
        Err(Error::BadName {
            what,
            name: name.to_string(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[cfg(feature = "docker")]
    #[error("docker: {action}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON state (hint: move it away to start afresh; deployed units are found again by their labels)")]
    JournalFormat {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: another hsp-agent holds the lock on this state dir (hint: stop the running `hsp-agent run`, or use another --state)")]
    Locked { path: PathBuf },
    #[error(
        "{what} name {name:?} must be [a-z][a-z0-9-]*, not ending in -, at most 63 characters"
    )]
    BadName { what: &'static str, name: String },
    #[error("secret file {path} is readable by group or others (mode {mode:o}) (hint: chmod 600 {path})")]
    SecretMode { path: String, mode: u32 },
    #[error("secret file {path} is not a regular file (hint: point secret_file at a file holding the value)")]
    SecretNotFile { path: String },
    #[error("secret file {path} is owned by uid {owner}, not by the user hsp-agent runs as (uid {user}) (hint: chown {user} {path})")]
    SecretOwner { path: String, owner: u32, user: u32 },
    #[error(
        "secret file {path} is larger than {} bytes (hint: a secret file holds one value)",
        hsp_index::secret_file::MAX_SECRET_BYTES
    )]
    SecretTooLarge { path: String },
    #[error("secret file {path}")]
    SecretRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `mirror`: where the bytes were read instead of `url` (the signed URL).
    #[error("downloading {url}{}: {message}", via(mirror))]
    Download {
        url: String,
        mirror: Option<String>,
        message: String,
    },
    #[error("artifact {url}: the artifact mirror has no {location} (hint: copy the artifacts into the mirror with `hsp mirror --artifacts DIR`, or check that the mirror is mounted or served)")]
    MirrorMissing { url: String, location: String },
    #[error("artifact {url}{}: size {actual} bytes, signed {expected} (hint: the file is truncated or not the published one)", via(mirror))]
    ArtifactSize {
        url: String,
        mirror: Option<String>,
        expected: u64,
        actual: u64,
    },
    #[error("artifact {url}{}: sha256 {actual}, signed {expected} (hint: the file is not the published one)", via(mirror))]
    ArtifactHash {
        url: String,
        mirror: Option<String>,
        expected: String,
        actual: String,
    },
    #[error("archive {archive}: entry {entry:?} {reason}; refusing to unpack")]
    UnsafeArchive {
        archive: PathBuf,
        entry: String,
        reason: &'static str,
    },
    #[error("archive {archive} is not a valid .tar.gz (hint: the publisher's archive is corrupt; a newer version is needed)")]
    BadArchive {
        archive: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("instance {instance}: task {task} has no artifact for platform {platform} (hint: use the docker target)")]
    NoArtifact {
        instance: String,
        task: String,
        platform: String,
    },
    /// A task's host port is held by a process the agent did not start.
    #[error("instance {instance}: task {task}: port {port} on {address} is in use by another process (hint: stop what listens there, or change the port; nothing is marked bad and the next apply tries again)")]
    PortInUse {
        instance: String,
        task: String,
        port: u16,
        address: String,
    },
    #[error("{kind} {name} exists but does not carry the agent's labels; leaving it alone (hint: rename or remove it yourself)")]
    Foreign { kind: &'static str, name: String },
    #[error("process {what}")]
    Process {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("instance {instance}: {message}")]
    Instance { instance: String, message: String },
    #[error("{command}: {message}")]
    Systemd { command: String, message: String },
    #[error("environment {environment} was deployed to the {was} target, not {now} (hint: keep the target; on a host choose the mode with --host-mode process|systemd; or remove it first by applying an empty environment with the {was} target; or use another --state)")]
    TargetChanged {
        environment: String,
        was: String,
        now: String,
    },
    #[error("scaling {instance}: the new replicas did not become healthy: {why}")]
    Scale { instance: String, why: String },
}

/// ` (read from the artifact mirror at LOCATION)`, or nothing.
fn via(mirror: &Option<String>) -> String {
    mirror
        .as_ref()
        .map(|m| format!(" (read from the artifact mirror at {m})"))
        .unwrap_or_default()
}

impl Error {
    /// Whether the release itself is at fault, so its version is marked bad:
    /// its artifact is not the signed one, is unsafe or corrupt, or is missing
    /// for this platform. Infrastructure failures are not (a host port in use,
    /// the network, an image pull, the disk, the engine, a file missing from
    /// the artifact mirror): the rollout is retried instead.
    pub fn is_bad_release(&self) -> bool {
        matches!(
            self,
            Error::ArtifactSize { .. }
                | Error::ArtifactHash { .. }
                | Error::UnsafeArchive { .. }
                | Error::BadArchive { .. }
                | Error::NoArtifact { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_shared_rule() {
        assert!(check_name("instance", "hapi-db").is_ok());
        let err = check_name("instance", "a/b").unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadName {
                    what: "instance",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn unit_names_are_stable() {
        assert_eq!(
            unit_name("prod", "hapi", "app", 1, "abc"),
            "hsp-prod-hapi-app-1-abc"
        );
    }
}
