//! The README of an export: what to fill, per secret, and where each is used.

use hsp_index::plan::{Part, SecretRef};

use super::model::{access_mode, Model};
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

/// Markdown: each volume of the environment, the units that mount it and where,
/// and (Kubernetes) its access mode.
pub(crate) fn volume_list(model: &Model, access_modes: bool) -> String {
    let mut out = String::new();
    for v in &model.volumes {
        let mounts: Vec<String> = v
            .mounts
            .iter()
            .map(|(t, m)| format!("`{}-{}` at `{}`", v.instance, t.name, m.path))
            .collect();
        let mode = match access_modes {
            true => format!(" ({})", access_mode(v)),
            false => String::new(),
        };
        out.push_str(&format!(
            "- `{}`{mode}: mounted by {}.\n",
            v.name(),
            mounts.join(", ")
        ));
    }
    out
}

/// The volume section of a Kubernetes or Helm README; empty without volumes.
pub(crate) fn kubernetes_volumes(model: &Model, size: &str) -> String {
    if model.volumes.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n## Volumes\n\nOne PersistentVolumeClaim per instance volume ({size}), mounted by every \
         task of the instance that declares it, as the HSP agent deploys them. A volume that \
         more than one pod may mount (a task with more than one replica, or two tasks) is \
         `ReadWriteMany`: it needs a storage class that offers it (NFS, CephFS, Amazon EFS, \
         Azure Files...); the others are `ReadWriteOnce`.\n\n"
    );
    out.push_str(&volume_list(model, true));
    out
}
