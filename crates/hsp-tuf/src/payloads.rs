//! Test inputs for the canonical-form equivalence tests of [`super::scanner`]
//! and [`super::signed`]: tricky `signed` texts, and random payloads (fixed
//! seed) in canonical, near-canonical and non-canonical renderings; and the
//! signing key of the `tuf` unit tests.

use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};

use super::{key_id, value_to_canonical, Key, KeyId, Signer};
use crate::KeyVal;

/// An ed25519 key from a fixed seed.
pub(crate) struct TestKey(SigningKey);

impl TestKey {
    pub(crate) fn new(seed: u8) -> TestKey {
        TestKey(SigningKey::from_bytes(&[seed; 32]))
    }

    pub(crate) fn public(&self) -> Key {
        Key {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: hex::encode(self.0.verifying_key().as_bytes()),
            },
        }
    }
}

impl Signer for TestKey {
    fn key_id(&self) -> KeyId {
        key_id(&self.public())
    }
    fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }
}

/// Tricky `signed` texts, each alone and as a field of an `{"_type":"any"}`
/// payload: escapes, Unicode, control characters, numbers at the edges of
/// i64/u64, literals, nesting, whitespace, key order and duplicates.
pub(crate) fn tricky() -> Vec<String> {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let mut cases: Vec<String> = [
        // Strings and escapes.
        r#""plain""#,
        r#""sixteen bytes...\" then more than eight bytes""#,
        r#""sixteen bytes...\\ then more than eight bytes""#,
        "\"sixteen bytes...\u{1f} then more than eight bytes\"",
        "\"sixteen bytes...\u{7f}\u{80}\u{ff}é𝄞 non-ASCII\"",
        r#""quote \" back \\""#,
        r#""\/""#,
        r#""\n""#,
        "\"raw\ttab\"",
        "\"raw\nnewline\"",
        "\"raw \u{7f} del\"",
        r#""\u00e9""#,
        "\"é\"",
        "\"e\u{301}\"",
        "\"𝄞\"",
        r#""\ud834\udd1e""#,
        r#""\ud800""#,
        r#""\u0000""#,
        "\"\u{2028}\"",
        r#""\x""#,
        r#""unterminated"#,
        // Numbers.
        "0",
        "-0",
        "1",
        "-1",
        "01",
        "-01",
        "1.0",
        "1.5",
        "1e2",
        "1E2",
        "-",
        "+1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "100000000000000000000000",
        "-9223372036854775807",
        "-9223372036854775808",
        "-9223372036854775809",
        // Literals.
        "true",
        "false",
        "null",
        "nul",
        "True",
        // Containers and whitespace.
        "{}",
        "[]",
        "[[]]",
        "[1,2,[3,[4]]]",
        r#"{"a":{},"b":{"c":[{}]}}"#,
        "[1, 2]",
        "{ }",
        "[ ]",
        r#"{"a" :1}"#,
        r#"{"a": 1}"#,
        "[1]\n",
        " [1]",
        "[1,]",
        r#"{"a":1,}"#,
        r#"{"a"}"#,
        r#"{"a":}"#,
        "[",
        "",
        "1 2",
        // Key order and duplicates.
        r#"{"b":1,"a":2}"#,
        r#"{"a":1,"a":2}"#,
        r#"{"a":1,"a":1}"#,
        r#"{"":1,"a":2}"#,
        r#"{"Z":1,"a":2}"#,
        r#"{"a":1,"Z":2}"#,
        r#"{"a":1,"aa":2}"#,
        r#"{"aa":1,"a":2}"#,
        r#"{"é":1,"𝄞":2}"#,
        r#"{"𝄞":1,"é":2}"#,
        "{\"\u{ffff}\":1,\"𝄞\":2}",
        r##"{"\"":1,"#":2}"##,
        r##"{"#":1,"\"":2}"##,
        r#"{"a":1,"a\\":2}"#,
        r#"{"a\\":1,"a":2}"#,
        r#"{"\u0061":1}"#,
        r#"{"_type":"any","_type":"any"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cases.extend([100, 125, 126, 127, 128, 200].map(nested));
    let wrapped = cases
        .iter()
        .map(|c| format!(r#"{{"_type":"any","v":{c}}}"#));
    let wrapped: Vec<String> = wrapped.collect();
    cases.extend(wrapped);
    cases
}

/// xorshift64*: a fixed-seed generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % n
    }
    fn u64(&mut self) -> u64 {
        (self.below(1 << 32) as u64) << 32 | self.below(1 << 32) as u64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "services/org.example.svc12/1.10.0.json",
    "longer than eight bytes \" then a quote",
    "longer than eight bytes \\ then a backslash",
    "longer than eight bytes\tthen a tab",
    "ééééé 𝄞𝄞 long non-ASCII text",
    "",
    "a",
    "b",
    "aa",
    "A",
    "Z",
    "_",
    "_type",
    "any",
    "\"",
    "\\",
    "a\"",
    "a\\",
    "#",
    "/",
    "é",
    "e\u{301}",
    "𝄞",
    "\u{ffff}",
    "\u{2028}",
    "\u{7f}",
    "\n",
    "tab\there",
    "a b",
];

fn random_number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(rng.u64()),
        1 => json!(-((rng.u64() >> 1) as i64)),
        2 => json!(*rng.pick(&[u64::MAX, i64::MAX as u64, 1 << 63])),
        3 => json!(i64::MIN),
        4 => json!(1.5),
        _ => json!(rng.below(7) as i64 - 3),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth >= 4 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 | 3 => random_number(rng),
        4 | 5 => Value::String(rng.pick(WORDS).to_string()),
        6 => (0..rng.below(4))
            .map(|_| random_value(rng, depth + 1))
            .collect(),
        _ => Value::Object(
            (0..rng.below(5))
                .map(|_| (rng.pick(WORDS).to_string(), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// Near-canonical text of `value`: occasionally unsorted or repeated keys,
/// other escapes, or whitespace.
fn render(rng: &mut Rng, value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    '/' if rng.below(3) == 0 => out.push_str("\\/"),
                    c if rng.below(40) == 0 => {
                        let mut units = [0; 2];
                        for u in c.encode_utf16(&mut units) {
                            out.push_str(&format!("\\u{u:04x}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(if rng.below(40) == 0 { ", " } else { "," });
                }
                render(rng, item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            if entries.len() > 1 && rng.below(10) == 0 {
                let i = rng.below(entries.len() - 1);
                entries.swap(i, i + 1);
            }
            if !entries.is_empty() && rng.below(15) == 0 {
                let i = rng.below(entries.len());
                entries.insert(i, entries[i]);
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(rng, &Value::String(key.clone()), out);
                out.push_str(if rng.below(40) == 0 { ": " } else { ":" });
                render(rng, item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One ASCII byte of canonical text inserted, deleted or replaced.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let ascii: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| b.is_ascii())
        .map(|(i, _)| i)
        .collect();
    let mut bytes = text.as_bytes().to_vec();
    let Some(&at) = (!ascii.is_empty()).then(|| rng.pick(&ascii)) else {
        return format!(" {text}");
    };
    let with = *rng.pick(b"0 1-.e\"\\,:{}[]a\n");
    match rng.below(3) {
        0 => bytes.insert(at, with),
        1 => {
            bytes.remove(at);
        }
        _ => bytes[at] = with,
    }
    String::from_utf8(bytes).expect("ASCII edits keep UTF-8")
}

/// Random payloads (fixed seed), mostly objects with `_type` `any`, each
/// rendered as serde_json compact and pretty, near-canonical ([`render`]),
/// canonical and canonical with one byte edited.
pub(crate) fn random() -> Vec<String> {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut texts = Vec::new();
    for _ in 0..3000 {
        let mut value = random_value(&mut rng, 0);
        if !value.is_object() || rng.below(4) > 0 {
            let mut payload = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                payload.insert(rng.pick(WORDS).to_string(), random_value(&mut rng, 1));
            }
            value = Value::Object(payload);
        }
        if let Value::Object(map) = &mut value {
            let type_ = match rng.below(10) {
                0 => json!("targets"),
                1 => json!(1),
                _ => json!("any"),
            };
            map.insert("_type".into(), type_);
        }
        texts.push(serde_json::to_string(&value).unwrap());
        texts.push(serde_json::to_string_pretty(&value).unwrap());
        let mut rendered = String::new();
        render(&mut rng, &value, &mut rendered);
        texts.push(rendered);
        if let Ok(canonical) = value_to_canonical(&value) {
            let canonical = String::from_utf8(canonical).unwrap();
            texts.push(mutate(&mut rng, &canonical));
            texts.push(canonical);
        }
    }
    texts
}
