//! In-process poll benchmark of the TUF updater (run by `benches/poll.sh`,
//! which builds the synthetic index, serves it and prepares the state).
//!
//! Env: `HSP_BENCH_INDEX` (index base URL), `HSP_BENCH_METADATA` (a metadata
//! dir holding at least root.json; copied, not changed), `HSP_BENCH_POLLS`
//! (default 200), `HSP_BENCH_TARGET` (optional target path fetched once
//! before polling, as an agent that read a service's data would have).
//!
//! Prints one JSON object: median wall time per poll, CPU per poll (process
//! user+system time over the loop, divided by the number of polls), bytes and
//! requests per poll, and resident memory at start, after the first refresh
//! (and target lookup) and after polling.

use std::time::Instant;

use hsp_tuf::client::updater_for;

fn cpu_ticks() -> u64 {
    // /proc/self/stat fields 14 and 15: utime and stime in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let (Ok(index), Ok(metadata)) = (
        std::env::var("HSP_BENCH_INDEX"),
        std::env::var("HSP_BENCH_METADATA"),
    ) else {
        eprintln!("poll: set HSP_BENCH_INDEX and HSP_BENCH_METADATA (run agent/benches/poll.sh)");
        return;
    };
    let polls: usize = std::env::var("HSP_BENCH_POLLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rss_start = rss_kb();
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("metadata");
    std::fs::create_dir_all(&md).unwrap();
    for e in std::fs::read_dir(&metadata).unwrap().flatten() {
        std::fs::copy(e.path(), md.join(e.file_name())).unwrap();
    }
    let mut up = updater_for(&index, &md, &tmp.path().join("targets")).unwrap();
    up.refresh().expect("first refresh");
    if let Ok(target) = std::env::var("HSP_BENCH_TARGET") {
        up.get_target(&target).expect("bench target");
    }
    let rss_refreshed = rss_kb();
    let start_stats = up.stats();
    let mut walls = Vec::with_capacity(polls);
    let cpu0 = cpu_ticks();
    for _ in 0..polls {
        let t = Instant::now();
        up.refresh().expect("poll");
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu = (cpu_ticks() - cpu0) as f64 * 1000.0 / 100.0 / polls as f64; // USER_HZ = 100
    let end = up.stats();
    walls.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let out = serde_json::json!({
        "polls": polls,
        "median_wall_ms": (walls[polls / 2] * 1000.0).round() / 1000.0,
        "cpu_ms_per_poll": (cpu * 1000.0).round() / 1000.0,
        "bytes_per_poll": (end.bytes - start_stats.bytes) as f64 / polls as f64,
        "requests_per_poll": (end.requests - start_stats.requests) as f64 / polls as f64,
        "rss_kb_at_start": rss_start,
        "rss_kb_after_first_refresh": rss_refreshed,
        "rss_kb_after_polls": rss_kb(),
    });
    println!("{out}");
}
