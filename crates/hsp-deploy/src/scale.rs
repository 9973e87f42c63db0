//! Scaling tasks between `instances.min` and `instances.max` on load.
//!
//! A step samples the CPU time of every running replica of each scalable task
//! (`max > min`) twice, `sample` apart, and compares the mean use per replica
//! with the task's CPU share (`cpus`, one core when unset) against the target
//! utilization, as Kubernetes' HorizontalPodAutoscaler does (and with the same
//! target as the HPA the exports write, [`TARGET_UTILIZATION`]):
//!
//! ```text
//! desired = ceil(replicas * utilization / target), within [min, max]
//! ```
//!
//! Hysteresis: no change while the ratio is within [`TOLERANCE`] of 1. Up at
//! once, at most one step per `up_cooldown`; down only when the load has asked
//! for fewer replicas for `down_after` without a break, one replica at a time.
//! Each change is recorded in the journal (`scale`, with its reason), logged,
//! and carried out by [`crate::rollout::rescale`]: new replicas are
//! health-gated, extra ones stopped gracefully; every later rollout keeps the
//! count.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hsp_index::plan::PlannedTask;

use crate::journal::Scaled;
use crate::{rollout, spec_hash, Driver, EnvDir, Error, Unit};

/// The mean CPU use per replica, as a share of its `cpus`, that scaling aims
/// at (the exports' HPA `averageUtilization`, 80).
pub const TARGET_UTILIZATION: f64 = 0.8;
/// No change while `utilization / target` is within this of 1 (the HPA's
/// default tolerance).
pub const TOLERANCE: f64 = 0.1;

#[derive(Clone, Debug)]
pub struct Policy {
    /// Between the two CPU samples of a step.
    pub sample: Duration,
    /// No scale-up sooner than this after the last change.
    pub up_cooldown: Duration,
    /// How long the load must ask for fewer replicas before one is stopped.
    pub down_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            sample: Duration::from_secs(5),
            up_cooldown: Duration::from_secs(30),
            down_after: Duration::from_secs(300),
        }
    }
}

/// One change a step made.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub instance: String,
    pub task: String,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

/// The replica count the load asks for (the HPA rule, within min and max).
pub fn desired(current: u32, min: u32, max: u32, utilization: f64) -> u32 {
    let ratio = utilization / TARGET_UTILIZATION;
    if (ratio - 1.0).abs() <= TOLERANCE {
        return current.clamp(min, max);
    }
    let want = (f64::from(current) * ratio).ceil();
    (want.clamp(0.0, f64::from(u32::MAX)) as u32).clamp(min, max)
}

/// What to do with a task now: the new count, or `None`; updates `low_since`.
pub fn decide(
    scaled: &mut Option<Scaled>,
    current: u32,
    (min, max): (u32, u32),
    utilization: f64,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Option<u32> {
    let want = desired(current, min, max, utilization);
    let last = scaled.as_ref().map(|s| s.at);
    let since = |t: Option<DateTime<Utc>>, d: Duration| {
        t.is_none_or(|t| now - t >= chrono::Duration::from_std(d).unwrap_or_default())
    };
    if want > current {
        if let Some(s) = scaled.as_mut() {
            s.low_since = None;
        }
        return since(last, policy.up_cooldown).then_some(want);
    }
    if want < current {
        let low_since = scaled.as_ref().and_then(|s| s.low_since);
        match low_since {
            Some(t) if since(Some(t), policy.down_after) => return Some(current - 1),
            Some(_) => {}
            None => {
                let s = scaled.get_or_insert(Scaled {
                    replicas: current,
                    at: now,
                    reason: String::new(),
                    low_since: None,
                });
                s.low_since = Some(now);
                if policy.down_after.is_zero() {
                    return Some(current - 1);
                }
            }
        }
        return None;
    }
    if let Some(s) = scaled.as_mut() {
        s.low_since = None;
    }
    None
}

/// One scaling step over every deployed instance of the environment.
pub fn step(
    driver: &mut dyn Driver,
    state: &EnvDir,
    policy: &Policy,
) -> Result<Vec<Change>, Error> {
    let journal = state.load()?;
    // The scalable tasks of the running (last good) specs and their replicas.
    let mut tasks: Vec<(String, PlannedTask, Vec<Unit>)> = Vec::new();
    let units = driver.units()?;
    for name in &journal.order {
        let Some(good) = journal.instances.get(name).and_then(|r| r.good.as_ref()) else {
            continue;
        };
        let spec = spec_hash(good);
        for t in good
            .tasks
            .iter()
            .filter(|t| t.instances.max > t.instances.min.max(1))
        {
            let mine: Vec<Unit> = units
                .iter()
                .filter(|u| u.instance == *name && u.task == t.name && u.spec == spec && u.running)
                .cloned()
                .collect();
            if !mine.is_empty() {
                tasks.push((name.clone(), t.clone(), mine));
            }
        }
    }
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let sample = |driver: &mut dyn Driver| -> Vec<Vec<Option<f64>>> {
        tasks
            .iter()
            .map(|(_, _, us)| us.iter().map(|u| driver.cpu_seconds(u)).collect())
            .collect()
    };
    let first = sample(driver);
    let started = std::time::Instant::now();
    std::thread::sleep(policy.sample);
    let second = sample(driver);
    let elapsed = started.elapsed().as_secs_f64().max(0.001);

    let mut journal = state.load()?;
    let now = Utc::now();
    let mut changes = Vec::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for (i, (instance, task, replicas)) in tasks.iter().enumerate() {
        let used: Vec<f64> = first[i]
            .iter()
            .zip(&second[i])
            .filter_map(|(a, b)| Some((b.as_ref()? - a.as_ref()?).max(0.0)))
            .collect();
        if used.is_empty() {
            tracing::debug!(instance = %instance, task = %task.name, "no CPU figure; not scaled");
            continue;
        }
        let share = task.cpus.filter(|c| *c > 0.0).unwrap_or(1.0);
        let utilization = used.iter().sum::<f64>() / elapsed / used.len() as f64 / share;
        let current = replicas.len() as u32;
        let min = task.instances.min.max(1);
        // As many as the driver can run (a host task with fixed ports: one).
        let mut most = task.clone();
        most.instances.min = task.instances.max.max(min);
        let max = driver.replicas(&most).max(min);
        if max <= min {
            continue;
        }
        let Some(rec) = journal.instances.get_mut(instance) else {
            continue;
        };
        let mut scaled = rec.scale.get(&task.name).cloned();
        let decision = decide(&mut scaled, current, (min, max), utilization, now, policy);
        let reason = format!(
            "cpu {:.0}% of {share} cpus per replica (target {:.0}%)",
            utilization * 100.0,
            TARGET_UTILIZATION * 100.0
        );
        if let Some(to) = decision.filter(|to| *to != current) {
            tracing::info!(instance = %instance, task = %task.name, from = current, to, "scaling: {reason}");
            scaled = Some(Scaled {
                replicas: to,
                at: now,
                reason: format!("{reason}: {current} -> {to}"),
                low_since: None,
            });
            changes.push(Change {
                instance: instance.clone(),
                task: task.name.clone(),
                from: current,
                to,
                reason,
            });
            touched.insert(instance.clone());
        }
        match scaled {
            Some(s) => {
                rec.scale.insert(task.name.clone(), s);
            }
            None => {
                rec.scale.remove(&task.name);
            }
        }
    }
    state.save(&journal)?;
    for instance in &touched {
        if let Err(e) = rollout::rescale(driver, state, instance) {
            // Back to the count that ran: the new replicas go again.
            tracing::warn!(instance = %instance, "scaling failed; back to the running count: {e}");
            let mut journal = state.load()?;
            for c in changes.iter().filter(|c| &c.instance == instance) {
                if let Some(s) = journal
                    .instances
                    .get_mut(instance)
                    .and_then(|r| r.scale.get_mut(&c.task))
                {
                    s.replicas = c.from;
                    s.reason = format!("{e}");
                }
            }
            state.save(&journal)?;
            rollout::rescale(driver, state, instance)?;
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            sample: Duration::from_millis(1),
            up_cooldown: Duration::from_secs(30),
            down_after: Duration::from_secs(120),
        }
    }

    #[test]
    fn the_hpa_rule_within_min_and_max() {
        assert_eq!(desired(1, 1, 4, 1.0), 2); // 1 * 1.0 / 0.8 = 1.25 -> 2
        assert_eq!(desired(2, 1, 4, 1.0), 3);
        assert_eq!(desired(3, 1, 4, 1.0), 4);
        assert_eq!(desired(4, 1, 4, 1.0), 4); // max
        assert_eq!(desired(4, 1, 4, 0.1), 1); // ceil(0.5)
        assert_eq!(desired(4, 2, 4, 0.0), 2); // min
                                              // Within the tolerance: unchanged.
        assert_eq!(desired(3, 1, 4, 0.85), 3);
        assert_eq!(desired(3, 1, 4, 0.75), 3);
    }

    #[test]
    fn up_at_once_then_a_cooldown() {
        let t0 = Utc::now();
        let mut s = None;
        assert_eq!(decide(&mut s, 1, (1, 4), 1.0, t0, &policy()), Some(2));
        s = Some(Scaled {
            replicas: 2,
            at: t0,
            reason: String::new(),
            low_since: None,
        });
        let soon = t0 + chrono::Duration::seconds(10);
        assert_eq!(decide(&mut s, 2, (1, 4), 1.0, soon, &policy()), None);
        let later = t0 + chrono::Duration::seconds(31);
        assert_eq!(decide(&mut s, 2, (1, 4), 1.0, later, &policy()), Some(3));
    }

    #[test]
    fn down_only_after_the_load_stayed_low_one_at_a_time() {
        let t0 = Utc::now();
        let mut s = None;
        assert_eq!(decide(&mut s, 3, (1, 4), 0.0, t0, &policy()), None);
        assert_eq!(s.as_ref().unwrap().low_since, Some(t0));
        let t1 = t0 + chrono::Duration::seconds(60);
        assert_eq!(decide(&mut s, 3, (1, 4), 0.0, t1, &policy()), None);
        // A busy moment resets the wait.
        assert_eq!(decide(&mut s, 3, (1, 4), 0.8, t1, &policy()), None);
        assert_eq!(s.as_ref().unwrap().low_since, None);
        let t2 = t1 + chrono::Duration::seconds(1);
        assert_eq!(decide(&mut s, 3, (1, 4), 0.0, t2, &policy()), None);
        let t3 = t2 + chrono::Duration::seconds(121);
        assert_eq!(decide(&mut s, 3, (1, 4), 0.0, t3, &policy()), Some(2));
    }

    #[test]
    fn nothing_below_min_or_above_max() {
        let t0 = Utc::now();
        let mut s = None;
        assert_eq!(decide(&mut s, 4, (1, 4), 5.0, t0, &policy()), None);
        let mut s = None;
        let p = Policy {
            down_after: Duration::ZERO,
            ..policy()
        };
        assert_eq!(decide(&mut s, 2, (2, 4), 0.0, t0, &p), None);
        assert_eq!(decide(&mut s, 3, (2, 4), 0.0, t0, &p), Some(2));
    }
}
