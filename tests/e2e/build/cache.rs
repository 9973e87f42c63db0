//! The content-hash cache of `hsp build` (`.hsp_cache` beside OUT) with the real
//! binary: a build that uses it publishes exactly what a build that does not
//! publishes, it re-reads only changed documents, and a poisoned cache can
//! never make a build serve bytes that differ from the publisher-signed hash.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hsp_test_support::fs::{copy_tree, files_under, tree};
use hsp_test_support::registry::*;
use hsp_test_support::s;
use sha2::{Digest, Sha256};

/// The build cache folder of builds into `out` (whatever repo: there is one).
fn cache_shard(out: &Path, publisher: &str) -> PathBuf {
    let caches = out.parent().unwrap().join(".hsp_cache");
    let mut repos = files_under(&caches);
    repos.retain(|p| p.ends_with(format!("{publisher}.json")));
    assert_eq!(repos.len(), 1, "one shard of {publisher}: {repos:?}");
    repos.remove(0)
}

/// Waits until every file under `dir` changed more than the cache's racy
/// window ago (2 s), so that a build records them with their identity.
fn settle(dir: &Path) {
    let newest = files_under(dir)
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).unwrap();
            std::time::UNIX_EPOCH + Duration::new(m.ctime() as u64, m.ctime_nsec() as u32)
        })
        .max()
        .unwrap();
    while SystemTime::now() < newest + Duration::from_millis(2100) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn build_json(f: &Fixture, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--no-site", "--json"];
    args.extend_from_slice(extra);
    let o = f.build_output(out, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Every target file under OUT has the sha256 its name says.
fn assert_targets_match_their_names(out: &Path) {
    for p in files_under(&out.join("targets")) {
        let name = p.file_name().unwrap().to_string_lossy();
        let (hash, _) = name.split_once('.').unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            hash,
            "{} does not have the bytes it is named after",
            p.display()
        );
    }
}

fn edit(doc: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(doc).unwrap();
    let changed = text.replacen(from, to, 1);
    assert_ne!(text, changed, "{} has no {from:?}", doc.display());
    std::fs::write(doc, changed).unwrap();
}

#[test]
fn a_build_with_the_cache_publishes_what_a_build_without_it_publishes() {
    let f = Fixture::new();
    let (cached, clean) = (f.tmp.path().join("a/out"), f.tmp.path().join("b/out"));
    settle(&f.repo);
    let first = build_json(&f, &cached, &["--now", "2026-11-26T00:00:00Z"]);
    build_json(&f, &clean, &["--now", "2026-11-26T00:00:00Z", "--no-cache"]);
    let docs = first["documents"].as_u64().unwrap();
    assert_eq!(first["documents_read"].as_u64(), Some(docs));
    assert!(tree(&cached) == tree(&clean), "first builds differ");

    // Nothing changed: nothing is read again.
    let again = build_json(&f, &cached, &["--now", "2026-11-26T00:30:00Z"]);
    assert_eq!(again["documents_read"].as_u64(), Some(0), "{again}");
    assert_eq!(again["documents_cached"].as_u64(), Some(docs));
    // Every service API file is reused (a clean build has none to reuse).
    let services = again["api_files_reused"].as_u64().unwrap();
    assert_eq!(first["api_files_reused"].as_u64(), Some(0));
    assert!(services > 5, "{again}");
    build_json(&f, &clean, &["--now", "2026-11-26T00:30:00Z", "--no-cache"]);
    assert!(tree(&cached) == tree(&clean), "unchanged rebuilds differ");

    // One document changes (and is re-signed): only it is read again, and
    // both outputs are still byte for byte the same.
    let name = "axllent";
    let doc = f.a_document(name);
    // Only a yank may change a published version.
    edit(
        &doc,
        "\"summary\": \"",
        "\"yanked\": \"Changed: a test\", \"summary\": \"",
    );
    f.sign(name);
    let later = ["--now", "2026-11-26T01:00:00Z"];
    let second = build_json(&f, &cached, &later);
    assert_eq!(second["documents_read"].as_u64(), Some(1), "{second}");
    assert_eq!(second["documents_cached"].as_u64(), Some(docs - 1));
    // Only the changed service's API file can differ (and does unless the
    // edit is in a part of the document the API does not carry).
    let reused = second["api_files_reused"].as_u64().unwrap();
    assert!(reused == services || reused == services - 1, "{second}");
    build_json(&f, &clean, &[later[0], later[1], "--no-cache"]);
    let (a, b) = (tree(&cached), tree(&clean));
    assert!(a == b, "rebuilds with and without the cache differ");
    assert_targets_match_their_names(&cached);
    // The cache lives beside OUT, never inside it.
    assert!(a.keys().all(|p| !p.contains("hsp_cache")));

    // A rebuild with the cache trusts that OUT still holds what it served;
    // one without it checks every file, and restores what went missing.
    let target = a
        .keys()
        .find(|p| p.starts_with("targets/services/"))
        .unwrap();
    std::fs::remove_file(cached.join(target)).unwrap();
    let repaired = build_json(
        &f,
        &cached,
        &["--now", "2026-11-26T02:00:00Z", "--no-cache"],
    );
    assert_eq!(repaired["written"].as_u64(), Some(1 + 3), "{repaired}");
    build_json(&f, &clean, &["--now", "2026-11-26T02:00:00Z", "--no-cache"]);
    assert!(
        tree(&cached) == tree(&clean),
        "--no-cache did not repair OUT"
    );
}

/// `hsp build` arguments into `out` at `now` (no website), and `extra`.
fn build_args(f: &Fixture, out: &Path, now: &str, extra: &str) -> Vec<String> {
    let mut a: Vec<String> = ["build", s(&f.repo), "--keys", s(&f.keys), "--out", s(out)]
        .map(String::from)
        .into();
    a.extend(["--now", now, "--no-site"].map(String::from));
    if !extra.is_empty() {
        a.push(extra.into());
    }
    a
}

#[test]
fn a_document_edited_without_re_signing_fails_the_rebuild_like_a_clean_build() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    settle(&f.repo);
    build_json(&f, &out, &["--now", "2026-11-26T00:00:00Z"]);
    let before = tree(&out);
    let doc = f.a_document("axllent");
    edit(&doc, "\"summary\": \"", "\"summary\": \"Unsigned: ");
    let args = |extra: &'static str| build_args(&f, &out, "2026-11-26T01:00:00Z", extra);
    let cached = hsp_fails(args(""));
    let clean = hsp_fails(args("--no-cache"));
    assert!(
        cached.contains("changed after publisher axllent signed it"),
        "{cached}"
    );
    assert_eq!(cached, clean, "the cached build fails differently");
    assert!(tree(&out) == before, "a failed build changed OUT");

    // A check error is reported the same with and without the cache, at its
    // line and column.
    edit(&doc, "\"version\": \"", "\"version\": \"not-a-version-");
    let cached = hsp_fails(args(""));
    let clean = hsp_fails(args("--no-cache"));
    assert!(cached.contains("error[E011]"), "{cached}");
    assert_eq!(cached, clean);
    assert!(tree(&out) == before, "a failed build changed OUT");
}

/// Rewrites the cache entry of `doc` so that it claims the file as it is now
/// (its current identity on disk) has `sha256`. The entry is in the folder's
/// JSON shard; its binary record (`<publisher>.bin`, the same facts for a
/// folder that did not change) is removed so that the build reads the shard.
fn poison(out: &Path, publisher: &str, repo: &Path, doc: &Path, sha256: &str) {
    let shard = cache_shard(out, publisher);
    let record = shard.with_extension("bin");
    assert!(record.exists(), "{} exists", record.display());
    std::fs::remove_file(record).unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&shard).unwrap()).unwrap();
    let rel = doc
        .strip_prefix(repo)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let m = std::fs::metadata(doc).unwrap();
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    let entry = json["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["path"] == rel.as_str())
        .expect("the document has a cache entry");
    assert!(entry["key"].is_object(), "the entry is keyed: {entry}");
    entry["key"] = serde_json::json!({
        "len": m.len(),
        "mtime_ns": ns(m.mtime(), m.mtime_nsec()),
        "ctime_ns": ns(m.ctime(), m.ctime_nsec()),
        "ino": m.ino(),
        "dev": m.dev(),
    });
    entry["length"] = m.len().into();
    entry["sha256"] = sha256.into();
    std::fs::write(&shard, serde_json::to_vec(&json).unwrap()).unwrap();
}

#[test]
fn a_poisoned_cache_cannot_publish_bytes_that_differ_from_the_signed_hash() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    settle(&f.repo);
    build_json(&f, &out, &["--now", "2026-11-26T00:00:00Z"]);
    let doc = f.a_document("axllent");
    let signed = hex::encode(Sha256::digest(std::fs::read(&doc).unwrap()));
    // Same length, different bytes, not re-signed; the cache claims the new
    // file still has the signed hash.
    edit(&doc, "\"summary\": \"", "\"summary\": \"X");
    edit(&doc, " ", "");
    poison(&out, "axllent", &f.repo, &doc, &signed);

    // Into a new OUT the document is copied, and the copy is checked against
    // the signed hash: the build fails and publishes nothing.
    let fresh = f.tmp.path().join("fresh");
    let err = f.build_fails(&fresh, &["--now", "2026-11-26T01:00:00Z", "--no-site"]);
    assert!(err.contains("changed during the build"), "{err}");
    assert!(!fresh.exists(), "a failed first build left {fresh:?}");

    // In place, the signed bytes are already served under their hash: the
    // build may reuse them, but every served file still has its signed hash.
    let o = f.build_output(&out, &["--now", "2026-11-26T01:00:00Z", "--no-site"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_targets_match_their_names(&out);
    let served = files_under(&out.join("targets/services"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&signed))
        .collect::<Vec<_>>();
    assert_eq!(served.len(), 1, "{served:?}");
    assert_ne!(
        std::fs::read(&served[0]).unwrap(),
        std::fs::read(&doc).unwrap(),
        "the unsigned edit is served"
    );

    // A poisoned entry whose hash is not the signed one fails like a change.
    poison(&out, "axllent", &f.repo, &doc, &"0".repeat(64));
    let err = f.build_fails(&out, &["--now", "2026-11-26T02:00:00Z", "--no-site"]);
    assert!(
        err.contains("changed after publisher axllent signed it"),
        "{err}"
    );
}

/// A rebuild takes the publisher folders that did not change from their
/// records; a change in one folder can still break a rule across folders,
/// which must be reported exactly as a clean build reports it.
#[test]
fn a_change_that_breaks_a_rule_across_folders_fails_like_a_clean_build() {
    let f = Fixture::new();
    let out = f.tmp.path().join("out");
    settle(&f.repo);
    build_json(&f, &out, &["--now", "2026-11-26T00:00:00Z"]);
    let before = tree(&out);
    // Every postgres provider yanked: the open-source services in other
    // (unchanged) folders that need one now break the open-source rule.
    let postgres = f
        .publisher_dir("hsp-community")
        .join("services/org.hsp.community.postgresql");
    for doc in files_under(&postgres) {
        edit(
            &doc,
            "\"license\":",
            "\"yanked\": \"withdrawn\",\n  \"license\":",
        );
    }
    f.sign("hsp-community");
    let later = "2026-11-26T01:00:00Z";
    let cached = hsp_fails(build_args(&f, &out, later, ""));
    let clean = hsp_fails(build_args(&f, &out, later, "--no-cache"));
    for consumer in [
        "org.hapifhir.server/8.0.0.json",
        "org.keycloak.server/26.0.7.json",
    ] {
        assert!(
            cached
                .lines()
                .any(|l| l.contains(consumer) && l.contains("error[E075]")),
            "{consumer}: {cached}"
        );
    }
    assert_eq!(cached, clean, "the cached build fails differently");
    assert!(tree(&out) == before, "a failed build changed OUT");
}

/// What the records of the folders keep depends on the publisher records, the
/// signed metadata and OUT: a change to any gives what a clean build gives.
#[test]
fn records_follow_publisher_records_metadata_and_out() {
    let f = Fixture::new();
    let (cached, clean) = (f.tmp.path().join("a/out"), f.tmp.path().join("b/out"));
    settle(&f.repo);
    let mut minute = 0;
    let mut both = |what: &str| {
        minute += 1;
        let now = format!("2026-11-26T00:{minute:02}:00Z");
        let report = build_json(&f, &cached, &["--now", &now]);
        build_json(&f, &clean, &["--now", &now, "--no-cache"]);
        assert!(tree(&cached) == tree(&clean), "{what}: the builds differ");
        assert_targets_match_their_names(&cached);
        report
    };
    both("first build");
    let unchanged = both("nothing changed");
    assert_eq!(unchanged["documents_read"].as_u64(), Some(0), "{unchanged}");

    // A publisher record changes (a new namespace): no document is read
    // again, but every folder's checks and roles are redone.
    let record = f.publisher_dir("axllent").join("publisher.json");
    edit(
        &record,
        "\"namespaces\": [",
        "\"namespaces\": [\"org.axllent-labs\", ",
    );
    let r = both("a publisher record changed");
    assert_eq!(r["documents_read"].as_u64(), Some(0), "{r}");

    // Metadata signed again with no document changed: a new version.
    f.sign("hapifhir");
    both("metadata re-signed");

    // Records that are missing or do not decode are rebuilt from the shards.
    let caches = cached.parent().unwrap().join(".hsp_cache");
    let records: Vec<PathBuf> = files_under(&caches)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    assert!(records.len() >= 8, "{records:?}");
    std::fs::remove_file(&records[0]).unwrap();
    std::fs::write(&records[1], b"not a record").unwrap();
    let r = both("records lost");
    assert_eq!(r["documents_read"].as_u64(), Some(0), "{r}");

    // OUT replaced by an older copy of itself (both OUTs, so that they stay
    // comparable): the records then describe files and roles that OUT no
    // longer serves, which are written again, not assumed.
    let saved = [f.tmp.path().join("saved-a"), f.tmp.path().join("saved-b")];
    copy_tree(&cached, &saved[0]);
    copy_tree(&clean, &saved[1]);
    // The newest version: its summary is the service's, in the API files.
    let doc = f
        .publisher_dir("keycloak")
        .join("services/org.keycloak.server/26.0.7.json");
    // Only a yank may change a published version.
    edit(
        &doc,
        "\"summary\": \"",
        "\"yanked\": \"Changed: a test\", \"summary\": \"",
    );
    f.sign("keycloak");
    // And a role whose documents (so API files) did not change.
    f.sign("hapifhir");
    settle(&f.repo);
    both("one more build");
    for (out, copy) in [(&cached, &saved[0]), (&clean, &saved[1])] {
        std::fs::remove_dir_all(out).unwrap();
        copy_tree(copy, out);
    }
    both("OUT rolled back");

    // A key revoked in the publisher record (the metadata not signed again):
    // the role verified before fails now, as in a clean build.
    settle(&f.repo);
    both("settled");
    let other = f.tmp.path().join("pkeys/other.key");
    hsp_ok(["keygen", "--out", s(&other)]);
    f.set_publisher_keys("axllent", &[&other]);
    let now = "2026-11-26T01:00:00Z";
    let a = hsp_fails(build_args(&f, &cached, now, ""));
    let b = hsp_fails(build_args(&f, &clean, now, "--no-cache"));
    assert!(a.contains("signed by unknown key"), "{a}");
    assert_eq!(a.replace(s(&cached), "OUT"), b.replace(s(&clean), "OUT"));
}
