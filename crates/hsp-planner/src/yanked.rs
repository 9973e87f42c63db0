//! Deployed releases that were yanked since: the planner keeps them (a yanked
//! release is chosen only when it is the one deployed), and `plan` and
//! `status` say so, with the newest release that could replace it.

use std::fmt;

use hsp_index::version::{parse_range, parse_version};
use hsp_index::{Environment, Plan};
use serde::Serialize;

use super::deployed::Deployed;
use super::solve::{Pkg, Reason, Solver};
use super::source::IndexSource;
use super::{PlanError, PlanOptions};

/// A planned instance whose release is yanked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Yanked {
    pub instance: String,
    pub service: String,
    pub version: String,
    /// Why it was yanked; empty when the index gives no reason.
    pub reason: String,
    /// The newest other release policy allows (licence, not yanked, not
    /// marked bad, deployable on the target, in the wanted range), if any.
    pub replacement: Option<String>,
    /// Why the plan does not move to `replacement` (the update mode, ...).
    pub not_chosen: Option<String>,
}

impl fmt::Display for Yanked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is yanked", self.version)?;
        if !self.reason.is_empty() {
            write!(f, " ({})", self.reason)?;
        }
        match (&self.replacement, &self.not_chosen) {
            (Some(r), Some(why)) => {
                write!(f, "; newest allowed replacement: {r} (not chosen: {why})")
            }
            (Some(r), None) => write!(f, "; newest allowed replacement: {r}"),
            (None, _) => f.write_str(
                "; no allowed replacement: every other release is yanked, not allowed by the policy, marked bad or outside the wanted range",
            ),
        }
    }
}

/// The instances of `plan` (planned from `env`, `index` and `deployed`)
/// whose release is yanked.
pub fn yanked(
    env: &Environment,
    index: &dyn IndexSource,
    deployed: &Deployed,
    options: &PlanOptions,
    plan: &Plan,
) -> Result<Vec<Yanked>, PlanError> {
    let solver = Solver::new(index, env, deployed, options);
    let mut out = Vec::new();
    for inst in &plan.instances {
        let Some(service) = solver
            .service(&inst.service)
            .map_err(|e| PlanError::Source(e.0))?
        else {
            continue;
        };
        let Ok(v) = parse_version(&inst.version) else {
            continue;
        };
        let Some(reason) = service.entry(&v).and_then(|e| e.yanked.clone()) else {
            continue;
        };
        // The instance's own marks and update window are its name's; a
        // dedicated instance is judged as its service's shared one.
        let pkg = Pkg::Shared(inst.service.as_str().into());
        let range = match (&inst.dedicated_to, solver.wanted(&inst.service)) {
            (None, Some(w)) => parse_range(&w.version).ok(),
            _ => None,
        };
        let mut replacement = None;
        for (u, i) in &service.versions {
            if *u == v || range.as_ref().is_some_and(|r| !r.matches(u)) {
                continue;
            }
            match solver.unavailable(&pkg, &service.index.versions[*i], u) {
                None if *u > v => {
                    replacement = Some((u, Some("it does not fit the rest of the plan".into())))
                }
                None => {
                    replacement = Some((
                        u,
                        Some(format!(
                            "it is older than the deployed {v}; pin it in the environment to move to it"
                        )),
                    ))
                }
                Some(r @ Reason::Window { .. }) => replacement = Some((u, Some(r.to_string()))),
                Some(_) => continue,
            }
            break;
        }
        out.push(Yanked {
            instance: inst.name.clone(),
            service: inst.service.clone(),
            version: inst.version.clone(),
            reason,
            not_chosen: replacement.as_ref().and_then(|(_, n)| n.clone()),
            replacement: replacement.map(|(u, _)| u.to_string()),
        });
    }
    Ok(out)
}
