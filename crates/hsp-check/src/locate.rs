//! Source positions: where a JSON pointer's value (or key) starts in a file's text.
//!
//! Validation works on parsed values and names the offending value by JSON pointer
//! (RFC 6901, e.g. `/requires/0/version`). Only when a diagnostic is reported is the
//! pointer turned into `line:column` by [`locate`], which scans the text once and
//! skips every value off the path, so clean files never pay for positions.

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Escapes one JSON pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape(segment: &str) -> String {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1")
    } else {
        segment.to_string()
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Renders a JSON pointer the way users write field paths: `requires[0].version`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = unescape(seg);
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

/// Position of the value at `pointer` in `text` (of its key when `at_key` and the
/// value is an object member). When the path does not exist, the position of the
/// deepest value on the way (e.g. the object a missing field belongs in).
pub fn locate(text: &[u8], pointer: &str, at_key: bool) -> Position {
    let offset = Scanner { text, i: 0 }.find(pointer, at_key);
    position_of(text, offset)
}

/// Line and column of a byte offset.
pub fn position_of(text: &[u8], offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&text[line_start..offset])
        .chars()
        .count()
        + 1;
    Position { line, column }
}

struct Scanner<'a> {
    text: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn find(&mut self, pointer: &str, at_key: bool) -> usize {
        self.ws();
        if pointer.is_empty() {
            return self.i;
        }
        let segments: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
        for (n, seg) in segments.iter().enumerate() {
            let last = n + 1 == segments.len();
            let container = self.i;
            let found = match self.peek() {
                Some(b'{') => self.member(seg, last && at_key),
                Some(b'[') => seg.parse().ok().and_then(|k| self.element(k)),
                _ => None,
            };
            match found {
                Some(at) if last => return at,
                Some(_) => {}
                None => return container,
            }
        }
        self.i
    }

    /// Moves to the value of member `key`; returns its key's or value's offset.
    fn member(&mut self, key: &str, at_key: bool) -> Option<usize> {
        self.i += 1;
        loop {
            self.ws();
            match self.peek()? {
                b'}' => return None,
                b',' => {
                    self.i += 1;
                    continue;
                }
                b'"' => {}
                _ => return None,
            }
            let key_at = self.i;
            let name = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            if name == key {
                return Some(if at_key { key_at } else { self.i });
            }
            self.skip_value()?;
        }
    }

    /// Moves to element `k` of an array; returns its offset.
    fn element(&mut self, k: usize) -> Option<usize> {
        self.i += 1;
        let mut n = 0;
        loop {
            self.ws();
            match self.peek()? {
                b']' => return None,
                b',' => {
                    self.i += 1;
                    continue;
                }
                _ => {}
            }
            if n == k {
                return Some(self.i);
            }
            self.skip_value()?;
            n += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Reads a string starting at `"`, returning its unescaped value.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.skip_string()?;
        let raw = &self.text[start..self.i];
        serde_json::from_slice(raw).ok()
    }

    fn skip_string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']')) {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{
  "id": "org.example.app",
  "a/b": 1,
  "requires": [
    {"name": "db", "version": ">=13"},
    {
      "name": "mail", "version": "x\"y"
    }
  ],
  "tasks": [[1, {"z": [2]}], "é", {"k": 3}]
}"#;

    #[test]
    fn locates_values_and_keys() {
        for (pointer, at_key, line, column) in [
            ("", false, 1, 1),
            ("/id", false, 2, 9),
            ("/id", true, 2, 3),
            ("/a~1b", false, 3, 10),
            ("/requires/0/version", false, 5, 31),
            ("/requires/1/version", true, 7, 23),
            ("/requires/1/version", false, 7, 34),
            ("/requires/2", false, 4, 15),
            ("/requires/1/missing", false, 6, 5),
            ("/tasks/0/1/z/0", false, 10, 24),
            ("/tasks/2/k", false, 10, 41),
            ("/nope/deeper", false, 1, 1),
        ] {
            let got = locate(TEXT.as_bytes(), pointer, at_key);
            assert_eq!(got, Position { line, column }, "{pointer} key={at_key}");
        }
    }

    #[test]
    fn field_paths() {
        for (pointer, want) in [
            ("", ""),
            ("/requires/0/version", "requires[0].version"),
            ("/tasks/1/env/A_B", "tasks[1].env.A_B"),
            ("/binding/a~1b", "binding.a/b"),
        ] {
            assert_eq!(field_path(pointer), want);
        }
    }

    #[test]
    fn truncated_text_gives_the_container() {
        let got = locate(br#"{"a": {"b": [1, "#, "/a/b/3", false);
        assert_eq!(
            got,
            Position {
                line: 1,
                column: 13
            }
        );
    }
}
