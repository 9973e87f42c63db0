//! Measuring a child process: wall time, CPU time and peak memory.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Flushes dirty pages so that one run's writeback does not slow the next.
pub fn sync() {
    let _ = Command::new("sync").status();
}

/// One measured process.
pub struct Run {
    pub wall_s: f64,
    /// Peak resident memory (VmHWM), kB.
    pub hwm_kb: u64,
    /// User + system CPU time, seconds.
    pub cpu_s: f64,
    pub stdout: Vec<u8>,
}

/// `/proc/<pid>/stat` user + system time in seconds (USER_HZ is 100 on Linux).
pub fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

pub fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd`, sampling its peak memory and CPU time until it exits. The
/// machine is shared, so CPU time is the steadier figure; wall time is shown too.
pub fn measure(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning");
    let proc_dir = format!("/proc/{}", child.id());
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let (mut hwm_kb, mut cpu_s) = (0, 0.0f64);
    loop {
        if let Some(kb) = std::fs::read_to_string(format!("{proc_dir}/status"))
            .ok()
            .as_deref()
            .and_then(vm_hwm)
        {
            hwm_kb = hwm_kb.max(kb);
        }
        if let Some(c) = std::fs::read_to_string(format!("{proc_dir}/stat"))
            .ok()
            .as_deref()
            .and_then(cpu_seconds)
        {
            cpu_s = cpu_s.max(c);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{cmd:?} failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall_s = started.elapsed().as_secs_f64();
    let stdout = reader.join().unwrap();
    // A child may report its own exact figures.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&stdout) {
        hwm_kb = hwm_kb.max(v["hwm_kb"].as_u64().unwrap_or(0));
        cpu_s = cpu_s.max(v["cpu_s"].as_f64().unwrap_or(0.0));
    }
    Run {
        wall_s,
        hwm_kb,
        cpu_s,
        stdout,
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let md = e.metadata().unwrap();
            if md.is_dir() {
                walk(&e.path(), f);
            } else {
                f(&e.path(), &md);
            }
        }
    }
}

pub fn count_html(dir: &Path) -> usize {
    let mut n = 0;
    walk(dir, &mut |p, _| {
        n += usize::from(p.extension().is_some_and(|e| e == "html"))
    });
    n
}

pub fn du(dir: &Path) -> u64 {
    let mut n = 0;
    walk(dir, &mut |_, md| n += md.len());
    n
}
