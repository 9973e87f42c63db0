//! Diagnostics for CI systems: GitHub Actions workflow commands
//! (`::error file=...,line=...,col=...,title=...::message`, shown as
//! annotations on the pull request's files) and SARIF 2.1.0 (code-scanning
//! uploads, and any SARIF viewer). Pure: diagnostics in, text out.

use serde_json::{json, Value};

use crate::{Code, Diagnostic, Severity};

/// One workflow command per diagnostic.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = String::new();
        if !d.field.is_empty() {
            message += &format!("{}: ", d.field);
        }
        message += &d.message;
        if let Some(h) = &d.hint {
            message += &format!("\nhint: {h}");
        }
        out += &format!(
            "::{level} file={},line={},col={},title={}::{}\n",
            property(&d.path),
            d.line,
            d.column,
            property(&format!("{} {}", d.code, d.code.summary())),
            data(&message)
        );
    }
    out
}

/// A workflow command's message: `%`, CR and LF escaped.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A SARIF 2.1.0 log of one run of `hsp check` (tool version `version`):
/// every code as a rule, every diagnostic as a result at its file, line and
/// column.
pub fn sarif(diagnostics: &[Diagnostic], version: &str) -> Value {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.id(),
                "shortDescription": {"text": c.summary()},
                "defaultConfiguration": {"level": if c.is_warning() { "warning" } else { "error" }},
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = String::new();
            if !d.field.is_empty() {
                text += &format!("{}: ", d.field);
            }
            text += &d.message;
            if let Some(h) = &d.hint {
                text += &format!(" (hint: {h})");
            }
            json!({
                "ruleId": d.code.id(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&d.path)},
                        "region": {"startLine": d.line.max(1), "startColumn": d.column.max(1)},
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "hsp",
                "semanticVersion": version,
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// A relative path as a URI reference: every byte outside RFC 3986's
/// unreserved set and `/` percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Finding;

    #[test]
    fn github_commands_escape_their_separators() {
        let d = Finding::new(Code::VersionRange, "/v", "100% wrong,\nreally")
            .hint("use: >=1")
            .resolve("a,b:c.json", b"{\"v\": 1}");
        assert_eq!(
            github(&[d]),
            "::error file=a%2Cb%3Ac.json,line=1,col=7,title=E012 A version range does not parse (e.g. `>=13%2C <17`%2C `^4.0`).::v: 100%25 wrong,%0Areally%0Ahint: use: >=1\n"
        );
    }

    #[test]
    fn sarif_places_each_result() {
        let d = Finding::new(Code::NoSmokeTest, "", "none").resolve("dir/a b.json", b"{}");
        let log = sarif(&[d], "1.0.0");
        let r = &log["runs"][0]["results"][0];
        assert_eq!(r["ruleId"], "W003");
        assert_eq!(r["level"], "warning");
        let rule =
            &log["runs"][0]["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], "W003");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "dir/a%20b.json"
        );
    }
}
