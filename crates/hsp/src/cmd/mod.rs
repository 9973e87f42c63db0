//! One module per subcommand, each with `Args` and `run`.

pub mod build;
pub mod check;
pub mod diff;
pub mod init;
pub mod keygen;
pub mod mirror;
pub mod new;
pub mod pin;
pub mod root;
pub mod schema;
pub mod serve;
pub mod sign;
pub mod timestamp;
pub mod validate;

/// `""` for one, `"s"` for any other count.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Reads a base (see `hsp_registry::base`) for the registry at `repo`. A
/// URL is first mirrored, as `hsp mirror` does, into a temporary folder:
/// verified from `root` (default: the repo's own `keys/1.root.json`).
pub(crate) fn load_base(
    arg: &str,
    repo: &std::path::Path,
    root: Option<&std::path::Path>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<hsp_registry::Snapshot> {
    use anyhow::Context;
    if !(arg.starts_with("https://") || arg.starts_with("http://")) {
        return hsp_registry::Base::parse(arg).load(repo);
    }
    let own = repo.join("keys/1.root.json");
    let root = match root {
        Some(r) => r.to_path_buf(),
        None if own.is_file() => own,
        None => anyhow::bail!(
            "{arg}: a URL base is verified from its root, and {} has none (hint: --base-root FILE, the index's 1.root.json obtained out of band)",
            own.display()
        ),
    };
    let dir = tempfile::tempdir()?;
    hsp_mirror::index::mirror_index(arg, dir.path(), Some(&root), now)
        .with_context(|| format!("reading the base index {arg}"))?;
    hsp_registry::Snapshot::of_index(dir.path())
}

/// The registry repo holding `dir` (default: the current folder).
pub(crate) fn registry_root(dir: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    let here = dir.unwrap_or(std::path::Path::new("."));
    hsp_registry::find_root(here).with_context(|| {
        format!(
            "{} is not inside a registry repo (no registry.json above it) (hint: --repo DIR)",
            here.display()
        )
    })
}
