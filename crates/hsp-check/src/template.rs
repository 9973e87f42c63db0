//! `${...}` templates in env values and bindings.
//!
//! A reference is `${<requirement>.<field>}`, `${config.<NAME>}` or
//! `${self.<task>.<port>}` (optionally `.host` or `.port`). `$$` is a literal `$`.

/// One parsed reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref<'a> {
    Config(&'a str),
    SelfPort { task: &'a str, port: &'a str },
    Requirement { name: &'a str, field: &'a str },
}

/// The references in `s`, or why it is malformed.
pub fn refs(s: &str) -> Result<Vec<Ref<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(format!("`${{` at byte {i} is not closed with `}}`"));
        };
        out.push(parse_ref(&body[..end])?);
        rest = &body[end + 1..];
    }
    Ok(out)
}

fn parse_ref(inner: &str) -> Result<Ref<'_>, String> {
    let ok_chars = !inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok_chars {
        return Err(format!(
            "`${{{inner}}}` is not a reference (letters, digits, `_`, `-` and `.` only)"
        ));
    }
    let parts: Vec<&str> = inner.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`${{{inner}}}` has an empty part"));
    }
    match parts.as_slice() {
        ["config", name] => Ok(Ref::Config(name)),
        ["self", task, port] | ["self", task, port, "host" | "port"] => {
            Ok(Ref::SelfPort { task, port })
        }
        ["self", ..] => Err(format!("`${{{inner}}}`: write `${{self.<task>.<port>}}`")),
        ["config", ..] => Err(format!("`${{{inner}}}`: write `${{config.<NAME>}}`")),
        [name, field] => Ok(Ref::Requirement { name, field }),
        _ => Err(format!(
            "`${{{inner}}}`: write `${{<requirement>.<field>}}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        for (s, want) in [
            ("plain", Ok(vec![])),
            ("$$HOME and $PATH", Ok(vec![])),
            (
                "jdbc:postgresql://${db.host}:${db.port}/${config.DB_NAME}",
                Ok(vec![
                    Ref::Requirement {
                        name: "db",
                        field: "host",
                    },
                    Ref::Requirement {
                        name: "db",
                        field: "port",
                    },
                    Ref::Config("DB_NAME"),
                ]),
            ),
            (
                "http://${self.app.http}/fhir",
                Ok(vec![Ref::SelfPort {
                    task: "app",
                    port: "http",
                }]),
            ),
            (
                "${self.app.http.host}",
                Ok(vec![Ref::SelfPort {
                    task: "app",
                    port: "http",
                }]),
            ),
            ("${db.host", Err(())),
            ("${}", Err(())),
            ("${db}", Err(())),
            ("${a.b.c}", Err(())),
            ("${self.app}", Err(())),
            ("${config.A.B}", Err(())),
            ("${db..host}", Err(())),
            ("${db host}", Err(())),
        ] {
            assert_eq!(refs(s).map_err(|_| ()), want, "{s}");
        }
    }
}
