//! The Docker driver: one container per unit, one network and named volumes per
//! environment, all labelled `org.hsp.agent.*`.
//!
//! - API version negotiated with the engine (20.10 speaks 1.41).
//! - Network `hsp-<env>`: a user-defined bridge. It works with
//!   `dockerd --iptables=false --bridge=none`: containers resolve each other by
//!   alias through Docker's embedded DNS, and the host (the agent) reaches them
//!   on their bridge addresses, which is where HTTP health probes go. Nothing is
//!   published on host ports.
//! - Each unit gets the network alias `<instance>-<task>`, the DNS name the
//!   planner renders for `${self.<task>.<port>}` and for bindings; replicas and
//!   the old and new version during a rollout share it.
//! - Images are pulled by digest, from the environment's mirror when it names one.
//! - Volumes `hsp-<env>-<instance>-<volume>` outlive containers; only `--purge`
//!   removes them.
//!
//! The driver is synchronous: it owns a current-thread tokio runtime and blocks
//! on each bollard call, which keeps the rollout engine shared with the host
//! driver simple.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::container::{
    Config, CreateContainerOptions, ListContainersOptions, NetworkingConfig,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::image::CreateImageOptions;
use bollard::models::{EndpointSettings, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::network::CreateNetworkOptions;
use bollard::volume::{CreateVolumeOptions, ListVolumesOptions, RemoveVolumeOptions};
use bollard::Docker;
use futures_util::StreamExt;
use hsp_index::image::ImageRef;
use hsp_index::plan::{PlannedInstance, PlannedTask};

use super::{
    check_name, health, unit_from_labels, unit_labels, Driver, Error, Probe, Unit, UnitSpec,
    LABEL_ENVIRONMENT, LABEL_INSTANCE,
};

pub struct DockerDriver {
    rt: tokio::runtime::Runtime,
    docker: Docker,
    environment: String,
    mirror: Option<String>,
}

fn docker_err(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
    let action = action.into();
    move |source| Error::Docker { action, source }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The Docker volume of volume `volume` of instance `instance`:
/// `hsp-<env>-` and [`hsp_index::plan::volume_name`] (`<instance>-<volume>`, the
/// name the exports give it), shared by every task of the instance that declares
/// it. Deployed sites have volumes by this name: it must not change.
pub fn volume_name(environment: &str, instance: &str, volume: &str) -> String {
    format!(
        "hsp-{environment}-{}",
        hsp_index::plan::volume_name(instance, volume)
    )
}

impl DockerDriver {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and
    /// negotiates the API version.
    pub fn connect(environment: &str, mirror: Option<String>) -> Result<DockerDriver, Error> {
        check_name("environment", environment)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Process {
                what: "starting the tokio runtime".into(),
                source,
            })?;
        let hint =
            "connecting to the Docker engine (hint: is dockerd running? is DOCKER_HOST right?)";
        let docker = Docker::connect_with_local_defaults().map_err(docker_err(hint))?;
        let docker = rt
            .block_on(docker.negotiate_version())
            .map_err(docker_err(hint))?;
        Ok(DockerDriver {
            rt,
            docker,
            environment: environment.to_string(),
            mirror,
        })
    }

    /// `hsp-<env>`.
    pub fn network(&self) -> String {
        format!("hsp-{}", self.environment)
    }

    fn volume_name(&self, instance: &str, volume: &str) -> String {
        volume_name(&self.environment, instance, volume)
    }

    fn labels(&self, instance: Option<&str>) -> HashMap<String, String> {
        let mut l = HashMap::from([(LABEL_ENVIRONMENT.to_string(), self.environment.clone())]);
        if let Some(i) = instance {
            l.insert(LABEL_INSTANCE.to_string(), i.to_string());
        }
        l
    }

    fn owned(&self, labels: Option<&HashMap<String, String>>) -> bool {
        labels.and_then(|l| l.get(LABEL_ENVIRONMENT)) == Some(&self.environment)
    }

    fn ensure_network(&self) -> Result<(), Error> {
        let name = self.network();
        match self
            .rt
            .block_on(self.docker.inspect_network::<String>(&name, None))
        {
            Ok(n) if self.owned(n.labels.as_ref()) => Ok(()),
            Ok(_) => Err(Error::Foreign {
                kind: "network",
                name,
            }),
            Err(e) if is_not_found(&e) => {
                let opts = CreateNetworkOptions {
                    name: name.clone(),
                    driver: "bridge".into(),
                    check_duplicate: true,
                    labels: self.labels(None),
                    ..Default::default()
                };
                self.rt
                    .block_on(self.docker.create_network(opts))
                    .map_err(docker_err(format!("creating network {name}")))?;
                Ok(())
            }
            Err(e) => Err(Error::Docker {
                action: format!("inspecting network {name}"),
                source: e,
            }),
        }
    }

    fn ensure_volume(&self, instance: &str, volume: &str) -> Result<(), Error> {
        let name = self.volume_name(instance, volume);
        match self.rt.block_on(self.docker.inspect_volume(&name)) {
            Ok(v) if self.owned(Some(&v.labels)) => Ok(()),
            Ok(_) => Err(Error::Foreign {
                kind: "volume",
                name,
            }),
            Err(e) if is_not_found(&e) => {
                let opts = CreateVolumeOptions {
                    name: name.clone(),
                    driver: "local".into(),
                    labels: self.labels(Some(instance)),
                    ..Default::default()
                };
                self.rt
                    .block_on(self.docker.create_volume(opts))
                    .map_err(docker_err(format!("creating volume {name}")))?;
                Ok(())
            }
            Err(e) => Err(Error::Docker {
                action: format!("inspecting volume {name}"),
                source: e,
            }),
        }
    }

    /// The reference to pull and run: the planned image, moved to the mirror
    /// when the environment names one.
    pub fn image_ref(&self, image: &str) -> String {
        image_ref(image, self.mirror.as_deref())
    }

    fn ensure_image(&self, image: &str) -> Result<(), Error> {
        let reference = self.image_ref(image);
        if self
            .rt
            .block_on(self.docker.inspect_image(&reference))
            .is_ok()
        {
            return Ok(());
        }
        let (repo, tag) = match reference.split_once('@') {
            Some((repo, digest)) => (repo.to_string(), digest.to_string()),
            None => match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                Some((r, t)) => (r.to_string(), t.to_string()),
                None => (reference.clone(), "latest".to_string()),
            },
        };
        tracing::info!(image = %reference, "pulling");
        let opts = CreateImageOptions {
            from_image: repo,
            tag,
            ..Default::default()
        };
        self.rt.block_on(async {
            let mut stream = self.docker.create_image(Some(opts), None, None);
            while let Some(item) = stream.next().await {
                item.map_err(docker_err(format!("pulling {reference}")))?;
            }
            Ok::<(), Error>(())
        })
    }

    fn remove_container(&self, name: &str) -> Result<(), Error> {
        let opts = RemoveContainerOptions {
            force: true,
            v: false,
            link: false,
        };
        match self
            .rt
            .block_on(self.docker.remove_container(name, Some(opts)))
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()), // removal already in progress
            Err(e) => Err(Error::Docker {
                action: format!("removing container {name}"),
                source: e,
            }),
        }
    }

    fn exec_probe(
        &self,
        id: &str,
        cmd: &[String],
        env: &[(String, String)],
        timeout: Duration,
    ) -> Probe {
        let run = async {
            let opts = CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            };
            let exec = self.docker.create_exec(id, opts).await?;
            if let StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&exec.id, Some(StartExecOptions::default()))
                .await?
            {
                while let Some(chunk) = output.next().await {
                    chunk?;
                }
            }
            self.docker.inspect_exec(&exec.id).await
        };
        match self
            .rt
            .block_on(async { tokio::time::timeout(timeout, run).await })
        {
            Err(_) => Probe::Unhealthy(format!(
                "health command ran longer than {}s",
                timeout.as_secs()
            )),
            Ok(Err(e)) => Probe::Unhealthy(format!("health command: {e}")),
            Ok(Ok(r)) if r.exit_code == Some(0) => Probe::Healthy,
            Ok(Ok(r)) => Probe::Unhealthy(format!("health command exited with {:?}", r.exit_code)),
        }
    }
}

/// Moves `registry/repo@digest` to `mirror/repo@digest` (a tag next to a
/// digest is dropped: the digest decides), by `hsp_index::image`'s rule.
pub fn image_ref(image: &str, mirror: Option<&str>) -> String {
    match ImageRef::parse(image) {
        Some(r) => r.by_digest(mirror),
        // Not pinned (refused by `hsp check`): passed on as written.
        None => image.to_string(),
    }
}

impl Driver for DockerDriver {
    fn kind(&self) -> &'static str {
        "docker"
    }

    fn units(&mut self) -> Result<Vec<Unit>, Error> {
        let filter = format!("{LABEL_ENVIRONMENT}={}", self.environment);
        let opts = ListContainersOptions {
            all: true,
            filters: HashMap::from([("label".to_string(), vec![filter])]),
            ..Default::default()
        };
        let list = self
            .rt
            .block_on(self.docker.list_containers(Some(opts)))
            .map_err(docker_err("listing containers"))?;
        let network = self.network();
        Ok(list
            .into_iter()
            .filter(|c| self.owned(c.labels.as_ref()))
            .filter_map(|c| {
                let running = c.state.as_deref() == Some("running");
                let address = c
                    .network_settings
                    .as_ref()
                    .and_then(|n| n.networks.as_ref())
                    .and_then(|n| n.get(&network))
                    .and_then(|e| e.ip_address.as_deref())
                    .and_then(|ip| ip.parse::<IpAddr>().ok());
                let name = c
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(|n| n.trim_start_matches('/').to_string());
                unit_from_labels(
                    c.id?,
                    name.unwrap_or_default(),
                    c.labels.as_ref()?,
                    running,
                    address,
                )
            })
            .collect())
    }

    fn prepare(&mut self, instance: &PlannedInstance) -> Result<(), Error> {
        self.ensure_network()?;
        for task in &instance.tasks {
            self.ensure_image(&task.image)?;
        }
        for v in instance.volumes() {
            check_name("volume", v.volume)?;
            self.ensure_volume(&instance.name, v.volume)?;
        }
        Ok(())
    }

    fn start(&mut self, spec: &UnitSpec) -> Result<(), Error> {
        let name = spec.name();
        match self.rt.block_on(self.docker.inspect_container(&name, None)) {
            Ok(c) if self.owned(c.config.as_ref().and_then(|c| c.labels.as_ref())) => {
                self.remove_container(&name)?
            }
            Ok(_) => {
                return Err(Error::Foreign {
                    kind: "container",
                    name,
                })
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(Error::Docker {
                    action: format!("inspecting container {name}"),
                    source: e,
                })
            }
        }
        let task = spec.task;
        let network = self.network();
        let binds = task
            .volumes
            .iter()
            .map(|v| {
                format!(
                    "{}:{}",
                    self.volume_name(&spec.instance.name, &v.name),
                    v.path
                )
            })
            .collect::<Vec<_>>();
        let host_config = HostConfig {
            memory: Some(i64::from(task.memory_mib) * 1024 * 1024),
            nano_cpus: task.cpus.map(|c| (c * 1e9) as i64),
            binds: Some(binds),
            network_mode: Some(network.clone()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            init: Some(true),
            ..Default::default()
        };
        let alias = format!("{}-{}", spec.instance.name, task.name);
        let config = Config {
            image: Some(self.image_ref(&task.image)),
            cmd: task.command.clone(),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(unit_labels(spec).into_iter().collect()),
            hostname: Some(format!("{alias}-{}", spec.replica)),
            stop_timeout: Some(i64::from(task.stop_timeout_s.min(15))),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: HashMap::from([(
                    network,
                    EndpointSettings {
                        aliases: Some(vec![alias]),
                        ..Default::default()
                    },
                )]),
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: name.clone(),
            platform: None,
        };
        self.rt
            .block_on(self.docker.create_container(Some(opts), config))
            .map_err(docker_err(format!("creating container {name}")))?;
        self.rt
            .block_on(
                self.docker
                    .start_container(&name, None::<StartContainerOptions<String>>),
            )
            .map_err(docker_err(format!("starting container {name}")))?;
        Ok(())
    }

    fn stop(&mut self, unit: &Unit, timeout_s: u32) -> Result<(), Error> {
        // Re-check ownership on the live object, not only the listing.
        match self
            .rt
            .block_on(self.docker.inspect_container(&unit.id, None))
        {
            Ok(c) if self.owned(c.config.as_ref().and_then(|c| c.labels.as_ref())) => {}
            Ok(_) => {
                return Err(Error::Foreign {
                    kind: "container",
                    name: unit.name.clone(),
                })
            }
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => {
                return Err(Error::Docker {
                    action: format!("inspecting container {}", unit.name),
                    source: e,
                })
            }
        }
        tracing::info!(unit = %unit.name, "stopping");
        let opts = StopContainerOptions {
            t: i64::from(timeout_s.min(15)),
        };
        match self
            .rt
            .block_on(self.docker.stop_container(&unit.id, Some(opts)))
        {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(e) => {
                return Err(Error::Docker {
                    action: format!("stopping container {}", unit.name),
                    source: e,
                })
            }
        }
        self.remove_container(&unit.id)
    }

    fn cpu_seconds(&mut self, unit: &Unit) -> Option<f64> {
        let c = self
            .rt
            .block_on(self.docker.inspect_container(&unit.id, None))
            .ok()?;
        let id = c.id.unwrap_or_default();
        let pid = c.state.and_then(|s| s.pid).filter(|p| *p > 0);
        if let Some(secs) = pid.and_then(|pid| crate::cgroup::cpu_seconds(pid, &id)) {
            return Some(secs);
        }
        // The engine elsewhere: its stats (cumulative, in nanoseconds).
        self.rt.block_on(async {
            use futures_util::StreamExt;
            let opts = bollard::container::StatsOptions {
                stream: false,
                one_shot: true,
            };
            let stats = self.docker.stats(&unit.id, Some(opts)).next().await?.ok()?;
            Some(stats.cpu_stats.cpu_usage.total_usage as f64 / 1e9)
        })
    }

    fn probe(&mut self, unit: &Unit, task: &PlannedTask, env: &[(String, String)]) -> Probe {
        let state = match self
            .rt
            .block_on(self.docker.inspect_container(&unit.id, None))
        {
            Ok(c) => c.state.unwrap_or_default(),
            Err(e) => return Probe::Exited(format!("container is gone: {e}")),
        };
        if state.running != Some(true) || state.restarting == Some(true) {
            return Probe::Exited(format!(
                "container is not running (exit code {})",
                state.exit_code.unwrap_or(-1)
            ));
        }
        let Some(h) = &task.health else {
            return Probe::Healthy;
        };
        let timeout = Duration::from_secs(u64::from(h.timeout_s.max(1)));
        if let Some(cmd) = &h.command {
            return self.exec_probe(&unit.id, cmd, env, timeout);
        }
        match (
            health::http_port(task, h).map(|p| p.port),
            h.http.as_ref(),
            unit.address,
        ) {
            (Some(port), Some(http), Some(ip)) => {
                health::http(SocketAddr::new(ip, port), &http.path, timeout)
            }
            (None, Some(http), _) => Probe::Unhealthy(format!(
                "health port {:?} is not a port of the task",
                http.port
            )),
            (_, _, None) => {
                Probe::Unhealthy("container has no address on the environment network yet".into())
            }
            _ => Probe::Healthy,
        }
    }

    fn replicas(&self, task: &PlannedTask) -> u32 {
        task.instances.min.max(1)
    }

    fn overlap(&self, _instance: &PlannedInstance) -> bool {
        true
    }

    fn activate(&mut self, _instance: &PlannedInstance) -> Result<(), Error> {
        Ok(())
    }

    fn remove_volumes(&mut self, instance: &str) -> Result<(), Error> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_ENVIRONMENT}={}", self.environment),
                format!("{LABEL_INSTANCE}={instance}"),
            ],
        )]);
        let list = self
            .rt
            .block_on(
                self.docker
                    .list_volumes(Some(ListVolumesOptions { filters })),
            )
            .map_err(docker_err("listing volumes"))?;
        for v in list.volumes.unwrap_or_default() {
            if !self.owned(Some(&v.labels))
                || v.labels.get(LABEL_INSTANCE).map(String::as_str) != Some(instance)
            {
                continue;
            }
            tracing::info!(volume = %v.name, "removing volume");
            self.rt
                .block_on(
                    self.docker
                        .remove_volume(&v.name, Some(RemoveVolumeOptions { force: false })),
                )
                .map_err(docker_err(format!("removing volume {}", v.name)))?;
        }
        Ok(())
    }

    fn teardown(&mut self) -> Result<(), Error> {
        let name = self.network();
        match self
            .rt
            .block_on(self.docker.inspect_network::<String>(&name, None))
        {
            Ok(n) if self.owned(n.labels.as_ref()) => self
                .rt
                .block_on(self.docker.remove_network(&name))
                .map_err(docker_err(format!("removing network {name}"))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_rewrites() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            image_ref(&format!("hapiproject/hapi:v7@{d}"), Some("127.0.0.1:5000")),
            format!("127.0.0.1:5000/hapiproject/hapi@{d}")
        );
        assert_eq!(image_ref("postgres", Some("m")), "postgres");
    }

    #[test]
    fn volume_names_stay_what_deployed_sites_have() {
        // Running sites hold data in volumes by these names: never change them.
        for (env, instance, volume, want) in [
            ("clinic", "hapi-db", "data", "hsp-clinic-hapi-db-data"),
            ("care", "care", "documents", "hsp-care-care-documents"),
        ] {
            assert_eq!(volume_name(env, instance, volume), want);
            assert_eq!(
                volume_name(env, instance, volume),
                format!(
                    "hsp-{env}-{}",
                    hsp_index::plan::volume_name(instance, volume)
                ),
                "the exports' name with the driver's prefix"
            );
        }
    }
}
