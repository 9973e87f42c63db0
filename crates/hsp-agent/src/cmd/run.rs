//! `hsp-agent run ENV`: the daemon. Polls the index, plans and applies, forever.
//!
//! Each poll refreshes the verified index and applies the plan; updates of
//! deployed instances wait for the environment's update window (missing units
//! are restarted at any time). When the index is unreachable the services keep
//! running, the poll interval doubles up to `--max-backoff`, and `status` shows
//! the error. SIGTERM (or SIGINT) drains: the instance being rolled out finishes,
//! the rest waits for the next start; services keep running. A rollout that
//! failed through no fault of the release (a host port in use, a download, the
//! engine, the disk) is tried again by a later poll, after a delay that doubles
//! with each failure (30 s up to an hour; `status` shows when).
//!
//! Each poll runs in a child process (this binary with the same arguments and
//! `--once`), so the daemon between polls is a small scheduler: no index,
//! plan or allocator high-water mark stays resident, and a crash of one poll
//! cannot take the daemon down. The daemon forwards SIGTERM to a running poll
//! and waits for it to drain.
//!
//! Between polls, every `--scale-every` seconds, a scaling step (a child too,
//! `--scale-once`) scales each task whose `instances.max` is above its `min`
//! on the CPU use of its replicas ([`hsp_deploy::scale`]); it skips a turn
//! while anything else holds the environment's lock.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use hsp_deploy::rollout::describe;
use hsp_deploy::schedule::{backoff, in_window, jittered};
use hsp_deploy::{self as driver, ApplyOptions, EnvDir};

use super::apply::{init_logging, open_driver, Source};
use crate::context::Locked;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  hsp-agent run clinic.json --interval 300
  hsp-agent run --plan plan.json --target host --interval 30 --log-json")]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Seconds between polls of the index.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    interval: u64,
    /// Spread of each interval as a fraction (0.1 = ±10%), so sites do not poll in step.
    #[arg(long, default_value_t = 0.1)]
    jitter: f64,
    /// Longest delay between polls while the index is unreachable.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    max_backoff: u64,
    /// Seconds between scaling steps (0: never scale; tasks run `instances.min`).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    scale_every: u64,
    /// How long the load must ask for fewer replicas before one is stopped.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    scale_down_after: u64,
    /// Log JSON lines to stderr (for journald or a log collector).
    #[arg(long)]
    log_json: bool,
    /// Run one poll of this environment and exit: 0 when the index was read,
    /// 3 when it was not (what the daemon runs for each poll).
    #[arg(long, hide = true, value_name = "ENVIRONMENT")]
    once: Option<String>,
    /// Run one scaling step of this environment and exit (what the daemon
    /// runs between polls).
    #[arg(long, hide = true, value_name = "ENVIRONMENT")]
    scale_once: Option<String>,
}

/// Exit code of a `--once` poll that could not read the index or plan.
const POLL_FAILED: u8 = 3;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_json);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    if let Some(environment) = &args.once {
        return poll_once(&args, environment, &stop);
    }
    if let Some(environment) = &args.scale_once {
        return scale_once(&args, environment);
    }
    let (target, _) = args.source.load()?;
    // Fail at start, not in every poll, when the state dir cannot be opened.
    EnvDir::open(&args.source.index.state, &target.environment)?;
    let interval = Duration::from_secs(args.interval.max(1));
    let max = Duration::from_secs(args.max_backoff).max(interval);
    let mut delay = interval;
    tracing::info!(environment = %target.environment, interval = args.interval, "agent running");
    let scale_every = Duration::from_secs(args.scale_every);
    let mut next_scale = Instant::now() + scale_every;
    while !stop.load(Ordering::SeqCst) {
        delay = match run_poll(&target.environment, &stop, "--once")? {
            Some(0) => interval,
            Some(code) => {
                if code != i32::from(POLL_FAILED) {
                    tracing::error!(code, "a poll exited abnormally; services keep running");
                    record_crash(
                        &args.source.index.state,
                        &target.environment,
                        &format!("exited with code {code}"),
                    );
                }
                backoff(delay, max)
            }
            None => {
                tracing::error!("a poll was killed by a signal; services keep running");
                record_crash(
                    &args.source.index.state,
                    &target.environment,
                    "was killed by a signal",
                );
                backoff(delay, max)
            }
        };
        let until = Instant::now() + jittered(delay, args.jitter);
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            if !scale_every.is_zero() && Instant::now() >= next_scale {
                if run_poll(&target.environment, &stop, "--scale-once")? != Some(0) {
                    tracing::warn!("a scaling step failed; services keep running");
                }
                next_scale = Instant::now() + scale_every;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    tracing::info!("stopping on signal; services keep running");
    Ok(ExitCode::SUCCESS)
}

/// Records in the journal that a poll crashed (a poll that fails records its
/// own error; one that dies cannot), so `status` does not show a stale error.
fn record_crash(state: &std::path::Path, environment: &str, how: &str) {
    let recorded = EnvDir::open(state, environment).and_then(|dir| {
        let mut journal = dir.load()?;
        journal.set_error(Some(format!(
            "poll crashed: it {how}; services keep running (the log has its output)"
        )));
        dir.save(&journal)
    });
    if let Err(e) = recorded {
        tracing::error!("recording the crashed poll in the journal: {e}");
    }
}

/// Runs one poll (`what`: `--once`) or scaling step (`--scale-once`) as a
/// child process (this binary, the daemon's own arguments and `what
/// ENVIRONMENT`); forwards SIGTERM to it when `stop` is set. Its exit code, or
/// `None` when a signal killed it.
fn run_poll(environment: &str, stop: &AtomicBool, what: &str) -> anyhow::Result<Option<i32>> {
    let exe = std::env::current_exe().context("finding the hsp-agent binary")?;
    let mut child = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .args([what, environment])
        .spawn()
        .with_context(|| format!("starting a poll ({})", exe.display()))?;
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if stop.load(Ordering::SeqCst) && !forwarded {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One poll: lock the environment, refresh the index, plan, apply; the
/// journal records the poll and its error. Exits [`POLL_FAILED`] when the
/// index or plan could not be read.
fn poll_once(args: &Args, environment: &str, stop: &Arc<AtomicBool>) -> anyhow::Result<ExitCode> {
    let mut locked = Locked::open(&args.source.index.state, environment)?;
    let now = Utc::now();
    locked.journal.last_poll = Some(now);
    locked.dir.save(&locked.journal)?;
    let target_and_plan = args.source.load().and_then(|(target, input)| {
        if target.environment != environment {
            anyhow::bail!(
                "the environment is now named {:?}, not {environment:?} (hint: restart \
                 `hsp-agent run` to manage it)",
                target.environment
            );
        }
        Ok((target, input.plan(&locked)?))
    });
    let Locked { dir, mut journal } = locked;
    let (target, planned) = match target_and_plan {
        Ok(pair) => pair,
        Err(e) => {
            let msg = format!("{e:#}");
            tracing::error!("poll failed; services keep running: {msg}");
            journal.set_error(Some(format!("poll failed: {msg}")));
            dir.save(&journal)?;
            return Ok(ExitCode::from(POLL_FAILED));
        }
    };
    journal.last_poll_ok = Some(now);
    dir.save(&journal)?;
    let hold = match &target.window {
        Some(w) => !in_window(w, now).map_err(anyhow::Error::msg)?,
        None => false,
    };
    let opts = ApplyOptions {
        purge: false,
        hold_updates: hold,
        drain: Some(Arc::clone(stop)),
        backoff: true,
    };
    let mut driver = match open_driver(&target, &dir) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot reach the deployment target; services keep running: {e:#}");
            journal.set_error(Some(format!("apply failed: {e:#}")));
            dir.save(&journal)?;
            return Ok(ExitCode::from(POLL_FAILED));
        }
    };
    match driver::apply(driver.as_mut(), &planned.plan, &dir, &opts) {
        Ok(report) => {
            for (name, outcome) in report.outcomes.iter().filter(|(_, o)| !o.is_ok()) {
                tracing::warn!(instance = %name, "{}", describe(outcome));
            }
            planned.record(&dir)?;
        }
        Err(e) => {
            tracing::error!("apply failed: {e:#}");
            let mut j = dir.load()?;
            j.set_error(Some(format!(
                "apply failed: {}",
                driver::rollout::chain(&e)
            )));
            dir.save(&j)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One scaling step: nothing when the environment is locked (an apply or a
/// poll is running) or was never deployed.
fn scale_once(args: &Args, environment: &str) -> anyhow::Result<ExitCode> {
    let locked = match Locked::open(&args.source.index.state, environment) {
        Ok(l) => l,
        Err(e)
            if e.downcast_ref::<driver::Error>()
                .is_some_and(|e| matches!(e, driver::Error::Locked { .. })) =>
        {
            tracing::debug!("the environment is busy; scaling waits for the next step");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e),
    };
    if locked.journal.instances.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let (target, _) = args.source.load()?;
    let mut driver = open_driver(&target, &locked.dir)?;
    let every = args.scale_every.max(1);
    let policy = hsp_deploy::scale::Policy {
        sample: Duration::from_secs((every / 2).clamp(1, 5)),
        up_cooldown: Duration::from_secs(every),
        down_after: Duration::from_secs(args.scale_down_after),
    };
    // Each change is logged by the step.
    hsp_deploy::scale::step(driver.as_mut(), &locked.dir, &policy)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashed_poll_is_recorded_with_its_time() {
        let state = tempfile::tempdir().unwrap();
        let before = Utc::now();
        record_crash(state.path(), "clinic", "was killed by a signal");
        let dir = EnvDir::open(state.path(), "clinic").unwrap();
        let journal = dir.load().unwrap();
        let error = journal.last_error.as_deref().unwrap();
        assert!(
            error.starts_with("poll crashed: it was killed by a signal"),
            "{error}"
        );
        assert!(journal.last_error_at.unwrap() >= before);
        // A held lock (a poll still running) loses nothing: the error is logged.
        record_crash(state.path(), "clinic", "exited with code 101");
        assert_eq!(dir.load().unwrap(), journal);
    }
}
