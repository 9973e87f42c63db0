//! The host driver, for bare-metal machines and VMs without Docker.
//!
//! Artifacts come from their signed URLs or, with an artifact mirror
//! (`target.mirror`, [`HostDriver::with_mirror`]), from `<mirror>/sha256/<hex>`;
//! either way they are cut at the signed size and checked against the signed sha256.
//!
//! Layout under the host root (`target.root`, default `<state>/<env>/host`):
//!
//! ```text
//! downloads/<sha256>.tar.gz          verified artifacts
//! <instance>/releases/<version>-<sha12>/   unpacked, one folder per version
//! <instance>/current -> releases/...       the active version, switched atomically
//! <instance>/volumes/<volume>/             persistent data (HSP_VOLUME_<NAME>)
//! <instance>/logs/<task>-<replica>.log     supervisor and task output
//! ```
//!
//! Each unit is a supervised process ([`process`]) running the artifact's
//! entrypoint with the task's `command` as arguments, its rendered env, and
//! `HSP_VOLUME_<NAME>` pointing at each volume folder (a host has no mounts).
//! Everything listens on the host, so the planner renders hosts as `127.0.0.1`,
//! a task's ports are the host's ports, and a task with ports runs one replica
//! unless its ports are `per_replica` (replica r on `port + r`, passed in
//! `HSP_PORT_<NAME>`);
//! for the same reason the old version is stopped before the new one starts
//! (the rollback restarts it from its release folder, which is kept).
//!
//! Where systemd is PID 1 (mode `auto`, or forced with `--host-mode systemd`),
//! each unit is a systemd service instead ([`units`]): same program, arguments,
//! folder, env and volumes, rendered by [`systemd`], checked with
//! `systemd-analyze verify`, installed in `/etc/systemd/system`, recorded in the
//! state dir's unit ledger, and restarted by systemd; rollout, health checks,
//! rollback and prune are the same.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hsp_index::artifact_mirror::ArtifactMirror;
use hsp_index::document::Artifact;
use hsp_index::plan::{PlannedInstance, PlannedTask};
use nix::sys::signal::Signal;

use super::{
    check_name, health, unit_from_labels, unit_labels, unit_name, Driver, Error, Probe, Unit,
    UnitSpec,
};

pub mod archive;
pub mod process;
pub mod systemd;
pub mod units;

/// How the host driver runs units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum HostMode {
    /// systemd services where systemd is PID 1, else supervised processes.
    #[default]
    Auto,
    /// Supervised processes (`hsp-agent supervise`).
    Process,
    /// systemd services.
    Systemd,
}

impl HostMode {
    /// `Auto` decided for this machine.
    pub fn resolve(self) -> HostMode {
        match self {
            HostMode::Auto if units::booted() => HostMode::Systemd,
            HostMode::Auto => HostMode::Process,
            m => m,
        }
    }
}

pub struct HostDriver {
    environment: String,
    /// The state dir; also a label, so two agents never see each other's units.
    state: PathBuf,
    root: PathBuf,
    /// The `hsp-agent` binary that runs `supervise`.
    agent: PathBuf,
    platform: String,
    /// Systemd mode: the unit manager; `None` runs supervised processes.
    systemd: Option<units::Units>,
    /// Where artifacts are fetched from instead of their signed URLs.
    mirror: Option<ArtifactMirror>,
}

/// `linux-x86_64`, `linux-aarch64`, ...
pub fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

impl HostDriver {
    /// `state` is the environment's state dir; `root` defaults to `<state>/host`.
    pub fn new(
        environment: &str,
        state: &Path,
        root: Option<PathBuf>,
        agent: PathBuf,
        mode: HostMode,
    ) -> Result<HostDriver, Error> {
        check_name("environment", environment)?;
        let root = root.unwrap_or_else(|| state.join("host"));
        fs::create_dir_all(&root).map_err(Error::io(&root))?;
        let root = fs::canonicalize(&root).map_err(Error::io(&root))?;
        Ok(HostDriver {
            environment: environment.to_string(),
            state: state.to_path_buf(),
            root,
            agent,
            platform: platform(),
            systemd: (mode.resolve() == HostMode::Systemd)
                .then(|| units::Units::new(environment, state)),
            mirror: None,
        })
    }

    /// Fetches artifacts from `mirror` (`<mirror>/sha256/<hex>`) instead of
    /// their signed URLs; they are checked against the plan all the same.
    pub fn with_mirror(mut self, mirror: Option<ArtifactMirror>) -> HostDriver {
        self.mirror = mirror;
        self
    }

    /// The mode in use (never `Auto`).
    pub fn mode(&self) -> HostMode {
        if self.systemd.is_some() {
            HostMode::Systemd
        } else {
            HostMode::Process
        }
    }

    /// Volume folders as `HSP_VOLUME_<NAME>` variables.
    fn volume_vars(&self, spec: &UnitSpec) -> Vec<(String, String)> {
        spec.task
            .volumes
            .iter()
            .map(|v| {
                (
                    format!(
                        "HSP_VOLUME_{}",
                        v.name.to_ascii_uppercase().replace('-', "_")
                    ),
                    self.volume_dir(&spec.instance.name, &v.name)
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .collect()
    }

    /// Systemd mode: writes, verifies, installs and starts the unit.
    fn start_unit(&self, sd: &units::Units, spec: &UnitSpec) -> Result<(), Error> {
        let artifact = self.artifact(spec.instance, spec.task)?;
        let release = self.release_dir(spec.instance, artifact);
        let program = release.join(&artifact.entrypoint);
        let name = spec.name();
        let unit = format!("{name}.service");
        let entry = units::Entry {
            instance: spec.instance.name.clone(),
            task: spec.task.name.clone(),
            replica: spec.replica,
            version: spec.instance.version.clone(),
            spec: spec.spec.to_string(),
            env_hash: Some(spec.env_hash.to_string()),
        };
        let labels_map = unit_labels(spec);
        let mut vars: Vec<(String, String)> = process::LABEL_VARS
            .iter()
            .map(|(label, var)| (var.to_string(), labels_map[*label].clone()))
            .collect();
        vars.push(("HSP_AGENT_UNIT".into(), unit.clone()));
        vars.push(("LANG".into(), "C.UTF-8".into()));
        vars.extend(self.volume_vars(spec));
        vars.extend(port_vars(spec));
        let args = spec.task.command.clone().unwrap_or_default();
        let env_file = sd.env_path(&unit);
        let text = systemd::render(&systemd::UnitFile {
            description: format!(
                "HSP {}/{} {} {} ({} {})",
                spec.environment,
                spec.instance.name,
                spec.task.name,
                spec.replica,
                spec.instance.service,
                spec.instance.version
            ),
            program: &program,
            args: &args,
            working_dir: &release,
            markers: &sd.markers(&entry),
            labels: &vars,
            env_file: &env_file,
            memory_mib: spec.task.memory_mib,
            cpus: spec.task.cpus,
            stop_timeout_s: spec.task.stop_timeout_s,
            restart_steps: sd.restart_steps(),
            private_tmp: ![&release, &self.root, &self.state]
                .iter()
                .any(|p| systemd::in_tmp(p)),
        });
        tracing::info!(unit = %unit, "installing systemd unit");
        sd.install(&unit, entry, &text, &spec.env)
    }

    /// Systemd mode: the units of the ledger.
    fn list_units(&self, sd: &units::Units) -> Result<Vec<Unit>, Error> {
        Ok(sd
            .list()?
            .into_iter()
            .map(|(unit, e, state)| Unit {
                name: unit_name(&self.environment, &e.instance, &e.task, e.replica, &e.spec),
                id: unit,
                instance: e.instance,
                task: e.task,
                replica: e.replica,
                version: e.version,
                spec: e.spec,
                env_hash: e.env_hash,
                running: state.running(),
                address: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            })
            .collect())
    }

    /// The health check of a running unit (HTTP on 127.0.0.1, or a command in
    /// the `current` release folder), the same in both modes.
    fn check(&self, unit: &Unit, task: &PlannedTask, env: &[(String, String)]) -> Probe {
        let Some(h) = &task.health else {
            return Probe::Healthy;
        };
        let timeout = Duration::from_secs(u64::from(h.timeout_s.max(1)));
        if let Some(cmd) = h.command.as_ref().filter(|c| !c.is_empty()) {
            let cwd =
                fs::canonicalize(self.current_release(unit)).unwrap_or_else(|_| self.root.clone());
            return health::command(self.health_command(cmd, env, &cwd), timeout);
        }
        let port = health::http_port(task, h).map(|p| p.on_host(unit.replica));
        match (port, h.http.as_ref()) {
            (Some(port), Some(http)) => health::http(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                &http.path,
                timeout,
            ),
            (None, Some(http)) => Probe::Unhealthy(format!(
                "health port {:?} is not a port of the task",
                http.port
            )),
            _ => Probe::Healthy,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn artifact<'a>(
        &self,
        instance: &PlannedInstance,
        task: &'a PlannedTask,
    ) -> Result<&'a Artifact, Error> {
        task.artifacts
            .iter()
            .find(|a| a.platform == self.platform)
            .ok_or_else(|| Error::NoArtifact {
                instance: instance.name.clone(),
                task: task.name.clone(),
                platform: self.platform.clone(),
            })
    }

    /// `<root>/<instance>/releases/<version>-<sha12>`.
    fn release_dir(&self, instance: &PlannedInstance, artifact: &Artifact) -> PathBuf {
        let version: String = instance
            .version
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let sha = artifact.sha256.to_ascii_lowercase();
        self.root
            .join(&instance.name)
            .join("releases")
            .join(format!("{version}-{}", &sha[..12.min(sha.len())]))
    }

    /// `<root>/<instance>/volumes/<volume>`: the instance's volume (see
    /// [`hsp_index::plan::volume_name`]), shared by its tasks that declare it.
    /// Deployed sites keep data there: the layout must not change.
    fn volume_dir(&self, instance: &str, volume: &str) -> PathBuf {
        self.root.join(instance).join("volumes").join(volume)
    }

    fn labelled(&self) -> Vec<process::Labelled> {
        process::scan(&self.state, &self.environment)
    }

    /// The labelled processes of `unit`: its supervisor, the task and the
    /// task's own children.
    fn processes_of(&self, unit: &Unit) -> Vec<process::Labelled> {
        let want = labels_of(unit);
        let mut all = self.labelled();
        all.retain(|p| want.iter().all(|(k, v)| p.labels.get(*k) == Some(v)));
        all
    }

    /// Kills task processes (and their children) with no supervisor above
    /// them: their supervisor was killed -9, so they would hold ports and never
    /// be restarted or stopped.
    fn kill_orphans(&self, all: &[process::Labelled]) {
        let by_pid: std::collections::HashMap<i32, &process::Labelled> =
            all.iter().map(|p| (p.pid, p)).collect();
        for p in all.iter().filter(|p| !p.supervisor) {
            let mut cur = p.ppid;
            let mut hops = 0;
            let supervised = loop {
                match by_pid.get(&cur) {
                    Some(q) if q.supervisor => break true,
                    Some(q) if hops < 64 => {
                        cur = q.ppid;
                        hops += 1;
                    }
                    _ => break false,
                }
            };
            if !supervised {
                tracing::warn!(
                    pid = p.pid,
                    "killing a task process whose supervisor is gone"
                );
                process::signal(p.pid, Signal::SIGKILL);
                process::wait_gone(p.pid, Duration::from_secs(2));
            }
        }
    }

    fn task_children(&self, supervisor: i32) -> Vec<i32> {
        self.labelled()
            .into_iter()
            .filter(|p| !p.supervisor && p.ppid == supervisor)
            .map(|p| p.pid)
            .collect()
    }

    fn health_command(&self, cmd: &[String], env: &[(String, String)], cwd: &Path) -> Command {
        let mut c = Command::new(&cmd[0]);
        c.args(&cmd[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stderr(Stdio::null());
        c
    }

    fn current_release(&self, unit: &Unit) -> PathBuf {
        self.root.join(&unit.instance).join("current")
    }
}

impl Driver for HostDriver {
    fn kind(&self) -> &'static str {
        if self.systemd.is_some() {
            "systemd"
        } else {
            "host"
        }
    }

    fn units(&mut self) -> Result<Vec<Unit>, Error> {
        if let Some(sd) = &self.systemd {
            return self.list_units(sd);
        }
        let all = self.labelled();
        self.kill_orphans(&all);
        Ok(all
            .into_iter()
            .filter(|p| p.supervisor)
            .filter_map(|p| {
                let l = &p.labels;
                let name = unit_name(
                    &self.environment,
                    l.get(super::LABEL_INSTANCE)?,
                    l.get(super::LABEL_TASK)?,
                    l.get(super::LABEL_REPLICA)?.parse().ok()?,
                    l.get(super::LABEL_SPEC)?,
                );
                unit_from_labels(
                    p.pid.to_string(),
                    name,
                    l,
                    true,
                    Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                )
            })
            .collect())
    }

    fn prepare(&mut self, instance: &PlannedInstance) -> Result<(), Error> {
        let downloads = self.root.join("downloads");
        for task in &instance.tasks {
            let artifact = self.artifact(instance, task)?;
            if !archive::is_inside(Path::new(&artifact.entrypoint)) {
                return Err(Error::Instance {
                    instance: instance.name.clone(),
                    message: format!(
                        "artifact entrypoint {:?} must be a relative path inside the archive",
                        artifact.entrypoint
                    ),
                });
            }
            let dest = self.release_dir(instance, artifact);
            if !dest.is_dir() {
                let file = archive::fetch(artifact, &downloads, self.mirror.as_ref())?;
                fs::create_dir_all(dest.parent().unwrap()).map_err(Error::io(&dest))?;
                tracing::info!(instance = %instance.name, release = %dest.display(), "unpacking");
                archive::unpack(&file, &dest)?;
            }
        }
        for v in instance.volumes() {
            check_name("volume", v.volume)?;
            let dir = self.volume_dir(&instance.name, v.volume);
            super::journal::create_private_dir(&dir)?;
        }
        Ok(())
    }

    fn start(&mut self, spec: &UnitSpec) -> Result<(), Error> {
        ports_free(spec)?;
        if let Some(sd) = &self.systemd {
            return self.start_unit(sd, spec);
        }
        let artifact = self.artifact(spec.instance, spec.task)?;
        let release = self.release_dir(spec.instance, artifact);
        let program = release.join(&artifact.entrypoint);
        let logs = self.root.join(&spec.instance.name).join("logs");
        fs::create_dir_all(&logs).map_err(Error::io(&logs))?;
        let log_path = logs.join(format!("{}-{}.log", spec.task.name, spec.replica));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(Error::io(&log_path))?;
        let log2 = log.try_clone().map_err(Error::io(&log_path))?;

        let mut cmd = Command::new(&self.agent);
        cmd.arg("supervise").arg("--detach").arg("--").arg(&program);
        cmd.args(spec.task.command.iter().flatten());
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
            )
            .env("LANG", "C.UTF-8")
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        cmd.envs(self.volume_vars(spec));
        cmd.envs(port_vars(spec));
        let labels: BTreeMap<String, String> = unit_labels(spec);
        for (label, var) in process::LABEL_VARS {
            cmd.env(var, &labels[label]);
        }
        cmd.env(process::ENV_HASH, spec.env_hash)
            .env(process::STATE, &self.state)
            .env(process::SUPERVISOR, "1")
            .env(
                process::STOP_TIMEOUT,
                spec.task.stop_timeout_s.min(15).to_string(),
            )
            .current_dir(&release)
            .stdout(log)
            .stderr(log2);
        process::spawn_supervised(cmd).map_err(|source| Error::Process {
            what: format!("starting the supervisor of {}", program.display()),
            source,
        })
    }

    fn stop(&mut self, unit: &Unit, timeout_s: u32) -> Result<(), Error> {
        if let Some(sd) = &self.systemd {
            // systemd waits the unit's own TimeoutStopSec (the document's).
            tracing::info!(unit = %unit.id, "stopping and removing systemd unit");
            return sd.remove(&unit.id);
        }
        let Ok(pid) = unit.id.parse::<i32>() else {
            return Ok(());
        };
        // Only a process that still carries this unit's labels is signalled.
        let live = self.labelled();
        let Some(p) = live.iter().find(|p| p.pid == pid && p.supervisor) else {
            return Ok(());
        };
        if p.labels.get(super::LABEL_SPEC) != Some(&unit.spec)
            || p.labels.get(super::LABEL_INSTANCE) != Some(&unit.instance)
        {
            return Ok(());
        }
        tracing::info!(unit = %unit.name, pid, "stopping");
        process::signal(pid, Signal::SIGTERM);
        if !process::wait_gone(pid, Duration::from_secs(u64::from(timeout_s.min(15)) + 2)) {
            process::signal(pid, Signal::SIGKILL);
            process::wait_gone(pid, Duration::from_secs(2));
        }
        // Whatever of this unit outlived its supervisor (a task's own children).
        for p in self.processes_of(unit) {
            process::signal(p.pid, Signal::SIGKILL);
            process::wait_gone(p.pid, Duration::from_secs(2));
        }
        Ok(())
    }

    /// Process mode: the user and system time of the unit's processes
    /// (`/proc/PID/stat`; a process that exited no longer counts). Systemd
    /// mode: the unit's cgroup is systemd's, not read here.
    fn cpu_seconds(&mut self, unit: &Unit) -> Option<f64> {
        if self.systemd.is_some() {
            return None;
        }
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|t| *t > 0)? as f64;
        let mut total = 0.0;
        let mut any = false;
        for p in self.processes_of(unit).iter().filter(|p| !p.supervisor) {
            if let Some(t) = process::cpu_ticks(p.pid) {
                total += t as f64 / ticks;
                any = true;
            }
        }
        any.then_some(total)
    }

    fn probe(&mut self, unit: &Unit, task: &PlannedTask, env: &[(String, String)]) -> Probe {
        if let Some(sd) = &self.systemd {
            let state = match sd.state(&unit.id) {
                Ok(s) => s,
                Err(e) => return Probe::Unhealthy(e.to_string()),
            };
            return match (state.active.as_str(), state.sub.as_str()) {
                ("active", "running") => self.check(unit, task, env),
                (a, s) if state.running() => {
                    Probe::Unhealthy(format!("systemd: {a} ({s}); systemd restarts it"))
                }
                (a, s) => Probe::Exited(format!("systemd: {a} ({s})")),
            };
        }
        let Ok(pid) = unit.id.parse::<i32>() else {
            return Probe::Exited("bad pid".into());
        };
        if !process::alive(pid) {
            return Probe::Exited("supervisor is gone".into());
        }
        if self.task_children(pid).is_empty() {
            return Probe::Unhealthy("process exited; the supervisor restarts it".into());
        }
        self.check(unit, task, env)
    }

    fn replicas(&self, task: &PlannedTask) -> u32 {
        if task.ports.iter().all(|p| p.per_replica) {
            task.instances.min.max(1)
        } else {
            1
        }
    }

    fn overlap(&self, instance: &PlannedInstance) -> bool {
        instance.tasks.iter().all(|t| t.ports.is_empty())
    }

    fn activate(&mut self, instance: &PlannedInstance) -> Result<(), Error> {
        let Some(task) = instance.tasks.first() else {
            return Ok(());
        };
        let release = self.release_dir(instance, self.artifact(instance, task)?);
        let dir = self.root.join(&instance.name);
        let rel = release.strip_prefix(&dir).unwrap_or(&release).to_path_buf();
        let tmp = dir.join(".current.tmp");
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&rel, &tmp).map_err(Error::io(&tmp))?;
        let link = dir.join("current");
        fs::rename(&tmp, &link).map_err(Error::io(&link))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io(&dir))
    }

    fn remove_volumes(&mut self, instance: &str) -> Result<(), Error> {
        check_name("instance", instance)?;
        let dir = self.root.join(instance);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn teardown(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// Every port of the task can be listened on: a task on a host listens on
/// the host's ports, and one held by another process would make the new
/// version exit at once, which is not the release's fault. The old units of
/// the instance are stopped before (a task with ports never overlaps), so
/// whatever holds a port now is not this instance.
fn ports_free(spec: &UnitSpec) -> Result<(), Error> {
    use std::net::TcpListener;
    for p in &spec.task.ports {
        let port = p.on_host(spec.replica);
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        // Binding the wildcard fails if any address holds the port.
        if let Err(e) = TcpListener::bind(any) {
            if e.kind() != std::io::ErrorKind::AddrInUse {
                continue;
            }
            let address = match TcpListener::bind(loopback) {
                Err(_) => "127.0.0.1".to_string(),
                Ok(_) => "another address of this host".to_string(),
            };
            return Err(Error::PortInUse {
                instance: spec.instance.name.clone(),
                task: spec.task.name.clone(),
                port,
                address,
            });
        }
    }
    Ok(())
}

/// `HSP_PORT_<NAME>` of each port: where this replica listens.
fn port_vars(spec: &UnitSpec) -> Vec<(String, String)> {
    spec.task
        .ports
        .iter()
        .map(|p| (p.env_var(), p.on_host(spec.replica).to_string()))
        .collect()
}

/// A unit's labels, keyed like the process labels.
fn labels_of(unit: &Unit) -> std::collections::HashMap<&'static str, String> {
    std::collections::HashMap::from([
        (super::LABEL_INSTANCE, unit.instance.clone()),
        (super::LABEL_TASK, unit.task.clone()),
        (super::LABEL_REPLICA, unit.replica.to_string()),
        (super::LABEL_SPEC, unit.spec.clone()),
    ])
}
