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
        let version = mine
            .first()
            .map(|u| u.version.clone())
            .or_else(|| {
                journal
                    .instances
                    .get(&name)
                    .and_then(|r| r.good.as_ref())
                    .map(|g| g.version.clone())
            })
            .unwrap_or_default();
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
