//! OLPC canonical JSON, the byte form TUF signatures cover: keys sorted, no
//! insignificant whitespace, only `"` and `\` escaped in strings, integers only.
//! python-tuf (securesystemslib `encode_canonical`) produces the same bytes.

use serde::Serialize;

use super::TufError;

/// The canonical JSON bytes of `value`.
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, TufError> {
    let mut out = Vec::with_capacity(256);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut ser)
        .map_err(|e| TufError::Canonical(std::io::Error::other(e)))?;
    Ok(out)
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
        ] {
            let bytes = to_canonical(&value).unwrap();
            assert_eq!(String::from_utf8(bytes).unwrap(), expected);
        }
    }

    #[test]
    fn floats_are_rejected() {
        assert!(to_canonical(&json!(1.5)).is_err());
    }
}
