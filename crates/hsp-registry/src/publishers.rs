//! Publisher roles: each publisher's signed targets metadata
//! (`publishers/<name>/<name>.json`, written by `hsp sign`), checked against
//! `publisher.json` and the documents in the publisher's folder, and the
//! delegation the top-level targets role gives it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use hsp_check::{Code, Diagnostic, Loaded};
use hsp_index::registry::{namespace_patterns, PUBLISHERS_DIR};
use hsp_index::Publisher;
use hsp_keys::PrivateKey;
use hsp_tuf::{
    self as tuf, DelegatedRole, Hashes, Key, KeyId, Role, RoleKeys, Signed, TargetFile, Targets,
    SPEC_VERSION,
};
use rayon::prelude::*;

use crate::clock;
use crate::repo::{split_path, Folder, RoleRecord, ScannedDoc, StatKey};

/// A verified publisher role, ready to publish.
pub struct PublisherRole {
    pub delegation: DelegatedRole,
    pub keys: BTreeMap<KeyId, Key>,
    /// The version of its metadata.
    pub version: u64,
    /// The metadata, read and verified by this build, served verbatim as
    /// `N.<name>.json`; `None` when OUT serves it already and an earlier
    /// build verified it against the same record, file and documents (see
    /// [`RoleRecord`]).
    pub metadata: Option<Signed<Targets>>,
}

/// Path of the publisher's signed metadata, repo-relative.
pub fn metadata_path(name: &str) -> String {
    format!("{PUBLISHERS_DIR}/{name}/{name}.json")
}

/// Targets metadata over `docs` (target path, bytes).
pub fn targets_over<'a>(
    docs: impl IntoParallelIterator<Item = (&'a str, &'a [u8])>,
    version: u64,
    expires: DateTime<Utc>,
) -> Targets {
    let targets: BTreeMap<String, TargetFile> = docs
        .into_par_iter()
        .map(|(path, bytes)| (path.to_string(), TargetFile::from_bytes(bytes)))
        .collect();
    targets_listing(targets, version, expires)
}

/// The TUF description of a scanned document: its length and sha256.
pub fn target_file(doc: &ScannedDoc) -> TargetFile {
    TargetFile {
        length: doc.length,
        hashes: Hashes::from([("sha256".to_string(), doc.sha256.clone())]),
        custom: None,
    }
}

fn targets_listing(
    targets: BTreeMap<String, TargetFile>,
    version: u64,
    expires: DateTime<Utc>,
) -> Targets {
    Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires,
        targets,
        delegations: None,
    }
}

fn delegation(p: &Publisher, keyids: Vec<KeyId>) -> DelegatedRole {
    DelegatedRole {
        name: p.name.clone(),
        keyids,
        threshold: p.threshold,
        terminating: true,
        paths: Some(namespace_patterns(&p.namespaces)),
        path_hash_prefixes: None,
    }
}

fn keys_of(p: &Publisher) -> BTreeMap<KeyId, Key> {
    p.keys.iter().map(|k| (tuf::key_id(k), k.clone())).collect()
}

/// Groups documents by publisher folder: name -> [(target path, document)].
pub fn documents_by_folder(docs: &[ScannedDoc]) -> BTreeMap<&str, Vec<(&str, &ScannedDoc)>> {
    let mut out: BTreeMap<&str, Vec<(&str, &ScannedDoc)>> = BTreeMap::new();
    for d in docs {
        if let Some((folder, target)) = split_path(&d.path) {
            out.entry(folder).or_default().push((target, d));
        }
    }
    out
}

/// Whether OUT serves role `name` at a version.
pub type Serves<'a> = dyn Fn(&str, u64) -> bool + Sync + 'a;

/// A verified role, and what to record of the verification for the next
/// build (`None`: nothing, as when its file changed too recently to key).
pub type Verified = (PublisherRole, Option<RoleRecord>);

/// Verifies every publisher's metadata against its record and the documents
/// of its folder (`folders`, by name). A publisher whose folder kept the
/// [`RoleRecord`] of an earlier verification, whose metadata file has the
/// identity recorded, not expired, and that OUT serves at that version, is not
/// verified again. Returns each role with what to record of it, or every
/// problem found (each naming the file and the fix).
pub fn verify(
    repo: &Path,
    publishers: &[Loaded<Publisher>],
    folders: &[Folder],
    serves: &Serves,
    now: DateTime<Utc>,
    started: i128,
) -> Result<Vec<Verified>, Vec<Problem>> {
    let results: Vec<Result<Option<Verified>, Vec<Problem>>> = publishers
        .par_iter()
        .map(|p| {
            let p = &p.value;
            let folder = folders
                .binary_search_by(|f| f.name.as_str().cmp(&p.name))
                .ok()
                .map(|i| &folders[i]);
            let file = rustix::fs::stat(repo.join(metadata_path(&p.name)));
            let key = file.ok().map(|s| StatKey::of(&s));
            if let (Some(r), Some(key)) = (folder.and_then(|f| f.role.as_ref()), key) {
                if r.key == key && r.expires > now.timestamp() && serves(&p.name, r.version) {
                    let keys = keys_of(p);
                    let role = PublisherRole {
                        delegation: delegation(p, keys.keys().cloned().collect()),
                        keys,
                        version: r.version,
                        metadata: None,
                    };
                    return Ok(Some((role, Some(r.clone()))));
                }
            }
            let docs = folder.map(Folder::documents).unwrap_or_default();
            let docs: Vec<(&str, &ScannedDoc)> = docs
                .iter()
                .filter_map(|d| Some((split_path(&d.path)?.1, d)))
                .collect();
            let role = verify_one(repo, p, &docs, now)?;
            Ok(role.map(|role| {
                let expires = role.metadata.as_ref().map(|m| m.signed.expires.timestamp());
                let record =
                    key.filter(|k| !k.is_racy(started))
                        .zip(expires)
                        .map(|(key, expires)| RoleRecord {
                            key,
                            version: role.version,
                            expires,
                        });
                (role, record)
            }))
        })
        .collect();
    let mut roles = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(role) => roles.extend(role),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(roles)
    } else {
        Err(errors)
    }
}

/// A publisher signature problem: the file, where in it (JSON pointer), the
/// check code, what is wrong and the fix. Shown as `path: message (hint: ...)`
/// by `hsp build`, as a diagnostic by `hsp check`.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub path: String,
    pub pointer: String,
    pub code: Code,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (hint: {})", self.path, self.message, self.hint)
    }
}

pub(crate) fn verify_one(
    repo: &Path,
    p: &Publisher,
    docs: &[(&str, &ScannedDoc)],
    now: DateTime<Utc>,
) -> Result<Option<PublisherRole>, Vec<Problem>> {
    let rel = metadata_path(&p.name);
    let record = format!("{PUBLISHERS_DIR}/{}/publisher.json", p.name);
    let sign_hint = format!("hsp sign --key KEY {PUBLISHERS_DIR}/{}", p.name);
    let problem = |path: &str, pointer: &str, code: Code, message: String, hint: &str| Problem {
        path: path.to_string(),
        pointer: pointer.to_string(),
        code,
        message,
        hint: hint.to_string(),
    };
    let meta_problem = |pointer: &str, message: String, hint: &str| {
        problem(&rel, pointer, Code::PublisherMetadata, message, hint)
    };
    let bytes = match std::fs::read(repo.join(&rel)) {
        Ok(b) => b,
        // A publisher with nothing published yet gets no role until it signs.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && docs.is_empty() => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Each document is reported: that is what a reviewer looks at.
            return Err(docs
                .iter()
                .map(|(_, d)| {
                    problem(
                        &d.path,
                        "",
                        Code::Unsigned,
                        format!(
                            "not signed: publisher {} has not signed its documents ({rel} is missing)",
                            p.name
                        ),
                        &sign_hint,
                    )
                })
                .collect());
        }
        Err(e) => {
            return Err(vec![meta_problem(
                "",
                format!("cannot read: {e}"),
                &sign_hint,
            )])
        }
    };
    let signed = Signed::<Targets>::from_bytes(bytes).map_err(|e| {
        vec![meta_problem(
            "",
            format!("not TUF targets metadata: {e:#}"),
            &format!("{sign_hint} rewrites it"),
        )]
    })?;
    let keys = keys_of(p);
    let role_keys = RoleKeys {
        keyids: keys.keys().cloned().collect(),
        threshold: p.threshold,
    };
    let mut errors = Vec::new();
    let verified = match tuf::verify_role(signed.clone(), &p.name, &keys, &role_keys) {
        Ok(v) => Some(v),
        Err(_) => {
            let unknown: Vec<String> = signed
                .signatures
                .iter()
                .filter(|s| !keys.contains_key(&s.keyid))
                .map(|s| s.keyid.to_string())
                .collect();
            let valid = tuf::verify::count_valid(&signed, &keys, &role_keys);
            let mut msg = format!(
                "{valid} valid signature(s) by keys {record} lists, threshold {}",
                p.threshold
            );
            if !unknown.is_empty() {
                msg += &format!(
                    "; signed by unknown key(s) {} that {record} does not list (revoked, or \
                     not yet added by pull request)",
                    unknown.join(", ")
                );
            } else if !signed.signatures.is_empty() {
                msg += "; a signature does not match: the file changed after signing";
            }
            errors.push(meta_problem(
                "/signatures",
                msg,
                &format!("{sign_hint} with a key {record} lists"),
            ));
            None
        }
    };
    let t = &signed.signed;
    if t.expires() <= now {
        errors.push(meta_problem(
            "/signed/expires",
            format!("expired at {} (build time {now})", t.expires()),
            &format!("{sign_hint} renews it"),
        ));
    }
    if t.delegations.is_some() {
        errors.push(meta_problem(
            "/signed/delegations",
            "publisher metadata must not delegate further".into(),
            &format!("{sign_hint} rewrites it"),
        ));
    }
    let role = delegation(p, keys.keys().cloned().collect());
    let on_disk: BTreeMap<&str, &ScannedDoc> = docs.iter().copied().collect();
    for (target, file) in &t.targets {
        let pointer = format!("/signed/targets/{}", hsp_check::locate::escape(target));
        if !role.matches(target) {
            errors.push(meta_problem(
                &pointer,
                format!(
                    "signs {target}, outside publisher {}'s namespaces {:?}",
                    p.name, p.namespaces
                ),
                &format!(
                    "move the service under an owned namespace, or ask the registry to add the \
                     namespace to {record}"
                ),
            ));
        }
        match on_disk.get(target.as_str()) {
            None => errors.push(meta_problem(
                &pointer,
                format!(
                    "lists {target} but {PUBLISHERS_DIR}/{}/{target} does not exist",
                    p.name
                ),
                &sign_hint,
            )),
            // Only sha256 is computed: metadata listing other hashes is refused.
            Some(d)
                if file.hashes.len() != 1
                    || file.sha256() != Some(d.sha256.as_str())
                    || d.length != file.length =>
            {
                errors.push(problem(
                    &d.path,
                    "",
                    Code::Unsigned,
                    format!("changed after publisher {} signed it", p.name),
                    &sign_hint,
                ))
            }
            Some(_) => {}
        }
    }
    let signed_paths: BTreeSet<&str> = t.targets.keys().map(String::as_str).collect();
    for (target, d) in docs {
        if !signed_paths.contains(target) {
            errors.push(problem(
                &d.path,
                "",
                Code::Unsigned,
                format!("not signed by publisher {}", p.name),
                &sign_hint,
            ));
        }
    }
    match verified {
        Some(v) if errors.is_empty() => {
            let metadata = v.into_inner();
            Ok(Some(PublisherRole {
                delegation: role,
                keys,
                version: metadata.signed.version,
                metadata: Some(metadata),
            }))
        }
        _ => Err(errors),
    }
}

/// `hsp check`'s signature rules: every publisher's signed metadata verified
/// against its record and the documents of the loaded `repo` at `root`, as
/// `hsp build` verifies them, each problem a diagnostic (E100, E101) placed
/// in its file.
pub fn check_signatures(
    root: &Path,
    repo: &hsp_check::Repo,
    now: DateTime<Utc>,
) -> Vec<Diagnostic> {
    let scanned: Vec<ScannedDoc> = repo
        .documents
        .iter()
        .map(|d| ScannedDoc {
            path: d.path.clone(),
            length: d.bytes.len() as u64,
            sha256: tuf::sha256_hex(&d.bytes),
            copied: false,
        })
        .collect();
    let by_folder = documents_by_folder(&scanned);
    let bytes_of: BTreeMap<&str, &[u8]> = repo
        .documents
        .iter()
        .map(|d| (d.path.as_str(), d.bytes.as_slice()))
        .collect();
    let empty = Vec::new();
    let problems: Vec<Problem> = repo
        .publishers
        .par_iter()
        .flat_map_iter(|p| {
            let docs = by_folder.get(p.value.name.as_str()).unwrap_or(&empty);
            verify_one(root, &p.value, docs, now)
                .err()
                .unwrap_or_default()
        })
        .collect();
    let mut metadata: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    problems
        .into_iter()
        .map(|pr| {
            let bytes: &[u8] = match bytes_of.get(pr.path.as_str()) {
                Some(b) => b,
                None => metadata
                    .entry(pr.path.clone())
                    .or_insert_with(|| std::fs::read(root.join(&pr.path)).unwrap_or_default()),
            };
            hsp_check::Finding::new(pr.code, pr.pointer, pr.message)
                .hint(pr.hint)
                .resolve(&pr.path, bytes)
        })
        .collect()
}

/// Development build: signs each publisher's documents with a development key
/// derived from its name (ignoring the keys `publisher.json` lists).
pub fn dev_sign(
    publishers: &[Loaded<Publisher>],
    docs: &[ScannedDoc],
    now: DateTime<Utc>,
    publisher_days: u32,
) -> Vec<PublisherRole> {
    let by_folder = documents_by_folder(docs);
    let empty = Vec::new();
    publishers
        .par_iter()
        .map(|p| {
            let key = PrivateKey::dev(&format!("publisher/{}", p.value.name));
            let docs = by_folder.get(p.value.name.as_str()).unwrap_or(&empty);
            let targets = targets_listing(
                docs.iter()
                    .map(|(t, d)| (t.to_string(), target_file(d)))
                    .collect(),
                // Like the top-level roles, a version from the build time: a client
                // that trusts an earlier dev build sees the new list (TUF never
                // re-reads a role whose version did not move).
                clock::version_at(now),
                clock::plus_days(now, publisher_days),
            );
            let metadata = Signed::sign(targets, &[&key]).expect("metadata encodes");
            let keys = BTreeMap::from([(key.key_id().clone(), key.public().clone())]);
            PublisherRole {
                delegation: DelegatedRole {
                    threshold: 1,
                    ..delegation(&p.value, vec![key.key_id().clone()])
                },
                keys,
                version: metadata.signed.version,
                metadata: Some(metadata),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = include_str!(
        "../../../examples/registry/publishers/axllent/services/org.axllent.mailpit/1.25.0.json"
    );

    fn publisher(threshold: u32, key: &PrivateKey) -> Publisher {
        Publisher {
            schema: None,
            name: "p".into(),
            title: "P".into(),
            homepage: None,
            contact: None,
            namespaces: vec!["org.axllent".into()],
            keys: vec![key.public().clone()],
            threshold,
        }
    }

    fn doc(target: &str) -> ScannedDoc {
        ScannedDoc {
            path: format!("publishers/p/{target}"),
            length: DOC.len() as u64,
            sha256: tuf::sha256_hex(DOC.as_bytes()),
            copied: false,
        }
    }

    /// (case, threshold, signed target paths, target paths on disk, expected error)
    type Case<'a> = (&'a str, u32, Vec<&'a str>, Vec<&'a str>, Option<&'a str>);

    #[test]
    fn publisher_metadata_must_match_keys_namespaces_and_documents() {
        let ok = "services/org.axllent.mailpit/1.25.0.json";
        let foreign = "services/org.other.app/1.0.0.json";
        let other = "services/org.axllent.mailpit/1.26.0.json";
        let cases: Vec<Case> = vec![
            ("valid", 1, vec![ok], vec![ok], None),
            ("nothing published yet", 1, vec![], vec![], None),
            (
                "outside namespace",
                1,
                vec![ok, foreign],
                vec![ok, foreign],
                Some("outside publisher p's namespaces"),
            ),
            (
                "unsigned document",
                1,
                vec![ok],
                vec![ok, other],
                Some("not signed by publisher p"),
            ),
            (
                "signed but missing",
                1,
                vec![ok, other],
                vec![ok],
                Some("does not exist"),
            ),
            (
                "threshold not met",
                2,
                vec![ok],
                vec![ok],
                Some("threshold 2"),
            ),
        ];
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let key = PrivateKey::from_seed([3; 32]);
        for (name, threshold, signed, on_disk, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("publishers/p")).unwrap();
            let targets = targets_over(
                signed.par_iter().map(|t| (*t, DOC.as_bytes())),
                1,
                clock::plus_days(now, 1),
            );
            let meta = Signed::sign(targets, &[&key]).unwrap();
            if !signed.is_empty() {
                std::fs::write(dir.path().join(metadata_path("p")), meta.raw()).unwrap();
            }
            let docs: Vec<ScannedDoc> = on_disk.iter().map(|t| doc(t)).collect();
            let p = Loaded {
                path: "publishers/p/publisher.json".into(),
                bytes: vec![],
                value: publisher(threshold, &key),
            };
            let docs: Vec<(&str, &ScannedDoc)> = docs
                .iter()
                .map(|d| (split_path(&d.path).unwrap().1, d))
                .collect();
            let result = verify_one(dir.path(), &p.value, &docs, now);
            match expected {
                None => assert!(result.is_ok(), "{name}: {:?}", result.err()),
                Some(e) => {
                    let errors = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
                    assert!(
                        errors.iter().any(|x| x.to_string().contains(e)),
                        "{name}: {errors:?}"
                    );
                }
            }
        }
    }
}
