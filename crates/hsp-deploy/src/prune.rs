//! Removing instances that left the plan (consumers first, volumes kept unless
//! `--purge`), and deleting with `--purge` what earlier prunes kept.

use std::collections::{BTreeSet, HashSet};

use chrono::Utc;
use hsp_index::Plan;

use super::report::{describe, Outcome, Report};
use super::{secrets, Driver, EnvDir, Error, Unit};

pub(crate) fn prune(
    driver: &mut dyn Driver,
    plan: &Plan,
    state: &EnvDir,
    journal: &mut super::Journal,
    purge: bool,
    report: &mut Report,
) -> Result<(), Error> {
    let planned: HashSet<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
    let units = driver.units()?;
    let mut gone: Vec<String> = units
        .iter()
        .map(|u| u.instance.clone())
        .chain(journal.instances.keys().cloned())
        .filter(|n| !planned.contains(n.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Consumers before providers: reverse of the previous plan order; unknown first.
    let pos = |n: &String| {
        journal
            .order
            .iter()
            .position(|o| o == n)
            .map_or(usize::MAX, |p| p)
    };
    gone.sort_by_key(|n| std::cmp::Reverse(pos(n)));
    for name in gone {
        let mine: Vec<&Unit> = units.iter().filter(|u| u.instance == name).collect();
        let version = mine.first().map(|u| u.version.clone()).or_else(|| {
            journal.instances.get(&name).and_then(|r| {
                r.good
                    .as_ref()
                    .map(|g| g.version.clone())
                    .or_else(|| r.attempt.as_ref().map(|a| a.version.clone()))
            })
        });
        for u in mine.iter().rev() {
            let timeout = journal
                .instances
                .get(&name)
                .and_then(|r| r.good.as_ref())
                .and_then(|g| g.tasks.iter().find(|t| t.name == u.task))
                .map_or(10, |t| t.stop_timeout_s);
            driver.stop(u, timeout)?;
        }
        if purge {
            driver.remove_volumes(&name)?;
            secrets::remove_generated(&state.path, &name)?;
        } else if let Some(g) = journal.instances.get(&name).and_then(|r| r.good.as_ref()) {
            journal.kept.insert(
                name.clone(),
                super::journal::Kept {
                    service: g.service.clone(),
                    version: g.version.clone(),
                    pruned: Utc::now(),
                },
            );
        }
        journal.instances.remove(&name);
        state.save(journal)?;
        let outcome = Outcome::Pruned {
            version,
            purged: purge,
        };
        tracing::info!(instance = %name, "{}", describe(&outcome));
        report.outcomes.push((name, outcome));
    }
    // Data kept by earlier prunes goes with --purge too.
    if purge {
        let kept: Vec<(String, String)> = journal
            .kept
            .iter()
            .filter(|(n, _)| !planned.contains(n.as_str()))
            .map(|(n, k)| (n.clone(), k.version.clone()))
            .collect();
        for (name, version) in kept {
            driver.remove_volumes(&name)?;
            secrets::remove_generated(&state.path, &name)?;
            journal.kept.remove(&name);
            state.save(journal)?;
            let outcome = Outcome::Purged { version };
            tracing::info!(instance = %name, "{}", describe(&outcome));
            report.outcomes.push((name, outcome));
        }
    }
    if plan.instances.is_empty() && driver.units()?.is_empty() {
        driver.teardown()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::host::{HostDriver, HostMode};
    use crate::journal::Attempt;
    use crate::{apply, ApplyOptions, EnvDir, Outcome};

    /// Instances that left the plan without a unit running: the version named
    /// is the one being rolled out, or none when nothing ever started.
    #[test]
    fn a_pruned_instance_names_its_version() {
        let state = tempfile::tempdir().unwrap();
        let dir = EnvDir::open(state.path(), "prune-names").unwrap();
        let mut journal = dir.load().unwrap();
        journal.record("interrupted").attempt = Some(Attempt {
            version: "2.1.0".into(),
            spec: "abc".into(),
            started: chrono::Utc::now(),
        });
        journal.record("never").last_error = Some("skipped".into());
        dir.save(&journal).unwrap();
        let mut driver = HostDriver::new(
            "prune-names",
            &dir.path,
            None,
            "/nonexistent/hsp-agent".into(),
            HostMode::Process,
        )
        .unwrap();
        let plan = hsp_index::Plan {
            environment: "prune-names".into(),
            instances: vec![],
            externals: vec![],
        };
        let opts = ApplyOptions {
            purge: true,
            ..ApplyOptions::default()
        };
        let report = apply(&mut driver, &plan, &dir, &opts).unwrap();
        let lines: Vec<(String, String)> = report
            .outcomes
            .iter()
            .map(|(n, o)| (n.clone(), crate::rollout::describe(o)))
            .collect();
        assert!(
            lines.contains(&("interrupted".into(), "removed 2.1.0 and its volumes".into())),
            "{lines:?}"
        );
        assert!(
            lines.contains(&(
                "never".into(),
                "removed with its volumes (no version of it had started)".into()
            )),
            "{lines:?}"
        );
        assert!(report
            .outcomes
            .iter()
            .all(|(_, o)| !matches!(o, Outcome::Pruned { version: Some(v), .. } if v.is_empty())));
        assert!(dir.load().unwrap().instances.is_empty());
    }
}
