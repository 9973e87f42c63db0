//! What is deployed now, as the planner needs it, and the actions that take a
//! site from there to a new plan.
//!
//! The deploy side keeps the last plan it applied; [`Deployed::from`] that plan is
//! the planner's input. The planner prefers what runs: the same provider for a
//! requirement, the same instance names, and versions within the update mode.

use std::collections::BTreeMap;
use std::fmt;

use hsp_index::plan::{PlannedInstance, ProviderRef};
use hsp_index::version::parse_version;
use hsp_index::Plan;
use serde::Serialize;

/// The instances running now, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deployed {
    pub instances: BTreeMap<String, DeployedInstance>,
    /// Versions marked bad for instances that never became healthy (their
    /// first install failed): service -> version -> why. Names of new
    /// instances are chosen after solving, so these hold for every new
    /// instance of the service.
    pub undeployed_bad: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeployedInstance {
    pub service: String,
    pub version: String,
    pub dedicated_to: Option<String>,
    /// Requirement name -> what satisfies it.
    pub bindings: BTreeMap<String, ProviderRef>,
    /// Versions this site rolled back (version -> why): not planned again.
    pub bad_versions: BTreeMap<String, String>,
}

impl From<&Plan> for Deployed {
    fn from(plan: &Plan) -> Self {
        let instances = plan
            .instances
            .iter()
            .map(|i| {
                let inst = DeployedInstance {
                    service: i.service.clone(),
                    version: i.version.clone(),
                    dedicated_to: i.dedicated_to.clone(),
                    bindings: i
                        .bindings
                        .iter()
                        .map(|(k, b)| (k.clone(), b.provider.clone()))
                        .collect(),
                    bad_versions: BTreeMap::new(),
                };
                (i.name.clone(), inst)
            })
            .collect();
        Deployed {
            instances,
            undeployed_bad: BTreeMap::new(),
        }
    }
}

impl Deployed {
    /// Adds the versions the agent's journal marked bad, per instance name.
    pub fn with_bad_versions(
        mut self,
        bad: impl IntoIterator<Item = (String, BTreeMap<String, String>)>,
    ) -> Deployed {
        for (name, versions) in bad {
            if let Some(i) = self.instances.get_mut(&name) {
                i.bad_versions.extend(versions);
            }
        }
        self
    }

    /// Adds the versions marked bad for an instance that is not deployed
    /// (its first install failed), by its service.
    pub fn with_undeployed_bad(
        mut self,
        service: &str,
        versions: impl IntoIterator<Item = (String, String)>,
    ) -> Deployed {
        self.undeployed_bad
            .entry(service.to_string())
            .or_default()
            .extend(versions);
        self
    }

    /// The deployed shared (not dedicated) instance of a service, first by name.
    pub fn shared_instance(&self, service: &str) -> Option<(&str, &DeployedInstance)> {
        self.instances
            .iter()
            .find(|(_, i)| i.service == service && i.dedicated_to.is_none())
            .map(|(n, i)| (n.as_str(), i))
    }
}

/// What applying a plan does to one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "action")]
pub enum Action {
    Add {
        instance: String,
        service: String,
        version: String,
    },
    Upgrade {
        instance: String,
        service: String,
        from: String,
        to: String,
    },
    Downgrade {
        instance: String,
        service: String,
        from: String,
        to: String,
    },
    /// Same service and version; `reconfigure` when its rendered tasks or bindings changed.
    Keep {
        instance: String,
        service: String,
        version: String,
        reconfigure: bool,
    },
    /// The instance now runs another service (its old one is removed first).
    Replace {
        instance: String,
        from: String,
        to: String,
        version: String,
    },
    Remove {
        instance: String,
        service: String,
        version: String,
    },
}

/// The actions from `now` (the last applied plan, if any) to `next`, in `next`'s
/// start order, then removals.
pub fn actions(now: Option<&Plan>, next: &Plan) -> Vec<Action> {
    let old: BTreeMap<&str, &PlannedInstance> = now
        .map(|p| p.instances.iter().map(|i| (i.name.as_str(), i)).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for i in &next.instances {
        let (instance, service) = (i.name.clone(), i.service.clone());
        out.push(match old.get(i.name.as_str()) {
            None => Action::Add {
                instance,
                service,
                version: i.version.clone(),
            },
            Some(o) if o.service != i.service => Action::Replace {
                instance,
                from: o.service.clone(),
                to: service,
                version: i.version.clone(),
            },
            Some(o) => {
                let (from, to) = (
                    parse_version(&o.version).ok(),
                    parse_version(&i.version).ok(),
                );
                if from < to {
                    Action::Upgrade {
                        instance,
                        service,
                        from: o.version.clone(),
                        to: i.version.clone(),
                    }
                } else if from > to {
                    Action::Downgrade {
                        instance,
                        service,
                        from: o.version.clone(),
                        to: i.version.clone(),
                    }
                } else {
                    let reconfigure = o.tasks != i.tasks
                        || o.bindings != i.bindings
                        || o.depends_on != i.depends_on;
                    Action::Keep {
                        instance,
                        service,
                        version: i.version.clone(),
                        reconfigure,
                    }
                }
            }
        });
    }
    let kept: std::collections::BTreeSet<&str> =
        next.instances.iter().map(|i| i.name.as_str()).collect();
    if let Some(now) = now {
        for o in now
            .instances
            .iter()
            .rev()
            .filter(|o| !kept.contains(o.name.as_str()))
        {
            out.push(Action::Remove {
                instance: o.name.clone(),
                service: o.service.clone(),
                version: o.version.clone(),
            });
        }
    }
    out
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Add {
                instance,
                service,
                version,
            } => write!(f, "add        {instance}: {service} {version}"),
            Action::Upgrade {
                instance,
                service,
                from,
                to,
            } => write!(f, "upgrade    {instance}: {service} {from} -> {to}"),
            Action::Downgrade {
                instance,
                service,
                from,
                to,
            } => write!(f, "downgrade  {instance}: {service} {from} -> {to}"),
            Action::Keep {
                instance,
                service,
                version,
                reconfigure: false,
            } => write!(f, "keep       {instance}: {service} {version}"),
            Action::Keep {
                instance,
                service,
                version,
                reconfigure: true,
            } => {
                write!(
                    f,
                    "keep       {instance}: {service} {version} (reconfigured)"
                )
            }
            Action::Replace {
                instance,
                from,
                to,
                version,
            } => write!(f, "replace    {instance}: {from} -> {to} {version}"),
            Action::Remove {
                instance,
                service,
                version,
            } => write!(f, "remove     {instance}: {service} {version}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(instances: &[(&str, &str, &str, &str)]) -> Plan {
        let instances: Vec<serde_json::Value> = instances
            .iter()
            .map(|(name, service, version, image)| {
                serde_json::json!({
                    "name": name, "service": service, "version": version, "license": "MIT", "reason": "test",
                    "tasks": [{"name": "app", "image": image, "ports": [], "env": {}, "memory_mib": 64,
                               "instances": {"min": 1, "max": 1}, "stop_timeout_s": 10}]
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({"environment": "t", "instances": instances}))
            .unwrap()
    }

    #[test]
    fn actions_from_now_to_next() {
        let now = plan(&[
            ("db", "org.pg", "16.0.0", "pg@a"),
            ("app", "org.app", "2.0.0", "app@a"),
            ("web", "org.web", "1.0.0", "w@a"),
            ("old", "org.old", "1.0.0", "o@a"),
        ]);
        let next = plan(&[
            ("db", "org.pg", "16.0.0", "pg@b"),
            ("app", "org.app", "1.9.0", "app@a"),
            ("web", "org.other", "1.0.0", "w@a"),
            ("new", "org.new", "0.1.0", "n@a"),
        ]);
        let got: Vec<String> = actions(Some(&now), &next)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "keep       db: org.pg 16.0.0 (reconfigured)",
                "downgrade  app: org.app 2.0.0 -> 1.9.0",
                "replace    web: org.web -> org.other 1.0.0",
                "add        new: org.new 0.1.0",
                "remove     old: org.old 1.0.0",
            ]
        );
        let fresh: Vec<String> = actions(None, &next).iter().map(|a| a.to_string()).collect();
        assert!(fresh.iter().all(|a| a.starts_with("add ")), "{fresh:?}");
        let deployed = Deployed::from(&now);
        assert_eq!(
            deployed.shared_instance("org.pg").map(|(n, _)| n),
            Some("db")
        );
        assert_eq!(deployed.shared_instance("org.none"), None);
    }
}
