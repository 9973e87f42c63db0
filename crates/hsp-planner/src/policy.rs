//! Policy: which releases an environment allows (licences, update mode) and the
//! reasons it gives when it rules one out.

use std::fmt;

use hsp_index::environment::UpdateMode;
use semver::Version;

/// Deepest chain of dedicated providers (a dedicated provider's own dedicated
/// provider, ...). Stops runaway nesting such as a service needing a dedicated
/// copy of itself.
pub const MAX_DEDICATED_DEPTH: usize = 6;

/// Why policy rules a release out for one instance.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Reason {
    Yanked(String),
    Licence {
        license: String,
        allowed: Vec<String>,
    },
    Window {
        deployed: Version,
        mode: UpdateMode,
    },
    TooDeep,
    /// The environment's target is a host and the release has no artifact
    /// for its platform (`have`: the platforms it has).
    NoArtifact {
        platform: String,
        have: Vec<String>,
    },
    /// The environment's target is Docker and a task names no image.
    NoImage {
        task: String,
    },
    /// This site marked the release bad: it failed its health check, or its
    /// artifact was refused.
    MarkedBad(String),
    /// `policy.require_validated`, and the registry published no passing
    /// validation of the release (`Some(n)`: its report has n failed rules).
    NotValidated(Option<usize>),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Yanked(why) if why.is_empty() => f.write_str("it is yanked"),
            Reason::Yanked(why) => write!(f, "it is yanked ({why})"),
            Reason::Licence { license, allowed } => {
                write!(f, "its licence {license} is not allowed by the environment's policy (allowed: {})", allowed.join(", "))
            }
            Reason::Window { deployed, mode } => write!(
                f,
                "{deployed} is deployed and update mode `{}` allows only {}",
                mode_name(*mode),
                window_text(deployed, *mode)
            ),
            Reason::MarkedBad(why) => write!(
                f,
                "it was marked bad on this site ({why}); a newer release is tried, or `hsp-agent retry ENV SERVICE@VERSION` clears the mark"
            ),
            Reason::NoArtifact { platform, have } => write!(
                f,
                "it has no artifact for this host's platform {platform} (it has: {}), and the host target runs artifacts",
                platforms(have)
            ),
            Reason::NoImage { task } => write!(
                f,
                "its task {task} has no image, and the docker target runs images"
            ),
            Reason::NotValidated(None) => f.write_str(
                "the registry has no validation of it, and the environment requires one",
            ),
            Reason::NotValidated(Some(n)) => write!(
                f,
                "its validation failed {n} rule(s), and the environment requires a passing one"
            ),
            Reason::TooDeep => write!(
                f,
                "dedicated providers nest more than {MAX_DEDICATED_DEPTH} deep"
            ),
        }
    }
}

impl Reason {
    /// The reason as a clause about `subject` (e.g. `org.example.pg 15.0.0`),
    /// for the derivation's "Because ..." sentences.
    pub(crate) fn about(&self, subject: &str) -> String {
        match self {
            Reason::Yanked(why) if why.is_empty() => format!("{subject} is yanked"),
            Reason::Yanked(why) => format!("{subject} is yanked ({why})"),
            Reason::Licence { license, allowed } => format!(
                "the licence {license} of {subject} is not allowed by the environment's policy (allowed: {})",
                allowed.join(", ")
            ),
            Reason::Window { deployed, mode } => format!(
                "{subject} is outside update mode `{}` ({deployed} is deployed; it allows only {})",
                mode_name(*mode),
                window_text(deployed, *mode)
            ),
            Reason::MarkedBad(why) => format!(
                "{subject} was marked bad on this site ({why}; `hsp-agent retry` clears the mark)"
            ),
            Reason::NoArtifact { platform, have } => format!(
                "{subject} has no artifact for this host's platform {platform} (it has: {})",
                platforms(have)
            ),
            Reason::NoImage { task } => {
                format!("task {task} of {subject} has no image for the docker target")
            }
            Reason::NotValidated(None) => {
                format!("{subject} is not validated by the registry (the environment requires it)")
            }
            Reason::NotValidated(Some(n)) => format!(
                "the validation of {subject} failed {n} rule(s) (the environment requires a passing one)"
            ),
            Reason::TooDeep => format!(
                "{subject} would nest dedicated providers more than {MAX_DEDICATED_DEPTH} deep"
            ),
        }
    }
}

fn platforms(have: &[String]) -> String {
    if have.is_empty() {
        "none".into()
    } else {
        have.join(", ")
    }
}

pub(crate) fn mode_name(m: UpdateMode) -> &'static str {
    match m {
        UpdateMode::None => "none",
        UpdateMode::Patch => "patch",
        UpdateMode::Minor => "minor",
        UpdateMode::Any => "any",
    }
}

fn window_text(d: &Version, m: UpdateMode) -> String {
    match m {
        UpdateMode::None => format!("{d}"),
        UpdateMode::Patch => format!(">={d}, <{}.{}.0", d.major, d.minor + 1),
        UpdateMode::Minor => format!(">={d}, <{}.0.0", d.major + 1),
        UpdateMode::Any => "any version".into(),
    }
}

/// Whether update mode `m` lets a deployed `d` move to `v` without being asked.
pub(crate) fn in_window(d: &Version, v: &Version, m: UpdateMode) -> bool {
    match m {
        UpdateMode::None => v == d,
        UpdateMode::Patch => v >= d && v.major == d.major && v.minor == d.minor,
        UpdateMode::Minor => v >= d && v.major == d.major,
        UpdateMode::Any => true,
    }
}

/// `GPL-2.0-only`, `GPL-2.0-or-later`, `GPL-2.0+` -> `GPL-2.0`.
pub(crate) fn licence_base(id: &str) -> &str {
    let id = id.trim_end_matches('+');
    id.strip_suffix("-only")
        .or_else(|| id.strip_suffix("-or-later"))
        .unwrap_or(id)
}

/// Whether an SPDX expression can be satisfied with the allowed licences (any
/// SPDX form of them; `LicenseRef-...` ids match literally).
pub(crate) fn licence_allowed(allowed: &[String], expr: &str) -> bool {
    let Ok(parsed) = spdx::Expression::parse_mode(expr, spdx::ParseMode::LAX) else {
        return allowed.iter().any(|a| a == expr);
    };
    parsed.evaluate(|req| match &req.license {
        spdx::LicenseItem::Spdx { id, .. } => allowed.iter().any(|a| a == licence_base(id.name)),
        spdx::LicenseItem::Other { lic_ref, .. } => allowed
            .iter()
            .any(|a| *a == format!("LicenseRef-{lic_ref}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences() {
        let allowed: Vec<String> = ["Apache-2.0", "GPL-2.0", "LicenseRef-Acme"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (expr, want) in [
            ("Apache-2.0", true),
            ("MIT", false),
            ("GPL-2.0-only", true),
            ("GPL-2.0-or-later", true),
            ("GPL-2.0+", true),
            ("MIT OR Apache-2.0", true),
            ("MIT AND Apache-2.0", false),
            ("LicenseRef-Acme", true),
            ("LicenseRef-Other", false),
            ("Apache-2.0 WITH LLVM-exception", true),
            ("not an expression", false),
        ] {
            assert_eq!(licence_allowed(&allowed, expr), want, "{expr}");
        }
    }

    #[test]
    fn update_windows() {
        let v = |s: &str| Version::parse(s).unwrap();
        for (deployed, candidate, mode, want) in [
            ("1.2.3", "1.2.3", UpdateMode::None, true),
            ("1.2.3", "1.2.4", UpdateMode::None, false),
            ("1.2.3", "1.2.9", UpdateMode::Patch, true),
            ("1.2.3", "1.3.0", UpdateMode::Patch, false),
            ("1.2.3", "1.2.2", UpdateMode::Patch, false),
            ("1.2.3", "1.9.0", UpdateMode::Minor, true),
            ("1.2.3", "2.0.0", UpdateMode::Minor, false),
            ("1.2.3", "1.1.0", UpdateMode::Minor, false),
            ("1.2.3", "0.1.0", UpdateMode::Any, true),
        ] {
            assert_eq!(
                in_window(&v(deployed), &v(candidate), mode),
                want,
                "{deployed} -> {candidate} {mode:?}"
            );
        }
        let r = Reason::Window {
            deployed: v("15.1.0"),
            mode: UpdateMode::Patch,
        };
        assert_eq!(
            r.to_string(),
            "15.1.0 is deployed and update mode `patch` allows only >=15.1.0, <15.2.0"
        );
    }
}
