//! SPDX licence expressions and the registry's open-source policy.
//!
//! A document's licence is open source when its SPDX expression can be satisfied
//! with the policy's licences alone (`MIT OR LicenseRef-x` can; `MIT AND
//! LicenseRef-x` cannot). Any SPDX form of a listed licence counts: `GPL-2.0-only`,
//! `GPL-2.0-or-later` and `GPL-2.0+` are all `GPL-2.0`; exceptions (`WITH ...`) only
//! add permissions and are ignored.

use std::collections::HashSet;

use spdx::{Expression, LicenseItem};

use hsp_index::registry::Policy;

/// The policy's open-source licences, normalised.
#[derive(Clone, Debug)]
pub struct LicencePolicy {
    open: HashSet<String>,
}

/// Why an expression is not valid SPDX, with a suggested fix when one is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenceError {
    pub message: String,
    pub suggestion: Option<String>,
}

impl LicencePolicy {
    pub fn new(policy: &Policy) -> Self {
        LicencePolicy {
            open: policy
                .open_source_licenses
                .iter()
                .map(|l| base(l).to_string())
                .collect(),
        }
    }

    /// Whether `expr` is open source under this policy.
    pub fn is_open(&self, expr: &str) -> Result<bool, LicenceError> {
        let parsed = parse(expr)?;
        Ok(parsed.evaluate(|req| match &req.license {
            LicenseItem::Spdx { id, .. } => self.open.contains(base(id.name)),
            LicenseItem::Other { .. } => false,
        }))
    }
}

/// Parses a strict SPDX expression.
pub fn parse(expr: &str) -> Result<Expression, LicenceError> {
    Expression::parse(expr).map_err(|e| LicenceError {
        message: e.reason.to_string(),
        suggestion: Expression::canonicalize(expr).ok().flatten(),
    })
}

/// `GPL-2.0-only`, `GPL-2.0-or-later`, `GPL-2.0+` → `GPL-2.0`.
fn base(id: &str) -> &str {
    let id = id.trim_end_matches('+');
    id.strip_suffix("-only")
        .or_else(|| id.strip_suffix("-or-later"))
        .unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let p = LicencePolicy::new(&Policy::default());
        for (expr, want) in [
            ("MIT", Ok(true)),
            ("Apache-2.0", Ok(true)),
            ("GPL-2.0-only", Ok(true)),
            ("GPL-2.0-or-later", Ok(true)),
            ("GPL-3.0-only WITH Classpath-exception-2.0", Ok(true)),
            ("LGPL-2.1-only", Ok(false)),
            ("MPL-2.0", Ok(false)),
            ("LicenseRef-Acme-Commercial", Ok(false)),
            ("MIT OR LicenseRef-Acme", Ok(true)),
            ("MIT AND LicenseRef-Acme", Ok(false)),
            ("(BSD-2-Clause OR BSD-3-Clause) AND Apache-2.0", Ok(true)),
        ] {
            assert_eq!(p.is_open(expr), want, "{expr}");
        }
        for bad in ["", "Apache 2.0", "MIT OR", "Nonsense-1.0", "mit/apache"] {
            assert!(p.is_open(bad).is_err(), "{bad}");
        }
        assert_eq!(
            p.is_open("Apache 2.0").unwrap_err().suggestion.as_deref(),
            Some("Apache-2.0")
        );
    }

    #[test]
    fn custom_policy() {
        let p = LicencePolicy::new(&Policy {
            open_source_licenses: vec!["MPL-2.0".into()],
        });
        assert_eq!(p.is_open("MPL-2.0"), Ok(true));
        assert_eq!(p.is_open("MIT"), Ok(false));
    }
}
