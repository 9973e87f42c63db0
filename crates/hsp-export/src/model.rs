//! The view of a plan that every exporter reads: units (one per task of each
//! instance) with their names, images, plain and secret env, the instances'
//! volumes, and who may reach whom.
//!
//! Volumes follow the agent's rule ([`hsp_index::plan::PlannedInstance::volumes`]):
//! one per instance and volume name, `<instance>-<volume>`, mounted by every task
//! of the instance that declares it.

use std::collections::{BTreeMap, BTreeSet};

use hsp_index::image::ImageRef;
use hsp_index::plan::{InstanceVolume, PlannedInstance, PlannedTask, ProviderRef, Value};
use hsp_index::Plan;
use serde_json::{json, Map, Value as Json};

use super::secrets::Atoms;
use super::{ExportError, Options};

/// Persistent volume size when the plan does not say (it has no size field).
pub(crate) const DEFAULT_VOLUME_SIZE: &str = "10Gi";

pub(crate) struct Model<'a> {
    pub plan: &'a Plan,
    pub units: Vec<Unit<'a>>,
    /// Every instance's volumes, in plan order: one PersistentVolumeClaim or
    /// Compose volume each.
    pub volumes: Vec<InstanceVolume<'a>>,
    pub atoms: Atoms,
    /// Registry override for every image (`--registry`).
    pub registry: Option<String>,
    /// Provider instance -> the other instances that declared a dependency on it.
    pub consumers: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

/// One task of one instance.
pub(crate) struct Unit<'a> {
    pub instance: &'a PlannedInstance,
    pub task: &'a PlannedTask,
    /// `<instance>-<task>`: Deployment, Service, Compose service.
    pub name: String,
    pub image: ImageRef,
    /// The image reference to write (registry override applied).
    pub image_ref: String,
    /// Env values without secret parts.
    pub config: BTreeMap<String, String>,
    /// Env values with a secret part, kept whole.
    pub secret_env: BTreeMap<String, &'a Value>,
}

impl<'a> Model<'a> {
    pub fn new(plan: &'a Plan, options: &Options) -> Result<Model<'a>, ExportError> {
        check_label(&plan.environment)?;
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |name: String, what: String| match names.get(&name) {
            Some(first) => Err(ExportError::Duplicate {
                name,
                first: first.clone(),
                second: what,
            }),
            None => {
                names.insert(name, what);
                Ok(())
            }
        };
        // Volumes are objects of their own kind (PersistentVolumeClaim, Compose
        // volume): their names only have to differ from each other.
        let mut volume_names: BTreeMap<String, String> = BTreeMap::new();
        let mut volumes = Vec::new();
        let mut units = Vec::new();
        for instance in &plan.instances {
            for v in instance.volumes() {
                check_label(v.volume)?;
                let name = v.name();
                check_label(&name)?;
                let what = format!("volume {} of instance {}", v.volume, instance.name);
                if let Some(first) = volume_names.get(&name) {
                    return Err(ExportError::Duplicate {
                        name,
                        first: first.clone(),
                        second: what,
                    });
                }
                volume_names.insert(name, what);
                volumes.push(v);
            }
            for task in &instance.tasks {
                let name = format!("{}-{}", instance.name, task.name);
                check_label(&name)?;
                claim(
                    name.clone(),
                    format!("task {} of instance {}", task.name, instance.name),
                )?;
                let image =
                    ImageRef::parse(&task.image).ok_or_else(|| ExportError::ImageNotPinned {
                        instance: instance.name.clone(),
                        task: task.name.clone(),
                        image: task.image.clone(),
                    })?;
                let image_ref = image.reference(options.registry.as_deref());
                let mut config = BTreeMap::new();
                let mut secret_env = BTreeMap::new();
                for (k, v) in &task.env {
                    match v.as_plain() {
                        Some(text) => {
                            config.insert(k.clone(), text);
                        }
                        None => {
                            secret_env.insert(k.clone(), v);
                        }
                    }
                }
                units.push(Unit {
                    instance,
                    task,
                    name,
                    image,
                    image_ref,
                    config,
                    secret_env,
                });
            }
        }
        for e in &plan.externals {
            check_label(&e.name)?;
            claim(e.name.clone(), format!("external {}", e.name))?;
        }
        let mut consumers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for i in &plan.instances {
            let providers = i.bindings.values().filter_map(|b| match &b.provider {
                ProviderRef::Instance(p) => Some(p.as_str()),
                ProviderRef::External(_) => None,
            });
            for p in providers.chain(i.depends_on.iter().map(String::as_str)) {
                if p != i.name {
                    consumers.entry(p).or_default().insert(i.name.as_str());
                }
            }
        }
        Ok(Model {
            plan,
            units,
            volumes,
            atoms: Atoms::collect(plan),
            registry: options.registry.clone(),
            consumers,
        })
    }

    pub fn environment(&self) -> &str {
        &self.plan.environment
    }

    /// The units of the instances `unit` depends on, in plan order.
    pub fn dependencies(&self, unit: &Unit) -> Vec<&Unit<'a>> {
        self.units
            .iter()
            .filter(|u| unit.instance.depends_on.contains(&u.instance.name))
            .collect()
    }

    /// The standard `app.kubernetes.io/*` labels of a unit; `managed_by` differs
    /// between plain manifests and Helm.
    pub fn labels(&self, unit: &Unit, managed_by: Json) -> Map<String, Json> {
        let mut m = self.selector(unit);
        m.insert(
            "app.kubernetes.io/name".into(),
            json!(label_value(&unit.instance.service)),
        );
        m.insert(
            "app.kubernetes.io/version".into(),
            json!(label_value(&unit.instance.version)),
        );
        m.insert(
            "app.kubernetes.io/part-of".into(),
            json!(self.plan.environment),
        );
        m.insert("app.kubernetes.io/managed-by".into(), managed_by);
        m
    }

    /// The labels of an instance's own objects (its volumes): a unit's labels
    /// without the task (`component`).
    pub fn instance_labels(&self, instance: &str, managed_by: Json) -> Map<String, Json> {
        let i = self
            .plan
            .instances
            .iter()
            .find(|i| i.name == instance)
            .expect("a volume's instance is in the plan");
        let mut m = Map::new();
        m.insert("app.kubernetes.io/instance".into(), json!(i.name));
        m.insert(
            "app.kubernetes.io/name".into(),
            json!(label_value(&i.service)),
        );
        m.insert(
            "app.kubernetes.io/version".into(),
            json!(label_value(&i.version)),
        );
        m.insert(
            "app.kubernetes.io/part-of".into(),
            json!(self.plan.environment),
        );
        m.insert("app.kubernetes.io/managed-by".into(), managed_by);
        m
    }

    /// The volumes of one instance.
    pub fn instance_volumes<'m>(
        &'m self,
        instance: &'m str,
    ) -> impl Iterator<Item = &'m InstanceVolume<'a>> + 'm {
        self.volumes.iter().filter(move |v| v.instance == instance)
    }

    /// Labels that select a unit's pods.
    pub fn selector(&self, unit: &Unit) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert(
            "app.kubernetes.io/instance".into(),
            json!(unit.instance.name),
        );
        m.insert("app.kubernetes.io/component".into(), json!(unit.task.name));
        m
    }

    /// Labels of objects that belong to the environment as a whole.
    pub fn env_labels(&self, managed_by: Json) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert(
            "app.kubernetes.io/part-of".into(),
            json!(self.plan.environment),
        );
        m.insert("app.kubernetes.io/managed-by".into(), managed_by);
        m
    }
}

impl Unit<'_> {
    /// The number of a named port of the task.
    pub fn port_number(&self, name: &str) -> Result<u16, ExportError> {
        self.task
            .ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.port)
            .ok_or_else(|| ExportError::HealthPort {
                instance: self.instance.name.clone(),
                task: self.task.name.clone(),
                port: name.to_string(),
            })
    }

    /// The instance's volume `volume` mounts: [`hsp_index::plan::volume_name`],
    /// the PersistentVolumeClaim or Compose volume.
    pub fn volume_name(&self, volume: &str) -> String {
        hsp_index::plan::volume_name(&self.instance.name, volume)
    }
}

/// The Kubernetes access mode of an instance's volume: ReadWriteMany when more
/// than one pod may mount it (replicas of a task, or two tasks), which needs a
/// storage class that offers it; else ReadWriteOnce.
pub(crate) fn access_mode(v: &InstanceVolume) -> &'static str {
    if v.is_shared() {
        "ReadWriteMany"
    } else {
        "ReadWriteOnce"
    }
}

/// Checks a name usable as a DNS label (RFC 1123): Service, Compose service.
pub(crate) fn check_label(name: &str) -> Result<(), ExportError> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 63 {
        Some("it is longer than 63 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("only lowercase letters, digits and '-' are allowed")
    } else if !name.as_bytes()[0].is_ascii_lowercase() || name.ends_with('-') {
        Some("it must start with a letter and end with a letter or digit")
    } else {
        None
    };
    match why {
        Some(why) => Err(ExportError::Name {
            name: name.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// A Kubernetes label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at
/// both ends. Other characters (such as semver's `+`) become `_`.
pub(crate) fn label_value(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cut: String = mapped.chars().take(63).collect();
    cut.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Whether a port name is a valid IANA service name (container port names).
pub(crate) fn is_iana_port_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{shared_volume_plan, test_plan};

    #[test]
    fn volumes_are_per_instance_and_unique() {
        let plan = shared_volume_plan(1);
        let model = Model::new(&plan, &Options::default()).unwrap();
        let names: Vec<String> = model.volumes.iter().map(|v| v.name()).collect();
        assert_eq!(names, ["care-documents", "care-cache"]);
        assert_eq!(model.units[1].volume_name("documents"), "care-documents");

        // Instance `db` with volume `x-data` and instance `db-x` with `data`.
        let mut plan = test_plan();
        plan.instances[0].tasks[0].volumes[0].name = "x-data".into();
        let mut other = plan.instances[2].clone();
        other.name = "db-x".into();
        other.tasks[0].volumes = plan.instances[0].tasks[0].volumes.clone();
        other.tasks[0].volumes[0].name = "data".into();
        plan.instances.push(other);
        match Model::new(&plan, &Options::default()) {
            Err(ExportError::Duplicate { name, .. }) => assert_eq!(name, "db-x-data"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("two volumes named db-x-data"),
        }
    }

    #[test]
    fn labels_and_names() {
        for (input, want) in [
            ("7.4.0", "7.4.0"),
            ("1.0.0+build.5", "1.0.0_build.5"),
            ("-x-", "x"),
            ("a b", "a_b"),
        ] {
            assert_eq!(label_value(input), want);
        }
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
        for (name, ok) in [
            ("hapi-app", true),
            ("Hapi", false),
            ("1db", false),
            ("db-", false),
            ("", false),
        ] {
            assert_eq!(check_label(name).is_ok(), ok, "{name}");
        }
        assert!(check_label(&"a".repeat(64)).is_err());
        for (name, ok) in [
            ("http", true),
            ("postgres", true),
            ("management-port", true),
            ("a-very-long-port-name", false),
            ("8080", false),
        ] {
            assert_eq!(is_iana_port_name(name), ok, "{name}");
        }
    }
}
