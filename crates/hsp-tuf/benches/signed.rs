//! Parsing signed TUF metadata: `Signed::from_bytes` (fast path when `signed`
//! is already canonical) against `Signed::from_bytes_via_value` (the general
//! path: `serde_json::Value`, re-encoded canonical, payload from the `Value`).
//!
//! `cargo bench -p hsp-tuf --bench signed` parses, in alternating rounds:
//! - a 500-target `targets` file as `hsp sign` writes it (canonical, ~72 KB);
//! - the same file pretty-printed, as python-tuf's `JSONSerializer()` writes
//!   (general path both ways: the cost of trying the fast path first);
//! - `/tmp/hspbench/repo/publishers/bench7/bench7.json` if it exists (read only).
//!
//! Env: `HSP_BENCH_PARSES` (parses per round, default 100), `HSP_BENCH_ROUNDS`
//! (default 21). Prints per file the median time per parse of each path over
//! the rounds, their ratio, and the load average.
//!
//! 2026-11-26, 2 cores, load 2.3; median of three runs (each run's figures
//! within 4% of these):
//!
//! ```text
//! file                                 bytes    via Value   from_bytes   ratio
//! hsp sign, 500 targets                70740     477.4 µs     166.7 µs   2.86x
//! same, pretty-printed                 98816     533.2 µs     534.9 µs   1.00x
//! .../bench7/bench7.json               71241     482.4 µs     165.3 µs   2.92x
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer as _, SigningKey};
use hsp_tuf::KeyVal;
use hsp_tuf::{key_id, Key, KeyId, Signed, Signer, TargetFile, Targets, SPEC_VERSION};

struct BenchKey(SigningKey);

impl BenchKey {
    fn public(&self) -> Key {
        Key {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: hex::encode(self.0.verifying_key().as_bytes()),
            },
        }
    }
}

impl Signer for BenchKey {
    fn key_id(&self) -> KeyId {
        key_id(&self.public())
    }
    fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_bytes().to_vec()
    }
}

/// 50 services x 10 versions, as `hsp sign` signs a publisher of the
/// synthetic benchmark registry.
fn targets_file() -> Vec<u8> {
    let targets = (0..50)
        .flat_map(|s| (0..10).map(move |v| (s, v)))
        .map(|(s, v)| {
            let document = format!("{{\"id\":\"com.bench.svc{s}\",\"version\":\"1.{v}.0\"}}");
            let mut file = TargetFile::from_bytes(document.repeat(40).as_bytes());
            file.length = 2369;
            (format!("services/com.bench.svc{s}/1.{v}.0.json"), file)
        })
        .collect();
    let expires: DateTime<Utc> = "2027-11-26T14:03:50Z".parse().expect("date");
    let payload = Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version: 1,
        expires,
        targets,
        delegations: None,
    };
    let key = BenchKey(SigningKey::from_bytes(&[7; 32]));
    Signed::sign(payload, &[&key as &dyn Signer])
        .expect("sign")
        .into_raw()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Median time per parse of `parse` on `file` over `rounds` rounds of
/// `parses` parses each; the two paths alternate rounds so they share noise.
fn measure(file: &[u8], parses: usize, rounds: usize) -> (Duration, Duration) {
    type Parse = fn(Vec<u8>) -> Result<Signed<Targets>, hsp_tuf::TufError>;
    let paths: [Parse; 2] = [Signed::from_bytes_via_value, Signed::from_bytes];
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (parse, times) in paths.iter().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..parses {
                black_box(parse(black_box(file.to_vec())).expect("parses"));
            }
            times.push(start.elapsed() / parses as u32);
        }
    }
    let [old, new] = times;
    (median(old), median(new))
}

fn main() {
    let parses = env_or("HSP_BENCH_PARSES", 100);
    let rounds = env_or("HSP_BENCH_ROUNDS", 21);
    let canonical = targets_file();
    let value: serde_json::Value = serde_json::from_slice(&canonical).expect("json");
    let pretty = serde_json::to_vec_pretty(&value).expect("json");
    let mut files = vec![
        ("hsp sign, 500 targets".to_string(), canonical),
        ("same, pretty-printed".to_string(), pretty),
    ];
    let bench7 = "/tmp/hspbench/repo/publishers/bench7/bench7.json";
    if let Ok(bytes) = std::fs::read(bench7) {
        files.push((bench7.to_string(), bytes));
    }
    println!("{parses} parses x {rounds} rounds, median time per parse");
    println!(
        "{:<48} {:>8} {:>12} {:>12} {:>7}",
        "file", "bytes", "via Value", "from_bytes", "ratio"
    );
    for (name, file) in &files {
        let old = Signed::<Targets>::from_bytes_via_value(file.clone()).expect("parses");
        let new = Signed::<Targets>::from_bytes(file.clone()).expect("parses");
        assert_eq!(
            old.canonical(),
            new.canonical(),
            "{name}: same canonical bytes"
        );
        assert_eq!(old.signed, new.signed, "{name}: same payload");
        let (old, new) = measure(file, parses, rounds);
        println!(
            "{name:<48} {:>8} {:>9.1} µs {:>9.1} µs {:>6.2}x",
            file.len(),
            old.as_secs_f64() * 1e6,
            new.as_secs_f64() * 1e6,
            old.as_secs_f64() / new.as_secs_f64()
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.trim());
}
