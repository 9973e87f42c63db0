//! The time a command takes as "now": `--now`, else `SOURCE_DATE_EPOCH`, else
//! the wall clock (whole seconds).
//!
//! `hsp build` derives every expiry and the version of targets, snapshot and
//! timestamp from this one instant (version = its Unix seconds), so the same
//! repo, keys and time give byte-identical output, and a later build always has
//! higher versions. Pin it (`--now` or `SOURCE_DATE_EPOCH`) to reproduce a build.

use anyhow::{bail, Context};
use chrono::{DateTime, TimeZone, Utc};

/// `--now` help text shared by the commands.
pub const HELP: &str = "Time to build at (RFC 3339 like 2026-01-01T00:00:00Z, or Unix seconds); \
default SOURCE_DATE_EPOCH, else the current time";

/// Parses `--now`, or falls back to `SOURCE_DATE_EPOCH` and then the clock.
pub fn now(arg: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    if let Some(s) = arg {
        return parse(s).with_context(|| format!("--now {s:?}"));
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        return parse(&s).with_context(|| format!("SOURCE_DATE_EPOCH={s:?}"));
    }
    let t = Utc::now();
    Ok(Utc.timestamp_opt(t.timestamp(), 0).unwrap())
}

fn parse(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(secs) = s.parse::<i64>() {
        if secs <= 0 {
            bail!("must be after 1970");
        }
        return Utc.timestamp_opt(secs, 0).single().context("out of range");
    }
    let t = DateTime::parse_from_rfc3339(s)
        .context("expected RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds")?
        .with_timezone(&Utc);
    Ok(Utc.timestamp_opt(t.timestamp(), 0).unwrap())
}

/// `now` plus `days`.
pub fn plus_days(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now + chrono::Duration::days(i64::from(days))
}

/// The metadata version a build at `now` gives its roles: Unix seconds.
pub fn version_at(now: DateTime<Utc>) -> u64 {
    now.timestamp().max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_rejects_junk() {
        for (input, secs) in [
            ("1767225600", Some(1767225600)),
            ("2026-01-01T00:00:00Z", Some(1767225600)),
            ("2026-01-01T01:00:00+01:00", Some(1767225600)),
            ("2026-01-01T00:00:00.9Z", Some(1767225600)),
            ("yesterday", None),
            ("-5", None),
        ] {
            assert_eq!(parse(input).ok().map(|t| t.timestamp()), secs, "{input}");
        }
    }
}
