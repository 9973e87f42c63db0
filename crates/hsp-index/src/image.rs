//! Image references as Docker normalizes them, and the one rule for moving an
//! image to a mirror: the registry host is replaced, the repository path kept
//! (`postgres:16@D` is `docker.io/library/postgres`, and on mirror `m:5000`
//! it is `m:5000/library/postgres@D`). `hsp mirror --images`, the Docker
//! driver and the exporters all use it, so a mirror filled by one is read by
//! the others.

/// An image reference, split the way Docker normalizes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// The reference as written.
    pub original: String,
    /// e.g. `docker.io`, `quay.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Path in the registry, e.g. `library/postgres`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`, when pinned.
    pub digest: Option<String>,
}

/// Whether `s` is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl ImageRef {
    /// A reference pinned by a sha256 digest (`repo[:tag]@sha256:<hex>`).
    pub fn parse(s: &str) -> Option<ImageRef> {
        ImageRef::parse_any(s).filter(|r| r.digest.is_some())
    }

    /// A reference with a tag, a digest or both (`repo`, `repo:tag`,
    /// `repo[:tag]@sha256:<hex>`); `None` when it is not one.
    pub fn parse_any(s: &str) -> Option<ImageRef> {
        let (name, digest) = match s.split_once('@') {
            Some((name, digest)) if is_sha256_digest(digest) => (name, Some(digest.to_string())),
            Some(_) => return None,
            None => (s, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let (path, tag) = match path.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p.to_string(), Some(t.to_string())),
            _ => (path, None),
        };
        let bad = |c: char| c.is_whitespace() || c.is_control() || c == '@';
        if path.is_empty()
            || registry.is_empty()
            || tag.as_deref() == Some("")
            || path.contains(bad)
            || registry.contains(bad)
            || path.split('/').any(str::is_empty)
        {
            return None;
        }
        let repository = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Some(ImageRef {
            original: s.to_string(),
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The reference to write: the original, or with the registry replaced
    /// by `mirror` (`host[:port][/prefix]`), keeping tag and digest.
    pub fn reference(&self, mirror: Option<&str>) -> String {
        match mirror {
            None => self.original.clone(),
            Some(m) => {
                let tag = self
                    .tag
                    .as_ref()
                    .map(|t| format!(":{t}"))
                    .unwrap_or_default();
                let digest = self
                    .digest
                    .as_ref()
                    .map(|d| format!("@{d}"))
                    .unwrap_or_default();
                format!("{}{tag}{digest}", self.repository_on(m))
            }
        }
    }

    /// `registry/repository@digest` (the tag dropped: the digest decides),
    /// on `mirror` when given: what the Docker driver pulls and runs.
    pub fn by_digest(&self, mirror: Option<&str>) -> String {
        let name = match mirror {
            Some(m) => self.repository_on(m),
            None => format!("{}/{}", self.registry, self.repository),
        };
        match &self.digest {
            Some(d) => format!("{name}@{d}"),
            None => name,
        }
    }

    /// The repository's full name on registry (or mirror) `host`.
    pub fn repository_on(&self, host: &str) -> String {
        format!("{}/{}", host.trim_end_matches('/'), self.repository)
    }

    /// `registry/repository` (the image's own registry).
    pub fn name(&self) -> String {
        self.repository_on(&self.registry)
    }

    /// Whether the registry is on this machine (`localhost`, `127.*`,
    /// `[::1]`): the one case where Docker, and HSP, speak plain HTTP to it.
    pub fn is_loopback_registry(&self) -> bool {
        is_loopback_host(&self.registry)
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let h = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(h, _)| h),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_normalize_as_docker_does() {
        let cases = [
            (
                "postgres:16@D",
                Some(("docker.io", "library/postgres", Some("16"))),
            ),
            (
                "hapiproject/hapi@D",
                Some(("docker.io", "hapiproject/hapi", None)),
            ),
            (
                "quay.io/keycloak/keycloak:26.0@D",
                Some(("quay.io", "keycloak/keycloak", Some("26.0"))),
            ),
            (
                "127.0.0.1:5000/x/y@D",
                Some(("127.0.0.1:5000", "x/y", None)),
            ),
            ("localhost/y:1@D", Some(("localhost", "y", Some("1")))),
            ("postgres:16", None),
            ("postgres@sha256:abc", None),
            ("postgres@sha512:0123", None),
            ("a//b@D", None),
            ("a b@D", None),
        ];
        for (input, want) in cases {
            let input = input.replace('D', D);
            let got = ImageRef::parse(&input);
            match (got, want) {
                (None, None) => {}
                (Some(r), Some((reg, repo, tag))) => {
                    assert_eq!(
                        (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
                        (reg, repo, tag),
                        "{input}"
                    );
                    assert_eq!(r.digest.as_deref(), Some(D));
                    assert_eq!(r.reference(None), input);
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let tagged = ImageRef::parse_any("postgres:16").unwrap();
        assert_eq!(
            (tagged.name().as_str(), tagged.tag.as_deref(), tagged.digest),
            ("docker.io/library/postgres", Some("16"), None)
        );
    }

    #[test]
    fn mirrors_keep_the_repository_path() {
        let r = ImageRef::parse(&format!("postgres:16@{D}")).unwrap();
        assert_eq!(
            r.reference(Some("mirror.local:5000/")),
            format!("mirror.local:5000/library/postgres:16@{D}")
        );
        for (image, mirror, want) in [
            ("hapiproject/hapi@D", None, "docker.io/hapiproject/hapi@D"),
            (
                "hapiproject/hapi:v7@D",
                None,
                "docker.io/hapiproject/hapi@D",
            ),
            (
                "hapiproject/hapi@D",
                Some("127.0.0.1:5000"),
                "127.0.0.1:5000/hapiproject/hapi@D",
            ),
            (
                "quay.io/keycloak/keycloak:26@D",
                Some("mirror.local/"),
                "mirror.local/keycloak/keycloak@D",
            ),
            ("localhost:5000/x@D", Some("m:1/site"), "m:1/site/x@D"),
            ("postgres@D", Some("m"), "m/library/postgres@D"),
        ] {
            let r = ImageRef::parse(&image.replace('D', D)).unwrap();
            assert_eq!(
                r.by_digest(mirror),
                want.replace('D', D),
                "{image} via {mirror:?}"
            );
        }
    }

    #[test]
    fn loopback_registries() {
        for (host, want) in [
            ("127.0.0.1:5000", true),
            ("localhost", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("127.0.0.1.nip.io", false),
            ("registry.site:5000", false),
            ("docker.io", false),
        ] {
            assert_eq!(is_loopback_host(host), want, "{host}");
        }
    }
}
