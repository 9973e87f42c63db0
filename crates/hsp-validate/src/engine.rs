//! What the validator asks the Docker engine beyond the driver: the image's
//! configuration, files in the image, a container's logs, its file-system
//! changes, its memory peak, and a timed stop with its exit code. One
//! current-thread runtime; every call bounded by the engine's own timeouts.

use std::time::{Duration, Instant};

use bollard::container::{
    Config, CreateContainerOptions, DownloadFromContainerOptions, LogsOptions,
    RemoveContainerOptions, StatsOptions, StopContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::Error;

pub struct Engine {
    rt: tokio::runtime::Runtime,
    docker: Docker,
}

fn err(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
    let what = what.into();
    move |source| Error::Engine { what, source }
}

/// What the image says of itself.
#[derive(Debug, Default)]
pub struct ImageFacts {
    pub user: String,
    /// `8080/tcp`, ...
    pub exposed: Vec<String>,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A memory figure and where it came from (for the evidence).
#[derive(Debug, PartialEq)]
pub struct Memory {
    pub bytes: u64,
    pub source: &'static str,
}

/// How a stop went.
pub struct Stopped {
    pub seconds: f64,
    pub exit_code: i64,
}

impl Engine {
    pub fn connect() -> Result<Engine, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let docker = Docker::connect_with_local_defaults().map_err(err(
            "connecting to the Docker engine (hint: is dockerd running? is DOCKER_HOST right?)",
        ))?;
        let docker = rt
            .block_on(docker.negotiate_version())
            .map_err(err("connecting to the Docker engine"))?;
        Ok(Engine { rt, docker })
    }

    /// `docker VERSION`.
    pub fn version(&self) -> String {
        match self.rt.block_on(self.docker.version()) {
            Ok(v) => format!("docker {}", v.version.unwrap_or_default()),
            Err(_) => "docker".into(),
        }
    }

    pub fn image(&self, image: &str) -> Result<ImageFacts, Error> {
        let i = self
            .rt
            .block_on(self.docker.inspect_image(image))
            .map_err(err(format!("inspecting image {image}")))?;
        let c = i.config.unwrap_or_default();
        let mut exposed: Vec<String> = c.exposed_ports.unwrap_or_default().into_keys().collect();
        exposed.sort();
        Ok(ImageFacts {
            user: c.user.unwrap_or_default(),
            exposed,
            labels: c.labels.unwrap_or_default().into_iter().collect(),
        })
    }

    /// The first of `paths` that exists in `image` and holds a file, with
    /// the names of the files found (at most a few): a container is created
    /// (never started) to read the image's files.
    pub fn find_files(
        &self,
        image: &str,
        name: &str,
        paths: &[&str],
    ) -> Result<Option<(String, Vec<String>)>, Error> {
        let config = Config {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["/nonexistent".into()]),
            network_disabled: Some(true),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name,
            platform: None,
        };
        self.rt
            .block_on(self.docker.create_container(Some(opts), config))
            .map_err(err(format!("creating container {name} to read the image")))?;
        let mut found = None;
        for p in paths {
            let files = self.rt.block_on(async {
                let mut s = self
                    .docker
                    .download_from_container(name, Some(DownloadFromContainerOptions { path: *p }));
                let mut bytes = Vec::new();
                while let Some(chunk) = s.next().await {
                    match chunk {
                        Ok(c) if bytes.len() < 64 << 20 => bytes.extend_from_slice(&c),
                        Ok(_) => break,
                        Err(_) => return None,
                    }
                }
                Some(bytes)
            });
            let Some(tar) = files else { continue };
            let mut names = Vec::new();
            if let Ok(entries) = tar::Archive::new(tar.as_slice()).entries() {
                for e in entries.flatten() {
                    if e.header().entry_type().is_file() {
                        if let Ok(path) = e.path() {
                            names.push(path.to_string_lossy().into_owned());
                        }
                    }
                }
            }
            if !names.is_empty() {
                names.truncate(5);
                found = Some((p.to_string(), names));
                break;
            }
        }
        self.remove(name);
        Ok(found)
    }

    /// The container's stdout and stderr so far, as lines (at most `max`).
    pub fn logs(&self, container: &str, max: usize) -> Vec<String> {
        self.rt.block_on(async {
            let opts = LogsOptions::<String> {
                stdout: true,
                stderr: true,
                tail: "all".into(),
                ..Default::default()
            };
            let mut s = self.docker.logs(container, Some(opts));
            let mut text = String::new();
            while let Some(Ok(chunk)) = s.next().await {
                text.push_str(&chunk.to_string());
                if text.len() > 1 << 20 {
                    break;
                }
            }
            text.lines().take(max).map(str::to_string).collect()
        })
    }

    /// Paths the container added or changed in its own file system (volumes
    /// are not part of it).
    pub fn changes(&self, container: &str) -> Vec<String> {
        let changes = self.rt.block_on(self.docker.container_changes(container));
        let mut out: Vec<String> = changes
            .ok()
            .flatten()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.kind != bollard::models::ChangeType::_2)
            .map(|c| c.path)
            .collect();
        out.sort();
        out
    }

    /// The container's peak memory so far. Read from the container's memory
    /// cgroup when the engine runs on this machine (cgroup v1
    /// `memory.max_usage_in_bytes`, v2 `memory.peak`): the engine's stats
    /// answer does not always carry a memory figure on a loaded engine, and
    /// under cgroup v2 it has only the current usage. Else from the engine's
    /// stats. `None` when neither gives a figure.
    pub fn memory_peak(&self, container: &str) -> Option<Memory> {
        let inspected = self
            .rt
            .block_on(self.docker.inspect_container(container, None))
            .ok()?;
        let id = inspected.id.unwrap_or_default();
        let pid = inspected.state.and_then(|s| s.pid).filter(|p| *p > 0);
        let cgroup = pid.and_then(|pid| {
            let (text, v2) = hsp_deploy::cgroup::read(pid, &id, &hsp_deploy::cgroup::MEMORY_PEAK)?;
            Some(Memory {
                bytes: text.trim().parse().ok()?,
                source: if v2 {
                    "cgroup memory.peak"
                } else {
                    "cgroup memory.max_usage_in_bytes"
                },
            })
        });
        if cgroup.is_some() {
            return cgroup;
        }
        self.rt.block_on(async {
            let opts = StatsOptions {
                stream: false,
                one_shot: true,
            };
            let mut s = self.docker.stats(container, Some(opts));
            let stats = tokio::time::timeout(Duration::from_secs(5), s.next())
                .await
                .ok()??
                .ok()?;
            let m = stats.memory_stats;
            match (m.max_usage, m.usage) {
                (Some(bytes), _) => Some(Memory {
                    bytes,
                    source: "the engine's peak",
                }),
                (None, Some(bytes)) => Some(Memory {
                    bytes,
                    source: "the engine's current usage, not a peak",
                }),
                (None, None) => None,
            }
        })
    }

    /// Whether the engine saw the container killed for memory.
    pub fn oom_killed(&self, container: &str) -> bool {
        self.rt
            .block_on(self.docker.inspect_container(container, None))
            .ok()
            .and_then(|c| c.state)
            .and_then(|s| s.oom_killed)
            .unwrap_or(false)
    }

    /// Stops the container (SIGTERM, then SIGKILL after `timeout_s`), timed,
    /// and its exit code. The container is kept.
    pub fn stop(&self, container: &str, timeout_s: u32) -> Result<Stopped, Error> {
        let start = Instant::now();
        let opts = StopContainerOptions {
            t: i64::from(timeout_s),
        };
        self.rt
            .block_on(self.docker.stop_container(container, Some(opts)))
            .map_err(err(format!("stopping container {container}")))?;
        let seconds = start.elapsed().as_secs_f64();
        let exit_code = self
            .rt
            .block_on(self.docker.inspect_container(container, None))
            .ok()
            .and_then(|c| c.state)
            .and_then(|s| s.exit_code)
            .unwrap_or(-1);
        Ok(Stopped { seconds, exit_code })
    }

    pub fn remove(&self, container: &str) {
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let _ = self
            .rt
            .block_on(self.docker.remove_container(container, Some(opts)));
    }
}
