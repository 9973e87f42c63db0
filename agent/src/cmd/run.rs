//! `hsp-agent run ENV`: the daemon. Polls the index, plans and applies, forever.
//!
//! Each poll refreshes the verified index and applies the plan; updates of
//! deployed instances wait for the environment's update window (missing units
//! are restarted at any time). When the index is unreachable the services keep
//! running, the poll interval doubles up to `--max-backoff`, and `status` shows
//! the error. SIGTERM (or SIGINT) drains: the instance being rolled out finishes,
//! the rest waits for the next start; services keep running.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hsp_agent::driver::rollout::describe;
use hsp_agent::driver::schedule::{backoff, in_window, jittered};
use hsp_agent::driver::{self, ApplyOptions, StateDir};

use super::apply::{init_logging, open_driver, Source};

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
    /// Log JSON lines to stderr (for journald or a log collector).
    #[arg(long)]
    log_json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_json);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let target = args.source.target()?;
    let state = StateDir::open(&args.source.index.state, &target.environment)?;
    let mut driver = open_driver(&target, &state)?;
    let interval = Duration::from_secs(args.interval.max(1));
    let max = Duration::from_secs(args.max_backoff).max(interval);
    let mut delay = interval;
    tracing::info!(environment = %target.environment, interval = args.interval, "agent running");
    while !stop.load(Ordering::SeqCst) {
        let now = Utc::now();
        let mut journal = state.load()?;
        journal.last_poll = Some(now);
        state.save(&journal)?;
        match args.source.plan() {
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::error!("poll failed; services keep running: {msg}");
                journal.last_error = Some(format!("poll failed: {msg}"));
                state.save(&journal)?;
                delay = backoff(delay, max);
            }
            Ok(plan) => {
                journal.last_poll_ok = Some(now);
                state.save(&journal)?;
                let hold = match &target.window {
                    Some(w) => !in_window(w, now).map_err(anyhow::Error::msg)?,
                    None => false,
                };
                let opts = ApplyOptions {
                    purge: false,
                    hold_updates: hold,
                    drain: Some(Arc::clone(&stop)),
                };
                match driver::apply(driver.as_mut(), &plan, &state, &opts) {
                    Ok(report) => {
                        for (name, outcome) in report.outcomes.iter().filter(|(_, o)| !o.is_ok()) {
                            tracing::warn!(instance = %name, "{}", describe(outcome));
                        }
                    }
                    Err(e) => {
                        tracing::error!("apply failed: {e:#}");
                        let mut j = state.load()?;
                        j.last_error =
                            Some(format!("apply failed: {}", driver::rollout::chain(&e)));
                        state.save(&j)?;
                    }
                }
                delay = interval;
            }
        }
        let until = Instant::now() + jittered(delay, args.jitter);
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    tracing::info!("stopping on signal; services keep running");
    Ok(ExitCode::SUCCESS)
}
