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
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::{payloads, value_to_canonical};

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

    #[test]
    fn tricky_payloads_scan_as_the_general_path_encodes() {
        for text in payloads::tricky() {
            assert_eq!(is_canonical(&text), oracle(&text), "{text}");
        }
    }

    #[test]
    fn random_payloads_scan_as_the_general_path_encodes() {
        let texts = payloads::random();
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
