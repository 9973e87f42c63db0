//! Source positions: where a JSON pointer's value (or key) starts in a file's text.
//!
//! Validation works on parsed values and names the offending value by JSON pointer
//! (RFC 6901, e.g. `/requires/0/version`). Only when a diagnostic is reported is the
//! pointer turned into `line:column` by [`locate`], which scans the text once and
//! skips every value off the path, so clean files never pay for positions.
//! [`locate_all`] places many pointers of one file in one pass over the text
//! (a file with 40,000 problems must not be scanned 40,000 times).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

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
    locate_all(text, &[(pointer, at_key)])[0]
}

/// [`locate`] for many `(pointer, at_key)` pairs of one text, in time linear in
/// the text and the pointers: one walk of the text that enters only the values
/// on some pointer's path, then one sweep over the offsets in order.
pub fn locate_all(text: &[u8], wanted: &[(&str, bool)]) -> Vec<Position> {
    let pointers: Vec<&str> = wanted.iter().map(|(p, _)| *p).collect();
    let (found, end) = scan(text, &pointers);
    let offsets: Vec<usize> = wanted
        .iter()
        .map(|(pointer, at_key)| {
            let mut p: &str = pointer;
            let mut exact = true;
            loop {
                if let Some(&(key_at, value_at)) = found.get(p) {
                    return if exact && *at_key { key_at } else { value_at };
                }
                exact = false;
                match p.rfind('/') {
                    Some(i) => p = &p[..i],
                    None => return end.min(text.len()),
                }
            }
        })
        .collect();
    positions_of(text, &offsets)
}

/// Byte offset in `text` of the value at each pointer (for a string, of its
/// opening quote); `None` where the path does not exist. What rewrites one
/// value of a file and keeps every other byte use.
pub fn value_offsets(text: &[u8], pointers: &[&str]) -> Vec<Option<usize>> {
    let (found, _) = scan(text, pointers);
    pointers
        .iter()
        .map(|p| found.get(*p).map(|&(_, value_at)| value_at))
        .collect()
}

/// One walk of `text` that enters only the values on some pointer's path:
/// pointer -> (offset of its key, offset of its value), and where the walk
/// stopped.
fn scan(text: &[u8], pointers: &[&str]) -> (HashMap<String, (usize, usize)>, usize) {
    let mut prefixes: HashSet<&str> = HashSet::new();
    for pointer in pointers {
        let mut p: &str = pointer;
        while prefixes.insert(p) {
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
    }
    let mut found: HashMap<String, (usize, usize)> = HashMap::new();
    let mut s = Scanner { text, i: 0 };
    s.ws();
    let mut path = String::new();
    s.record(&mut path, s.i, &prefixes, &mut found, 0);
    (found, s.i)
}

/// [`position_of`] for many offsets, in one sweep over the text.
pub fn positions_of(text: &[u8], offsets: &[usize]) -> Vec<Position> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&n| offsets[n]);
    let mut out = vec![Position { line: 1, column: 1 }; offsets.len()];
    let (mut at, mut line, mut column) = (0usize, 1usize, 1usize);
    for n in order {
        let offset = offsets[n].min(text.len());
        for &b in &text[at..offset] {
            if b == b'\n' {
                line += 1;
                column = 1;
            } else if b & 0xC0 != 0x80 {
                // One character per UTF-8 lead byte (continuations add none).
                column += 1;
            }
        }
        at = offset;
        out[n] = Position { line, column };
    }
    out
}

/// Line and column of a byte offset.
pub fn position_of(text: &[u8], offset: usize) -> Position {
    positions_of(text, &[offset])[0]
}

/// A key written twice in one object (serde keeps the last silently).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// JSON pointer of the member (both occurrences have it).
    pub pointer: String,
    /// The key, unescaped.
    pub key: String,
    /// Where each occurrence's key starts.
    pub first: Position,
    pub second: Position,
}

/// Every key that appears more than once in the same object of `text`, in
/// text order (each later occurrence against the first). Text that is not
/// JSON gives what was found up to the point the scan stopped.
pub fn duplicate_keys(text: &[u8]) -> Vec<DuplicateKey> {
    let mut s = Scanner { text, i: 0 };
    s.ws();
    let mut found = Vec::new();
    let _ = s.duplicates(&mut Vec::new(), &mut found, 0);
    if found.is_empty() {
        return Vec::new();
    }
    found.sort_by_key(|(_, _, _, second)| *second);
    let offsets: Vec<usize> = found.iter().flat_map(|f| [f.2, f.3]).collect();
    let positions = positions_of(text, &offsets);
    found
        .into_iter()
        .zip(positions.chunks(2))
        .map(|((pointer, key, _, _), p)| DuplicateKey {
            pointer,
            key,
            first: p[0],
            second: p[1],
        })
        .collect()
}

/// A step of the path [`Scanner::duplicates`] is at.
enum Seg<'a> {
    Key(Cow<'a, [u8]>),
    Index(usize),
}

fn pointer_of(path: &[Seg], key: &[u8]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => out.push_str(&escape(&String::from_utf8_lossy(k))),
            Seg::Index(n) => out.push_str(&n.to_string()),
        }
    }
    out.push('/');
    out.push_str(&escape(&String::from_utf8_lossy(key)));
    out
}

struct Scanner<'a> {
    text: &'a [u8],
    i: usize,
}

/// Containers nested deeper than this are not entered (their position is
/// their container's): the scan recurses per level.
const MAX_DEPTH: usize = 256;

impl<'a> Scanner<'a> {
    /// At the value whose pointer is `path` (its key at `key_at`): records it
    /// when `prefixes` holds the path, and enters it if it is a container;
    /// otherwise skips it. Only first occurrences of a key are recorded (as
    /// [`locate`] finds them).
    fn record(
        &mut self,
        path: &mut String,
        key_at: usize,
        prefixes: &HashSet<&str>,
        found: &mut HashMap<String, (usize, usize)>,
        depth: usize,
    ) -> Option<()> {
        if !prefixes.contains(path.as_str()) {
            return self.skip_value();
        }
        found.entry(path.clone()).or_insert((key_at, self.i));
        if depth >= MAX_DEPTH {
            return self.skip_value();
        }
        let len = path.len();
        match self.peek()? {
            b'{' => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.peek()? {
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => {
                            self.i += 1;
                            continue;
                        }
                        b'"' => {}
                        _ => return None,
                    }
                    let at = self.i;
                    let name = self.string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    path.push('/');
                    path.push_str(&escape(&name));
                    let r = self.record(path, at, prefixes, found, depth + 1);
                    path.truncate(len);
                    r?;
                }
            }
            b'[' => {
                self.i += 1;
                let mut n = 0usize;
                loop {
                    self.ws();
                    match self.peek()? {
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => {
                            self.i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    use std::fmt::Write;
                    let at = self.i;
                    let _ = write!(path, "/{n}");
                    let r = self.record(path, at, prefixes, found, depth + 1);
                    path.truncate(len);
                    r?;
                    n += 1;
                }
            }
            _ => self.skip_value(),
        }
    }

    /// The key of the string at the cursor: its bytes between the quotes,
    /// unescaped only when it holds an escape.
    fn key(&mut self) -> Option<Cow<'a, [u8]>> {
        let start = self.i;
        self.skip_string()?;
        let text: &'a [u8] = self.text;
        let raw = text.get(start + 1..self.i - 1)?;
        if raw.contains(&b'\\') {
            let s: String = serde_json::from_slice(&text[start..self.i]).ok()?;
            Some(Cow::Owned(s.into_bytes()))
        } else {
            Some(Cow::Borrowed(raw))
        }
    }

    /// Walks the value at the cursor, pushing (pointer, key, first offset,
    /// second offset) for each repeated key of each object.
    fn duplicates(
        &mut self,
        path: &mut Vec<Seg<'a>>,
        out: &mut Vec<(String, String, usize, usize)>,
        depth: usize,
    ) -> Option<()> {
        if depth >= MAX_DEPTH {
            return self.skip_value();
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                let mut keys: Vec<(Cow<'a, [u8]>, usize)> = Vec::new();
                loop {
                    self.ws();
                    match self.peek()? {
                        b'}' => {
                            self.i += 1;
                            break;
                        }
                        b',' => {
                            self.i += 1;
                            continue;
                        }
                        b'"' => {}
                        _ => return None,
                    }
                    let at = self.i;
                    let key = self.key()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    path.push(Seg::Key(key.clone()));
                    let r = self.duplicates(path, out, depth + 1);
                    path.pop();
                    keys.push((key, at));
                    r?;
                }
                repeated(path, keys, out);
                Some(())
            }
            b'[' => {
                self.i += 1;
                let mut n = 0usize;
                loop {
                    self.ws();
                    match self.peek()? {
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' => {
                            self.i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    path.push(Seg::Index(n));
                    let r = self.duplicates(path, out, depth + 1);
                    path.pop();
                    r?;
                    n += 1;
                }
            }
            _ => self.skip_value(),
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
                let start = self.i;
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']')) {
                    self.i += 1;
                }
                // A closing bracket where a value belongs (`[}`) is not a
                // value: stop, or the caller's loop would never advance.
                (self.i > start).then_some(())
            }
        }
    }
}

/// Pushes each key of one object that an earlier key of it repeats
/// (sorting, so an object of many keys costs `n log n`).
fn repeated(
    path: &[Seg],
    mut keys: Vec<(Cow<[u8]>, usize)>,
    out: &mut Vec<(String, String, usize, usize)>,
) {
    if keys.len() < 2 {
        return;
    }
    keys.sort(); // by key, then offset: the first occurrence leads its run
    let mut n = 0;
    while n < keys.len() {
        let mut m = n + 1;
        while m < keys.len() && keys[m].0 == keys[n].0 {
            let key = String::from_utf8_lossy(&keys[m].0).into_owned();
            out.push((pointer_of(path, &keys[m].0), key, keys[n].1, keys[m].1));
            m += 1;
        }
        n = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Malformed text ends the scans (found by fuzzing: `[}` looped forever,
    /// a closing bracket never being consumed as a value).
    #[test]
    fn malformed_text_ends_every_scan() {
        for text in [
            "[}",
            "[}]",
            "{\"a\": }",
            "[[}",
            "{\"a\": [}}",
            "[,}",
            "}",
            "]",
        ] {
            assert!(duplicate_keys(text.as_bytes()).is_empty(), "{text}");
            let _ = locate_all(text.as_bytes(), &[("/a/0", false), ("/0/0", true)]);
        }
    }

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
