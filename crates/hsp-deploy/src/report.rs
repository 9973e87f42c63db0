//! What an apply did: one [`Outcome`] per instance, and the one-line
//! descriptions the CLI prints.

use serde::Serialize;

/// What happened to one instance.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Unchanged {
        version: String,
    },
    Deployed {
        version: String,
        from: Option<String>,
    },
    /// The planned version was unhealthy: it is marked bad and `kept` runs.
    RolledBack {
        bad: String,
        kept: Option<String>,
        reason: String,
    },
    /// `version` could not be deployed for a reason outside the release (a
    /// host port in use, a download or pull, the disk, the engine): nothing is
    /// marked bad, `kept` runs, and the next apply tries again.
    Retrying {
        version: String,
        kept: Option<String>,
        reason: String,
        /// Failed attempts in a row at this version.
        attempts: u32,
    },
    /// The planned version was not tried: `reason` (marked bad, update window).
    Held {
        version: String,
        wanted: String,
        reason: String,
    },
    Failed {
        reason: String,
    },
    Skipped {
        reason: String,
    },
    /// `version` is what ran, or was being rolled out; `None` when no
    /// version of it ever started (its first install failed or was skipped).
    Pruned {
        version: Option<String>,
        purged: bool,
    },
    /// The kept volumes of an instance pruned by an earlier apply were deleted.
    Purged {
        version: String,
    },
}

impl Outcome {
    /// Whether the instance ended where the plan wanted it.
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            Outcome::Unchanged { .. }
                | Outcome::Deployed { .. }
                | Outcome::Pruned { .. }
                | Outcome::Purged { .. }
        )
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub environment: String,
    pub outcomes: Vec<(String, Outcome)>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.outcomes.iter().all(|(_, o)| o.is_ok())
    }

    /// The first problem, as one line.
    pub fn first_problem(&self) -> Option<String> {
        self.outcomes
            .iter()
            .find(|(_, o)| !o.is_ok())
            .map(|(name, o)| format!("{name}: {}", describe(o)))
    }
}

/// One line per outcome, for the CLI.
pub fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Unchanged { version } => format!("{version} unchanged, healthy"),
        Outcome::Deployed {
            version,
            from: Some(f),
        } if f == version => format!("reconfigured {version}, healthy"),
        Outcome::Deployed {
            version,
            from: Some(f),
        } => format!("upgraded {f} -> {version}, healthy"),
        Outcome::Deployed {
            version,
            from: None,
        } => format!("deployed {version}, healthy"),
        Outcome::RolledBack {
            bad,
            kept: Some(k),
            reason,
        } => {
            format!("{bad} failed ({reason}); rolled back to {k}; {bad} is marked bad")
        }
        Outcome::RolledBack {
            bad,
            kept: None,
            reason,
        } => format!("{bad} failed ({reason}); marked bad"),
        Outcome::Retrying {
            version,
            kept,
            reason,
            attempts,
        } => {
            let kept = kept
                .as_ref()
                .map(|k| format!("{k} keeps running; "))
                .unwrap_or_default();
            format!(
                "{version} not deployed ({reason}); {kept}not marked bad, the next apply tries again (attempt {attempts})"
            )
        }
        Outcome::Held {
            version,
            wanted,
            reason,
        } => format!("kept {version} instead of {wanted}: {reason}"),
        Outcome::Failed { reason } => format!("failed: {reason}"),
        Outcome::Skipped { reason } => format!("skipped: {reason}"),
        Outcome::Pruned {
            version: Some(version),
            purged: true,
        } => format!("removed {version} and its volumes"),
        Outcome::Pruned {
            version: Some(version),
            purged: false,
        } => format!("removed {version} (volumes kept; `apply --purge` deletes them)"),
        Outcome::Pruned {
            version: None,
            purged: true,
        } => "removed with its volumes (no version of it had started)".to_string(),
        Outcome::Pruned {
            version: None,
            purged: false,
        } => "removed (no version of it had started; volumes kept; `apply --purge` deletes them)"
            .to_string(),
        Outcome::Purged { version } => {
            format!("deleted the volumes {version} left when it was removed earlier")
        }
    }
}

/// The error and its sources on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_in_one_line() {
        let v = |s: &str| s.to_string();
        for (o, want, ok) in [
            (
                Outcome::Unchanged {
                    version: v("1.0.0"),
                },
                "1.0.0 unchanged, healthy",
                true,
            ),
            (
                Outcome::Deployed {
                    version: v("1.0.0"),
                    from: Some(v("1.0.0")),
                },
                "reconfigured 1.0.0, healthy",
                true,
            ),
            (
                Outcome::Deployed {
                    version: v("1.1.0"),
                    from: Some(v("1.0.0")),
                },
                "upgraded 1.0.0 -> 1.1.0, healthy",
                true,
            ),
            (
                Outcome::Pruned {
                    version: Some(v("14.0.0")),
                    purged: false,
                },
                "removed 14.0.0 (volumes kept; `apply --purge` deletes them)",
                true,
            ),
            (
                Outcome::Pruned {
                    version: Some(v("14.0.0")),
                    purged: true,
                },
                "removed 14.0.0 and its volumes",
                true,
            ),
            (
                Outcome::Pruned {
                    version: None,
                    purged: true,
                },
                "removed with its volumes (no version of it had started)",
                true,
            ),
            (
                Outcome::Purged {
                    version: v("14.0.0"),
                },
                "deleted the volumes 14.0.0 left when it was removed earlier",
                true,
            ),
            (
                Outcome::Retrying {
                    version: v("1.0.0"),
                    kept: None,
                    reason: v("port 8080 on 127.0.0.1 is in use by another process"),
                    attempts: 2,
                },
                "1.0.0 not deployed (port 8080 on 127.0.0.1 is in use by another process); not marked bad, the next apply tries again (attempt 2)",
                false,
            ),
            (
                Outcome::Retrying {
                    version: v("1.1.0"),
                    kept: Some(v("1.0.0")),
                    reason: v("pull failed"),
                    attempts: 1,
                },
                "1.1.0 not deployed (pull failed); 1.0.0 keeps running; not marked bad, the next apply tries again (attempt 1)",
                false,
            ),
            (
                Outcome::RolledBack {
                    bad: v("1.2.0"),
                    kept: Some(v("1.1.0")),
                    reason: v("unhealthy: exit 3"),
                },
                "1.2.0 failed (unhealthy: exit 3); rolled back to 1.1.0; 1.2.0 is marked bad",
                false,
            ),
        ] {
            assert_eq!(describe(&o), want);
            assert_eq!(o.is_ok(), ok, "{want}");
        }
    }
}
