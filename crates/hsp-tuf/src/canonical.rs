//! Canonical JSON as TUF signs it: securesystemslib's `encode_canonical`
//! (what python-tuf signs and verifies). Object keys sorted by code point, no
//! insignificant whitespace, strings with only `"` and `\` escaped (every other
//! character, control characters included, written as is, with no Unicode
//! normalisation), integers only (floats are refused).
//!
//! Purpose-built over [`serde_json::Value`]: one pass, no buffering of nested
//! objects, so canonicalising a parsed metadata file costs about as much as
//! copying it.

use serde::Serialize;
use serde_json::Value;

use super::TufError;

/// The canonical JSON bytes of `value`.
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, TufError> {
    let value = serde_json::to_value(value).map_err(TufError::Json)?;
    value_to_canonical(&value)
}

/// `canonical` made a valid JSON file: each control character (only ever in
/// a string: canonical JSON has no whitespace outside them) written as its
/// `\u00XX` escape. Parsing the result gives the same value, whose canonical
/// form is `canonical` again; without a control character (every ed25519-only
/// file) it is `canonical` itself. ECDSA and RSA public keys are PEM, whose
/// lines would otherwise be raw newlines that no JSON reader accepts.
pub fn canonical_to_json_file(canonical: Vec<u8>) -> Vec<u8> {
    if !canonical.iter().any(|&b| b < 0x20) {
        return canonical;
    }
    let mut out = Vec::with_capacity(canonical.len() + 64);
    for b in canonical {
        if b < 0x20 {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// The canonical JSON bytes of an already parsed `value` (no copy of it).
pub fn value_to_canonical(value: &Value) -> Result<Vec<u8>, TufError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical JSON of `value` to `out` (reserve its capacity
/// first, e.g. the length of the file it was parsed from, to allocate once).
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), TufError> {
    write_value(value, out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), TufError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(TufError::Canonical(std::io::Error::other(format!(
                    "{n} is not an integer: canonical JSON has no floats"
                ))));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Byte order of UTF-8 is code point order, as Python's sorted().
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..i]);
            out.push(b'\\');
            out.push(b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms() {
        for (value, expected) in [
            (
                json!({"b": 1, "a": [true, null]}),
                r#"{"a":[true,null],"b":1}"#,
            ),
            (
                json!({"z": {"y": "x", "w": "v"}}),
                r#"{"z":{"w":"v","y":"x"}}"#,
            ),
            (json!("quote \" back \\ é"), "\"quote \\\" back \\\\ é\""),
            (json!(-12), "-12"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!({}), "{}"),
            (json!([]), "[]"),
            // Control characters are not escaped; no NFC normalisation
            // (e + combining acute stays two code points).
            (json!("tab\there\nnl"), "\"tab\there\nnl\""),
            (json!("e\u{301}"), "\"e\u{301}\""),
            // Code point order: "Z" < "a" < "é" < "𝄞" (a 4-byte sequence).
            (
                json!({"é": 1, "a": 2, "Z": 3, "𝄞": 4, "": 5}),
                r#"{"":5,"Z":3,"a":2,"é":1,"𝄞":4}"#,
            ),
        ] {
            let bytes = to_canonical(&value).unwrap();
            assert_eq!(String::from_utf8(bytes).unwrap(), expected);
            assert_eq!(
                value_to_canonical(&value).unwrap(),
                to_canonical(&value).unwrap()
            );
        }
    }

    #[test]
    fn floats_are_rejected() {
        for value in [json!(1.5), json!({"a": [0.0]}), json!(1e300)] {
            assert!(to_canonical(&value).is_err(), "{value}");
        }
    }
}
