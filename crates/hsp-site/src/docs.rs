//! Documentation pages: the packaging guide, the conformance document reference
//! (generated from the JSON Schemas, so it never drifts from the validator), the
//! registry operator guide and the air-gap guide.

use serde_json::{json, Value};

use crate::catalogue::Catalogue;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocPage {
    Index,
    Packaging,
    Validation,
    Publishing,
    Reference,
    Operators,
    AirGap,
    Checks,
    Kubernetes,
    KubernetesEks,
}

impl DocPage {
    pub const ALL: &'static [DocPage] = &[
        DocPage::Index,
        DocPage::Packaging,
        DocPage::Validation,
        DocPage::Publishing,
        DocPage::Reference,
        DocPage::Operators,
        DocPage::AirGap,
        DocPage::Checks,
        DocPage::Kubernetes,
        DocPage::KubernetesEks,
    ];

    pub fn path(self) -> &'static str {
        match self {
            DocPage::Index => "docs/index.html",
            DocPage::Packaging => "docs/packaging.html",
            DocPage::Validation => "docs/validate.html",
            DocPage::Publishing => "docs/publishing.html",
            DocPage::Reference => "docs/reference.html",
            DocPage::Operators => "docs/operators.html",
            DocPage::AirGap => "docs/air-gap.html",
            DocPage::Checks => "docs/check.html",
            DocPage::Kubernetes => "docs/kubernetes.html",
            DocPage::KubernetesEks => "docs/kubernetes-eks.html",
        }
    }

    pub fn template(self) -> &'static str {
        match self {
            DocPage::Index => "docs/index.html",
            DocPage::Packaging => "docs/packaging.html",
            DocPage::Reference => "docs/reference.html",
            DocPage::Operators => "docs/operators.html",
            DocPage::AirGap => "docs/air-gap.html",
            DocPage::Checks
            | DocPage::Validation
            | DocPage::Publishing
            | DocPage::Kubernetes
            | DocPage::KubernetesEks => "docs/guide.html",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DocPage::Index => "Documentation",
            DocPage::Packaging => "Packaging requirements for container builders",
            DocPage::Validation => "Validating a service version: hsp validate",
            DocPage::Publishing => "Publishing a service: your first pull request",
            DocPage::Reference => "Conformance document reference",
            DocPage::Operators => "Registry operator guide",
            DocPage::AirGap => "Air-gapped sites",
            DocPage::Checks => "hsp check: rules and codes",
            DocPage::Kubernetes => "Deploy on any Kubernetes cluster",
            DocPage::KubernetesEks => "Deploy on AWS EKS",
        }
    }

    pub fn context(self, cat: &Catalogue) -> Value {
        let mut data = json!({"title": self.title()});
        match self {
            DocPage::Index => {
                data["pages"] = DocPage::ALL[1..]
                    .iter()
                    .map(|d| json!({"title": d.title(), "href": d.path().trim_start_matches("docs/")}))
                    .collect();
            }
            DocPage::Reference => data["schemas"] = reference(),
            DocPage::Checks => {
                data["body"] = markdown(include_str!("../../../docs/check.md")).into()
            }
            DocPage::Publishing => {
                data["body"] = markdown(include_str!("../../../docs/publishing.md")).into()
            }
            DocPage::Validation => {
                data["body"] = markdown(include_str!("../../../docs/validate.md")).into()
            }
            DocPage::Kubernetes => {
                data["body"] = markdown(include_str!("../../../docs/kubernetes.md")).into()
            }
            DocPage::KubernetesEks => {
                data["body"] = markdown(include_str!("../../../docs/kubernetes-eks.md")).into()
            }
            DocPage::Operators | DocPage::AirGap | DocPage::Packaging => {
                data["registry"] = json!({
                    "name": cat.input.config.name,
                    "url": cat.input.config.url,
                    "expiry": cat.input.config.expiry,
                    "open_source": cat.input.config.policy.open_source_licenses,
                });
            }
        }
        data
    }
}

/// Renders one of the repo's Markdown guides (`docs/*.md`, also read on
/// GitHub) to HTML. Links between guides (`kubernetes.md`) become links between
/// the pages (`kubernetes.html`); the top-level heading is dropped because the
/// page template prints the title.
fn markdown(source: &str) -> String {
    use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
    let mut in_title = false;
    let events = Parser::new_ext(source, Options::ENABLE_TABLES).filter_map(|event| match event {
        Event::Start(Tag::Heading {
            level: HeadingLevel::H1,
            ..
        }) => {
            in_title = true;
            None
        }
        Event::End(TagEnd::Heading(HeadingLevel::H1)) => {
            in_title = false;
            None
        }
        _ if in_title => None,
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = match dest_url.strip_suffix(".md") {
                Some(page) if !page.contains(':') && !page.contains('/') => {
                    CowStr::from(format!("{page}.html"))
                }
                _ => dest_url,
            };
            Some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// One section per schema file, one table per type (the root type first, then
/// its definitions by name), one row per field.
pub fn reference() -> Value {
    hsp_index::schema::all()
        .into_iter()
        .map(|(file, schema)| {
            let stem = file.trim_end_matches(".schema.json");
            let v = serde_json::to_value(&schema).unwrap_or_default();
            let title = v
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(stem)
                .to_string();
            let mut types = vec![type_entry(stem, &title, &v)];
            if let Some(defs) = v.get("definitions").and_then(Value::as_object) {
                let mut names: Vec<&String> = defs.keys().collect();
                names.sort();
                types.extend(names.into_iter().map(|n| type_entry(stem, n, &defs[n])));
            }
            json!({"file": file, "stem": stem, "title": title, "types": types})
        })
        .collect()
}

fn type_entry(stem: &str, name: &str, v: &Value) -> Value {
    let required: Vec<&str> = v
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<Value> = v
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(fname, fv)| {
                    let (text, reference) = type_of(fv);
                    json!({
                        "name": fname,
                        "type": text,
                        "ref": reference.as_ref().map(|r| format!("{stem}-{r}")),
                        "ref_name": reference,
                        "required": required.contains(&fname.as_str()),
                        "description": fv.get("description").and_then(Value::as_str).unwrap_or(""),
                        "default": fv.get("default").map(|d| d.to_string()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let (kind, _) = if fields.is_empty() {
        type_of(v)
    } else {
        ("object".into(), None)
    };
    json!({
        "name": name,
        "anchor": format!("{stem}-{name}"),
        "description": v.get("description").and_then(Value::as_str).unwrap_or(""),
        "kind": kind,
        "fields": fields,
    })
}

/// A readable type and the definition it refers to, if any.
fn type_of(v: &Value) -> (String, Option<String>) {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return (
            String::new(),
            Some(r.rsplit('/').next().unwrap_or(r).to_string()),
        );
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(alts) = v.get(key).and_then(Value::as_array) {
            let non_null: Vec<&Value> = alts
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if non_null.len() == 1 {
                return type_of(non_null[0]);
            }
            let consts: Vec<String> = non_null
                .iter()
                .filter_map(|a| enum_values(a))
                .flatten()
                .collect();
            if consts.len() == non_null.len() && !consts.is_empty() {
                return (format!("one of {}", consts.join(", ")), None);
            }
            let parts: Vec<String> = non_null
                .iter()
                .map(|a| match type_of(a) {
                    (t, Some(r)) if t.is_empty() => r,
                    (t, Some(r)) => format!("{t}{r}"),
                    (t, None) => t,
                })
                .collect();
            return (parts.join(" or "), None);
        }
    }
    if let Some(values) = enum_values(v) {
        return (format!("one of {}", values.join(", ")), None);
    }
    let types: Vec<&str> = match v.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => vec![],
    };
    match types.first().copied() {
        Some("array") => {
            let (t, r) = v.get("items").map(type_of).unwrap_or_default();
            (format!("array of {t}"), r)
        }
        Some("object") => match v.get("additionalProperties") {
            Some(ap @ Value::Object(_)) => {
                let (t, r) = type_of(ap);
                (format!("map of string to {t}"), r)
            }
            _ => ("object".into(), None),
        },
        Some(t) => match v.get("format").and_then(Value::as_str) {
            Some(f) => (format!("{t} ({f})"), None),
            None => (t.to_string(), None),
        },
        None => ("any".into(), None),
    }
}

fn enum_values(v: &Value) -> Option<Vec<String>> {
    let a = v.get("enum").and_then(Value::as_array)?;
    Some(
        a.iter()
            .map(|x| {
                x.as_str()
                    .map(|s| format!("\"{s}\""))
                    .unwrap_or_else(|| x.to_string())
            })
            .collect(),
    )
}

/// Escapes HTML, then turns `code` spans into `<code>` elements and `**bold**`
/// outside them into `<strong>`: the little Markdown descriptions use.
pub fn ticks(s: &str) -> String {
    let escaped = crate::graph::esc(s);
    let bold = pairs(&escaped, "**", "<strong>", "</strong>");
    pairs(&bold, "`", "<code>", "</code>")
}

/// Replaces matched pairs of `mark` with `open` and `close`; an unmatched last
/// mark stays as written.
fn pairs(s: &str, mark: &str, open: &str, close: &str) -> String {
    let parts: Vec<&str> = s.split(mark).collect();
    let complete = (parts.len() - 1) / 2 * 2;
    let mut out = String::with_capacity(s.len() + 16);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(if i > complete {
                mark
            } else if i % 2 == 1 {
                open
            } else {
                close
            });
        }
        out.push_str(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_like_prose() {
        for (schema, want) in [
            (json!({"type": "string"}), ("string", None)),
            (json!({"type": ["string", "null"]}), ("string", None)),
            (
                json!({"type": "integer", "format": "uint32"}),
                ("integer (uint32)", None),
            ),
            (json!({"$ref": "#/definitions/Task"}), ("", Some("Task"))),
            (
                json!({"type": "array", "items": {"$ref": "#/definitions/Task"}}),
                ("array of ", Some("Task")),
            ),
            (
                json!({"anyOf": [{"$ref": "#/definitions/Health"}, {"type": "null"}]}),
                ("", Some("Health")),
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "string"}}),
                ("map of string to string", None),
            ),
            (
                json!({"type": "string", "enum": ["shared", "dedicated"]}),
                ("one of \"shared\", \"dedicated\"", None),
            ),
            (
                json!({"oneOf": [{"type": "string", "enum": ["http"]}, {"type": "string", "enum": ["tcp"]}]}),
                ("one of \"http\", \"tcp\"", None),
            ),
        ] {
            let (t, r) = type_of(&schema);
            assert_eq!((t.as_str(), r.as_deref()), want, "{schema}");
        }
    }

    #[test]
    fn ticks_make_code() {
        for (input, want) in [
            ("plain", "plain"),
            ("a `b` c", "a <code>b</code> c"),
            ("`<x>` and `y`", "<code>&lt;x&gt;</code> and <code>y</code>"),
            ("odd ` tick", "odd ` tick"),
            ("**Note:** `x`", "<strong>Note:</strong> <code>x</code>"),
            ("2 ** 3", "2 ** 3"),
        ] {
            assert_eq!(ticks(input), want, "{input}");
        }
    }

    #[test]
    fn reference_covers_every_document_field() {
        let r = reference();
        let doc = &r[0];
        assert_eq!(doc["stem"], "document");
        let root = &doc["types"][0];
        let names: Vec<&str> = root["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        for f in [
            "id",
            "version",
            "provides",
            "requires",
            "config",
            "tasks",
            "artifacts",
            "licensing",
        ] {
            assert!(names.contains(&f), "{f} missing from {names:?}");
        }
        let tasks = root["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "tasks")
            .unwrap();
        assert_eq!(tasks["ref"], "document-Task");
        assert_eq!(tasks["required"], true);
    }
}
