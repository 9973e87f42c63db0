//! Key files: a private key (mode 0600, never overwritten) and its public half
//! in `<file>.pub`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hsp_tuf::PublicKey;
use serde::{Deserialize, Serialize};

use crate::{KeyError, PrivateKey};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateFile {
    keytype: String,
    scheme: String,
    keyval: PrivateVal,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateVal {
    public: String,
    private: String,
}

/// Where the public half of the private key file `private` goes: `<file>.pub`.
pub fn public_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

fn create_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), KeyError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists {
                path: path.to_path_buf(),
            },
            _ => KeyError::Write {
                path: path.to_path_buf(),
                source,
            },
        })?;
    let write = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    // The umask may have cleared bits, never added them; make the mode exact.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(write)?;
    f.write_all(bytes).map_err(write)?;
    f.sync_all().map_err(write)
}

/// Writes `key` to `path` (mode 0600) and its public half to `<path>.pub`
/// (mode 0644). Fails if either exists.
pub fn write_private(path: &Path, key: &PrivateKey) -> Result<(), KeyError> {
    let pub_path = public_path(path);
    if pub_path.exists() {
        return Err(KeyError::Exists { path: pub_path });
    }
    let file = PrivateFile {
        keytype: key.public().keytype.clone(),
        scheme: key.public().scheme.clone(),
        keyval: PrivateVal {
            public: key.public().keyval.public.clone(),
            private: key.private_text(),
        },
    };
    let text = serde_json::to_string_pretty(&file).expect("key file encodes") + "\n";
    create_new(path, 0o600, text.as_bytes())?;
    write_public(&pub_path, key.public())
}

/// Writes a public key file (mode 0644); fails if it exists.
pub fn write_public(path: &Path, key: &PublicKey) -> Result<(), KeyError> {
    let text = serde_json::to_string_pretty(key).expect("key encodes") + "\n";
    create_new(path, 0o644, text.as_bytes())
}

/// Reads a private key file; refuses one that group or others can read.
pub fn read_private(path: &Path) -> Result<PrivateKey, KeyError> {
    let read = |source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(read)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = fs::read(path).map_err(read)?;
    let format = |reason: String| KeyError::Format {
        path: path.to_path_buf(),
        what: "private",
        reason,
    };
    let file: PrivateFile = serde_json::from_slice(&bytes).map_err(|e| {
        // serde_json's message may quote the input; say where, not what.
        format(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    let key = match (file.keytype.as_str(), file.scheme.as_str()) {
        ("ed25519", "ed25519") => {
            let seed: [u8; 32] = hex::decode(&file.keyval.private)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format("keyval.private is not 64 hex characters".into()))?;
            let key = PrivateKey::from_seed(seed);
            if key.public().keyval.public != file.keyval.public.to_lowercase() {
                return Err(KeyError::Mismatch {
                    path: path.to_path_buf(),
                });
            }
            key
        }
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            let key = PrivateKey::from_pkcs8_pem(&file.keyval.private).ok_or_else(|| {
                format("keyval.private is not a PKCS#8 PEM P-256 private key".into())
            })?;
            let public = hsp_tuf::verify::verifying_key(key.key_id(), key.public())
                .map(|k| k.identity())
                .ok();
            let listed = PublicKey {
                keytype: file.keytype.clone(),
                scheme: file.scheme.clone(),
                keyval: hsp_tuf::KeyVal {
                    public: file.keyval.public.clone(),
                },
            };
            let listed = hsp_tuf::verify::verifying_key(key.key_id(), &listed)
                .map(|k| k.identity())
                .ok();
            if public.is_none() || public != listed {
                return Err(KeyError::Mismatch {
                    path: path.to_path_buf(),
                });
            }
            key
        }
        (keytype, scheme) => {
            return Err(format(format!(
                "keytype/scheme {keytype:?}/{scheme:?} is not ed25519/ed25519 or ecdsa/ecdsa-sha2-nistp256"
            )))
        }
    };
    Ok(key)
}

/// Reads a public key file (or the public half in `<file>.pub` of a key pair).
pub fn read_public(path: &Path) -> Result<PublicKey, KeyError> {
    let bytes = fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let key: PublicKey = serde_json::from_slice(&bytes).map_err(|e| KeyError::Format {
        path: path.to_path_buf(),
        what: "public",
        reason: e.to_string(),
    })?;
    hsp_tuf::verify::verifying_key(&hsp_tuf::key_id(&key), &key).map_err(|e| KeyError::Format {
        path: path.to_path_buf(),
        what: "public",
        reason: e.to_string(),
    })?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = PrivateKey::generate_of(crate::KeyType::EcdsaP256);
        write_private(&path, &key).unwrap();
        let read = read_private(&path).unwrap();
        assert_eq!(read.key_id(), key.key_id());
        assert_eq!(read.key_type(), crate::KeyType::EcdsaP256);
        assert_eq!(&read_public(&public_path(&path)).unwrap(), key.public());
        // The public half of another key: refused.
        let text = fs::read_to_string(&path).unwrap();
        let other = PrivateKey::generate_of(crate::KeyType::EcdsaP256);
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mine = file["keyval"]["public"].as_str().unwrap();
        let swapped = text.replace(
            &serde_json::to_string(mine).unwrap(),
            &serde_json::to_string(&other.public().keyval.public).unwrap(),
        );
        assert_ne!(swapped, text);
        let p = dir.path().join("swapped");
        fs::write(&p, swapped).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read_private(&p), Err(KeyError::Mismatch { .. })));
    }

    #[test]
    fn round_trip_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = PrivateKey::generate();
        write_private(&path, &key).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&public_path(&path)), 0o644);
        assert_eq!(read_private(&path).unwrap().key_id(), key.key_id());
        assert_eq!(&read_public(&public_path(&path)).unwrap(), key.public());
        // Never overwritten.
        let again = write_private(&path, &PrivateKey::generate());
        assert!(matches!(again, Err(KeyError::Exists { .. })));
        assert_eq!(read_private(&path).unwrap().key_id(), key.key_id());
    }

    #[test]
    fn bad_files_are_rejected_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        write_private(&good, &PrivateKey::generate()).unwrap();
        let text = fs::read_to_string(&good).unwrap();
        let other = PrivateKey::generate().public().keyval.public.clone();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let seed = file["keyval"]["private"].as_str().unwrap().to_string();
        let rsa = text.replace("\"ed25519\"", "\"rsa\"");
        let cases: Vec<(&str, String, u32, &str)> = vec![
            ("loose", text.clone(), 0o644, "readable by group"),
            ("junk", "not json".into(), 0o600, "invalid JSON"),
            ("rsa", rsa, 0o600, "is not ed25519/ed25519 or ecdsa"),
            ("short", text.replace(&seed, "abcd"), 0o600, "64 hex"),
            (
                "mismatch",
                text.replace(file["keyval"]["public"].as_str().unwrap(), &other),
                0o600,
                "do not match",
            ),
        ];
        for (name, body, mode, expected) in cases {
            let p = dir.path().join(name);
            fs::write(&p, body).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            let err = read_private(&p).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}: {err}");
            assert!(!err.contains(&seed), "{name} leaks the secret: {err}");
        }
    }
}
