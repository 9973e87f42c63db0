//! Rules on interface definitions, publisher records and the registry config.

use std::collections::HashSet;

use super::format::{is_ident, is_name, is_reverse_dns, is_web_url};
use super::licence;
use super::{Code, Finding};
use hsp_index::interface::Interface;
use hsp_index::publisher::Publisher;
use hsp_index::registry::RegistryConfig;

pub fn check_interface(i: &Interface) -> Vec<Finding> {
    let mut out = Vec::new();
    if !is_name(&i.id) {
        out.push(
            Finding::new(
                Code::NameFormat,
                "/id",
                format!("`{}` is not an interface id", i.id),
            )
            .hint("use `[a-z][a-z0-9-]*`, e.g. `smart-on-fhir`"),
        );
    }
    if i.fields.is_empty() {
        out.push(Finding::new(
            Code::EmptyField,
            "/fields",
            "an interface needs at least one binding field",
        ));
    }
    let mut seen = HashSet::new();
    for (k, f) in i.fields.iter().enumerate() {
        if !is_ident(&f.name) {
            out.push(
                Finding::new(
                    Code::NameFormat,
                    format!("/fields/{k}/name"),
                    format!("`{}` is not a field name", f.name),
                )
                .hint("use `[a-z][a-z0-9_]*`: templates read it as `${<requirement>.<field>}`"),
            );
        }
        if !seen.insert(&f.name) {
            out.push(Finding::new(
                Code::Duplicate,
                format!("/fields/{k}/name"),
                format!("field `{}` is declared twice", f.name),
            ));
        }
    }
    let mut feats = HashSet::new();
    for (k, f) in i.features.iter().enumerate() {
        if !is_name(&f.name) {
            out.push(Finding::new(
                Code::NameFormat,
                format!("/features/{k}/name"),
                format!("`{}` is not a feature name", f.name),
            ));
        }
        if !feats.insert(&f.name) {
            out.push(Finding::new(
                Code::Duplicate,
                format!("/features/{k}/name"),
                format!("feature `{}` is declared twice", f.name),
            ));
        }
    }
    out
}

pub fn check_publisher(p: &Publisher) -> Vec<Finding> {
    let mut out = Vec::new();
    if !is_name(&p.name) {
        out.push(
            Finding::new(
                Code::NameFormat,
                "/name",
                format!("`{}` is not a publisher name", p.name),
            )
            .hint("use `[a-z][a-z0-9-]*`"),
        );
    }
    if p.namespaces.is_empty() {
        out.push(
            Finding::new(
                Code::EmptyField,
                "/namespaces",
                "a publisher needs at least one namespace",
            )
            .hint("e.g. `[\"org.hapifhir\"]`"),
        );
    }
    for (k, ns) in p.namespaces.iter().enumerate() {
        if !is_reverse_dns(ns) {
            out.push(
                Finding::new(
                    Code::Namespace,
                    format!("/namespaces/{k}"),
                    format!("`{ns}` is not a reverse-DNS namespace"),
                )
                .hint("at least two labels, e.g. `org.hapifhir`"),
            );
        }
    }
    if let Some(u) = p.homepage.as_deref().filter(|u| !is_web_url(u)) {
        out.push(Finding::new(
            Code::UrlFormat,
            "/homepage",
            format!("`{u}` is not an http(s) URL"),
        ));
    }
    if p.keys.is_empty() {
        out.push(
            Finding::new(
                Code::PublisherKeys,
                "/keys",
                "a publisher needs at least one key",
            )
            .hint("`hsp keygen` writes one and prints its public part"),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (k, key) in p.keys.iter().enumerate() {
        // The agent's own key parser: what it accepts here is what verifies.
        let keyid = hsp_tuf::key_id(key);
        match hsp_tuf::verifying_key(&keyid, key) {
            Ok(v) => {
                if !seen.insert(v.identity()) {
                    out.push(Finding::new(
                        Code::Duplicate,
                        format!("/keys/{k}/keyval/public"),
                        "the same key is listed twice",
                    ));
                }
            }
            Err(hsp_tuf::TufError::UnsupportedKey { .. }) => out.push(
                Finding::new(
                    Code::PublisherKeys,
                    format!("/keys/{k}"),
                    format!(
                        "keytype `{}` with scheme `{}` is not supported",
                        key.keytype, key.scheme
                    ),
                )
                .hint("use ed25519/ed25519 or ecdsa/ecdsa-sha2-nistp256 (`hsp keygen --type`)"),
            ),
            Err(e) => out.push(
                Finding::new(
                    Code::PublisherKeys,
                    format!("/keys/{k}/keyval/public"),
                    bad_key_reason(&e),
                )
                .hint("paste the public part `hsp keygen` printed"),
            ),
        }
    }
    if p.threshold == 0 || p.threshold as usize > p.keys.len().max(1) {
        out.push(Finding::new(
            Code::PublisherKeys,
            "/threshold",
            format!(
                "threshold {} must be from 1 to the number of keys ({})",
                p.threshold,
                p.keys.len()
            ),
        ));
    }
    out
}

pub fn check_config(c: &RegistryConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    if !is_name(&c.name) {
        out.push(
            Finding::new(
                Code::NameFormat,
                "/name",
                format!("`{}` is not a registry name", c.name),
            )
            .hint("use `[a-z][a-z0-9-]*`"),
        );
    }
    if let Some(u) = c.url.as_deref().filter(|u| !is_web_url(u)) {
        out.push(Finding::new(
            Code::UrlFormat,
            "/url",
            format!("`{u}` is not an http(s) URL"),
        ));
    }
    for (k, l) in c.policy.open_source_licenses.iter().enumerate() {
        if let Err(e) = licence::parse(l) {
            out.push(Finding::new(
                Code::LicenseExpression,
                format!("/policy/open_source_licenses/{k}"),
                format!("`{l}` is not an SPDX licence id: {}", e.message),
            ));
        }
    }
    let e = &c.expiry;
    for (field, days) in [
        ("root_days", e.root_days),
        ("targets_days", e.targets_days),
        ("snapshot_days", e.snapshot_days),
        ("timestamp_days", e.timestamp_days),
        ("publisher_days", e.publisher_days),
    ] {
        if days == 0 {
            out.push(Finding::new(
                Code::Resources,
                format!("/expiry/{field}"),
                "expiry must be at least 1 day",
            ));
        }
    }
    out
}

/// The reason of a [`hsp_tuf::TufError::BadPublicKey`], without the key id
/// (a publisher file names keys by position).
fn bad_key_reason(e: &hsp_tuf::TufError) -> String {
    match e {
        hsp_tuf::TufError::BadPublicKey { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsp_index::interface::{BindingField, FieldType};
    use hsp_index::publisher::{KeyVal, PublicKey};

    fn codes(fs: Vec<Finding>) -> Vec<(Code, String)> {
        fs.into_iter().map(|f| (f.code, f.pointer)).collect()
    }

    #[test]
    fn interfaces() {
        let field = |n: &str| BindingField {
            name: n.into(),
            kind: FieldType::Url,
            description: String::new(),
            required: true,
        };
        let good = Interface {
            schema: None,
            id: "fhir".into(),
            name: "FHIR".into(),
            description: "d".into(),
            versioning: "v".into(),
            fields: vec![field("base_url")],
            features: vec![],
        };
        let mut bad = good.clone();
        bad.id = "FHIR".into();
        bad.fields = vec![field("base-url"), field("base-url")];
        let mut empty = good.clone();
        empty.fields.clear();
        for (i, want) in [
            (good, vec![]),
            (
                bad,
                vec![
                    (Code::NameFormat, "/id"),
                    (Code::NameFormat, "/fields/0/name"),
                    (Code::NameFormat, "/fields/1/name"),
                    (Code::Duplicate, "/fields/1/name"),
                ],
            ),
            (empty, vec![(Code::EmptyField, "/fields")]),
        ] {
            let want: Vec<(Code, String)> =
                want.into_iter().map(|(c, p)| (c, p.to_string())).collect();
            assert_eq!(codes(check_interface(&i)), want, "{}", i.id);
        }
    }

    #[test]
    fn publishers() {
        let key = |h: &str| PublicKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal { public: h.into() },
        };
        let good = Publisher {
            schema: None,
            name: "hapi".into(),
            title: "HAPI".into(),
            homepage: None,
            contact: None,
            namespaces: vec!["org.hapifhir".into()],
            keys: vec![key(hsp_test_support::PLACEHOLDER_KEY)],
            threshold: 1,
        };
        let mut bad = good.clone();
        bad.namespaces = vec!["hapifhir".into()];
        bad.keys = vec![key("xyz")];
        bad.threshold = 2;
        for (p, want) in [
            (good, vec![]),
            (
                bad,
                vec![
                    (Code::Namespace, "/namespaces/0"),
                    (Code::PublisherKeys, "/keys/0/keyval/public"),
                    (Code::PublisherKeys, "/threshold"),
                ],
            ),
        ] {
            let want: Vec<(Code, String)> =
                want.into_iter().map(|(c, p)| (c, p.to_string())).collect();
            assert_eq!(codes(check_publisher(&p)), want);
        }
    }

    #[test]
    fn configs() {
        let good: RegistryConfig =
            serde_json::from_str(r#"{"name": "hspc", "title": "HSPC"}"#).unwrap();
        assert!(check_config(&good).is_empty());
        let mut bad = good.clone();
        bad.url = Some("example.org".into());
        bad.policy.open_source_licenses.push("Not A Licence".into());
        bad.expiry.timestamp_days = 0;
        assert_eq!(
            codes(check_config(&bad)),
            vec![
                (Code::UrlFormat, "/url".to_string()),
                (
                    Code::LicenseExpression,
                    "/policy/open_source_licenses/6".to_string()
                ),
                (Code::Resources, "/expiry/timestamp_days".to_string()),
            ]
        );
    }
}
