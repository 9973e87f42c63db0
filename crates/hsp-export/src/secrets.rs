//! Secret handling shared by the exporters: every distinct [`SecretRef`] of a plan
//! (an *atom*) gets a stable key; values are rendered with placeholders
//! `<hsp:KEY>` or, with `--inline-secrets`, with the atom's value.

use std::collections::BTreeMap;

use hsp_index::plan::{Part, SecretRef, Value};
use hsp_index::Plan;

use super::ExportError;

/// Where secret values come from when they are written inline.
pub trait SecretSource {
    /// The contents of an operator's secret file (one trailing newline removed).
    fn read_file(&mut self, path: &str) -> Result<String, ExportError>;
    /// A new random secret.
    fn generate(&mut self) -> String;
}

/// Reads secret files from disk (refusing files others can read) and
/// generates 32 random alphanumeric characters.
pub struct SystemSecrets;

impl SecretSource for SystemSecrets {
    fn read_file(&mut self, path: &str) -> Result<String, ExportError> {
        use hsp_index::secret_file::{read_secret_file, SecretFileError};
        read_secret_file(path.as_ref()).map_err(|e| match e {
            SecretFileError::Read(source) => ExportError::ReadSecret {
                path: path.to_string(),
                source,
            },
            SecretFileError::NotFile => ExportError::SecretNotFile {
                path: path.to_string(),
            },
            SecretFileError::Mode(mode) => ExportError::SecretMode {
                path: path.to_string(),
                mode,
            },
            SecretFileError::Owner { owner, user } => ExportError::SecretOwner {
                path: path.to_string(),
                owner,
                user,
            },
            SecretFileError::TooLarge => ExportError::SecretTooLarge {
                path: path.to_string(),
            },
        })
    }

    fn generate(&mut self) -> String {
        use rand::distributions::{Alphanumeric, DistString};
        Alphanumeric.sample_string(&mut rand::rngs::OsRng, 32)
    }
}

/// The distinct secret references of a plan, each with a key
/// `[a-z0-9-]+`: a file secret is named after its file, a generated one after
/// its instance and name. Clashes get `-2`, `-3`... in a stable order.
pub(crate) struct Atoms {
    keys: BTreeMap<SecretRef, String>,
}

impl Atoms {
    pub fn collect(plan: &Plan) -> Atoms {
        let mut refs: Vec<&SecretRef> = Vec::new();
        let values = plan
            .instances
            .iter()
            .flat_map(|i| i.tasks.iter().flat_map(|t| t.env.values()))
            .chain(plan.externals.iter().flat_map(|e| {
                e.values
                    .values()
                    .chain(e.per_consumer.values().flat_map(|own| own.values()))
            }));
        for v in values {
            for p in &v.0 {
                if let Part::Secret(r) = p {
                    refs.push(r);
                }
            }
        }
        refs.sort();
        refs.dedup();
        let mut keys = BTreeMap::new();
        let mut used: BTreeMap<String, u32> = BTreeMap::new();
        for r in refs {
            let base = base_key(r);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let key = if *n == 1 { base } else { format!("{base}-{n}") };
            keys.insert(r.clone(), key);
        }
        Atoms { keys }
    }

    pub fn key(&self, r: &SecretRef) -> &str {
        &self.keys[r]
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SecretRef, &str)> {
        self.keys.iter().map(|(r, k)| (r, k.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn base_key(r: &SecretRef) -> String {
    let raw = match r {
        SecretRef::File { path } => {
            let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
            name.split('.')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or(name)
                .to_string()
        }
        SecretRef::Generated { instance, name } => format!("{instance}-{name}"),
    };
    let mut key = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (key.is_empty() || key.ends_with('-'))) {
            key.push(c);
        }
    }
    let key = key.trim_end_matches('-').to_string();
    if key.is_empty() {
        "secret".into()
    } else {
        key
    }
}

/// What an operator must supply for an atom, in a sentence.
pub(crate) fn describe(r: &SecretRef) -> String {
    match r {
        SecretRef::File { path } => format!("the contents of `{path}`"),
        SecretRef::Generated { instance, name } => format!(
            "a new random value (the agent would generate `{name}` for instance `{instance}`); use the same value everywhere it appears"
        ),
    }
}

/// How secret parts are rendered.
pub(crate) enum Secrets {
    Placeholders,
    /// Atom values, resolved once per export.
    Inline(BTreeMap<SecretRef, String>),
}

impl Secrets {
    pub fn inline(atoms: &Atoms, source: &mut dyn SecretSource) -> Result<Secrets, ExportError> {
        let mut values = BTreeMap::new();
        for (r, key) in atoms.iter() {
            let v = match r {
                SecretRef::File { path } => source.read_file(path)?,
                SecretRef::Generated { .. } => source.generate(),
            };
            if v.contains('\n') || v.contains('\0') {
                return Err(ExportError::SecretValue {
                    key: key.to_string(),
                    why: "it holds a newline or NUL byte, which env values cannot carry",
                });
            }
            values.insert(r.clone(), v);
        }
        Ok(Secrets::Inline(values))
    }

    pub fn is_inline(&self) -> bool {
        matches!(self, Secrets::Inline(_))
    }

    /// The value's text with secrets as placeholders or inline values.
    pub fn render(&self, atoms: &Atoms, v: &Value) -> String {
        let rendered: Result<String, std::convert::Infallible> = v.render(|r| {
            Ok(match self {
                Secrets::Placeholders => placeholder(atoms.key(r)),
                Secrets::Inline(values) => values[r].clone(),
            })
        });
        match rendered {
            Ok(s) => s,
            Err(never) => match never {},
        }
    }

    /// The value of one atom (inline) or its placeholder.
    pub fn atom(&self, atoms: &Atoms, r: &SecretRef) -> String {
        match self {
            Secrets::Placeholders => placeholder(atoms.key(r)),
            Secrets::Inline(values) => values[r].clone(),
        }
    }
}

pub(crate) fn placeholder(key: &str) -> String {
    format!("<hsp:{key}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str) -> SecretRef {
        SecretRef::File { path: p.into() }
    }
    fn generated(i: &str, n: &str) -> SecretRef {
        SecretRef::Generated {
            instance: i.into(),
            name: n.into(),
        }
    }

    #[test]
    fn base_keys() {
        for (r, want) in [
            (file("/etc/hsp/oidc-client-secret"), "oidc-client-secret"),
            (file("/etc/hsp/smtp_password.txt"), "smtp-password"),
            (file("C:\\hsp\\Token"), "token"),
            (file("/etc/hsp/..."), "secret"),
            (
                generated("hapi-db", "POSTGRES_PASSWORD"),
                "hapi-db-postgres-password",
            ),
        ] {
            assert_eq!(base_key(&r), want, "{r:?}");
        }
    }

    #[test]
    fn clashing_keys_are_numbered_and_values_rendered() {
        let v = Value(vec![
            Part::Text("x=".into()),
            Part::Secret(file("/a/token")),
            Part::Text(";y=".into()),
            Part::Secret(file("/b/token")),
        ]);
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "environment": "e", "instances": [], "externals": [
                {"name": "x", "interface": "i", "version": "1.0.0", "values": {"v": v}}
            ]
        }))
        .unwrap();
        let atoms = Atoms::collect(&plan);
        assert_eq!(atoms.key(&file("/a/token")), "token");
        assert_eq!(atoms.key(&file("/b/token")), "token-2");
        assert_eq!(
            Secrets::Placeholders.render(&atoms, &v),
            "x=<hsp:token>;y=<hsp:token-2>"
        );

        struct Fixed(u32);
        impl SecretSource for Fixed {
            fn read_file(&mut self, path: &str) -> Result<String, ExportError> {
                Ok(format!("content-of-{path}"))
            }
            fn generate(&mut self) -> String {
                self.0 += 1;
                format!("gen{}", self.0)
            }
        }
        let inline = Secrets::inline(&atoms, &mut Fixed(0)).unwrap();
        assert_eq!(
            inline.render(&atoms, &v),
            "x=content-of-/a/token;y=content-of-/b/token"
        );
    }

    #[test]
    fn system_source_refuses_readable_files_and_trims_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "s3cret\n").unwrap();
        let p = path.to_str().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                SystemSecrets.read_file(p),
                Err(ExportError::SecretMode { mode: 0o644, .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(SystemSecrets.read_file(p).unwrap(), "s3cret");
        let (a, b) = (SystemSecrets.generate(), SystemSecrets.generate());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
