//! Formats of names, ids, digests and URLs (hand-written: they run on every
//! value of every document). The name rules are `hsp_index::name`'s, shared
//! with the planner and the drivers.

pub use hsp_index::name::{is_env_name, is_ident, is_name, is_reverse_dns};

/// 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Why an image reference is not `repo[:tag]@sha256:<64 hex>`, if it is not.
pub fn image_problem(image: &str) -> Option<&'static str> {
    let Some((name, digest)) = image.split_once('@') else {
        return Some("is not pinned by digest");
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Some("has no repository name before `@`");
    }
    match digest.strip_prefix("sha256:") {
        None => Some("must use a `sha256:` digest"),
        Some(hex) if !is_sha256(hex) => Some("has a digest that is not 64 lowercase hex digits"),
        Some(_) => None,
    }
}

/// Whether `s` is an absolute `http(s)://` URL with a host.
pub fn is_web_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

/// `<os>-<arch>`, e.g. `linux-x86_64`.
pub fn is_platform(s: &str) -> bool {
    match s.split_once('-') {
        Some((os, arch)) => {
            is_name(os)
                && !arch.is_empty()
                && arch
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        }
        None => false,
    }
}

/// A relative path with no `..`, empty or absolute parts.
pub fn is_relative_path(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('/') && s.split('/').all(|p| !p.is_empty() && p != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let hex = "a".repeat(64);
        type Check = fn(&str) -> bool;
        let cases: &[(Check, &str, bool)] = &[
            (is_reverse_dns, "org.hapifhir.server", true),
            (is_reverse_dns, "io.mailpit", true),
            (is_reverse_dns, "mailpit", false),
            (is_reverse_dns, "Org.example", false),
            (is_reverse_dns, "org..x", false),
            (is_reverse_dns, "org.-x", false),
            (is_reverse_dns, "org.x_y", false),
            (is_name, "app", true),
            (is_name, "smart-on-fhir", true),
            (is_name, "App", false),
            (is_name, "1app", false),
            (is_name, "app-", false),
            (is_name, "", false),
            (is_ident, "db_main", true),
            (is_ident, "db-main", false),
            (is_env_name, "KC_DB_URL", true),
            (is_env_name, "kc_db", false),
            (is_env_name, "A-B", false),
            (is_env_name, "", false),
            (is_sha256, &hex, true),
            (is_sha256, &hex[1..], false),
            (is_sha256, &hex.to_uppercase(), false),
            (is_web_url, "https://hapifhir.io/", true),
            (is_web_url, "http://x", true),
            (is_web_url, "ftp://x", false),
            (is_web_url, "https://", false),
            (is_web_url, "hapifhir.io", false),
            (is_platform, "linux-x86_64", true),
            (is_platform, "linux-aarch64", true),
            (is_platform, "linux", false),
            (is_platform, "Linux-x86", false),
            (is_relative_path, "bin/mailpit", true),
            (is_relative_path, "/bin/x", false),
            (is_relative_path, "../x", false),
            (is_relative_path, "a//b", false),
        ];
        for (f, s, want) in cases {
            assert_eq!(f(s), *want, "{s}");
        }
    }

    #[test]
    fn images() {
        let hex = "0123456789abcdef".repeat(4);
        for (image, ok) in [
            (format!("hapiproject/hapi:v7.4.0@sha256:{hex}"), true),
            (format!("quay.io/keycloak/keycloak@sha256:{hex}"), true),
            ("hapiproject/hapi:latest".to_string(), false),
            (format!("hapiproject/hapi@sha512:{hex}"), false),
            (format!("hapiproject/hapi@sha256:{}", &hex[..60]), false),
            (format!("@sha256:{hex}"), false),
        ] {
            assert_eq!(image_problem(&image).is_none(), ok, "{image}");
        }
    }
}
