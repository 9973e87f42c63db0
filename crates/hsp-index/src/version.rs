//! Versions and version ranges.
//!
//! Versions are semver, read leniently: `7.4` is `7.4.0` and `16` is `16.0.0`
//! (upstream projects such as Keycloak and PostgreSQL number that way). Ranges are
//! the semver crate's `VersionReq` (`>=13, <17`, `^4.0`, `~1.2`, `*`).

use semver::{Version, VersionReq};

/// Parses a version, accepting one or two numeric components.
pub fn parse_version(s: &str) -> Result<Version, semver::Error> {
    match Version::parse(s) {
        Ok(v) => Ok(v),
        Err(e) => {
            let (core, rest) = match s.find(['-', '+']) {
                Some(i) => s.split_at(i),
                None => (s, ""),
            };
            let parts = core.split('.').count();
            let padded = match parts {
                1 => format!("{core}.0.0{rest}"),
                2 => format!("{core}.0{rest}"),
                _ => return Err(e),
            };
            Version::parse(&padded).map_err(|_| e)
        }
    }
}

/// Parses a version range.
pub fn parse_range(s: &str) -> Result<VersionReq, semver::Error> {
    VersionReq::parse(s)
}

/// Orders version strings newest first by (lenient) semver; equal versions
/// written differently (`7.4`, `7.4.0`) and unparsable ones fall back to the text,
/// so the order is total and deterministic.
pub fn newest_first(a: &str, b: &str) -> std::cmp::Ordering {
    match (parse_version(a), parse_version(b)) {
        (Ok(x), Ok(y)) => y.cmp(&x).then_with(|| b.cmp(a)),
        _ => b.cmp(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_versions() {
        for (input, want) in [
            ("1.2.3", Some("1.2.3")),
            ("7.4", Some("7.4.0")),
            ("16", Some("16.0.0")),
            ("26.0-rc.1", Some("26.0.0-rc.1")),
            ("1.2.3.4", None),
            ("x", None),
            ("", None),
            ("01.2", None),
        ] {
            let got = parse_version(input).ok().map(|v| v.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn ranges() {
        let r = parse_range(">=13, <17").unwrap();
        assert!(r.matches(&parse_version("16.4").unwrap()));
        assert!(!r.matches(&parse_version("17").unwrap()));
        assert!(parse_range("^x").is_err());
    }
}
