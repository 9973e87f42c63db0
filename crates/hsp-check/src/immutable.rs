//! Published versions are immutable: against what a registry has published
//! (its *base*: a built index, or a git revision of the repo), a version may
//! not disappear (E102) and its document may not change except in its
//! `yanked` field (E103). New versions and yanks stay allowed.
//!
//! Versions are matched by TUF target path (`services/<id>/<file>`), which
//! the location rule (E070) ties to the id and version: moving `7.4.json` to
//! `7.4.0.json` removes a published target, which sites may have pinned.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{locate, resolve_all, Code, Diagnostic, Finding};

/// A published document: where it was in the repo (`publishers/<name>/...`),
/// and its exact bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The diagnostics of `head` (the registry's documents now, by repo path)
/// against `base` (what was published, by target path). `target_of` maps a
/// head document's repo path to its target path. A deleted version is
/// reported at the path it had; a changed one at its first changed value.
pub fn check_immutable<'a>(
    base: &BTreeMap<String, Published>,
    head: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    target_of: impl Fn(&str) -> Option<String>,
) -> Vec<Diagnostic> {
    let head: BTreeMap<String, Published> = head
        .into_iter()
        .filter_map(|(path, bytes)| {
            let doc = Published {
                path: path.to_string(),
                bytes: bytes.to_vec(),
            };
            Some((target_of(path)?, doc))
        })
        .collect();
    let mut out = Vec::new();
    for (target, old) in base {
        let Some(new) = head.get(target) else {
            let f = Finding::new(
                Code::VersionDeleted,
                "",
                format!("{target} was published and is gone: versions are never deleted"),
            )
            .hint(format!(
                "restore {} as published; to withdraw the version, set \"yanked\": \"why\" in it (or list it in registry.json's yanks)",
                old.path
            ));
            out.push(f.resolve(&old.path, b""));
            continue;
        };
        if new.bytes == old.bytes {
            continue;
        }
        if let Some(pointer) = changed_other_than_yanked(&old.bytes, &new.bytes) {
            let f = Finding::new(
                Code::VersionChanged,
                pointer.clone(),
                format!(
                    "{target} was published with other content{}: published versions never change",
                    if pointer.is_empty() {
                        String::new()
                    } else {
                        format!(" (first difference at {})", locate::field_path(&pointer))
                    }
                ),
            )
            .hint(
                "restore the published bytes and publish the change as a new version; only \"yanked\" may change",
            );
            out.extend(resolve_all([f], &new.path, &new.bytes));
        }
    }
    out
}

/// `None` when the two documents differ at most in `yanked` (as JSON values:
/// whitespace and key order aside); otherwise the JSON pointer of the first
/// difference in `new` ("" for the whole file).
fn changed_other_than_yanked(old: &[u8], new: &[u8]) -> Option<String> {
    let parse = |b: &[u8]| -> Option<Value> {
        let mut v: Value = serde_json::from_slice(b).ok()?;
        v.as_object_mut()?.remove("yanked");
        Some(v)
    };
    match (parse(old), parse(new)) {
        (Some(a), Some(b)) => first_difference(&a, &b, String::new()),
        _ => Some(String::new()),
    }
}

fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, bv) in y {
                let here = format!("{at}/{}", locate::escape(k));
                match x.get(k) {
                    Some(av) => {
                        if let Some(p) = first_difference(av, bv, here) {
                            return Some(p);
                        }
                    }
                    None => return Some(here),
                }
            }
            x.keys().find(|k| !y.contains_key(*k)).map(|_| at)
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, bv) in y.iter().enumerate() {
                let here = format!("{at}/{i}");
                match x.get(i) {
                    Some(av) => {
                        if let Some(p) = first_difference(av, bv, here) {
                            return Some(p);
                        }
                    }
                    None => return Some(here),
                }
            }
            (x.len() != y.len()).then_some(at)
        }
        _ => (a != b).then_some(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
  "id": "com.acme.app",
  "version": "1.0.0",
  "name": "App",
  "tasks": [{"name": "app", "memory_mib": 64}]
}"#;

    fn head(path: &str, text: &str) -> (String, Vec<u8>) {
        (path.to_string(), text.as_bytes().to_vec())
    }

    fn codes(ds: &[Diagnostic]) -> Vec<(String, usize, usize)> {
        ds.iter()
            .map(|d| (d.code.to_string(), d.line, d.column))
            .collect()
    }

    #[test]
    fn only_additions_and_yanks_are_allowed() {
        let path = "publishers/acme/services/com.acme.app/1.0.0.json";
        let target = |p: &str| p.strip_prefix("publishers/acme/").map(str::to_string);
        let base = BTreeMap::from([(
            "services/com.acme.app/1.0.0.json".to_string(),
            Published {
                path: path.into(),
                bytes: DOC.as_bytes().to_vec(),
            },
        )]);
        let yanked = DOC.replacen("\"id\"", "\"yanked\": \"broken\",\n  \"id\"", 1);
        let reindented = DOC.replace("\n  ", "\n    ");
        let changed = DOC.replace("\"memory_mib\": 64", "\"memory_mib\": 128");
        let added = DOC.replace(
            "\"name\": \"App\",",
            "\"name\": \"App\",\n  \"summary\": \"x\",",
        );
        let other = "publishers/acme/services/com.acme.app/2.0.0.json";
        type Case<'a> = (
            &'a str,
            Vec<(String, Vec<u8>)>,
            Vec<(&'a str, usize, usize)>,
        );
        let cases: Vec<Case> = vec![
            ("unchanged", vec![head(path, DOC)], vec![]),
            ("yanked", vec![head(path, &yanked)], vec![]),
            ("whitespace only", vec![head(path, &reindented)], vec![]),
            (
                "a new version",
                vec![head(path, DOC), head(other, DOC)],
                vec![],
            ),
            ("deleted", vec![head(other, DOC)], vec![("E102", 1, 1)]),
            (
                "a value changed",
                vec![head(path, &changed)],
                vec![("E103", 5, 43)],
            ),
            (
                "a field added",
                vec![head(path, &added)],
                vec![("E103", 5, 14)],
            ),
            (
                "not JSON any more",
                vec![head(path, "{")],
                vec![("E103", 1, 1)],
            ),
        ];
        for (name, docs, want) in cases {
            let docs = docs.iter().map(|(p, b)| (p.as_str(), b.as_slice()));
            let got = check_immutable(&base, docs, target);
            let want: Vec<(String, usize, usize)> = want
                .into_iter()
                .map(|(c, l, k)| (c.to_string(), l, k))
                .collect();
            assert_eq!(codes(&got), want, "{name}: {got:#?}");
        }
    }
}
