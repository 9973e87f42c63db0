//! An allocation-free check that JSON text is *already* canonical: exactly the
//! bytes [`super::write_canonical`] would write for the value the text parses to.
//!
//! [`super::Signed::from_bytes`] uses it to skip building a
//! [`serde_json::Value`] and re-encoding it when a metadata file's `signed` is
//! canonical (every file `hsp sign` and `hsp build` write): the canonical bytes
//! are then the text itself. Canonical here means:
//!
//! - no whitespace anywhere;
//! - object keys strictly increasing by the bytes of their *unescaped* UTF-8
//!   (code point order, as securesystemslib sorts them), so duplicate keys are
//!   refused;
//! - strings with only `\"` and `\\` escapes and every other character raw
//!   (a control character is not valid JSON, any other escape such as `\n`,
//!   `\/` or `\u00e9` is not how the writer escapes);
//! - numbers only as serde_json prints integers back: no leading zero, no
//!   `-0`, no fraction or exponent, at most `u64::MAX` and at least `i64::MIN`;
//! - the literals `true`, `false`, `null`;
//! - at most [`MAX_DEPTH`] nested arrays and objects.
//!
//! A `false` verdict only means "take the general path": the text may still be
//! valid, non-canonical JSON.

/// Deepest nesting accepted. serde_json refuses 128 levels; `signed` sits one
/// level inside the envelope, so this is the deepest `signed` the general
/// path parses.
pub const MAX_DEPTH: usize = 126;

/// What [`scan`] learnt about canonical text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Canonical<'a> {
    /// The raw (still escaped) text of the top-level object's `_type` string,
    /// if the text is an object with a string `_type`.
    pub type_: Option<&'a str>,
}

/// `Some` if `text` is in canonical form (see the module documentation),
/// `None` otherwise.
pub fn scan(text: &str) -> Option<Canonical<'_>> {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
        type_: None,
    };
    if !s.value(0) || s.pos != s.bytes.len() {
        return None;
    }
    let type_ = s.type_.map(|(start, end)| &text[start..end]);
    Some(Canonical { type_ })
}

/// Whether `text` is in canonical form.
pub fn is_canonical(text: &str) -> bool {
    scan(text).is_some()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Span of the top-level `_type` string's contents.
    type_: Option<(usize, usize)>,
}

/// A string's contents (between the quotes) and whether it holds an escape.
#[derive(Clone, Copy)]
struct Str {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// One value at nesting `depth` (the number of enclosing arrays and objects).
    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => depth < MAX_DEPTH && self.object(depth + 1),
            Some(b'[') => depth < MAX_DEPTH && self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// An integer as serde_json prints an `i64` or `u64` back.
    fn number(&mut self) -> bool {
        let negative = self.eat(b'-');
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.bytes[start..self.pos];
        let limit: &[u8] = if negative {
            b"9223372036854775808"
        } else {
            b"18446744073709551615"
        };
        match digits {
            [] => false,
            // `0` alone; never `-0` (serde_json reads it as a float) or `01`.
            [b'0', ..] => digits.len() == 1 && !negative,
            // Same length: byte order is numeric order.
            _ => digits.len() < limit.len() || (digits.len() == limit.len() && digits <= limit),
        }
    }

    /// A string whose only escapes are `\"` and `\\`, with no control character.
    fn string(&mut self) -> Option<Str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos = skip_plain(self.bytes, self.pos);
            let b = *self.bytes.get(self.pos)?;
            match b {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return Some(Str {
                        start,
                        end,
                        escaped,
                    });
                }
                b'\\' => match self.bytes.get(self.pos + 1) {
                    Some(b'"' | b'\\') => {
                        escaped = true;
                        self.pos += 2;
                    }
                    _ => return None,
                },
                _ => return None, // a control character
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        self.pos += 1; // `[`
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        self.pos += 1; // `{`
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<Str> = None;
        loop {
            let Some(key) = self.string() else {
                return false;
            };
            if let Some(prev) = previous {
                if !self.less(prev, key) {
                    return false;
                }
            }
            previous = Some(key);
            if !self.eat(b':') {
                return false;
            }
            let value_start = self.pos;
            if !self.value(depth) {
                return false;
            }
            if depth == 1
                && &self.bytes[key.start..key.end] == b"_type"
                && self.bytes[value_start] == b'"'
            {
                self.type_ = Some((value_start + 1, self.pos - 1));
            }
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    /// Whether key `a` sorts strictly before key `b` by unescaped bytes.
    fn less(&self, a: Str, b: Str) -> bool {
        let a_raw = &self.bytes[a.start..a.end];
        let b_raw = &self.bytes[b.start..b.end];
        if !a.escaped && !b.escaped {
            return a_raw < b_raw;
        }
        unescaped(a_raw).lt(unescaped(b_raw))
    }
}

/// The first position from `pos` of a `"`, a `\\` or a control character
/// (or the end): eight bytes at a time, the bit tricks of "Bit Twiddling
/// Hacks" (haszero/hasless), exact for the first match in each word.
fn skip_plain(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        let special = w.wrapping_sub(ONES * 0x20) & !w & HIGH // a byte below 0x20
            | zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while bytes
        .get(pos)
        .is_some_and(|&b| b >= 0x20 && b != b'"' && b != b'\\')
    {
        pos += 1;
    }
    pos
}

/// The bytes of a string's contents with `\"` and `\\` unescaped (the only
/// escapes [`Scanner::string`] lets through).
fn unescaped(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut it = raw.iter().copied();
    std::iter::from_fn(move || match it.next()? {
        b'\\' => it.next(),
        b => Some(b),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::tuf::value_to_canonical;

    #[test]
    fn verdicts() {
        for (text, expected) in [
            (r#"{"_type":"targets","a":[1,-2,true,false,null,{}]}"#, true),
            (r#"{"a":1, "b":2}"#, false),
            (r#"{"b":1,"a":2}"#, false),
            (r#"{"a":1,"a":1}"#, false),
            // `"` (0x22) sorts before `#` (0x23) although `\` (0x5c) does not.
            (r##"{"\"":1,"#":2}"##, true),
            (r##"{"#":1,"\"":2}"##, false),
            (r#"{"a":1,"a\\":2}"#, true),
            (r#""\/""#, false),
            (r#""\u00e9""#, false),
            ("\"é\u{2028}\"", true),
            ("\"a\tb\"", false),
            ("18446744073709551615", true),
            ("18446744073709551616", false),
            ("-9223372036854775808", true),
            ("-9223372036854775809", false),
            ("-0", false),
            ("0", true),
            ("007", false),
            ("1.0", false),
            ("1e3", false),
            ("[1,]", false),
            ("[]", true),
            ("{}", true),
            ("", false),
            ("nul", false),
            ("true ", false),
        ] {
            assert_eq!(is_canonical(text), expected, "{text}");
        }
    }

    #[test]
    fn top_level_type_only() {
        for (text, expected) in [
            (r#"{"_type":"root"}"#, Some("root")),
            (r#"{"_type":"a\"b"}"#, Some(r#"a\"b"#)),
            (r#"{"_type":1}"#, None),
            (r#"{"x":{"_type":"root"}}"#, None),
            (r#"["_type"]"#, None),
        ] {
            assert_eq!(scan(text).unwrap().type_, expected, "{text}");
        }
    }

    #[test]
    fn skip_plain_finds_the_first_special_byte() {
        let naive = |bytes: &[u8], from: usize| {
            (from..bytes.len())
                .find(|&i| bytes[i] < 0x20 || bytes[i] == b'"' || bytes[i] == b'\\')
                .unwrap_or(bytes.len())
        };
        let fillers = [b'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xff];
        for len in 0..26 {
            for (f, &filler) in fillers.iter().enumerate() {
                let plain: Vec<u8> = (0..len)
                    .map(|i| {
                        if i % 3 == 0 {
                            fillers[(f + i) % fillers.len()]
                        } else {
                            filler
                        }
                    })
                    .collect();
                for from in 0..=len {
                    assert_eq!(skip_plain(&plain, from), naive(&plain, from));
                }
                for at in 0..len {
                    for special in [b'"', b'\\', 0x00, 0x0a, 0x1f] {
                        let mut bytes = plain.clone();
                        bytes[at] = special;
                        // A second special byte later must not hide the first.
                        if at + 3 < len {
                            bytes[at + 3] = 0x01;
                        }
                        for from in 0..=len {
                            assert_eq!(skip_plain(&bytes, from), naive(&bytes, from));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(is_canonical(&nested(MAX_DEPTH)));
        assert!(!is_canonical(&nested(MAX_DEPTH + 1)));
        assert!(!is_canonical(&nested(100_000)));
    }

    /// What the scanner must say: the general path (serde_json inside an
    /// envelope, then [`value_to_canonical`]) gives back exactly `text`.
    fn oracle(text: &str) -> bool {
        let envelope = format!(r#"{{"signatures":[],"signed":{text}}}"#);
        let Ok(Value::Object(mut env)) = serde_json::from_str(&envelope) else {
            return false;
        };
        let signed = env.remove("signed").expect("parsed");
        value_to_canonical(&signed).is_ok_and(|c| c == text.as_bytes())
    }

    /// Tricky `signed` texts, each alone and as a field of an `{"_type":"any"}`
    /// payload: escapes, Unicode, control characters, numbers at the edges of
    /// i64/u64, literals, nesting, whitespace, key order and duplicates.
    pub(crate) fn tricky_payloads() -> Vec<String> {
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
    pub(crate) fn random_payloads() -> Vec<String> {
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

    #[test]
    fn tricky_payloads_scan_as_the_general_path_encodes() {
        for text in tricky_payloads() {
            assert_eq!(is_canonical(&text), oracle(&text), "{text}");
        }
    }

    #[test]
    fn random_payloads_scan_as_the_general_path_encodes() {
        let texts = random_payloads();
        let canonical = texts.iter().filter(|t| is_canonical(t)).count();
        for text in &texts {
            assert_eq!(is_canonical(text), oracle(text), "{text}");
        }
        // Both verdicts, each many times.
        assert!(
            canonical > 1000 && texts.len() - canonical > 1000,
            "{canonical}"
        );
    }
}
