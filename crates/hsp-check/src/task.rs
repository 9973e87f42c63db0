//! Rules on a document's tasks: names, images, ports, env, resources, health
//! checks, volumes and stop timeouts; and the lookups of a task and its ports
//! that the provides, health and smoke test rules share.

use std::collections::HashSet;

use super::document::{Checker, MAX_MEMORY_MIB, MAX_STOP_TIMEOUT_S};
use super::format::{image_problem, is_env_name, is_name};
use super::locate::escape;
use super::{Code, Finding};
use hsp_index::document::{Health, HttpProbe, Task, MAX_HEALTH_RETRIES, MAX_HEALTH_SECONDS};

impl Checker<'_> {
    /// `task` exists and has a port `port`.
    pub(super) fn task_port(&mut self, base: &str, task: &str, port: &str) {
        match self.doc.task(task) {
            None => self.unknown_task(format!("{base}/task"), task),
            Some(t) => self.port_of(t, format!("{base}/port"), port),
        }
    }

    pub(super) fn unknown_task(&mut self, ptr: String, task: &str) {
        let names: Vec<&str> = self.doc.tasks.iter().map(|t| t.name.as_str()).collect();
        self.push(
            Finding::new(
                Code::UnknownTaskOrPort,
                ptr,
                format!("there is no task `{task}`"),
            )
            .hint(format!("tasks: {}", names.join(", "))),
        );
    }

    pub(super) fn port_of(&mut self, t: &Task, ptr: String, port: &str) {
        if t.port(port).is_none() {
            let names: Vec<&str> = t.ports.iter().map(|p| p.name.as_str()).collect();
            let hint = if names.is_empty() {
                format!("declare it under tasks[].ports of `{}`", t.name)
            } else {
                format!("ports of `{}`: {}", t.name, names.join(", "))
            };
            self.push(
                Finding::new(
                    Code::UnknownTaskOrPort,
                    ptr,
                    format!("task `{}` has no port `{port}`", t.name),
                )
                .hint(hint),
            );
        }
    }

    pub(super) fn tasks(&mut self) {
        let doc = self.doc;
        if doc.tasks.is_empty() {
            self.err(
                Code::EmptyField,
                "/tasks",
                "a service needs at least one task",
            );
        }
        let mut seen = HashSet::new();
        for (i, t) in doc.tasks.iter().enumerate() {
            let base = format!("/tasks/{i}");
            if !is_name(&t.name) {
                self.err(
                    Code::NameFormat,
                    format!("{base}/name"),
                    format!("`{}` is not a task name (`[a-z][a-z0-9-]*`)", t.name),
                );
            }
            if !seen.insert(&t.name) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/name"),
                    format!("task `{}` is declared twice", t.name),
                );
            }
            if let Some(problem) = image_problem(&t.image) {
                self.push(
                    Finding::new(Code::ImageDigest, format!("{base}/image"), format!("image `{}` {problem}", t.image))
                        .hint("pin it: `repo:tag@sha256:<64 hex>`; `docker buildx imagetools inspect repo:tag` prints the digest"),
                );
            }
            self.ports(&base, t);
            for (k, v) in &t.env {
                let ptr = format!("{base}/env/{}", escape(k));
                if !is_env_name(k) {
                    self.push(
                        Finding::new(
                            Code::EnvName,
                            ptr.clone(),
                            format!("`{k}` is not an environment variable name"),
                        )
                        .at_key()
                        .hint("use `[A-Z0-9_]+`"),
                    );
                }
                self.control(ptr.clone(), v, false);
                self.template(ptr, v);
            }
            self.resources(&base, t);
            match &t.health {
                Some(h) => self.health(&format!("{base}/health"), t, h),
                None if !t.ports.is_empty() => self.push(
                    Finding::new(
                        Code::NoHealthCheck,
                        &base,
                        format!("task `{}` serves ports but has no health check", t.name),
                    )
                    .hint(
                        "add `\"health\": {\"http\": {\"port\": \"http\", \"path\": \"/health\"}}`",
                    ),
                ),
                None => {}
            }
            let mut vols = HashSet::new();
            for (k, v) in t.volumes.iter().enumerate() {
                if !is_name(&v.name) {
                    self.err(
                        Code::NameFormat,
                        format!("{base}/volumes/{k}/name"),
                        format!("`{}` is not a volume name", v.name),
                    );
                }
                if !vols.insert(&v.name) {
                    self.err(
                        Code::Duplicate,
                        format!("{base}/volumes/{k}/name"),
                        format!("volume `{}` is declared twice", v.name),
                    );
                }
                if !v.path.starts_with('/') {
                    self.err(
                        Code::UrlFormat,
                        format!("{base}/volumes/{k}/path"),
                        format!("`{}` is not an absolute path", v.path),
                    );
                }
            }
            if t.stop_timeout_s > MAX_STOP_TIMEOUT_S {
                self.push(
                    Finding::new(
                        Code::StopTimeout,
                        format!("{base}/stop_timeout_s"),
                        format!(
                            "{} s is above the {MAX_STOP_TIMEOUT_S} s limit",
                            t.stop_timeout_s
                        ),
                    )
                    .hint("services must stop within 15 s of SIGTERM so upgrades stay quick"),
                );
            }
        }
    }

    fn ports(&mut self, base: &str, t: &Task) {
        let mut names = HashSet::new();
        let mut numbers = HashSet::new();
        for (k, p) in t.ports.iter().enumerate() {
            let ptr = format!("{base}/ports/{k}");
            if !is_name(&p.name) {
                self.err(
                    Code::NameFormat,
                    format!("{ptr}/name"),
                    format!("`{}` is not a port name (`[a-z][a-z0-9-]*`)", p.name),
                );
            }
            if !names.insert(&p.name) {
                self.err(
                    Code::Duplicate,
                    format!("{ptr}/name"),
                    format!("port `{}` is declared twice", p.name),
                );
            }
            if p.port == 0 {
                self.err(
                    Code::Resources,
                    format!("{ptr}/port"),
                    "port 0 is not a port",
                );
            } else if !numbers.insert(p.port) {
                self.err(
                    Code::Duplicate,
                    format!("{ptr}/port"),
                    format!("port number {} is used twice", p.port),
                );
            }
        }
    }

    fn resources(&mut self, base: &str, t: &Task) {
        if t.memory_mib < 4 || t.memory_mib > MAX_MEMORY_MIB {
            self.push(
                Finding::new(
                    Code::Resources,
                    format!("{base}/memory_mib"),
                    format!("{} MiB is not a sane memory limit", t.memory_mib),
                )
                .hint("memory_mib is in MiB: 2 GiB is 2048"),
            );
        }
        if let Some(c) = t.cpus.filter(|c| !(*c > 0.0 && *c <= 1024.0)) {
            self.err(
                Code::Resources,
                format!("{base}/cpus"),
                format!("{c} is not a sane CPU count (above 0, at most 1024)"),
            );
        }
        if t.instances.max == 0 {
            self.err(
                Code::Resources,
                format!("{base}/instances/max"),
                "instances.max must be at least 1",
            );
        } else if t.instances.min > t.instances.max {
            self.push(
                Finding::new(
                    Code::Resources,
                    format!("{base}/instances/min"),
                    format!(
                        "instances.min ({}) is above instances.max ({})",
                        t.instances.min, t.instances.max
                    ),
                )
                .hint("min is how many copies always run, max the most an operator may scale to"),
            );
        }
        self.host_replicas(base, t);
    }

    /// On a host a task's ports are the machine's: replicas beyond the first
    /// need `per_replica` ports (replica r on `port + r`), whose ranges must
    /// not overlap the task's other ports.
    fn host_replicas(&mut self, base: &str, t: &Task) {
        // Nothing more to say of instance counts that are wrong already.
        if self.doc.artifacts.is_empty() || t.instances.min > t.instances.max {
            return;
        }
        let fixed: Vec<&str> = t
            .ports
            .iter()
            .filter(|p| !p.per_replica)
            .map(|p| p.name.as_str())
            .collect();
        if t.instances.min > 1 && !fixed.is_empty() {
            self.push(
                Finding::new(
                    Code::HostReplicas,
                    format!("{base}/instances/min"),
                    format!(
                        "instances.min is {}, but on a host (the document has artifacts) a task's ports are the machine's, so only one replica could listen on {}",
                        t.instances.min,
                        fixed.join(", ")
                    ),
                )
                .hint("mark the ports `\"per_replica\": true` (replica r listens on port + r and reads it from HSP_PORT_<NAME>), or set instances.min to 1"),
            );
        }
        let replicas = u32::from(u16::MAX).min(t.instances.max.max(1));
        for (k, p) in t.ports.iter().enumerate().filter(|(_, p)| p.per_replica) {
            let last = u32::from(p.port) + replicas - 1;
            let clash = t.ports.iter().find(|o| {
                o.name != p.name && (u32::from(p.port)..=last).contains(&u32::from(o.port))
            });
            let problem = if last > u32::from(u16::MAX) {
                Some(format!(
                    "replica {} would listen above port 65535",
                    replicas - 1
                ))
            } else {
                clash.map(|o| {
                    format!(
                        "port {} (`{}`) is inside its replicas' range {}-{last}",
                        o.port, o.name, p.port
                    )
                })
            };
            if let Some(problem) = problem {
                self.push(
                    Finding::new(
                        Code::HostReplicas,
                        format!("{base}/ports/{k}/port"),
                        format!("per-replica port `{}`: {problem}", p.name),
                    )
                    .hint("per-replica ports take instances.max consecutive numbers: space the task's ports apart"),
                );
            }
        }
    }

    pub(super) fn probe(
        &mut self,
        base: &str,
        t: &Task,
        http: &Option<HttpProbe>,
        command: &Option<Vec<String>>,
    ) {
        match (http, command) {
            (Some(_), Some(_)) => self.err(
                Code::HealthCheck,
                base.to_string(),
                "give `http` or `command`, not both",
            ),
            (None, None) => self.err(
                Code::HealthCheck,
                base.to_string(),
                "give one of `http` or `command`",
            ),
            (Some(h), None) => {
                self.port_of(t, format!("{base}/http/port"), &h.port);
                if !h.path.starts_with('/') {
                    self.err(
                        Code::UrlFormat,
                        format!("{base}/http/path"),
                        format!("`{}` is not an absolute path", h.path),
                    );
                }
            }
            (None, Some(c)) if c.is_empty() => self.err(
                Code::HealthCheck,
                format!("{base}/command"),
                "the command is empty",
            ),
            (None, Some(_)) => {}
        }
    }

    fn health(&mut self, base: &str, t: &Task, h: &Health) {
        self.probe(base, t, &h.http, &h.command);
        if h.interval_s == 0 || h.interval_s > MAX_HEALTH_SECONDS {
            self.err(
                Code::HealthCheck,
                format!("{base}/interval_s"),
                format!(
                    "interval_s ({}) must be from 1 to {MAX_HEALTH_SECONDS}",
                    h.interval_s
                ),
            );
        }
        if h.start_period_s > MAX_HEALTH_SECONDS {
            self.err(
                Code::HealthCheck,
                format!("{base}/start_period_s"),
                format!(
                    "start_period_s ({}) must be at most {MAX_HEALTH_SECONDS}",
                    h.start_period_s
                ),
            );
        }
        if h.retries > MAX_HEALTH_RETRIES {
            self.err(
                Code::HealthCheck,
                format!("{base}/retries"),
                format!(
                    "retries ({}) must be at most {MAX_HEALTH_RETRIES}",
                    h.retries
                ),
            );
        }
        if h.timeout_s == 0 || h.timeout_s > h.interval_s.max(1) {
            self.push(
                Finding::new(
                    Code::HealthCheck,
                    format!("{base}/timeout_s"),
                    format!(
                        "timeout_s ({}) must be from 1 to interval_s ({})",
                        h.timeout_s, h.interval_s
                    ),
                )
                .hint("a probe must finish before the next one starts"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::testing::table;
    use super::*;
    use hsp_index::document::{Port, Protocol, Volume};

    #[test]
    fn task_rules() {
        fn port(name: &str, port: u16) -> Port {
            Port {
                name: name.into(),
                port,
                protocol: Protocol::Http,
                per_replica: false,
            }
        }
        table(vec![
            (
                "no tasks",
                Box::new(|d| {
                    d.tasks.clear();
                    d.provides.clear();
                    d.smoke_test = None;
                }),
                vec![(Code::EmptyField, "/tasks"), (Code::NoSmokeTest, "")],
            ),
            (
                "name",
                Box::new(|d| d.tasks[0].name = "App".into()),
                vec![
                    (Code::NameFormat, "/tasks/0/name"),
                    (Code::UnknownTaskOrPort, "/provides/0/task"),
                    (Code::TemplateReference, "/provides/0/binding/base_url"),
                    (Code::UnknownTaskOrPort, "/smoke_test/task"),
                ],
            ),
            (
                "duplicate",
                Box::new(|d| {
                    let mut t = d.tasks[0].clone();
                    t.health = None;
                    t.ports.clear();
                    d.tasks.push(t);
                }),
                vec![(Code::Duplicate, "/tasks/1/name")],
            ),
            (
                "tag",
                Box::new(|d| d.tasks[0].image = "acme/app:1".into()),
                vec![(Code::ImageDigest, "/tasks/0/image")],
            ),
            (
                "algorithm",
                Box::new(|d| d.tasks[0].image = "acme/app@md5:00".into()),
                vec![(Code::ImageDigest, "/tasks/0/image")],
            ),
            (
                "port name",
                Box::new(|d| d.tasks[0].ports.push(port("Admin", 9000))),
                vec![(Code::NameFormat, "/tasks/0/ports/1/name")],
            ),
            (
                "port twice",
                Box::new(|d| d.tasks[0].ports.push(port("other", 8080))),
                vec![(Code::Duplicate, "/tasks/0/ports/1/port")],
            ),
            (
                "port zero",
                Box::new(|d| d.tasks[0].ports.push(port("zero", 0))),
                vec![(Code::Resources, "/tasks/0/ports/1/port")],
            ),
            (
                "env name",
                Box::new(|d| {
                    d.tasks[0].env.insert("a-b".into(), "1".into());
                }),
                vec![(Code::EnvName, "/tasks/0/env/a-b")],
            ),
            (
                "memory",
                Box::new(|d| d.tasks[0].memory_mib = 2),
                vec![(Code::Resources, "/tasks/0/memory_mib")],
            ),
            (
                "cpus",
                Box::new(|d| d.tasks[0].cpus = Some(0.0)),
                vec![(Code::Resources, "/tasks/0/cpus")],
            ),
            (
                "instances",
                Box::new(|d| d.tasks[0].instances.min = 3),
                vec![(Code::Resources, "/tasks/0/instances/min")],
            ),
            (
                "no instances",
                Box::new(|d| {
                    d.tasks[0].instances.min = 0;
                    d.tasks[0].instances.max = 0;
                }),
                vec![(Code::Resources, "/tasks/0/instances/max")],
            ),
            (
                "no health",
                Box::new(|d| d.tasks[0].health = None),
                vec![(Code::NoHealthCheck, "/tasks/0")],
            ),
            (
                "health port",
                Box::new(|d| {
                    d.tasks[0]
                        .health
                        .as_mut()
                        .unwrap()
                        .http
                        .as_mut()
                        .unwrap()
                        .port = "admin".into()
                }),
                vec![(Code::UnknownTaskOrPort, "/tasks/0/health/http/port")],
            ),
            (
                "health path",
                Box::new(|d| {
                    d.tasks[0]
                        .health
                        .as_mut()
                        .unwrap()
                        .http
                        .as_mut()
                        .unwrap()
                        .path = "health".into()
                }),
                vec![(Code::UrlFormat, "/tasks/0/health/http/path")],
            ),
            (
                "health timings out of range",
                Box::new(|d| {
                    let h = d.tasks[0].health.as_mut().unwrap();
                    h.interval_s = u32::MAX;
                    h.timeout_s = 5;
                    h.start_period_s = 3601;
                    h.retries = u32::MAX;
                }),
                vec![
                    (Code::HealthCheck, "/tasks/0/health/interval_s"),
                    (Code::HealthCheck, "/tasks/0/health/start_period_s"),
                    (Code::HealthCheck, "/tasks/0/health/retries"),
                ],
            ),
            (
                "health both",
                Box::new(|d| {
                    d.tasks[0].health.as_mut().unwrap().command = Some(vec!["true".into()])
                }),
                vec![(Code::HealthCheck, "/tasks/0/health")],
            ),
            (
                "health empty command",
                Box::new(|d| {
                    let h = d.tasks[0].health.as_mut().unwrap();
                    h.http = None;
                    h.command = Some(vec![]);
                }),
                vec![(Code::HealthCheck, "/tasks/0/health/command")],
            ),
            (
                "health timing",
                Box::new(|d| d.tasks[0].health.as_mut().unwrap().timeout_s = 11),
                vec![(Code::HealthCheck, "/tasks/0/health/timeout_s")],
            ),
            (
                "volumes",
                Box::new(|d| {
                    let v = Volume {
                        name: "data".into(),
                        path: "data".into(),
                    };
                    d.tasks[0].volumes = vec![v.clone(), v];
                }),
                vec![
                    (Code::UrlFormat, "/tasks/0/volumes/0/path"),
                    (Code::Duplicate, "/tasks/0/volumes/1/name"),
                    (Code::UrlFormat, "/tasks/0/volumes/1/path"),
                ],
            ),
            (
                "stop timeout 15",
                Box::new(|d| d.tasks[0].stop_timeout_s = 15),
                vec![],
            ),
            (
                "stop timeout 16",
                Box::new(|d| d.tasks[0].stop_timeout_s = 16),
                vec![(Code::StopTimeout, "/tasks/0/stop_timeout_s")],
            ),
        ]);
    }
}
