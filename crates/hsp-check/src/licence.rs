//! SPDX licence expressions, the registry's open-source policy, and the
//! document rule that applies them (`Checker::licence`).
//!
//! A document's licence is open source when its SPDX expression can be satisfied
//! with the policy's licences alone (`MIT OR LicenseRef-x` can; `MIT AND
//! LicenseRef-x` cannot). Any SPDX form of a listed licence counts: `GPL-2.0-only`,
//! `GPL-2.0-or-later` and `GPL-2.0+` are all `GPL-2.0`; exceptions (`WITH ...`) only
//! add permissions and are ignored.

use std::collections::HashSet;

use spdx::{Expression, LicenseItem};

use hsp_index::registry::Policy;

use super::document::Checker;
use super::format::is_web_url;
use super::{Code, Finding};

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

/// The document rule: its licence is valid SPDX, and one the policy accepts
/// or declared under the registry's licensing terms.
impl Checker<'_> {
    pub(super) fn licence(&mut self) {
        let open = match self.ctx.licences.is_open(&self.doc.license) {
            Ok(open) => open,
            Err(e) => {
                let hint = match e.suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "use an SPDX expression such as `Apache-2.0`, `MIT OR Apache-2.0` or `LicenseRef-<name>`".into(),
                };
                let msg = format!(
                    "`{}` is not an SPDX expression: {}",
                    self.doc.license, e.message
                );
                self.push(Finding::new(Code::LicenseExpression, "/license", msg).hint(hint));
                return;
            }
        };
        if open {
            return;
        }
        let Some(l) = &self.doc.licensing else {
            self.push(
                Finding::new(
                    Code::LicensePolicy,
                    "/license",
                    format!("`{}` is not an open-source licence of this registry and `licensing` is missing", self.doc.license),
                )
                .hint("declare `licensing` with `base_form`, `no_trial_period: true`, `no_revocation: true` and `terms_url`"),
            );
            return;
        };
        if !l.no_trial_period {
            self.push(
                Finding::new(Code::LicensePolicy, "/licensing/no_trial_period", "the base form must have no trial period")
                    .hint("HSP lists non-open services only when their base form is free forever (freemium)"),
            );
        }
        if !l.no_revocation {
            self.err(
                Code::LicensePolicy,
                "/licensing/no_revocation",
                "the base form must not be revocable",
            );
        }
        if l.base_form.trim().is_empty() {
            self.err(
                Code::LicensePolicy,
                "/licensing/base_form",
                "describe what the free base form does",
            );
        }
        if !is_web_url(&l.terms_url) {
            self.err(
                Code::LicensePolicy,
                "/licensing/terms_url",
                format!("`{}` is not an http(s) URL", l.terms_url),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::testing::table;
    use super::*;
    use hsp_index::document::Licensing;

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
            ..Policy::default()
        });
        assert_eq!(p.is_open("MPL-2.0"), Ok(true));
        assert_eq!(p.is_open("MIT"), Ok(false));
    }

    #[test]
    fn licence_rules() {
        let licensing = || Licensing {
            model: "freemium".into(),
            base_form: "3 users".into(),
            no_trial_period: true,
            no_revocation: true,
            terms_url: "https://acme.example/terms".into(),
        };
        table(vec![
            (
                "spdx",
                Box::new(|d| d.license = "Apache2".into()),
                vec![(Code::LicenseExpression, "/license")],
            ),
            (
                "gpl any form",
                Box::new(|d| d.license = "GPL-2.0-or-later".into()),
                vec![],
            ),
            (
                "non-oss",
                Box::new(|d| d.license = "LicenseRef-Acme".into()),
                vec![(Code::LicensePolicy, "/license")],
            ),
            (
                "non-oss declared",
                Box::new(move |d| {
                    d.license = "LicenseRef-Acme".into();
                    d.licensing = Some(licensing());
                }),
                vec![],
            ),
            (
                "revocable trial",
                Box::new(move |d| {
                    d.license = "BUSL-1.1".into();
                    let mut l = licensing();
                    l.no_trial_period = false;
                    l.no_revocation = false;
                    l.terms_url = "terms".into();
                    d.licensing = Some(l);
                }),
                vec![
                    (Code::LicensePolicy, "/licensing/no_trial_period"),
                    (Code::LicensePolicy, "/licensing/no_revocation"),
                    (Code::LicensePolicy, "/licensing/terms_url"),
                ],
            ),
        ]);
    }
}
