//! systemd unit files for host units, for machines where systemd is PID 1.
//!
//! A unit runs the same program, arguments, folder and labels as a supervised
//! process; systemd does the restarting (`Restart=always`, `RestartSec=1`) and
//! the stop timeout. Secrets stay out of the unit file: the rendered env goes to
//! an `EnvironmentFile` (mode 0600) in the state dir. Units are checked with
//! `systemd-analyze verify` in the tests.

use std::fmt::Write;
use std::path::Path;

/// What a unit file describes.
pub struct UnitFile<'a> {
    pub description: String,
    pub program: &'a Path,
    pub args: &'a [String],
    pub working_dir: &'a Path,
    /// Label and volume variables (no secrets).
    pub labels: &'a [(String, String)],
    /// File holding the rendered env (secrets included), mode 0600.
    pub env_file: &'a Path,
    pub memory_mib: u32,
    pub cpus: Option<f64>,
    pub stop_timeout_s: u32,
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
    let _ = writeln!(s, "# Written by hsp-agent; changes are overwritten.");
    let _ = writeln!(
        s,
        "[Unit]\nDescription={}",
        u.description.replace(['\n', '%'], " ")
    );
    let _ = writeln!(
        s,
        "After=network-online.target\nWants=network-online.target\n"
    );
    let _ = writeln!(s, "[Service]\nType=simple");
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
    let _ = writeln!(
        s,
        "Restart=always\nRestartSec=1\nKillMode=mixed\nTimeoutStopSec={}",
        u.stop_timeout_s.min(15)
    );
    let _ = writeln!(s, "MemoryMax={}M", u.memory_mib);
    if let Some(c) = u.cpus {
        let _ = writeln!(s, "CPUQuota={}%", (c * 100.0).round() as u64);
    }
    let _ = writeln!(s, "NoNewPrivileges=yes\nPrivateTmp=yes\n");
    let _ = writeln!(s, "[Install]\nWantedBy=multi-user.target");
    s
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
    fn env_file_escapes() {
        let env = vec![
            ("A".to_string(), "x\"y".to_string()),
            ("B".to_string(), "1\n2".to_string()),
        ];
        assert_eq!(env_file(&env), "A=\"x\\\"y\"\nB=\"1\\n2\"\n");
    }
}
