//! Managing host units as systemd services (systemd mode of the host driver).
//!
//! Each unit is `/etc/systemd/system/<unit name>.service`, written by the agent
//! and owned by it only when all three hold:
//!
//! 1. the state dir's ledger `<state>/<env>/units.json` lists it (saved,
//!    write-fsync-rename, *before* the unit file is written, and cleared only
//!    after the file is gone, so a kill -9 anywhere leaves a ledger entry for
//!    every unit file that may exist);
//! 2. the file carries the `X-HSP-Agent-Environment` / `X-HSP-Agent-State`
//!    markers of this environment and state dir;
//! 3. systemd loads the unit from that file (`FragmentPath`).
//!
//! Anything else is someone else's unit: listed nowhere, never stopped, edited
//! or removed; a unit file in the way of a new unit is an error. Units survive
//! the agent (that is the point): the next `apply` reads the ledger and converges.
//! The rendered env (secrets included) is `<state>/<env>/units/<unit>.env`, mode
//! 0600; a unit is checked with `systemd-analyze verify` before it is installed.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::super::journal::{create_private_dir, write_atomic, write_atomic_mode};
use super::super::Error;
use super::systemd::{self, MARK_ENVIRONMENT, MARK_STATE};

/// Where unit files go.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// Whether systemd runs this machine (`sd_booted()`: `/run/systemd/system` is a folder).
pub fn booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The labels of one unit, as the ledger keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub instance: String,
    pub task: String,
    pub replica: u32,
    pub version: String,
    pub spec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_hash: Option<String>,
}

/// What systemd says about a unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub active: String,
    pub sub: String,
    pub fragment: String,
}

impl State {
    /// Running, or being restarted by systemd.
    pub fn running(&self) -> bool {
        matches!(self.active.as_str(), "active" | "activating" | "reloading")
    }
}

/// The systemd side of one environment's host driver.
pub struct Units {
    environment: String,
    /// `<state>/<env>`.
    state: PathBuf,
    dir: PathBuf,
    restart_steps: bool,
}

impl Units {
    pub fn new(environment: &str, state: &Path) -> Units {
        Units {
            environment: environment.to_string(),
            state: state.to_path_buf(),
            dir: PathBuf::from(UNIT_DIR),
            restart_steps: version().is_some_and(|v| v >= 254),
        }
    }

    fn ledger_path(&self) -> PathBuf {
        self.state.join("units.json")
    }

    /// `<state>/<env>/units/`: env files and the copies `verify` checks.
    fn staging(&self) -> PathBuf {
        self.state.join("units")
    }

    pub fn unit_path(&self, unit: &str) -> PathBuf {
        self.dir.join(unit)
    }

    pub fn env_path(&self, unit: &str) -> PathBuf {
        self.staging().join(format!("{unit}.env"))
    }

    /// The ledger: unit name -> labels. Missing file: empty.
    pub fn ledger(&self) -> Result<BTreeMap<String, Entry>, Error> {
        let path = self.ledger_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| Error::JournalFormat { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    fn save(&self, ledger: &BTreeMap<String, Entry>) -> Result<(), Error> {
        write_atomic(
            &self.ledger_path(),
            &serde_json::to_vec_pretty(ledger).expect("ledger serializes"),
        )
    }

    /// The markers a unit file of this environment carries.
    pub fn markers(&self, e: &Entry) -> Vec<(String, String)> {
        let mut m = vec![
            (MARK_ENVIRONMENT.to_string(), self.environment.clone()),
            (
                MARK_STATE.to_string(),
                self.state.to_string_lossy().into_owned(),
            ),
            ("X-HSP-Agent-Instance".into(), e.instance.clone()),
            ("X-HSP-Agent-Task".into(), e.task.clone()),
            ("X-HSP-Agent-Replica".into(), e.replica.to_string()),
            ("X-HSP-Agent-Version".into(), e.version.clone()),
            ("X-HSP-Agent-Spec".into(), e.spec.clone()),
        ];
        if let Some(h) = &e.env_hash {
            m.push(("X-HSP-Agent-Env-Hash".into(), h.clone()));
        }
        m
    }

    /// Whether the file at the unit's path is one this environment wrote.
    fn file_is_ours(&self, unit: &str) -> Option<bool> {
        let text = fs::read_to_string(self.unit_path(unit)).ok()?;
        let m: HashMap<String, String> = systemd::markers(&text).into_iter().collect();
        Some(
            m.get(MARK_ENVIRONMENT) == Some(&self.environment)
                && m.get(MARK_STATE).map(String::as_str) == Some(&*self.state.to_string_lossy()),
        )
    }

    /// The units of the ledger with their systemd state. Entries whose file is
    /// gone come back as not running (the next `remove` clears them); a file
    /// someone else replaced is left out.
    pub fn list(&self) -> Result<Vec<(String, Entry, State)>, Error> {
        let ledger = self.ledger()?;
        if ledger.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = ledger.keys().map(String::as_str).collect();
        let states = show(&names)?;
        let mut out = Vec::new();
        for (name, entry) in ledger {
            let state = states.get(&name).cloned().unwrap_or_default();
            match self.file_is_ours(&name) {
                Some(false) => {
                    tracing::warn!(unit = %name, "unit file no longer carries this agent's markers; leaving it alone");
                    continue;
                }
                Some(true)
                    if !state.fragment.is_empty()
                        && Path::new(&state.fragment) != self.unit_path(&name) =>
                {
                    tracing::warn!(unit = %name, fragment = %state.fragment, "systemd loads this unit from another file; leaving it alone");
                    continue;
                }
                _ => {}
            }
            out.push((name, entry, state));
        }
        Ok(out)
    }

    /// Records, writes, verifies, installs and starts one unit.
    pub fn install(
        &self,
        unit: &str,
        entry: Entry,
        text: &str,
        env: &[(String, String)],
    ) -> Result<(), Error> {
        let path = self.unit_path(unit);
        let mut ledger = self.ledger()?;
        if path.exists() && !(ledger.contains_key(unit) && self.file_is_ours(unit) == Some(true)) {
            return Err(Error::Foreign {
                kind: "systemd unit",
                name: path.display().to_string(),
            });
        }
        ledger.insert(unit.to_string(), entry);
        self.save(&ledger)?;
        let staging = self.staging();
        create_private_dir(&staging)?;
        write_atomic(&self.env_path(unit), systemd::env_file(env).as_bytes())?;
        let check = staging.join(unit);
        write_atomic_mode(&check, text.as_bytes(), 0o644)?;
        if let Err(e) = verify(&check) {
            // Nothing was installed: forget the unit again.
            let _ = fs::remove_file(&check);
            let _ = fs::remove_file(self.env_path(unit));
            ledger.remove(unit);
            self.save(&ledger)?;
            return Err(e);
        }
        write_atomic_mode(&path, text.as_bytes(), 0o644)?;
        systemctl(&["daemon-reload"])?;
        systemctl(&["enable", "--quiet", unit])?;
        // Not waiting: a program that fails to start is a health-check failure
        // (rolled back), not an agent error.
        systemctl(&["start", "--no-block", unit])
    }

    /// Stops, disables and removes one unit of the ledger (only if the file at
    /// its path is ours, or gone). Waits for systemd's stop timeout.
    pub fn remove(&self, unit: &str) -> Result<(), Error> {
        let mut ledger = self.ledger()?;
        if !ledger.contains_key(unit) || self.file_is_ours(unit) == Some(false) {
            return Ok(());
        }
        let path = self.unit_path(unit);
        if path.exists() {
            let state = show(&[unit])?.remove(unit).unwrap_or_default();
            if state.fragment.is_empty() || Path::new(&state.fragment) == path {
                // Errors here (a unit systemd never loaded) are not fatal: the file goes.
                let _ = systemctl(&["disable", "--now", "--quiet", unit]);
            }
            fs::remove_file(&path).map_err(Error::io(&path))?;
        }
        for p in [self.env_path(unit), self.staging().join(unit)] {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Io { path: p, source: e })
                }
                _ => {}
            }
        }
        systemctl(&["daemon-reload"])?;
        let _ = systemctl(&["reset-failed", unit]);
        ledger.remove(unit);
        self.save(&ledger)
    }

    pub fn state(&self, unit: &str) -> Result<State, Error> {
        Ok(show(&[unit])?.remove(unit).unwrap_or_default())
    }

    pub fn restart_steps(&self) -> bool {
        self.restart_steps
    }
}

/// `systemctl ARGS`, its stderr in the error.
fn systemctl(args: &[&str]) -> Result<(), Error> {
    let out = Command::new("systemctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Process {
            what: "running systemctl (hint: install systemd, or use --host-mode process)".into(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let unit = args.last().copied().unwrap_or_default();
    Err(Error::Systemd {
        command: format!("systemctl {}", args.join(" ")),
        message: format!(
            "{} (hint: journalctl -u {unit})",
            if stderr.is_empty() {
                out.status.to_string()
            } else {
                stderr
            }
        ),
    })
}

/// `systemctl show` of several units: name -> state.
fn show(units: &[&str]) -> Result<HashMap<String, State>, Error> {
    let out = Command::new("systemctl")
        .args([
            "show",
            "--property=Id,ActiveState,SubState,FragmentPath",
            "--",
        ])
        .args(units)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Process {
            what: "running systemctl show (hint: install systemd, or use --host-mode process)"
                .into(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Systemd {
            command: "systemctl show".into(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(parse_show(&String::from_utf8_lossy(&out.stdout)))
}

/// Blocks of `Key=value` lines separated by blank lines, one per unit.
fn parse_show(text: &str) -> HashMap<String, State> {
    let mut out = HashMap::new();
    for block in text.split("\n\n") {
        let kv: HashMap<&str, &str> = block.lines().filter_map(|l| l.split_once('=')).collect();
        let Some(id) = kv.get("Id") else { continue };
        out.insert(
            id.to_string(),
            State {
                active: kv.get("ActiveState").unwrap_or(&"").to_string(),
                sub: kv.get("SubState").unwrap_or(&"").to_string(),
                fragment: kv.get("FragmentPath").unwrap_or(&"").to_string(),
            },
        );
    }
    out
}

/// `systemd-analyze verify FILE`: a failure or any complaint naming the unit is an error.
pub fn verify(path: &Path) -> Result<(), Error> {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Process {
            what: "running systemd-analyze verify (hint: install systemd)".into(),
            source,
        })?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| l.contains(&*name)).collect();
    if out.status.success() && problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Systemd {
            command: format!("systemd-analyze verify {}", path.display()),
            message: stderr.trim().to_string(),
        })
    }
}

/// The systemd version (`systemctl --version`: `systemd 252 (252.39-1~deb12u2)`).
fn version() -> Option<u32> {
    let out = Command::new("systemctl").arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_parses_per_unit() {
        let text = "Id=a.service\nActiveState=active\nSubState=running\nFragmentPath=/etc/systemd/system/a.service\n\n\
                    Id=b.service\nActiveState=activating\nSubState=auto-restart\nFragmentPath=\n\n\
                    Id=c.service\nActiveState=inactive\nSubState=dead\nFragmentPath=\n";
        let s = parse_show(text);
        for (unit, active, running) in [
            ("a.service", "active", true),
            ("b.service", "activating", true),
            ("c.service", "inactive", false),
        ] {
            assert_eq!(s[unit].active, active, "{unit}");
            assert_eq!(s[unit].running(), running, "{unit}");
        }
        assert_eq!(s["a.service"].fragment, "/etc/systemd/system/a.service");
    }

    /// `systemd-analyze verify` (which `.ci/install` provides) passes a unit the
    /// driver renders and refuses one whose program is missing or that does not parse.
    #[test]
    fn verify_accepts_rendered_units_and_refuses_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("start");
        fs::write(&program, "#!/bin/sh\nexec sleep 1000\n").unwrap();
        fs::set_permissions(
            &program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let env = dir.path().join("u.env");
        fs::write(&env, "A=\"1\"\n").unwrap();
        let render = |program: &Path| {
            systemd::render(&systemd::UnitFile {
                description: "test".into(),
                program,
                args: &["a b".to_string()],
                working_dir: dir.path(),
                markers: &[(MARK_ENVIRONMENT.into(), "t".into())],
                labels: &[("HSP_AGENT_ENVIRONMENT".into(), "t".into())],
                env_file: &env,
                memory_mib: 32,
                cpus: Some(0.5),
                stop_timeout_s: 5,
                restart_steps: false,
                private_tmp: false,
            })
        };
        for (name, text, ok) in [
            ("good.service", render(&program), true),
            ("missing.service", render(&dir.path().join("nope")), false),
            (
                "garbage.service",
                "[Service]\nExecStart=\n[Bogus\n".to_string(),
                false,
            ),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            let r = verify(&path);
            assert_eq!(r.is_ok(), ok, "{name}: {r:?}");
        }
    }

    #[test]
    fn ledger_round_trips_and_markers_decide_ownership() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Units::new("prod", dir.path());
        u.dir = dir.path().join("units-dir");
        fs::create_dir_all(&u.dir).unwrap();
        assert!(u.ledger().unwrap().is_empty());
        let e = Entry {
            instance: "db".into(),
            task: "pg".into(),
            replica: 0,
            version: "1.0.0".into(),
            spec: "abc".into(),
            env_hash: Some("0123".into()),
        };
        let mut l = BTreeMap::new();
        l.insert("hsp-prod-db-pg-0-abc.service".to_string(), e.clone());
        u.save(&l).unwrap();
        assert_eq!(u.ledger().unwrap(), l);
        let name = "hsp-prod-db-pg-0-abc.service";
        assert_eq!(u.file_is_ours(name), None);
        let text: String = u
            .markers(&e)
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        fs::write(u.unit_path(name), format!("[Unit]\n{text}")).unwrap();
        assert_eq!(u.file_is_ours(name), Some(true));
        let other = Units::new("prod", Path::new("/elsewhere"));
        let theirs: String = other
            .markers(&e)
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        fs::write(u.unit_path(name), format!("[Unit]\n{theirs}")).unwrap();
        assert_eq!(u.file_is_ours(name), Some(false));
    }
}
