//! `TODO` markers (E105): `hsp new` writes a document whose every value the
//! publisher must fill in starts with `TODO`; each one left is an error at
//! its value, so a scaffold cannot be published by accident. Only documents
//! whose bytes hold `TODO` are walked.

use serde_json::Value;

use crate::{locate, Code, Finding};

/// The marker `hsp new` writes.
pub const MARKER: &str = "TODO";

/// A finding for each string value of `bytes` (a document) holding the marker.
pub fn findings(bytes: &[u8]) -> Vec<Finding> {
    if !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()) {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new(); // the syntax rules report it
    };
    let mut out = Vec::new();
    walk(&value, String::new(), &mut out);
    out
}

fn walk(v: &Value, at: String, out: &mut Vec<Finding>) {
    match v {
        Value::String(s) if s.contains(MARKER) => out.push(
            Finding::new(Code::Todo, at, format!("still to fill in: {s:?}"))
                .hint("replace the value with the real one (`hsp new` wrote it as a placeholder)"),
        ),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                walk(item, format!("{at}/{}", locate::escape(k)), out);
            }
        }
        _ => {}
    }
}
