//! A registry repo as a git revision holds it (`hsp check --base REV`, `hsp
//! diff`): the same files [`super::read_input`] reads from disk, taken from
//! the revision's tree with `git ls-tree` and `git cat-file --batch` (git
//! itself: the repo's own object store, its own rules for revision names).
//! Only blobs are read; a blob above the size limit is reported as on disk.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hsp_check::{classify, RepoInput, Source, Unread, MAX_FILE_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("running git in {}", dir.display())]
    Spawn {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{rev:?} is not a revision of the git repository holding {} (git: {message}) (hint: a branch, tag or commit such as origin/main; fetch it first in a shallow CI checkout)", dir.display())]
    NoRevision {
        dir: PathBuf,
        rev: String,
        message: String,
    },
    #[error("git cat-file: {message}")]
    Read { message: String },
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir).env("GIT_TERMINAL_PROMPT", "0");
    c
}

/// The registry files of `root` (a folder of a git work tree) at revision
/// `rev`, with `label` before each path as shown (e.g. `origin/main:`).
pub fn read_input_at(root: &Path, rev: &str) -> Result<RepoInput, GitError> {
    let spawn = |source| GitError::Spawn {
        dir: root.to_path_buf(),
        source,
    };
    let verify = git(root)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}"))
        .output()
        .map_err(spawn)?;
    if !verify.status.success() {
        return Err(GitError::NoRevision {
            dir: root.to_path_buf(),
            rev: rev.to_string(),
            message: String::from_utf8_lossy(&verify.stderr).trim().to_string(),
        });
    }
    let commit = String::from_utf8_lossy(&verify.stdout).trim().to_string();
    // Paths relative to `root`, only under it.
    let listing = git(root)
        .args(["ls-tree", "-r", "-z", "--name-only", &commit, "--", "."])
        .output()
        .map_err(spawn)?;
    if !listing.status.success() {
        return Err(GitError::Read {
            message: String::from_utf8_lossy(&listing.stderr).trim().to_string(),
        });
    }
    let paths: Vec<String> = listing
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| std::str::from_utf8(p).ok().map(str::to_string))
        .filter(|p| classify(p).is_some())
        .collect();
    let mut child = git(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    let mut stdin = child.stdin.take().expect("piped");
    let names: Vec<String> = paths.iter().map(|p| format!("{commit}:./{p}\n")).collect();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        for n in names {
            stdin.write_all(n.as_bytes())?;
        }
        Ok(())
    });
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut input = RepoInput::default();
    let bad = |message: String| GitError::Read { message };
    for path in paths {
        let mut header = String::new();
        out.read_line(&mut header).map_err(|e| bad(e.to_string()))?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let [_, kind, size] = fields[..] else {
            return Err(bad(format!("{path}: {}", header.trim())));
        };
        let size: u64 = size.parse().map_err(|_| bad(header.clone()))?;
        let mut bytes = Vec::new();
        (&mut out)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        let mut newline = [0u8; 1];
        out.read_exact(&mut newline)
            .map_err(|e| bad(e.to_string()))?;
        if kind != "blob" {
            continue;
        }
        if size > MAX_FILE_BYTES {
            input.unread.push((path, Unread::TooLarge { len: size }));
            continue;
        }
        if let Some(k) = classify(&path) {
            input.push(k, Source { path, bytes });
        }
    }
    let _ = writer.join();
    let _ = child.wait();
    input.interfaces.sort_by(|a, b| a.path.cmp(&b.path));
    input.publishers.sort_by(|a, b| a.path.cmp(&b.path));
    input.documents.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(input)
}
