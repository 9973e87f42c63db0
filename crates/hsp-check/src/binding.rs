//! Rules on what a document provides and requires: the interfaces exist,
//! versions and ranges parse, no duplicates, bindings fill the interface's
//! fields, features exist (the interface rules run only with the registry's
//! interfaces in the [`Context`](super::Context)).

use std::collections::HashSet;

use super::document::Checker;
use super::format::{is_ident, is_name};
use super::locate::escape;
use super::{Code, Finding};
use hsp_index::interface::Interface;
use hsp_index::version::{parse_range, parse_version};

impl<'a> Checker<'a> {
    fn interface(&mut self, ptr: String, id: &str) -> Option<&'a Interface> {
        if !is_name(id) {
            self.err(
                Code::NameFormat,
                ptr,
                format!("`{id}` is not an interface id (`[a-z][a-z0-9-]*`)"),
            );
            return None;
        }
        let known = self.ctx.interfaces?;
        let found = known.get(id).copied();
        if found.is_none() {
            let mut f = Finding::new(
                Code::UnknownInterface,
                ptr,
                format!("interface `{id}` is not defined in this registry"),
            );
            let ids: Vec<&str> = known.keys().copied().collect();
            f.hint = Some(match super::structure::closest(id, &ids) {
                Some(m) => format!("did you mean `{m}`?"),
                None => {
                    format!("add interfaces/{id}.json, or use one of the registry's interfaces")
                }
            });
            self.push(f);
        }
        found
    }

    fn features(&mut self, base: &str, features: &[String], iface: Option<&Interface>) {
        for (k, feat) in features.iter().enumerate() {
            if let Some(i) = iface.filter(|i| !i.features.iter().any(|f| &f.name == feat)) {
                let known: Vec<&str> = i.features.iter().map(|f| f.name.as_str()).collect();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                self.push(
                    Finding::new(
                        Code::UnknownFeature,
                        format!("{base}/features/{k}"),
                        format!("interface `{}` has no feature `{feat}`", i.id),
                    )
                    .hint(format!("features of `{}`: {known}", i.id)),
                );
            }
        }
    }

    pub(super) fn provides(&mut self) {
        let doc = self.doc;
        let mut seen = HashSet::new();
        for (i, p) in doc.provides.iter().enumerate() {
            let base = format!("/provides/{i}");
            if !seen.insert(&p.interface) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/interface"),
                    format!("interface `{}` is provided twice", p.interface),
                );
            }
            let iface = self.interface(format!("{base}/interface"), &p.interface);
            if parse_version(&p.version).is_err() {
                self.err(
                    Code::VersionFormat,
                    format!("{base}/version"),
                    format!("`{}` is not a semantic version", p.version),
                );
            }
            self.task_port(&base, &p.task, &p.port);
            self.features(&base, &p.features, iface);
            for (k, v) in &p.binding {
                self.template(format!("{base}/binding/{}", escape(k)), v);
            }
            if let Some(iface) = iface {
                for k in p.binding.keys().filter(|k| iface.field(k).is_none()) {
                    let fields: Vec<&str> = iface.fields.iter().map(|f| f.name.as_str()).collect();
                    self.push(
                        Finding::new(
                            Code::Binding,
                            format!("{base}/binding/{}", escape(k)),
                            format!("interface `{}` has no binding field `{k}`", iface.id),
                        )
                        .at_key()
                        .hint(format!(
                            "fields of `{}`: {}",
                            iface.id,
                            fields.join(", ")
                        )),
                    );
                }
                let missing: Vec<&str> = iface
                    .fields
                    .iter()
                    .filter(|f| f.required && !p.binding.contains_key(&f.name))
                    .map(|f| f.name.as_str())
                    .collect();
                if !missing.is_empty() {
                    self.push(
                        Finding::new(
                            Code::Binding,
                            format!("{base}/binding"),
                            format!(
                                "binding misses required field(s) of `{}`: {}",
                                iface.id,
                                missing.join(", ")
                            ),
                        )
                        .hint("fill them, e.g. `\"base_url\": \"http://${self.app.http}/fhir\"`"),
                    );
                }
            }
        }
    }

    pub(super) fn requires(&mut self) {
        let mut seen = HashSet::new();
        for (i, r) in self.doc.requires.iter().enumerate() {
            let base = format!("/requires/{i}");
            if !is_ident(&r.name) || r.name == "config" || r.name == "self" {
                self.push(
                    Finding::new(Code::NameFormat, format!("{base}/name"), format!("`{}` is not a requirement name", r.name))
                        .hint("use `[a-z][a-z0-9_]*`, not `config` or `self`; it is how templates say `${<name>.<field>}`"),
                );
            }
            if !seen.insert(&r.name) {
                self.err(
                    Code::Duplicate,
                    format!("{base}/name"),
                    format!("requirement `{}` is declared twice", r.name),
                );
            }
            let iface = self.interface(format!("{base}/interface"), &r.interface);
            if let Err(e) = parse_range(&r.version) {
                self.push(
                    Finding::new(
                        Code::VersionRange,
                        format!("{base}/version"),
                        format!("`{}` is not a version range: {e}", r.version),
                    )
                    .hint("e.g. `>=13, <17`, `^4.0` or `*`"),
                );
            }
            self.features(&base, &r.features, iface);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::testing::table;
    use super::*;

    #[test]
    fn binding_rules() {
        table(vec![
            (
                "unknown interfaces",
                Box::new(|d| {
                    d.provides[0].interface = "fhirr".into();
                    d.requires[0].interface = "mysql".into();
                }),
                vec![
                    (Code::UnknownInterface, "/provides/0/interface"),
                    (Code::UnknownInterface, "/requires/0/interface"),
                ],
            ),
            (
                "provide task and port",
                Box::new(|d| d.provides[0].port = "https".into()),
                vec![(Code::UnknownTaskOrPort, "/provides/0/port")],
            ),
            (
                "provide version",
                Box::new(|d| d.provides[0].version = "R4".into()),
                vec![(Code::VersionFormat, "/provides/0/version")],
            ),
            (
                "duplicate provide",
                Box::new(|d| d.provides.push(d.provides[0].clone())),
                vec![(Code::Duplicate, "/provides/1/interface")],
            ),
            (
                "binding fields",
                Box::new(|d| {
                    d.provides[0].binding.clear();
                    d.provides[0].binding.insert("url".into(), "x".into());
                }),
                vec![
                    (Code::Binding, "/provides/0/binding/url"),
                    (Code::Binding, "/provides/0/binding"),
                ],
            ),
            (
                "feature",
                Box::new(|d| d.requires[0].features = vec!["superuser".into()]),
                vec![(Code::UnknownFeature, "/requires/0/features/0")],
            ),
            (
                "requirement name",
                Box::new(|d| d.requires[0].name = "self".into()),
                vec![
                    (Code::NameFormat, "/requires/0/name"),
                    (Code::TemplateReference, "/tasks/0/env/DB"),
                    (Code::TemplateReference, "/tasks/0/env/DB"),
                ],
            ),
            (
                "duplicate requirement",
                Box::new(|d| d.requires.push(d.requires[0].clone())),
                vec![(Code::Duplicate, "/requires/1/name")],
            ),
            (
                "range",
                Box::new(|d| d.requires[0].version = ">= thirteen".into()),
                vec![(Code::VersionRange, "/requires/0/version")],
            ),
        ]);
    }
}
