//! systemd unit files for host units, for machines where systemd is PID 1.
//!
//! A unit runs the same program, arguments, folder and labels as a supervised
//! process; systemd does the restarting (`Restart=on-failure` with a delay, and a
//! start limit so a crash loop ends `failed`, where the agent finds it) and the
//! stop timeout. Secrets stay out of the unit file: the rendered env goes to an
//! `EnvironmentFile` (mode 0600) in the state dir. The `[Unit]` section carries
//! `X-HSP-Agent-*` keys (ignored by systemd) naming the environment, the state
//! dir and the labels: with the state dir's unit ledger ([`super::units`]) they
//! are how the agent tells its units from anyone else's. Units are checked with
//! `systemd-analyze verify` before they are installed.

use std::fmt::Write;
use std::path::Path;

/// Marker key naming the environment of a unit the agent wrote.
pub const MARK_ENVIRONMENT: &str = "X-HSP-Agent-Environment";
/// Marker key naming the state dir of the agent that wrote the unit.
pub const MARK_STATE: &str = "X-HSP-Agent-State";

/// What a unit file describes.
pub struct UnitFile<'a> {
    pub description: String,
    pub program: &'a Path,
    pub args: &'a [String],
    pub working_dir: &'a Path,
    /// `X-HSP-Agent-*` marker keys (no secrets): environment, state, labels.
    pub markers: &'a [(String, String)],
    /// Label and volume variables (no secrets).
    pub labels: &'a [(String, String)],
    /// File holding the rendered env (secrets included), mode 0600.
    pub env_file: &'a Path,
    pub memory_mib: u32,
    pub cpus: Option<f64>,
    /// From the document; systemd waits this long after SIGTERM.
    pub stop_timeout_s: u32,
    /// systemd >= 254: grow the restart delay from 1 s to 30 s (`RestartSteps=`).
    pub restart_steps: bool,
    /// `PrivateTmp=yes`; off when the unit's own files live under /tmp, which
    /// the service could not see then.
    pub private_tmp: bool,
}

/// Whether `path` is under a folder `PrivateTmp=` hides (/tmp, /var/tmp).
pub fn in_tmp(path: &Path) -> bool {
    path.starts_with("/tmp") || path.starts_with("/var/tmp")
}

/// Quotes one word for `ExecStart=`/`Environment=`: double quotes, with `\`,
/// `"` escaped and `$`, `%` doubled (systemd expands both).
pub fn quote(word: &str) -> String {
    let mut s = String::from("\"");
    for c in word.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '$' => s.push_str("$$"),
            '%' => s.push_str("%%"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// A path setting (`WorkingDirectory=`, `EnvironmentFile=`): taken literally to
/// the end of the line, not quoted; only `%` specifiers need escaping.
fn path_value(p: &Path) -> String {
    p.to_string_lossy().replace('%', "%%").replace('\n', " ")
}

/// Renders the unit file.
pub fn render(u: &UnitFile) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by hsp-agent, which starts, stops and removes it; do not edit."
    );
    let _ = writeln!(
        s,
        "[Unit]\nDescription={}",
        u.description.replace(['\n', '%'], " ")
    );
    let _ = writeln!(
        s,
        "After=network-online.target\nWants=network-online.target"
    );
    // A crash loop ends `failed` after 10 starts in 5 minutes; the agent restarts it.
    let _ = writeln!(s, "StartLimitIntervalSec=300\nStartLimitBurst=10");
    for (k, v) in u.markers {
        let _ = writeln!(s, "{k}={}", v.replace(['\n', '%'], "_"));
    }
    let _ = writeln!(s, "\n[Service]\nType=exec");
    let mut exec = quote(&u.program.to_string_lossy());
    for a in u.args {
        exec.push(' ');
        exec.push_str(&quote(a));
    }
    let _ = writeln!(s, "ExecStart={exec}");
    let _ = writeln!(s, "WorkingDirectory={}", path_value(u.working_dir));
    for (k, v) in u.labels {
        let _ = writeln!(s, "Environment={}", quote(&format!("{k}={v}")));
    }
    let _ = writeln!(s, "EnvironmentFile={}", path_value(u.env_file));
    let _ = writeln!(s, "Restart=on-failure\nRestartSec=1");
    if u.restart_steps {
        let _ = writeln!(s, "RestartSteps=5\nRestartMaxDelaySec=30");
    }
    let _ = writeln!(
        s,
        "KillMode=mixed\nTimeoutStopSec={}",
        u.stop_timeout_s.max(1)
    );
    let _ = writeln!(s, "MemoryMax={}M", u.memory_mib);
    if let Some(c) = u.cpus {
        let _ = writeln!(s, "CPUQuota={}%", (c * 100.0).round() as u64);
    }
    let _ = writeln!(
        s,
        "NoNewPrivileges=yes\nPrivateTmp={}\n",
        if u.private_tmp { "yes" } else { "no" }
    );
    let _ = writeln!(s, "[Install]\nWantedBy=multi-user.target");
    s
}

/// The `X-HSP-Agent-*` keys of a unit file, in order.
pub fn markers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.starts_with("X-HSP-Agent-"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Renders an `EnvironmentFile`: one `KEY="value"` per line.
pub fn env_file(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        for (word, want) in [
            ("plain", "\"plain\""),
            ("a b", "\"a b\""),
            ("$HOME", "\"$$HOME\""),
            ("100%", "\"100%%\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
        ] {
            assert_eq!(quote(word), want, "{word}");
        }
    }

    #[test]
    fn render_markers_restart_and_tmp() {
        let markers = vec![
            (MARK_ENVIRONMENT.to_string(), "prod".to_string()),
            (
                MARK_STATE.to_string(),
                "/var/lib/hsp-agent/prod".to_string(),
            ),
        ];
        for (steps, private_tmp) in [(false, true), (true, false)] {
            let text = render(&UnitFile {
                description: "d".into(),
                program: Path::new("/srv/x/bin/start"),
                args: &[],
                working_dir: Path::new("/srv/x"),
                markers: &markers,
                labels: &[],
                env_file: Path::new("/var/lib/hsp-agent/prod/units/u.env"),
                memory_mib: 64,
                cpus: None,
                stop_timeout_s: 25,
                restart_steps: steps,
                private_tmp,
            });
            assert_eq!(self::markers(&text), markers);
            assert!(
                text.contains("Restart=on-failure\nRestartSec=1\n"),
                "{text}"
            );
            assert_eq!(text.contains("RestartSteps=5"), steps, "{text}");
            assert!(text.contains("TimeoutStopSec=25\n"), "{text}");
            let tmp = if private_tmp { "yes" } else { "no" };
            assert!(text.contains(&format!("PrivateTmp={tmp}\n")), "{text}");
        }
        for (path, hidden) in [
            ("/tmp/x", true),
            ("/var/tmp", true),
            ("/var/lib/x", false),
            ("/tmpx", false),
        ] {
            assert_eq!(in_tmp(Path::new(path)), hidden, "{path}");
        }
    }

    #[test]
    fn env_file_escapes() {
        let env = vec![
            ("A".to_string(), "x\"y".to_string()),
            ("B".to_string(), "1\n2".to_string()),
        ];
        assert_eq!(env_file(&env), "A=\"x\\\"y\"\nB=\"1\\n2\"\n");
    }
}
