//! When the daemon polls and when it may update: update windows (UTC) and
//! jittered poll intervals with backoff.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use hsp_index::environment::UpdateWindow;
use rand::Rng;

/// Whether `now` is inside the window. `end` before `start` spans midnight
/// (the day named is the day the window starts).
pub fn in_window(window: &UpdateWindow, now: DateTime<Utc>) -> Result<bool, String> {
    let parse = |s: &str| {
        NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| format!("update window time {s:?} is not HH:MM"))
    };
    let (start, end) = (parse(&window.start)?, parse(&window.end)?);
    let days: Vec<Weekday> = window
        .days
        .iter()
        .map(|d| {
            d.parse::<Weekday>()
                .map_err(|_| format!("update window day {d:?} is not mon..sun"))
        })
        .collect::<Result<_, _>>()?;
    let day_ok = |d: Weekday| days.is_empty() || days.contains(&d);
    let t = now.time();
    Ok(if start <= end {
        day_ok(now.weekday()) && t >= start && t < end
    } else {
        (t >= start && day_ok(now.weekday())) || (t < end && day_ok(now.weekday().pred()))
    })
}

/// `base` spread by ±`jitter` (a fraction), so many agents do not poll at once.
pub fn jittered(base: Duration, jitter: f64) -> Duration {
    let j = jitter.clamp(0.0, 1.0);
    if j == 0.0 {
        return base;
    }
    let f = rand::thread_rng().gen_range(1.0 - j..=1.0 + j);
    base.mul_f64(f)
}

/// The next delay after a failed poll: doubled, at most `max`.
pub fn backoff(current: Duration, max: Duration) -> Duration {
    (current * 2).min(max)
}

/// How long `run` waits before trying a rollout again after `attempts`
/// failures in a row that were not the release's fault: 30 s, doubled each
/// time, at most an hour.
pub fn retry_delay(attempts: u32) -> Duration {
    let base = Duration::from_secs(30);
    base.saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn w(days: &[&str], start: &str, end: &str) -> UpdateWindow {
        UpdateWindow {
            days: days.iter().map(|d| d.to_string()).collect(),
            start: start.into(),
            end: end.into(),
        }
    }

    #[test]
    fn windows() {
        // 2026-11-28 is a Saturday.
        let at = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        for (window, now, want) in [
            (w(&[], "02:00", "04:00"), at(26, 3, 0), true),
            (w(&[], "02:00", "04:00"), at(26, 4, 0), false),
            (w(&[], "02:00", "04:00"), at(26, 1, 59), false),
            (w(&["sat", "sun"], "02:00", "04:00"), at(26, 3, 0), false),
            (w(&["sat", "sun"], "02:00", "04:00"), at(28, 3, 0), true),
            (w(&[], "22:00", "02:00"), at(26, 23, 0), true),
            (w(&[], "22:00", "02:00"), at(26, 1, 0), true),
            (w(&[], "22:00", "02:00"), at(26, 12, 0), false),
            // Saturday night into Sunday morning belongs to Saturday's window.
            (w(&["sat"], "22:00", "02:00"), at(29, 1, 0), true),
            (w(&["sat"], "22:00", "02:00"), at(28, 1, 0), false),
        ] {
            assert_eq!(
                in_window(&window, now).unwrap(),
                want,
                "{window:?} at {now}"
            );
        }
        assert!(in_window(&w(&[], "2am", "04:00"), at(26, 0, 0)).is_err());
        assert!(in_window(&w(&["someday"], "02:00", "04:00"), at(26, 0, 0)).is_err());
    }

    #[test]
    fn jitter_and_backoff() {
        let base = Duration::from_secs(100);
        for _ in 0..100 {
            let d = jittered(base, 0.1);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
        assert_eq!(jittered(base, 0.0), base);
        let max = Duration::from_secs(300);
        assert_eq!(
            backoff(Duration::from_secs(100), max),
            Duration::from_secs(200)
        );
        assert_eq!(backoff(Duration::from_secs(200), max), max);
        let retries: Vec<u64> = [0, 1, 2, 3, 8, 40]
            .iter()
            .map(|n| retry_delay(*n).as_secs())
            .collect();
        assert_eq!(retries, [30, 30, 60, 120, 3600, 3600]);
    }
}
