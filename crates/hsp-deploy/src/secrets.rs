//! Secret values, read only when a unit is started.
//!
//! `SecretRef::File` is a file the operator wrote: refused unless mode 0600 (no
//! group or other bits). `SecretRef::Generated` is created on first deployment in
//! `<state>/<env>/secrets/<instance>/<name>` (mode 0600) and kept, so a dedicated
//! database keeps its password across upgrades. Values go to containers and
//! processes only through their environment; they are never logged.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use hsp_index::plan::{PlannedTask, SecretRef};
use hsp_index::secret_file::{read_secret_file, SecretFileError};
use rand::distributions::{Alphanumeric, DistString};

use super::journal::create_private_dir;
use super::{check_name, Error};

/// Resolves one secret reference.
pub fn resolve(state: &Path, secret: &SecretRef) -> Result<String, Error> {
    match secret {
        SecretRef::File { path } => read_file(path),
        SecretRef::Generated { instance, name } => generated(state, instance, name),
    }
}

fn read_file(path: &str) -> Result<String, Error> {
    read_secret_file(path.as_ref()).map_err(|e| match e {
        SecretFileError::Read(source) => Error::SecretRead {
            path: path.to_string(),
            source,
        },
        SecretFileError::NotFile => Error::SecretNotFile {
            path: path.to_string(),
        },
        SecretFileError::Mode(mode) => Error::SecretMode {
            path: path.to_string(),
            mode,
        },
        SecretFileError::Owner { owner, user } => Error::SecretOwner {
            path: path.to_string(),
            owner,
            user,
        },
        SecretFileError::TooLarge => Error::SecretTooLarge {
            path: path.to_string(),
        },
    })
}

fn generated(state: &Path, instance: &str, name: &str) -> Result<String, Error> {
    check_name("instance", instance)?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::BadName {
            what: "secret",
            name: name.to_string(),
        });
    }
    let dir = state.join("secrets").join(instance);
    create_private_dir(&dir)?;
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(v) if !v.is_empty() => return Ok(v),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Io { path, source: e }),
    }
    let value = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
    // A crash may leave an empty file behind: it is simply regenerated above.
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(Error::io(&path))?;
    f.write_all(value.as_bytes()).map_err(Error::io(&path))?;
    f.sync_all().map_err(Error::io(&path))?;
    Ok(value)
}

/// The task's environment with secrets filled in, sorted by name.
pub fn render_env(state: &Path, task: &PlannedTask) -> Result<Vec<(String, String)>, Error> {
    task.env
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.render(|r| resolve(state, r))?)))
        .collect()
}

/// A keyed hash of a rendered env, secret values included, for telling when a
/// unit must restart (a secret file's content changed). The key is
/// `<state>/env-hash.key` (random, 0600), so the hash a label shows cannot be
/// used to guess a secret offline. Only the hash is stored, never the values.
pub fn env_hash(state: &Path, env: &[(String, String)]) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let path = state.join("env-hash.key");
    let key = match fs::read_to_string(&path) {
        Ok(k) if k.len() == 64 => k,
        Ok(_) => new_key(&path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_key(&path)?,
        Err(e) => return Err(Error::Io { path, source: e }),
    };
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    for (k, v) in env {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\0");
    }
    Ok(hex::encode(&h.finalize()[..8]))
}

fn new_key(path: &Path) -> Result<String, Error> {
    let key = Alphanumeric.sample_string(&mut rand::thread_rng(), 64);
    super::journal::write_atomic(path, key.as_bytes())?;
    Ok(key)
}

/// Removes the generated secrets of an instance (only with `--purge`).
pub fn remove_generated(state: &Path, instance: &str) -> Result<(), Error> {
    check_name("instance", instance)?;
    let dir = state.join("secrets").join(instance);
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            path: dir,
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn secret_files_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        fs::write(&p, "hunter2\n").unwrap();
        for (mode, ok) in [
            (0o600, true),
            (0o400, true),
            (0o640, false),
            (0o604, false),
            (0o644, false),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            let r = resolve(
                dir.path(),
                &SecretRef::File {
                    path: p.display().to_string(),
                },
            );
            assert_eq!(r.is_ok(), ok, "mode {mode:o}");
            if ok {
                assert_eq!(r.unwrap(), "hunter2");
            } else {
                // The message names the file and the fix, never the value.
                let msg = r.unwrap_err().to_string();
                assert!(
                    msg.contains("chmod 600") && !msg.contains("hunter2"),
                    "{msg}"
                );
            }
        }
    }

    #[test]
    fn env_hash_follows_values_and_is_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let env = |v: &str| {
            vec![
                ("A".to_string(), "1".to_string()),
                ("S".to_string(), v.to_string()),
            ]
        };
        let a = env_hash(dir.path(), &env("old")).unwrap();
        assert_eq!(a, env_hash(dir.path(), &env("old")).unwrap());
        assert_ne!(a, env_hash(dir.path(), &env("new")).unwrap());
        assert_eq!(a.len(), 16);
        let key = dir.path().join("env-hash.key");
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            a,
            env_hash(other.path(), &env("old")).unwrap(),
            "another state dir, another key"
        );
    }

    #[test]
    fn generated_secrets_are_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let r = SecretRef::Generated {
            instance: "db".into(),
            name: "PASSWORD".into(),
        };
        let a = resolve(dir.path(), &r).unwrap();
        let b = resolve(dir.path(), &r).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        let meta = fs::metadata(dir.path().join("secrets/db/PASSWORD")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let other = SecretRef::Generated {
            instance: "db2".into(),
            name: "PASSWORD".into(),
        };
        assert_ne!(resolve(dir.path(), &other).unwrap(), a);
        for (instance, name) in [("../x", "P"), ("db", "../P"), ("db", "")] {
            let bad = SecretRef::Generated {
                instance: instance.into(),
                name: name.into(),
            };
            assert!(resolve(dir.path(), &bad).is_err(), "{instance}/{name}");
        }
        remove_generated(dir.path(), "db").unwrap();
        assert_ne!(resolve(dir.path(), &r).unwrap(), a);
    }
}
