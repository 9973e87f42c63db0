//! YAML output: deterministic documents from `serde_json` values (whose maps
//! keep insertion order), and template *tokens* that let the Helm exporter
//! reuse the Kubernetes object builders and then put Go template expressions
//! where the tokens stand.

use serde_json::Value as Json;

use super::ExportError;

/// One YAML document (no leading `---`).
pub(crate) fn to_yaml(v: &Json) -> Result<String, ExportError> {
    Ok(serde_yaml::to_string(v)?)
}

/// A multi-document YAML file: comment header lines, then each document after `---`.
pub(crate) fn documents(header: &[&str], docs: &[Json]) -> Result<String, ExportError> {
    let mut out = comment(header);
    for d in docs {
        out.push_str("---\n");
        out.push_str(&to_yaml(d)?);
    }
    Ok(out)
}

/// `# ` before each line.
pub(crate) fn comment(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {l}\n")
            }
        })
        .collect()
}

/// A Go string literal (Go accepts JSON's escapes).
pub(crate) fn go_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Placeholders for template expressions inside values that are serialized to
/// YAML and then replaced by [`Tokens::apply`].
#[derive(Default)]
pub(crate) struct Tokens {
    tokens: Vec<(String, Token)>,
}

enum Token {
    /// The scalar (with any quotes YAML put around it) becomes the expression.
    Scalar(String),
    /// The whole `key: TOKEN` line is kept only when the expression is
    /// non-empty, and then holds its value quoted.
    OptionalLine(String),
}

impl Tokens {
    fn push(&mut self, t: Token) -> Json {
        // The trailing X keeps token 1 from matching the start of token 10.
        let name = format!("HSPTPL{:05}X", self.tokens.len());
        self.tokens.push((name.clone(), t));
        Json::String(name)
    }

    /// A scalar rendered by the expression, e.g. `{{ .Values.x | quote }}`.
    pub fn scalar(&mut self, expr: impl Into<String>) -> Json {
        self.push(Token::Scalar(expr.into()))
    }

    /// A mapping entry present only when `expr` (a pipeline, no braces) is non-empty.
    pub fn optional_line(&mut self, expr: impl Into<String>) -> Json {
        self.push(Token::OptionalLine(expr.into()))
    }

    /// Replaces the tokens in serialized YAML.
    pub fn apply(&self, yaml: &str) -> String {
        let mut out = String::with_capacity(yaml.len());
        for line in yaml.split_inclusive('\n') {
            out.push_str(&self.apply_line(line));
        }
        out
    }

    fn apply_line(&self, line: &str) -> String {
        if !line.contains("HSPTPL") {
            return line.to_string();
        }
        let mut line = line.to_string();
        for (name, token) in &self.tokens {
            if !line.contains(name.as_str()) {
                continue;
            }
            match token {
                Token::Scalar(expr) => {
                    for quoted in [format!("'{name}'"), format!("\"{name}\""), name.clone()] {
                        line = line.replace(&quoted, expr);
                    }
                }
                Token::OptionalLine(expr) => {
                    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
                    let key = line
                        .trim_start()
                        .split(": ")
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    return format!("{indent}{{{{- with {expr} }}}}\n{indent}{key}: {{{{ . | quote }}}}\n{indent}{{{{- end }}}}\n");
                }
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_quotes_what_would_change_type() {
        let y = to_yaml(
            &json!({"a": "587", "b": "true", "c": "yes", "d": "x: y", "e": "plain", "f": 3}),
        )
        .unwrap();
        let back: serde_json::Value = serde_yaml::from_str(&y).unwrap();
        assert_eq!(back["a"], "587");
        assert_eq!(back["b"], "true");
        assert_eq!(back["c"], "yes");
        assert_eq!(back["d"], "x: y");
        assert_eq!(back["f"], 3);
    }

    #[test]
    fn tokens_replace_scalars_and_optional_lines() {
        let mut t = Tokens::default();
        let v = json!({
            "replicas": t.scalar("{{ .Values.r }}"),
            "image": t.scalar("{{ .Values.i | quote }}"),
            "spec": {"storageClassName": t.optional_line(".Values.sc"), "x": 1},
        });
        let out = t.apply(&to_yaml(&v).unwrap());
        assert_eq!(
            out,
            "replicas: {{ .Values.r }}\nimage: {{ .Values.i | quote }}\nspec:\n  {{- with .Values.sc }}\n  storageClassName: {{ . | quote }}\n  {{- end }}\n  x: 1\n"
        );
    }

    #[test]
    fn documents_have_header_and_separators() {
        let out = documents(&["made by a test", ""], &[json!({"a": 1}), json!({"b": 2})]).unwrap();
        assert_eq!(out, "# made by a test\n#\n---\na: 1\n---\nb: 2\n");
        assert_eq!(go_string("a\"b"), "\"a\\\"b\"");
    }
}
