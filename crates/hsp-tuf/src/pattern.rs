//! Which target paths a delegation covers (TUF 1.0 §5.6.7.2.1), with the same
//! semantics as python-tuf: a path pattern and a target path must have the
//! same number of `/`-separated segments, and each segment matches its pattern
//! segment by Python's `fnmatch` (POSIX, case-sensitive): `*` any run of
//! characters, `?` one character, `[seq]` one character in seq (ranges `a-z`,
//! a leading `]` is literal), `[!seq]` one character not in seq, a `[` with no
//! closing `]` is literal; nothing else is special (no backslash escapes).
//! [`super::DelegatedRole::matches`] uses it, in the generator (which documents
//! a publisher may sign) and in the agent's delegation search alike.

/// Segment-wise `fnmatch` of a target path against a path pattern.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut ps = pattern.split('/');
    let mut ts = path.split('/');
    loop {
        match (ps.next(), ts.next()) {
            (None, None) => return true,
            (Some(p), Some(t)) if fnmatch(p, t) => {}
            _ => return false,
        }
    }
}

/// One element of a compiled pattern segment.
#[derive(Debug, PartialEq)]
enum Token {
    Star,
    Any,
    Char(char),
    /// `[...]`: inclusive ranges (a single character is `(c, c)`).
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star | Token::Any => true,
            Token::Char(x) => *x == c,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
            }
        }
    }
}

/// Compiles a pattern as Python's `fnmatch.translate` reads it.
fn compile(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        i += 1;
        match c {
            '*' => {
                if out.last() != Some(&Token::Star) {
                    out.push(Token::Star);
                }
            }
            '?' => out.push(Token::Any),
            '[' => {
                // The closing `]`: not the one right after `[` or `[!`.
                let mut j = i;
                if j < p.len() && p[j] == '!' {
                    j += 1;
                }
                if j < p.len() && p[j] == ']' {
                    j += 1;
                }
                while j < p.len() && p[j] != ']' {
                    j += 1;
                }
                if j >= p.len() {
                    out.push(Token::Char('['));
                    continue;
                }
                let mut body = &p[i..j];
                let negated = body.first() == Some(&'!');
                if negated {
                    body = &body[1..];
                }
                out.push(Token::Class {
                    negated,
                    ranges: ranges(body),
                });
                i = j + 1;
            }
            c => out.push(Token::Char(c)),
        }
    }
    out
}

/// `a-z` is a range when a character follows the `-`; a range whose start is
/// after its end matches nothing.
fn ranges(body: &[char]) -> Vec<(char, char)> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            out.push((body[k], body[k + 2]));
            k += 3;
        } else {
            out.push((body[k], body[k]));
            k += 1;
        }
    }
    out
}

/// Python's `fnmatch.fnmatchcase(name, pattern)`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let tokens = compile(pattern);
    let text: Vec<char> = name.chars().collect();
    // Iterative match, backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        match tokens.get(pi) {
            Some(Token::Star) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(t) if t.matches(text[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[pi..].iter().all(|t| *t == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DelegatedRole;

    #[test]
    fn fnmatch_as_python() {
        // (pattern, name, python's fnmatch.fnmatchcase)
        for (pattern, name, expected) in [
            ("*", "", true),
            ("*", "anything.json", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.json", "x.json", true),
            ("*.json", "x.jsonx", false),
            ("[abc].txt", "b.txt", true),
            ("[abc].txt", "d.txt", false),
            ("[!abc].txt", "d.txt", true),
            ("[!abc].txt", "a.txt", false),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("[a-c-e]", "-", true),
            ("[a-c-e]", "e", true),
            ("[a-c-e]", "d", false),
            ("[-a]", "-", true),
            ("[a-]", "-", true),
            ("[]]", "]", true),
            ("[]a]", "a", true),
            ("[!]]", "]", false),
            ("[!]]", "x", true),
            ("[z-a]", "m", false),
            ("[a--]", "-", false),
            ("[a--z]", "z", true),
            ("[a--z]", "a", false),
            ("[!z-a]", "m", true),
            ("[", "[", true),
            ("[abc", "[abc", true),
            ("[!]", "[!]", true),
            ("[]", "[]", true),
            ("\\*", "\\x", true),
            ("[\\]", "\\", true),
            ("v[0-9].[0-9]*", "v1.2.3", true),
            ("v[0-9].[0-9]*", "vx.2", false),
            ("é?", "éé", true),
            ("[à-ü]", "é", true),
            ("ABC", "abc", false),
            ("**a", "xxa", true),
            ("*a*b", "xaxxb", true),
            ("*a*b", "xaxxc", false),
        ] {
            assert_eq!(fnmatch(pattern, name), expected, "{pattern:?} {name:?}");
        }
    }

    #[test]
    fn delegations_cover_by_patterns_or_hash_prefixes() {
        let path = "api/services/x.json";
        let hash = crate::sha256_hex(path.as_bytes());
        let other = if hash.starts_with('0') { "1" } else { "0" };
        let role = |paths: Option<Vec<&str>>, prefixes: Option<Vec<&str>>| DelegatedRole {
            name: "r".into(),
            keyids: vec![],
            threshold: 1,
            terminating: false,
            paths: paths.map(|p| p.iter().map(|s| s.to_string()).collect()),
            path_hash_prefixes: prefixes.map(|p| p.iter().map(|s| s.to_string()).collect()),
        };
        for (r, expected) in [
            (role(Some(vec!["api/*/*"]), None), true),
            (role(Some(vec!["api/*", "api/[st]*/*.json"]), None), true),
            (role(Some(vec!["api/*"]), None), false),
            (role(Some(vec![]), None), false),
            (role(None, Some(vec![&hash[..2]])), true),
            (role(None, Some(vec![other, &hash[..1]])), true),
            (role(None, Some(vec![other])), false),
            (role(None, Some(vec![&hash])), true),
            (role(None, None), false),
        ] {
            assert_eq!(r.matches(path), expected, "{r:?}");
        }
    }

    #[test]
    fn segments_must_line_up() {
        for (pattern, path, expected) in [
            ("services/acme/*", "services/acme/app.json", true),
            ("services/acme/*", "services/acme/sub/deep.json", false),
            ("services/*/*", "services/acme/app.json", true),
            ("services/acme/*", "services/other/app.json", false),
            ("api/*", "api/services/x.json", false),
            ("api/*/*", "api/services/x.json", true),
            ("*", "a/b", false),
            ("services/[a-c]*/*.json", "services/acme/app.json", true),
            ("services/[!a]*/*.json", "services/acme/app.json", false),
            ("", "", true),
            ("a/", "a/", true),
            ("a/", "a/b", false),
        ] {
            assert_eq!(
                path_matches(pattern, path),
                expected,
                "{pattern:?} {path:?}"
            );
        }
    }
}
