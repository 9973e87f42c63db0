//! A validation report: what `hsp validate` found running one service
//! version on the real engine, rule by rule, each with its evidence (a log
//! line, a time, a figure). The JSON form is `schemas/validation.schema.json`.
//!
//! A registry keeps reports at `validations/<service>/<version>.json`
//! ([`repo_path`]); `hsp build` publishes each, registry-signed, at
//! [`crate::api::validation_path`].

/// Folder of a registry repo holding validation reports.
pub const VALIDATIONS_DIR: &str = "validations";

/// Where a registry repo keeps the report of one version.
pub fn repo_path(service: &str, version: &str) -> String {
    format!("{VALIDATIONS_DIR}/{service}/{version}.json")
}

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The report of one validation run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Service id.
    pub service: String,
    pub version: String,
    /// Hex sha256 of the document's bytes as validated: a report stands for
    /// those bytes only.
    pub document_sha256: String,
    /// When the run started (RFC 3339).
    pub validated_at: String,
    /// The engine it ran on, e.g. `docker 28.2.2`.
    pub engine: String,
    /// Every rule, in the order they ran.
    pub rules: Vec<RuleResult>,
}

impl Report {
    /// No rule failed (warnings and rules not run because an earlier one
    /// failed do not pass a report: see [`Report::passed`]).
    pub fn failures(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| r.outcome == Outcome::Fail)
            .count()
    }

    /// Every rule ran and none failed.
    pub fn passed(&self) -> bool {
        self.rules
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Pass | Outcome::Warn))
    }

    /// Rules that passed (warnings included), of all rules.
    pub fn score(&self) -> (usize, usize) {
        let ok = self
            .rules
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Pass | Outcome::Warn))
            .count();
        (ok, self.rules.len())
    }
}

/// One rule's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleResult {
    /// Stable id, e.g. `healthy` (the packaging guide lists them).
    pub rule: String,
    /// The task it is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Where it ran: the Docker engine (the image; left out), or this host's
    /// processes (a bare-metal artifact, run by the host driver).
    #[serde(default, skip_serializing_if = "Target::is_docker")]
    pub target: Target,
    pub outcome: Outcome,
    /// What was seen: the figure, the time, the log line, the file.
    pub evidence: String,
}

/// Where a rule ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    #[default]
    Docker,
    Host,
}

impl Target {
    pub fn is_docker(&self) -> bool {
        *self == Target::Docker
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::Docker => "docker",
            Target::Host => "host",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// Passes, with a finding the publisher should fix.
    Warn,
    Fail,
    /// Not run, because a rule it needs failed (the evidence says which).
    NotRun,
}
