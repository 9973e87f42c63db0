//! The rollout engine: converges what a driver runs to a plan.
//!
//! Per instance, in plan order (every provider before its consumers):
//!
//! 1. choose the target spec: the planned one, unless its version is marked bad
//!    or updates are outside the window, in which case the last good one;
//! 2. save the attempt in the journal, prepare (pull, download, volumes);
//! 3. start the missing units of the target next to the old ones (or, where they
//!    cannot overlap — an instance with volumes, a host with fixed ports — stop
//!    the old ones first);
//! 4. wait until every unit is healthy within the task's deadline;
//! 5. healthy: record it as good, then stop the old units; unhealthy: stop the
//!    new units, mark the version bad, bring the last good spec back. A release
//!    whose artifact is refused in step 2 (size, sha256, an unsafe or corrupt
//!    archive, no artifact for the platform) is marked bad the same way. A
//!    failure that is not the release's (a host port held by another process,
//!    a download or image pull, the disk, the engine) marks nothing: the new
//!    units are stopped, the last good spec comes back, and the journal's
//!    `retry` (attempts, cause, next try) makes the next apply try again; `run`
//!    ([`ApplyOptions::backoff`]) waits until the next try.
//!
//! Then units of instances that left the plan are stopped in reverse order of
//! the previous plan, keeping their volumes unless `purge`. Every decision reads
//! the units the driver observes, not what the journal hoped, so an apply after a
//! kill -9 at any point converges.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hsp_index::plan::{PlannedInstance, PlannedTask};
use hsp_index::Plan;

use super::journal::{Attempt, Retry};
use super::prune::prune;
pub use super::report::{chain, describe, Outcome, Report};
use super::{
    check_name, health, schedule, secrets, spec_hash, Driver, EnvDir, Error, Probe, Unit, UnitSpec,
};

/// How an apply behaves.
#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// Also delete volumes (and generated secrets) of pruned instances.
    pub purge: bool,
    /// When false (outside the update window), deployed instances keep their
    /// current spec; missing units are still restarted.
    pub hold_updates: bool,
    /// Set by SIGTERM: finish the instance in progress, skip the rest.
    pub drain: Option<Arc<AtomicBool>>,
    /// Wait out the backoff of a rollout that failed through no fault of the
    /// release (`run`); `apply` tries again at once.
    pub backoff: bool,
}

/// Converges the driver's units to `plan`, recording progress in `state`.
pub fn apply(
    driver: &mut dyn Driver,
    plan: &Plan,
    state: &EnvDir,
    opts: &ApplyOptions,
) -> Result<Report, Error> {
    for inst in &plan.instances {
        check_name("instance", &inst.name)?;
        for t in &inst.tasks {
            check_name("task", &t.name)?;
        }
    }
    let mut journal = state.load()?;
    match &journal.target {
        Some(was) if was != driver.kind() && !journal.instances.is_empty() => {
            return Err(Error::TargetChanged {
                environment: state.environment.clone(),
                was: was.clone(),
                now: driver.kind().to_string(),
            })
        }
        _ => {}
    }
    journal.target = Some(driver.kind().to_string());
    let previous_order = journal.order.clone();
    // Record the union of both orders before touching anything, so a crash
    // mid-apply still knows the stop order of everything that may run.
    let mut order: Vec<String> = plan.instances.iter().map(|i| i.name.clone()).collect();
    order.extend(
        previous_order
            .iter()
            .filter(|n| !order.contains(n))
            .cloned()
            .collect::<Vec<_>>(),
    );
    journal.order = order;
    // An instance coming back reuses the data it left: no longer "kept".
    journal
        .kept
        .retain(|n, _| !plan.instances.iter().any(|i| &i.name == n));
    state.save(&journal)?;

    let mut report = Report {
        environment: plan.environment.clone(),
        outcomes: Vec::new(),
    };
    let mut healthy: HashSet<String> = HashSet::new();
    let planned: HashSet<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
    for inst in &plan.instances {
        let draining = opts
            .drain
            .as_ref()
            .is_some_and(|d| d.load(Ordering::SeqCst));
        let blocked: Vec<&str> = inst
            .depends_on
            .iter()
            .map(String::as_str)
            .filter(|d| planned.contains(d) && !healthy.contains(*d))
            .collect();
        let outcome = if draining {
            Outcome::Skipped {
                reason: "the agent is stopping".into(),
            }
        } else if !blocked.is_empty() {
            Outcome::Skipped {
                reason: format!("waiting for {} to be healthy", blocked.join(", ")),
            }
        } else {
            let units = units_of(driver, &inst.name)?;
            let mut c = Converge {
                driver: &mut *driver,
                state,
                journal: &mut journal,
                opts,
            };
            match c.instance(inst, units) {
                Ok(o) => o,
                Err(e) if is_state_error(&e, state) => return Err(e),
                Err(e) => Outcome::Failed { reason: chain(&e) },
            }
        };
        match &outcome {
            Outcome::Unchanged { .. } | Outcome::Deployed { .. } | Outcome::Held { .. } => {
                healthy.insert(inst.name.clone());
            }
            Outcome::RolledBack { kept: Some(_), .. } | Outcome::Retrying { kept: Some(_), .. } => {
                healthy.insert(inst.name.clone());
            }
            _ => {}
        }
        let rec = journal.record(&inst.name);
        rec.last_error = (!outcome.is_ok()).then(|| describe(&outcome));
        if matches!(
            outcome,
            Outcome::Failed { .. } | Outcome::Skipped { .. } | Outcome::Retrying { .. }
        ) && rec.good.is_none()
        {
            rec.health = Some("not deployed".into());
        }
        tracing::info!(instance = %inst.name, "{}", describe(&outcome));
        report.outcomes.push((inst.name.clone(), outcome));
    }

    let draining = opts
        .drain
        .as_ref()
        .is_some_and(|d| d.load(Ordering::SeqCst));
    if !draining {
        prune(driver, plan, state, &mut journal, opts.purge, &mut report)?;
        journal.order = plan.instances.iter().map(|i| i.name.clone()).collect();
    }
    journal.last_apply = Some(Utc::now());
    journal.set_error(report.first_problem());
    state.save(&journal)?;
    Ok(report)
}

/// Errors about the state dir itself (journal, lock) abort the apply; others
/// fail one instance.
fn is_state_error(e: &Error, state: &EnvDir) -> bool {
    match e {
        Error::Io { path, .. } => path.parent() == Some(state.path.as_path()),
        Error::JournalFormat { .. } | Error::Locked { .. } => true,
        _ => false,
    }
}

/// The units of instance `name` the driver lists.
fn units_of(driver: &mut dyn Driver, name: &str) -> Result<Vec<Unit>, Error> {
    Ok(driver
        .units()?
        .into_iter()
        .filter(|u| u.instance == name)
        .collect())
}

struct Converge<'a> {
    driver: &'a mut dyn Driver,
    state: &'a EnvDir,
    journal: &'a mut super::Journal,
    opts: &'a ApplyOptions,
}

impl Converge<'_> {
    fn instance(&mut self, wanted: &PlannedInstance, units: Vec<Unit>) -> Result<Outcome, Error> {
        let rec = self.journal.record(&wanted.name).clone();
        let good = rec.good.clone();
        let good_spec = good.as_ref().map(spec_hash);
        let wanted_spec = spec_hash(wanted);
        let (target, held) = match &good {
            Some(g) if g.version != wanted.version && rec.bad_versions.contains_key(&wanted.version) => {
                (g.clone(), Some(format!("{} is marked bad ({})", wanted.version, rec.bad_versions[&wanted.version])))
            }
            None if rec.bad_versions.contains_key(&wanted.version) => {
                return Ok(Outcome::Failed {
                    reason: format!(
                        "{} is marked bad ({}) and no earlier version is deployed; waiting for a newer version (hint: `hsp-agent retry ENV {}@{}` clears the mark)",
                        wanted.version, rec.bad_versions[&wanted.version], wanted.service, wanted.version
                    ),
                })
            }
            _ if self.opts.backoff && waiting(&rec, wanted).is_some() => {
                let retry = waiting(&rec, wanted).expect("checked");
                let reason = format!(
                    "retrying {} after {} (attempt {} failed: {})",
                    wanted.version,
                    retry.next.format("%Y-%m-%d %H:%M:%S UTC"),
                    retry.attempts,
                    retry.cause
                );
                match &good {
                    Some(g) => (g.clone(), Some(reason)),
                    None => return Ok(Outcome::Skipped { reason }),
                }
            }
            Some(g) if self.opts.hold_updates && good_spec.as_deref() != Some(wanted_spec.as_str()) => {
                (g.clone(), Some("outside the update window".to_string()))
            }
            _ => (wanted.clone(), None),
        };
        let tspec = spec_hash(&target);
        let is_new = good_spec.as_deref() != Some(tspec.as_str());
        if is_new {
            self.journal.record(&wanted.name).service = Some(target.service.clone());
            self.journal.record(&wanted.name).attempt = Some(Attempt {
                version: target.version.clone(),
                spec: tspec.clone(),
                started: Utc::now(),
            });
            self.state.save(self.journal)?;
            tracing::info!(instance = %target.name, version = %target.version, "rolling out");
        }

        match self.bring_up(&target, &tspec, &units) {
            Ok(restarted) => {
                self.driver.activate(&target)?;
                let rec = self.journal.record(&wanted.name);
                rec.good = Some(target.clone());
                rec.attempt = None;
                if held.is_none() {
                    rec.retry = None;
                }
                rec.health = Some("healthy".into());
                self.state.save(self.journal)?;
                self.stop_others(&target, &tspec)?;
                Ok(match held {
                    Some(reason) => Outcome::Held {
                        version: target.version.clone(),
                        wanted: wanted.version.clone(),
                        reason,
                    },
                    None if is_new => Outcome::Deployed {
                        version: target.version.clone(),
                        from: good.map(|g| g.version),
                    },
                    // Same spec, new env (a secret file's content changed).
                    None if restarted => Outcome::Deployed {
                        version: target.version.clone(),
                        from: Some(target.version.clone()),
                    },
                    None => Outcome::Unchanged {
                        version: target.version.clone(),
                    },
                })
            }
            Err(BringUp::Bad(reason)) => {
                tracing::warn!(instance = %target.name, version = %target.version, "{reason}");
                self.stop_spec(&target, &tspec)?;
                let rec = self.journal.record(&wanted.name);
                rec.attempt = None;
                let version_changed = good.as_ref().is_none_or(|g| g.version != target.version);
                if is_new && version_changed {
                    rec.bad_versions
                        .insert(target.version.clone(), reason.clone());
                    rec.retry = None;
                }
                rec.health = Some(reason.clone());
                self.state.save(self.journal)?;
                let Some(g) = good.filter(|_| is_new) else {
                    return Ok(Outcome::Failed {
                        reason: format!("{} failed: {reason}", target.version),
                    });
                };
                // Roll back to the last good spec: whatever still runs of it is kept.
                let gspec = spec_hash(&g);
                let units = units_of(self.driver, &g.name)?;
                self.driver.prepare(&g)?;
                match self.bring_up(&g, &gspec, &units) {
                    Ok(_) => {
                        self.driver.activate(&g)?;
                        self.journal.record(&g.name).health = Some("healthy".into());
                        self.state.save(self.journal)?;
                        self.stop_others(&g, &gspec)?;
                        if version_changed {
                            Ok(Outcome::RolledBack {
                                bad: target.version.clone(),
                                kept: Some(g.version.clone()),
                                reason,
                            })
                        } else {
                            Ok(Outcome::Failed {
                                reason: format!(
                                    "the new spec of {} failed ({reason}); the previous one runs",
                                    g.version
                                ),
                            })
                        }
                    }
                    Err(BringUp::Bad(r2)) => Ok(Outcome::Failed {
                        reason: format!(
                            "{} failed ({reason}) and rolling back to {} failed too: {r2}",
                            target.version, g.version
                        ),
                    }),
                    Err(BringUp::Error(e)) => Err(e),
                }
            }
            Err(BringUp::Error(e)) if is_state_error(&e, self.state) => Err(e),
            Err(BringUp::Error(e)) => self.retry_later(wanted, &target, &tspec, is_new, good, e),
        }
    }

    /// A rollout failed through no fault of the release (a port in use, a
    /// download, the engine, the disk): nothing is marked bad, the failure is
    /// recorded with its cause for the next apply (and `run`'s backoff), and
    /// the last good spec is brought back if the new one had replaced it.
    fn retry_later(
        &mut self,
        wanted: &PlannedInstance,
        target: &PlannedInstance,
        tspec: &str,
        is_new: bool,
        good: Option<PlannedInstance>,
        e: Error,
    ) -> Result<Outcome, Error> {
        let cause = chain(&e);
        tracing::warn!(instance = %target.name, version = %target.version, "not the release's fault; retried later: {cause}");
        if !is_new {
            // The spec that runs already is kept as it is; its missing units
            // are started by the next apply.
            return Err(e);
        }
        self.stop_spec(target, tspec)?;
        let now = Utc::now();
        let rec = self.journal.record(&wanted.name);
        rec.attempt = None;
        let attempts = match &rec.retry {
            Some(r) if r.version == target.version => r.attempts + 1,
            _ => 1,
        };
        rec.retry = Some(Retry {
            version: target.version.clone(),
            attempts,
            cause: cause.clone(),
            failed: now,
            next: now
                + chrono::Duration::from_std(schedule::retry_delay(attempts)).unwrap_or_default(),
        });
        self.state.save(self.journal)?;
        let mut kept = None;
        if let Some(g) = good {
            // Whatever was stopped for the new spec comes back, unmarked.
            let gspec = spec_hash(&g);
            let units = units_of(self.driver, &g.name)?;
            match self.bring_up(&g, &gspec, &units) {
                Ok(_) => {
                    self.driver.activate(&g)?;
                    self.journal.record(&g.name).health = Some("healthy".into());
                    self.state.save(self.journal)?;
                    self.stop_others(&g, &gspec)?;
                    kept = Some(g.version.clone());
                }
                Err(BringUp::Bad(r2)) => {
                    return Ok(Outcome::Failed {
                        reason: format!(
                            "{} could not be deployed ({cause}) and bringing back {} failed: {r2}",
                            target.version, g.version
                        ),
                    })
                }
                Err(BringUp::Error(e2)) => return Err(e2),
            }
        }
        Ok(Outcome::Retrying {
            version: target.version.clone(),
            kept,
            reason: cause,
            attempts,
        })
    }

    /// Makes every unit of `target` run and be healthy. Units of other specs are
    /// left running unless the driver cannot overlap them. Returns whether a
    /// running unit of the target spec was restarted because its env changed
    /// (a secret file's content).
    fn bring_up(
        &mut self,
        target: &PlannedInstance,
        tspec: &str,
        units: &[Unit],
    ) -> Result<bool, BringUp> {
        self.driver
            .prepare(target)
            .map_err(|e| match e.is_bad_release() {
                true => BringUp::Bad(format!("refused: {e}")),
                false => BringUp::Error(e),
            })?;
        let mut envs = std::collections::HashMap::new();
        for t in &target.tasks {
            let env = secrets::render_env(&self.state.path, t)?;
            let hash = secrets::env_hash(&self.state.path, &env)?;
            envs.insert(t.name.clone(), (env, hash));
        }
        let mut restarted = false;
        let mut wanted: Vec<(&PlannedTask, u32)> = Vec::new();
        for t in &target.tasks {
            for r in 0..replicas(self.driver, self.journal, &target.name, t) {
                wanted.push((t, r));
            }
        }
        // Stale units of the target spec (exited, duplicate, or extra replicas) go first.
        let mut running: HashSet<(String, u32)> = HashSet::new();
        for u in units.iter().filter(|u| u.spec == tspec) {
            let desired = wanted
                .iter()
                .any(|(t, r)| t.name == u.task && *r == u.replica);
            let same_env = envs
                .get(&u.task)
                .is_some_and(|(_, h)| u.env_hash.as_ref() == Some(h));
            if u.running && desired && same_env && running.insert((u.task.clone(), u.replica)) {
                continue;
            }
            let timeout = if u.running && desired && !same_env {
                tracing::info!(unit = %u.name, "its env changed (a secret?); restarting");
                restarted = true;
                stop_timeout(self.journal, u)
            } else if u.running && !desired {
                // An extra replica (scaled down): stopped gracefully.
                tracing::info!(unit = %u.name, "stopping an extra replica");
                stop_timeout(self.journal, u)
            } else {
                0
            };
            self.driver.stop(u, timeout)?;
        }
        let missing: Vec<(&PlannedTask, u32)> = wanted
            .iter()
            .copied()
            .filter(|(t, r)| !running.contains(&(t.name.clone(), *r)))
            .collect();
        // Two versions never share a volume (a database would not survive it),
        // and some targets cannot run two versions side by side at all.
        let overlap =
            self.driver.overlap(target) && target.tasks.iter().all(|t| t.volumes.is_empty());
        if !missing.is_empty() && !overlap {
            for u in units.iter().filter(|u| u.spec != tspec).rev() {
                let timeout = stop_timeout(self.journal, u);
                self.driver.stop(u, timeout)?;
            }
        }
        for (task, replica) in &missing {
            let (env, hash) = &envs[&task.name];
            let spec = UnitSpec {
                environment: &self.state.environment,
                instance: target,
                task,
                replica: *replica,
                spec: tspec,
                env: env.clone(),
                env_hash: hash,
            };
            tracing::info!(instance = %target.name, task = %task.name, replica, version = %target.version, "starting");
            self.driver.start(&spec)?;
        }
        self.wait_healthy(target, tspec, &wanted)?;
        Ok(restarted)
    }

    fn wait_healthy(
        &mut self,
        target: &PlannedInstance,
        tspec: &str,
        wanted: &[(&PlannedTask, u32)],
    ) -> Result<(), BringUp> {
        let started = Instant::now();
        let deadline = wanted
            .iter()
            .map(|(t, _)| health::deadline(t))
            .max()
            .unwrap_or_default();
        let poll = wanted
            .iter()
            .map(|(t, _)| health::poll_interval(t))
            .min()
            .unwrap_or(Duration::from_millis(200));
        let mut envs = std::collections::HashMap::new();
        for (t, _) in wanted {
            envs.entry(t.name.clone())
                .or_insert(secrets::render_env(&self.state.path, t)?);
        }
        let mut ok: HashSet<(String, u32)> = HashSet::new();
        let mut last = String::from("no probe ran");
        loop {
            let units: Vec<Unit> = self
                .driver
                .units()?
                .into_iter()
                .filter(|u| u.instance == target.name && u.spec == tspec)
                .collect();
            for (task, replica) in wanted {
                let key = (task.name.clone(), *replica);
                if ok.contains(&key) {
                    continue;
                }
                let Some(unit) = units
                    .iter()
                    .find(|u| u.task == task.name && u.replica == *replica)
                else {
                    last = format!("{}-{} replica {replica} is gone", target.name, task.name);
                    continue;
                };
                let probe = if task.health.is_none() && started.elapsed() < health::deadline(task) {
                    Probe::Unhealthy("not running long enough yet".into())
                } else {
                    self.driver.probe(unit, task, &envs[&task.name])
                };
                match probe {
                    Probe::Healthy => {
                        ok.insert(key);
                    }
                    Probe::Unhealthy(m) | Probe::Exited(m) => last = format!("{}: {m}", unit.name),
                }
            }
            if ok.len() == wanted.len() {
                return Ok(());
            }
            if started.elapsed() >= deadline {
                return Err(BringUp::Bad(format!(
                    "unhealthy: not healthy within {}s: {last}",
                    deadline.as_secs()
                )));
            }
            std::thread::sleep(poll);
        }
    }

    fn stop_spec(&mut self, inst: &PlannedInstance, spec: &str) -> Result<(), Error> {
        let units = self.driver.units()?;
        for u in units
            .iter()
            .filter(|u| u.instance == inst.name && u.spec == spec)
            .rev()
        {
            self.driver.stop(u, stop_timeout(self.journal, u))?;
        }
        Ok(())
    }

    fn stop_others(&mut self, inst: &PlannedInstance, keep: &str) -> Result<(), Error> {
        let units = self.driver.units()?;
        for u in units
            .iter()
            .filter(|u| u.instance == inst.name && u.spec != keep)
            .rev()
        {
            self.driver.stop(u, stop_timeout(self.journal, u))?;
        }
        Ok(())
    }
}

/// The retry `run` waits for before trying `wanted` again, if its backoff
/// has not run out.
fn waiting<'r>(
    rec: &'r super::journal::InstanceRecord,
    wanted: &PlannedInstance,
) -> Option<&'r Retry> {
    rec.retry
        .as_ref()
        .filter(|r| r.version == wanted.version && r.next > Utc::now())
}

/// How many replicas of `task` of `instance` run: its `instances.min`, or
/// what the scaler set (within min and max), as far as the driver can run
/// them.
pub fn replicas(
    driver: &dyn Driver,
    journal: &super::Journal,
    instance: &str,
    task: &PlannedTask,
) -> u32 {
    let min = task.instances.min.max(1);
    let max = task.instances.max.max(min);
    let scaled = journal
        .instances
        .get(instance)
        .and_then(|r| r.scale.get(&task.name))
        .map_or(min, |s| s.replicas.clamp(min, max));
    let mut t = task.clone();
    t.instances.min = scaled;
    driver.replicas(&t)
}

/// Brings the running spec of `instance` (its last good one) to the replica
/// counts the journal holds now: starts the missing replicas and waits until
/// they are healthy, stops the extra ones (highest first). What the scaler
/// runs after it changed a count.
pub fn rescale(driver: &mut dyn Driver, state: &EnvDir, instance: &str) -> Result<(), Error> {
    let mut journal = state.load()?;
    let Some(good) = journal.instances.get(instance).and_then(|r| r.good.clone()) else {
        return Ok(());
    };
    let spec = spec_hash(&good);
    let units = units_of(driver, instance)?;
    let opts = ApplyOptions::default();
    let mut c = Converge {
        driver,
        state,
        journal: &mut journal,
        opts: &opts,
    };
    let result = c.bring_up(&good, &spec, &units);
    state.save(&journal)?;
    match result {
        Ok(_) => Ok(()),
        Err(BringUp::Error(e)) => Err(e),
        Err(BringUp::Bad(why)) => Err(Error::Scale {
            instance: instance.to_string(),
            why,
        }),
    }
}

fn stop_timeout(journal: &super::Journal, u: &Unit) -> u32 {
    journal
        .instances
        .get(&u.instance)
        .and_then(|r| r.good.as_ref())
        .and_then(|g| g.tasks.iter().find(|t| t.name == u.task))
        .map_or(10, |t| t.stop_timeout_s.min(15))
}

/// Why bringing a spec up stopped.
enum BringUp {
    /// The release itself is at fault (unhealthy, or its artifact refused): the
    /// version is marked bad with this cause and the last good one comes back.
    Bad(String),
    /// Anything else (the driver, the network, the disk): reported, nothing marked.
    Error(Error),
}

impl From<Error> for BringUp {
    fn from(e: Error) -> Self {
        BringUp::Error(e)
    }
}
