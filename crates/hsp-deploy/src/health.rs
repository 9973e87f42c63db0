//! Health probes: an HTTP GET that must answer 2xx, or a command that must exit 0.
//!
//! The HTTP probe is a minimal HTTP/1.0 client over a `TcpStream` with connect
//! and read timeouts: it needs no TLS (services are probed on their plain
//! in-environment address) and no dependency.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hsp_index::document::{Health, Port};
use hsp_index::plan::PlannedTask;

use super::Probe;

/// GETs `path` on `addr`; healthy on a 2xx status.
pub fn http(addr: SocketAddr, path: &str, timeout: Duration) -> Probe {
    match http_status(addr, path, timeout) {
        Ok(code) if (200..300).contains(&code) => Probe::Healthy,
        Ok(code) => Probe::Unhealthy(format!("GET {path} on {addr} answered {code}")),
        Err(e) => Probe::Unhealthy(format!("GET {path} on {addr}: {e}")),
    }
}

/// The status code of `GET path` on `addr`.
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: hsp-agent\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&head)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The task's port the HTTP probe names (the caller picks the number: the
/// container's, or a host replica's).
pub fn http_port<'t>(task: &'t PlannedTask, health: &Health) -> Option<&'t Port> {
    let probe = health.http.as_ref()?;
    task.ports.iter().find(|p| p.name == probe.port)
}

/// How long a new version may take to become healthy: its start period plus
/// `retries` intervals plus one timeout. Tasks without a health check must just
/// keep running for one second.
pub fn deadline(task: &PlannedTask) -> Duration {
    match &task.health {
        // In u64: u32 timings of any size cannot overflow (`hsp check` bounds
        // them, but a plan is input too).
        Some(h) => Duration::from_secs(
            u64::from(h.start_period_s)
                + u64::from(h.interval_s) * u64::from(h.retries.max(1))
                + u64::from(h.timeout_s),
        ),
        None => Duration::from_secs(1),
    }
}

/// How often the agent probes while it waits for a rollout: faster than the
/// document's interval (that is the steady-state cadence), never slower.
pub fn poll_interval(task: &PlannedTask) -> Duration {
    let interval = task.health.as_ref().map_or(1, |h| h.interval_s.max(1));
    Duration::from_millis(200).min(Duration::from_secs(u64::from(interval)))
}

/// Runs a host command probe with a timeout; the child is killed when it
/// overruns.
pub fn command(mut cmd: std::process::Command, timeout: Duration) -> Probe {
    let started = Instant::now();
    let mut child = match cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Probe::Unhealthy(format!("health command: {e}")),
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Probe::Healthy,
            Ok(Some(status)) => {
                return Probe::Unhealthy(format!("health command exited with {status}"))
            }
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Probe::Unhealthy(format!(
                    "health command ran longer than {}s",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Probe::Unhealthy(format!("health command: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A plan is input: timings of any `u32` size give a deadline, never an
    /// overflow (`interval_s * retries` once overflowed in `u32`).
    #[test]
    fn deadline_of_the_largest_timings_does_not_overflow() {
        let max = u32::MAX;
        let task: PlannedTask = serde_json::from_value(serde_json::json!({
            "name": "app", "image": "x", "ports": [], "env": {}, "memory_mib": 64,
            "instances": {"min": 1, "max": 1}, "stop_timeout_s": 10,
            "health": {"command": ["true"], "interval_s": max, "timeout_s": max,
                       "start_period_s": max, "retries": max}
        }))
        .unwrap();
        let m = u64::from(max);
        assert_eq!(deadline(&task), Duration::from_secs(m + m * m + m));
        assert!(poll_interval(&task) <= Duration::from_millis(200));
    }

    #[test]
    fn status_lines() {
        for (head, want) in [
            (&b"HTTP/1.1 200 OK\r\n"[..], Some(200)),
            (b"HTTP/1.0 404 Not Found\r\nX: y\r\n", Some(404)),
            (b"HTTP/1.1 503\r\n", Some(503)),
            (b"SSH-2.0-OpenSSH\r\n", None),
            (b"", None),
        ] {
            assert_eq!(parse_status(head), want);
        }
    }

    #[test]
    fn http_probe_against_a_real_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for code in ["200 OK", "500 Oops"] {
                let (mut s, _) = l.accept().unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 512];
                while !req.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    req.extend_from_slice(&buf[..n]);
                }
                write!(s, "HTTP/1.0 {code}\r\n\r\n").unwrap();
            }
        });
        assert_eq!(
            http(addr, "/healthz", Duration::from_secs(2)),
            Probe::Healthy
        );
        let second = http(addr, "/healthz", Duration::from_secs(2));
        assert!(
            matches!(&second, Probe::Unhealthy(m) if m.contains("500")),
            "{second:?}"
        );
        server.join().unwrap();
        // Nothing listens any more.
        assert!(matches!(
            http(addr, "/", Duration::from_secs(1)),
            Probe::Unhealthy(_)
        ));
    }

    #[test]
    fn command_probe() {
        let sh = |s: &str| {
            let mut c = std::process::Command::new("sh");
            c.args(["-c", s]);
            c
        };
        assert_eq!(
            command(sh("exit 0"), Duration::from_secs(5)),
            Probe::Healthy
        );
        assert!(matches!(
            command(sh("exit 3"), Duration::from_secs(5)),
            Probe::Unhealthy(_)
        ));
        assert!(
            matches!(command(sh("sleep 5"), Duration::from_millis(100)), Probe::Unhealthy(m) if m.contains("longer"))
        );
    }
}
