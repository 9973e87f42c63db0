//! The README of an export: what to fill, per secret, and where each is used.

use hsp_index::plan::{Part, SecretRef};

use super::model::Model;
use super::secrets::{describe, placeholder, Secrets};

/// The `(unit, env var)` pairs whose values use secret `r`.
pub(crate) fn uses(model: &Model, r: &SecretRef) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for u in &model.units {
        for (env, v) in &u.secret_env {
            if v.0.iter().any(|p| matches!(p, Part::Secret(x) if x == r)) {
                out.push((u.name.clone(), env.clone()));
            }
        }
    }
    out
}

/// Markdown: what to fill, per atom, and where each is used. `where_` names
/// the file that holds a unit's secrets, e.g. `10-secrets.yaml`.
pub(crate) fn fill_list(
    model: &Model,
    secrets: &Secrets,
    where_: &dyn Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    if model.atoms.is_empty() {
        out.push_str("This environment uses no secrets.\n");
        return out;
    }
    if secrets.is_inline() {
        out.push_str(
            "This export was made with `--inline-secrets`: the files below hold secret values. \
             Keep them out of version control and readable only by the deploying account.\n\n",
        );
    } else {
        out.push_str(
            "This export holds no secret values. Replace every placeholder below with its value \
             (or export again with `--inline-secrets` on a machine that has the secret files):\n\n",
        );
    }
    for (r, key) in model.atoms.iter() {
        let uses: Vec<String> = uses(model, r)
            .iter()
            .map(|(unit, env)| format!("`{env}` of `{unit}` in `{}`", where_(unit)))
            .collect();
        out.push_str(&format!("- `{}`: {}.", placeholder(key), describe(r)));
        if !uses.is_empty() {
            out.push_str(&format!(" Used by {}.", uses.join(", ")));
        }
        out.push('\n');
    }
    out
}
