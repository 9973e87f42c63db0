//! Mirror throughput: `hsp mirror --images` against `skopeo copy --all` of
//! the same images between the same two registries, in one run, and a
//! re-run of `hsp mirror` with nothing changed. Both registries are
//! distribution 2.8 on loopback (what .ci/install provides); the images are
//! multi-arch, made locally (hsp_test_support::oci), each with a
//! pseudo-random amd64 layer of `BENCH_LAYER_MB` (16) MB.
//!
//! Run with `benches/mirror.sh` (it builds the release `hsp` first).
//! `BENCH_IMAGES` (8) images, `BENCH_RUNS` (3) runs, `BENCH_JOBS` (4) for
//! `hsp mirror --jobs`; prints each run and the
//! medians. Nothing is asserted: it is a measurement.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use hsp_test_support::oci::{push_multi_arch_filled, Filler, Registry};
use hsp_test_support::registry::{write_document, RegistryBuilder};
use hsp_test_support::{root, s};
use serde_json::json;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().expect("running the command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn main() {
    let images = env_or("BENCH_IMAGES", 8);
    let runs = env_or("BENCH_RUNS", 3);
    let layer_mb = env_or("BENCH_LAYER_MB", 16);
    let jobs = env_or("BENCH_JOBS", 4).to_string();
    let hsp = root().join("target/release/hsp");
    assert!(
        hsp.exists(),
        "{} is missing: run benches/mirror.sh",
        hsp.display()
    );
    let skopeo = "skopeo";
    let dir = tempfile::tempdir().unwrap();
    let upstream = Registry::start();
    let repo = dir.path().join("repo");
    RegistryBuilder::new("mirrorbench", "mirror bench")
        .interface_from_examples("http-ui")
        .publisher("acme", "Acme", &["com.acme"])
        .write(&repo);
    let mut refs = Vec::new();
    for i in 0..images {
        let filler = Filler {
            bytes: layer_mb << 20,
            seed: i as u64 + 1,
        };
        let image =
            push_multi_arch_filled(&upstream, &format!("acme/svc{i}"), "1.0", "svc", filler);
        let pinned = format!("{}:1.0@{}", image.repo, image.index_digest);
        write_document(
            &repo,
            &json!({
                "id": format!("com.acme.svc{i}"), "version": "1.0.0", "name": "Svc",
                "summary": "A service.", "publisher": "acme", "license": "MIT",
                "provides": [{"interface": "http-ui", "version": "1.0.0", "task": "app",
                              "port": "http", "binding": {"url": "http://${self.app.http}/"}}],
                "tasks": [{"name": "app", "image": pinned, "memory_mib": 64,
                           "ports": [{"name": "http", "port": 8080}],
                           "health": {"http": {"port": "http", "path": "/healthz"}}}],
                "smoke_test": {"task": "app", "http": {"port": "http", "path": "/healthz"}}
            }),
        );
        refs.push((image.name.clone(), image.index_digest.clone()));
    }
    let out = dir.path().join("out");
    let build = Command::new(&hsp)
        .args([
            "build",
            s(&repo),
            "--dev-keys",
            "--no-site",
            "--out",
            s(&out),
        ])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let root_file = out.join("metadata/1.root.json");
    let total_mb = images * (layer_mb + 1);
    println!("mirror bench: {images} multi-arch images, ~{total_mb} MB, {runs} runs");
    let (mut t_hsp, mut t_skopeo, mut t_again) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let mirror = dir.path().join(format!("mirror{run}"));
        let site = Registry::start();
        let hsp_s = timed(Command::new(&hsp).args([
            "mirror",
            s(&out),
            s(&mirror),
            "--root",
            s(&root_file),
            "--images",
            &site.host(),
            "--jobs",
            &jobs,
        ]));
        let again = timed(Command::new(&hsp).args([
            "mirror",
            s(&out),
            s(&mirror),
            "--images",
            &site.host(),
        ]));
        let other = Registry::start();
        let t = Instant::now();
        for (name, digest) in &refs {
            timed(Command::new(skopeo).args([
                "copy",
                "--all",
                "--quiet",
                "--insecure-policy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                &format!("docker://{}/{name}@{digest}", upstream.host()),
                &format!("docker://{}/{name}@{digest}", other.host()),
            ]));
        }
        let skopeo_s = t.elapsed().as_secs_f64();
        println!(
            "run {run}: hsp mirror {hsp_s:.2} s, skopeo copy --all {skopeo_s:.2} s ({:.2}x), re-run with nothing changed {again:.3} s",
            skopeo_s / hsp_s
        );
        t_hsp.push(hsp_s);
        t_skopeo.push(skopeo_s);
        t_again.push(again);
        drop(site);
        drop(other);
        let _ = std::fs::remove_dir_all(Path::new(&mirror));
    }
    let (h, k, a) = (median(t_hsp), median(t_skopeo), median(t_again));
    println!(
        "median: hsp mirror {h:.2} s ({:.0} MB/s), skopeo {k:.2} s ({:.0} MB/s): {:.2}x; re-run {a:.3} s",
        total_mb as f64 / h,
        total_mb as f64 / k,
        k / h
    );
}
