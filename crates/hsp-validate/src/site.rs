//! Where a validation runs: the Docker engine (the image, watched through
//! the engine) or this host's processes (a bare-metal artifact, run by the
//! host driver in a temporary root and watched through `/proc` and its
//! folders). The rules ask the same questions of both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use hsp_deploy::docker::DockerDriver;
use hsp_deploy::host::{process, HostDriver, HostMode};
use hsp_deploy::{Driver, Unit};
use hsp_index::plan::{PlannedInstance, PlannedTask};

use crate::engine::{Memory, Stopped};
use crate::{Engine, Error, INSTANCE};

pub enum Site<'e> {
    Docker {
        engine: &'e Engine,
        driver: DockerDriver,
    },
    Host {
        driver: HostDriver,
        environment: String,
        /// The state folder, as the driver labels its processes with it.
        state: PathBuf,
        /// The validated instance's folder under the host root.
        folder: PathBuf,
        /// Files of the release folder once unpacked: path, size, mtime.
        unpacked: BTreeMap<PathBuf, (u64, Option<SystemTime>)>,
    },
}

impl<'e> Site<'e> {
    pub fn docker(engine: &'e Engine, environment: &str) -> Result<Site<'e>, Error> {
        Ok(Site::Docker {
            engine,
            driver: DockerDriver::connect(environment, None)?,
        })
    }

    pub fn host(environment: &str, state: &Path, agent: PathBuf) -> Result<Site<'e>, Error> {
        let root = state.join("host");
        let driver = HostDriver::new(
            environment,
            state,
            Some(root.clone()),
            agent,
            HostMode::Process,
        )?;
        Ok(Site::Host {
            folder: driver.root().join(INSTANCE),
            driver,
            environment: environment.to_string(),
            state: state.to_path_buf(),
            unpacked: BTreeMap::new(),
        })
    }

    pub fn driver(&mut self) -> &mut dyn Driver {
        match self {
            Site::Docker { driver, .. } => driver,
            Site::Host { driver, .. } => driver,
        }
    }

    /// The engine, for the image rules (which run on Docker only).
    pub fn engine(&self) -> &'e Engine {
        match self {
            Site::Docker { engine, .. } => engine,
            Site::Host { .. } => unreachable!("image rules run on the Docker engine only"),
        }
    }

    /// Pulls the images, or downloads, checks and unpacks the artifacts (and
    /// remembers what the release folder holds, for `changes`).
    pub fn prepare(&mut self, instance: &PlannedInstance) -> Result<(), hsp_deploy::Error> {
        match self {
            Site::Docker { driver, .. } => driver.prepare(instance),
            Site::Host {
                driver,
                folder,
                unpacked,
                ..
            } => {
                driver.prepare(instance)?;
                driver.activate(instance)?;
                *unpacked = files(&folder.join("releases"));
                Ok(())
            }
        }
    }

    /// What a task runs: its image, or its artifact's URL.
    pub fn what(&self, task: &PlannedTask) -> String {
        match self {
            Site::Docker { .. } => task.image.clone(),
            Site::Host { .. } => {
                let platform = hsp_deploy::host::platform();
                task.artifacts
                    .iter()
                    .find(|a| a.platform == platform)
                    .map_or_else(|| format!("no artifact for {platform}"), |a| a.url.clone())
            }
        }
    }

    /// Host: licence files at the root of the unpacked release.
    pub fn release_licences(&self) -> Option<(String, Vec<String>)> {
        let Site::Host { folder, .. } = self else {
            return None;
        };
        let release = std::fs::read_dir(folder.join("releases"))
            .ok()?
            .flatten()
            .next()?
            .path();
        let mut found: Vec<String> = std::fs::read_dir(&release)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                let upper = n.to_ascii_uppercase();
                upper.starts_with("LICENSE")
                    || upper.starts_with("LICENCE")
                    || upper.starts_with("COPYING")
            })
            .collect();
        found.sort();
        let licenses = release.join("licenses");
        if licenses.is_dir() {
            let mut inside: Vec<String> = std::fs::read_dir(&licenses)
                .ok()?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            inside.sort();
            if !inside.is_empty() {
                return Some(("licenses/".into(), inside));
            }
        }
        (!found.is_empty()).then(|| ("the artifact's root".into(), found))
    }

    /// The unit's output, at most its last 2,000 lines (host: without the
    /// supervisor's own lines).
    pub fn logs(&self, name: &str, task: &PlannedTask) -> Vec<String> {
        match self {
            Site::Docker { engine, .. } => engine.logs(name, 2000),
            Site::Host { folder, .. } => {
                let lines = host_log(folder, task);
                let task_lines: Vec<String> = lines
                    .into_iter()
                    .filter(|l| !l.starts_with(process::LOG_PREFIX))
                    .collect();
                let skip = task_lines.len().saturating_sub(2000);
                task_lines.into_iter().skip(skip).collect()
            }
        }
    }

    /// Paths the unit added or changed outside its volumes: in the container's
    /// file system, or in the release folder.
    pub fn changes(&self, name: &str) -> Vec<String> {
        match self {
            Site::Docker { engine, .. } => engine.changes(name),
            Site::Host {
                folder, unpacked, ..
            } => {
                let releases = folder.join("releases");
                let mut out: Vec<String> = files(&releases)
                    .into_iter()
                    .filter(|(p, meta)| unpacked.get(p) != Some(meta))
                    .filter_map(|(p, _)| {
                        // `<release>/path`: the release folder's own name left out.
                        let rel = p.strip_prefix(&releases).ok()?;
                        let inside: PathBuf = rel.components().skip(1).collect();
                        Some(format!("./{}", inside.display()))
                    })
                    .collect();
                out.sort();
                out
            }
        }
    }

    /// Where the unit may write without a finding: the engine's own mounts,
    /// `/tmp` and the volumes (a host's volumes are not in its release folder).
    pub fn writable(&self, task: &PlannedTask) -> Vec<String> {
        match self {
            Site::Docker { .. } => {
                // The engine's own: its init (`--init`) and the mounts it makes.
                let mut roots: Vec<String> = [
                    "/tmp",
                    "/run",
                    "/var/run",
                    "/dev",
                    "/proc",
                    "/sys",
                    "/sbin/docker-init",
                    "/etc/hosts",
                    "/etc/hostname",
                    "/etc/resolv.conf",
                ]
                .map(String::from)
                .to_vec();
                roots.extend(task.volumes.iter().map(|v| v.path.clone()));
                roots
            }
            Site::Host { .. } => Vec::new(),
        }
    }

    pub fn oom_killed(&self, name: &str) -> bool {
        match self {
            Site::Docker { engine, .. } => engine.oom_killed(name),
            // Supervised processes have no memory limit to be killed at.
            Site::Host { .. } => false,
        }
    }

    /// The unit's peak memory: the container's cgroup, or the sum of the
    /// peak resident sizes of the task's processes (each process's own peak,
    /// so the sum is at least the peak of the whole).
    pub fn memory_peak(&self, name: &str, task: &PlannedTask) -> Option<Memory> {
        match self {
            Site::Docker { engine, .. } => engine.memory_peak(name),
            Site::Host {
                environment, state, ..
            } => {
                let peaks: Vec<u64> = process::scan(state, environment)
                    .into_iter()
                    .filter(|p| !p.supervisor)
                    .filter(|p| {
                        p.labels.get(hsp_deploy::LABEL_INSTANCE).map(String::as_str)
                            == Some(INSTANCE)
                            && p.labels.get(hsp_deploy::LABEL_TASK) == Some(&task.name)
                    })
                    .filter_map(|p| vm_hwm(p.pid))
                    .collect();
                (!peaks.is_empty()).then(|| Memory {
                    bytes: peaks.iter().sum(),
                    source: "the peak resident size of its processes, VmHWM",
                })
            }
        }
    }

    /// Stops the unit with SIGTERM (SIGKILL after `timeout_s`), timed, and
    /// how it ended: the container's exit code, or the supervisor's account.
    pub fn stop(
        &mut self,
        name: &str,
        task: &PlannedTask,
        timeout_s: u32,
    ) -> Result<Stopped, Error> {
        match self {
            Site::Docker { engine, .. } => engine.stop(name, timeout_s),
            Site::Host { driver, folder, .. } => {
                let unit = driver.units()?.into_iter().find(|u| u.name == name);
                let start = Instant::now();
                if let Some(u) = &unit {
                    driver.stop(u, timeout_s)?;
                }
                let seconds = start.elapsed().as_secs_f64();
                let exit_code = host_log(folder, task)
                    .iter()
                    .rev()
                    .filter(|l| l.starts_with(process::LOG_PREFIX) && l.contains("SIGTERM"))
                    .find_map(|l| l.rsplit_once("exit code ")?.1.trim().parse().ok())
                    .unwrap_or(-1);
                Ok(Stopped { seconds, exit_code })
            }
        }
    }

    /// Stops what the run started, whatever happened: the Docker units by
    /// name, every unit of the (throwaway) host environment.
    pub fn stop_all(&mut self, started: &[String]) {
        match self {
            Site::Docker { driver, .. } => {
                for name in started {
                    let _ = driver.stop(&unit(name), 1);
                }
            }
            Site::Host { driver, .. } => {
                for u in driver.units().unwrap_or_default() {
                    let _ = driver.stop(&u, 1);
                }
            }
        }
    }
}

/// A unit known only by its container name (the engine takes a name for an id).
fn unit(name: &str) -> Unit {
    Unit {
        id: name.to_string(),
        name: name.to_string(),
        instance: INSTANCE.into(),
        task: String::new(),
        replica: 0,
        version: String::new(),
        spec: String::new(),
        env_hash: None,
        running: true,
        address: None,
    }
}

/// The host driver's log of the task's first replica, as lines.
fn host_log(folder: &Path, task: &PlannedTask) -> Vec<String> {
    let path = folder.join("logs").join(format!("{}-0.log", task.name));
    std::fs::read(path)
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir` with its size and modification time.
fn files(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((e.into_path(), (meta.len(), meta.modified().ok())))
        })
        .collect()
}

/// A process's peak resident size (`VmHWM` of `/proc/PID/status`), in bytes.
fn vm_hwm(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
