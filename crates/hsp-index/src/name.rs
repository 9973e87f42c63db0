//! The name rules every part of HSP shares: what `hsp check` accepts in a
//! document, what the planner accepts in an environment and what the drivers
//! and exporters accept for containers, units, networks, volumes and
//! Kubernetes objects are the same rules, so a name that passes one step
//! never fails a later one.
//!
//! Hand-written: they run on every value of every document.

/// `[a-z][a-z0-9-]*`, not ending in `-`, at most 63 characters (a DNS label
/// that starts with a letter): environments, instances, tasks, ports, volumes,
/// interfaces, publishers.
pub fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.ends_with('-')
        && s.len() <= 63
}

/// Reverse-DNS id (services): lowercase `[a-z0-9-]` labels of at most 63
/// characters, not starting or ending with `-`, separated by dots, at least two.
pub fn is_reverse_dns(s: &str) -> bool {
    let mut labels = 0;
    for label in s.split('.') {
        if !is_label(label) {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

fn is_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `[a-z][a-z0-9_]*`: requirement and binding field names (usable in templates).
pub fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// `[A-Z0-9_]+`: environment variables and config entries.
pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// The first control character of a one-line text (a display name, a
/// summary, a path, a URL): NUL, any other C0 or C1 control, or DEL.
pub fn line_control(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

/// The first control character of a value (an environment variable's or a
/// config entry's): as [`line_control`], except that tab, line feed and
/// carriage return are allowed (a certificate spans lines). A NUL cannot be
/// passed to a process at all, and escape sequences reach terminals and logs.
pub fn value_control(s: &str) -> Option<char> {
    s.chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// `c` as a reader can see it: `U+0000`.
pub fn describe_char(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (name, ok) in [
            ("app", true),
            ("hapi-db", true),
            ("a1", true),
            ("", false),
            ("-a", false),
            ("a-", false),
            ("1a", false),
            ("A", false),
            ("a/b", false),
            ("..", false),
            ("a_b", false),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(is_name(name), ok, "{name}");
        }
    }

    #[test]
    fn ids_and_env_names() {
        for (id, ok) in [
            ("org.hapifhir.server", true),
            ("com.acme.care-coordinator", true),
            ("single", false),
            ("org..x", false),
            ("org.-x", false),
            ("Org.x", false),
        ] {
            assert_eq!(is_reverse_dns(id), ok, "{id}");
        }
        assert!(is_env_name("DB_URL") && !is_env_name("db") && !is_env_name(""));
        assert!(is_ident("base_url") && !is_ident("Base") && !is_ident("1a"));
    }

    #[test]
    fn control_characters() {
        for (text, line, value) in [
            ("plain text é", None, None),
            ("a\0b", Some('\0'), Some('\0')),
            ("two\nlines\r\n\tok", Some('\n'), None),
            ("\u{1b}[2J", Some('\u{1b}'), Some('\u{1b}')),
            ("del\u{7f}", Some('\u{7f}'), Some('\u{7f}')),
            ("c1\u{85}", Some('\u{85}'), Some('\u{85}')),
        ] {
            assert_eq!(line_control(text), line, "{text:?}");
            assert_eq!(value_control(text), value, "{text:?}");
        }
        assert_eq!(describe_char('\0'), "U+0000");
    }
}
