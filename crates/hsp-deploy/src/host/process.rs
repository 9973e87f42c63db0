//! Supervised processes on a host, and finding them again.
//!
//! The agent starts `hsp-agent supervise --detach -- PROGRAM ARGS...`; that
//! process starts the real supervisor in a new process group and exits, so the
//! supervisor is adopted by init and outlives the agent (an `apply` is short; a
//! kill -9 of the agent leaves services running). The supervisor runs the task,
//! restarts it with exponential backoff when it exits, and on SIGTERM forwards
//! SIGTERM to the task, waits the stop timeout, then kills it.
//!
//! Processes carry their labels in their environment (`HSP_AGENT_ENVIRONMENT`,
//! `HSP_AGENT_INSTANCE`, ..., and `HSP_AGENT_STATE`, the state dir); the agent
//! finds its units by reading `/proc/<pid>/environ`, never by name or pid file.

use std::collections::HashMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Environment variable marking the supervisor (its task does not inherit it).
pub const SUPERVISOR: &str = "HSP_AGENT_SUPERVISOR";
/// Environment variable holding the state dir of the agent that started a unit.
pub const STATE: &str = "HSP_AGENT_STATE";
/// Environment variable holding the stop timeout, for the supervisor.
pub const STOP_TIMEOUT: &str = "HSP_AGENT_STOP_TIMEOUT";

/// Environment variable holding the unit's env hash (`driver::LABEL_ENV_HASH`).
pub const ENV_HASH: &str = "HSP_AGENT_ENV_HASH";

/// Env var names carrying the unit labels, in `driver::LABEL_*` order.
pub const LABEL_VARS: [(&str, &str); 6] = [
    (crate::LABEL_ENVIRONMENT, "HSP_AGENT_ENVIRONMENT"),
    (crate::LABEL_INSTANCE, "HSP_AGENT_INSTANCE"),
    (crate::LABEL_TASK, "HSP_AGENT_TASK"),
    (crate::LABEL_VERSION, "HSP_AGENT_VERSION"),
    (crate::LABEL_REPLICA, "HSP_AGENT_REPLICA"),
    (crate::LABEL_SPEC, "HSP_AGENT_SPEC"),
];

/// A process carrying agent labels.
#[derive(Clone, Debug)]
pub struct Labelled {
    pub pid: i32,
    pub ppid: i32,
    pub supervisor: bool,
    /// Labels keyed like Docker's (`org.hsp.agent.*`).
    pub labels: HashMap<String, String>,
}

/// Every live process whose environment says it belongs to `environment` of
/// the agent whose state dir is `state`.
pub fn scan(state: &Path, environment: &str) -> Vec<Labelled> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let state = state.to_string_lossy();
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: HashMap<&str, &str> = environ
            .split(|&b| b == 0)
            .filter_map(|kv| std::str::from_utf8(kv).ok()?.split_once('='))
            .filter(|(k, _)| k.starts_with("HSP_AGENT_"))
            .collect();
        if vars.get("HSP_AGENT_ENVIRONMENT") != Some(&environment)
            || vars.get(STATE) != Some(&&*state)
        {
            continue;
        }
        let Some((ppid, zombie)) = stat(pid) else {
            continue;
        };
        if zombie {
            continue;
        }
        let mut labels: HashMap<String, String> = LABEL_VARS
            .iter()
            .filter_map(|(label, var)| Some((label.to_string(), vars.get(var)?.to_string())))
            .collect();
        if let Some(h) = vars.get(ENV_HASH) {
            labels.insert(crate::LABEL_ENV_HASH.to_string(), h.to_string());
        }
        out.push(Labelled {
            pid,
            ppid,
            supervisor: vars.get(SUPERVISOR) == Some(&"1"),
            labels,
        });
    }
    out
}

/// `(ppid, is_zombie)` from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(i32, bool)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = matches!(fields.first(), Some(&"Z") | Some(&"X"));
    Some((fields.get(1)?.parse().ok()?, zombie))
}

/// User plus system time of `pid` in clock ticks (`/proc/<pid>/stat`).
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses:
    // state is field 3; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Whether `pid` is alive (not a zombie).
pub fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(_, zombie)| !zombie)
}

pub fn signal(pid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid), sig);
}

/// Waits until `pid` is gone, at most `timeout`; returns whether it is.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Starts `program args` under a detached supervisor; returns when the
/// supervisor runs. `cmd` is the `hsp-agent` binary with env, cwd and stdio
/// already set.
pub fn spawn_supervised(mut cmd: Command) -> std::io::Result<()> {
    let status = cmd.process_group(0).stdin(Stdio::null()).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "supervisor launcher exited with {status}"
        )))
    }
}

/// How the supervisor's lines in a unit's log begin.
pub const LOG_PREFIX: &str = "hsp-agent supervise: ";

/// A shell's exit code for `status`: the code, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// The body of `hsp-agent supervise`. With `detach`, re-executes itself without
/// it in a new process group and returns at once.
pub fn supervise(detach: bool, argv: &[String]) -> std::io::Result<ExitCode> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::other("supervise: no program given"));
    };
    if detach {
        Command::new(std::env::current_exe()?)
            .arg("supervise")
            .arg("--")
            .args(argv)
            .process_group(0)
            .spawn()?;
        return Ok(ExitCode::SUCCESS);
    }
    let stop_timeout = std::env::var(STOP_TIMEOUT)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10u64)
        .min(15);
    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&term))?;
    }
    let mut backoff = Duration::from_secs(1);
    loop {
        if term.load(Ordering::SeqCst) {
            return Ok(ExitCode::SUCCESS);
        }
        let started = Instant::now();
        match Command::new(program)
            .args(args)
            .env_remove(SUPERVISOR)
            .env_remove(STOP_TIMEOUT)
            .env_remove(ENV_HASH)
            .spawn()
        {
            Ok(mut child) => {
                loop {
                    if term.load(Ordering::SeqCst) {
                        let pid = child.id() as i32;
                        signal(pid, Signal::SIGTERM);
                        let deadline = Instant::now() + Duration::from_secs(stop_timeout);
                        let exited = loop {
                            match child.try_wait()? {
                                Some(status) => break Some(status),
                                None if Instant::now() >= deadline => break None,
                                None => std::thread::sleep(Duration::from_millis(20)),
                            }
                        };
                        // The two lines `hsp validate` reads for its `stop` rule.
                        match exited {
                            Some(status) => eprintln!(
                                "{LOG_PREFIX}{program} stopped on SIGTERM, exit code {}",
                                exit_code(status)
                            ),
                            None => {
                                let _ = child.kill();
                                let _ = child.wait();
                                eprintln!("{LOG_PREFIX}{program} ignored SIGTERM for {stop_timeout} s, killed, exit code 137");
                            }
                        }
                        return Ok(ExitCode::SUCCESS);
                    }
                    if let Some(status) = child.try_wait()? {
                        eprintln!("hsp-agent supervise: {program} exited with {status}; restarting in {}s", backoff.as_secs());
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Err(e) => eprintln!(
                "hsp-agent supervise: cannot start {program}: {e}; retrying in {}s",
                backoff.as_secs()
            ),
        }
        if started.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_secs(1);
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until && !term.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_of_self() {
        let me = std::process::id() as i32;
        let (ppid, zombie) = stat(me).unwrap();
        assert!(!zombie && ppid > 0);
        assert!(alive(me));
        assert!(!alive(i32::MAX));
    }

    #[test]
    fn scan_finds_labelled_processes_only() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_path_buf();
        let mut mine = Command::new("sleep")
            .arg("30")
            .env("HSP_AGENT_ENVIRONMENT", "scan-test")
            .env(STATE, &state)
            .env("HSP_AGENT_INSTANCE", "db")
            .env(SUPERVISOR, "1")
            .spawn()
            .unwrap();
        // Same environment name, another agent's state dir: not ours.
        let mut other = Command::new("sleep")
            .arg("30")
            .env("HSP_AGENT_ENVIRONMENT", "scan-test")
            .env(STATE, "/elsewhere")
            .spawn()
            .unwrap();
        // A process's environment in /proc is its new one only once it has
        // exec'd: scan until both children show theirs (or 10 s pass).
        let settled = |want: usize| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let found = scan(&state, "scan-test");
                if found.len() == want || std::time::Instant::now() > deadline {
                    return found;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        };
        let found = settled(1);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, mine.id() as i32);
        assert!(found[0].supervisor);
        assert_eq!(found[0].labels[crate::LABEL_INSTANCE], "db");
        for c in [&mut mine, &mut other] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        assert!(settled(0).is_empty());
    }
}
