//! Validation time: `hsp validate` of one well-behaved version (the
//! `validate` test image, health start period 5 s) against the time the
//! version itself needs (until healthy, and to stop), so the validator's own
//! overhead is the difference; and `hsp build --validate` of the example
//! registry (18 documents whose images cannot be pulled here: each is
//! reported "not pullable", or its dependencies as not started) with
//! validations in parallel.
//!
//! Run with `benches/validate.sh` (it builds the release `hsp` first; needs
//! .ci/install: dockerd and the registry on 127.0.0.1:5000). `BENCH_RUNS`
//! (5) runs; prints each run and the medians. Nothing is asserted.

use std::process::Command;
use std::time::Instant;

use hsp_test_support::{root, s};
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The first number after `after` in `text`.
fn figure(text: &str, after: &str) -> f64 {
    let rest = &text[text.find(after).expect(after) + after.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let hsp = root().join("target/release/hsp");
    let image = hsp_test_support::images::variant(
        "validate",
        "validate-good",
        &[
            "USER 1000",
            "EXPOSE 8080",
            "LABEL org.opencontainers.image.version=1.0.0",
            "LABEL org.opencontainers.image.licenses=GPL-2.0-only",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("1.0.0.json");
    let document = json!({
        "id": "org.hsp.test.validate", "version": "1.0.0", "name": "V", "summary": "s",
        "publisher": "hsp-test", "license": "GPL-2.0-only",
        "tasks": [{"name": "app", "image": image, "ports": [{"name": "http", "port": 8080}],
                   "memory_mib": 64, "stop_timeout_s": 3,
                   "health": {"http": {"port": "http", "path": "/healthz"},
                              "interval_s": 1, "timeout_s": 1, "start_period_s": 5, "retries": 2}}],
        "smoke_test": {"task": "app", "http": {"port": "http", "path": "/version"}, "timeout_s": 5}
    });
    std::fs::write(&doc, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let (mut walls, mut own) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let t = Instant::now();
        let o = Command::new(&hsp)
            .args(["validate", s(&doc), "--json"])
            .output()
            .unwrap();
        let wall = t.elapsed().as_secs_f64();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let evidence = |rule: &str| -> String {
            report["rules"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["rule"] == rule)
                .unwrap()["evidence"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let service =
            figure(&evidence("healthy"), "healthy ") + figure(&evidence("stop"), "stopped ");
        println!("run {run}: {wall:.2} s in all, {service:.2} s the service's own (healthy + stop), overhead {:.2} s", wall - service);
        walls.push(wall);
        own.push(wall - service);
    }
    println!("hsp validate, one version: median {:.2} s, validator overhead median {:.2} s (start period 5 s)", median(walls), median(own));

    // The example registry's documents, all new, in parallel.
    let repo = dir.path().join("examples");
    hsp_test_support::fs::copy_tree(&root().join("examples/registry"), &repo);
    for jobs in ["1", "2"] {
        let out = dir.path().join(format!("out-{jobs}"));
        let t = Instant::now();
        let o = Command::new(&hsp)
            .args([
                "build",
                s(&repo),
                "--dev-keys",
                "--no-site",
                "--out",
                s(&out),
                "--validate",
                "--jobs",
                jobs,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let wall = t.elapsed().as_secs_f64();
        let reported: usize = std::fs::read_dir(repo.join("validations"))
            .map(|services| {
                services
                    .map(|s| std::fs::read_dir(s.unwrap().path()).unwrap().count())
                    .sum()
            })
            .unwrap_or(0);
        let errors = err.matches("error: ").count();
        println!(
            "hsp build --validate --jobs {jobs} of examples/registry: {wall:.2} s ({reported} of 18 documents reported, {errors} errors without a report)"
        );
        let _ = std::fs::remove_dir_all(repo.join("validations"));
    }
}
