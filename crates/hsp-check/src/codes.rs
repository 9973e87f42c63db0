//! Diagnostic codes: stable short ids, one per rule, with a one-line summary.
//!
//! `E` codes are errors (a registry refuses the file), `W` codes are warnings (fail
//! only with `--deny-warnings`). Ids are never reused or renumbered; [`Code::ALL`]
//! is the table the documentation renders.

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($($variant:ident = $id:literal: $summary:literal;)*) => {
        /// One validation rule.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// Every code, in id order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable id, e.g. `E002`.
            pub fn id(self) -> &'static str {
                match self {
                    $(Code::$variant => $id,)*
                }
            }

            /// What the rule checks, in one line.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary,)*
                }
            }
        }
    };
}

codes! {
    JsonSyntax = "E001": "The file is not valid JSON.";
    UnknownField = "E002": "A field the file type does not define (often a typo).";
    MissingField = "E003": "A required field is missing.";
    WrongType = "E004": "A value has the wrong JSON type or is not one of the allowed values.";
    IdFormat = "E010": "A service id is not reverse-DNS: lowercase `[a-z0-9-]` labels separated by dots, at least two.";
    VersionFormat = "E011": "A version is not semver (`1.2.3`; `7.4` is read as `7.4.0`).";
    VersionRange = "E012": "A version range does not parse (e.g. `>=13, <17`, `^4.0`).";
    NameFormat = "E013": "A name (task, port, volume, requirement, interface, publisher, field) has the wrong format.";
    Duplicate = "E014": "Two entries of a list share a name that must be unique.";
    EmptyField = "E015": "A field that must say something is empty, or a list that needs an entry is empty.";
    UrlFormat = "E016": "A URL or path is malformed or uses a scheme that is not allowed.";
    LicenseExpression = "E020": "The licence is not a valid SPDX expression.";
    LicensePolicy = "E021": "A licence outside the registry's open-source list lacks a complete `licensing` declaration.";
    EnvName = "E030": "An environment variable or config name is not `[A-Z0-9_]+`.";
    TemplateSyntax = "E031": "A `${...}` template is malformed.";
    TemplateReference = "E032": "A `${...}` reference names no requirement, binding field, config entry or own port.";
    ConfigPattern = "E033": "A config entry's `pattern` is not a regular expression, or its `default` or `example` does not match it.";
    UnknownTaskOrPort = "E040": "A health check, smoke test or provided interface names a task or port that does not exist.";
    HealthCheck = "E041": "A health check or smoke test must have exactly one of `http` or `command`, and sane timings.";
    Resources = "E050": "Memory, CPUs or instance counts are not sane (e.g. `instances.min` > `max`).";
    StopTimeout = "E051": "`stop_timeout_s` is above 15 seconds.";
    HostReplicas = "E052": "A task with ports in a document with artifacts has `instances.min` above 1 but ports that are not `per_replica`, or per-replica port ranges that overlap.";
    ImageDigest = "E060": "An image is not pinned by digest (`@sha256:` and 64 lowercase hex digits).";
    ArtifactPin = "E061": "An artifact lacks a valid sha256 or a size, or is larger than the registry allows.";
    FileLocation = "E070": "The file's path does not match its id, version or publisher.";
    Namespace = "E071": "A publisher publishes outside its own namespaces.";
    DuplicateVersion = "E072": "The same service version appears twice (`7.4` and `7.4.0` are the same).";
    UnknownPublisher = "E073": "The document's publisher has no `publishers/<name>/publisher.json`.";
    UnknownInterface = "E074": "A required or provided interface has no `interfaces/<id>.json`.";
    OpenSourceDependency = "E075": "An open-source service needs an interface that no service in the index provides.";
    Binding = "E076": "A binding names a field the interface does not define, or misses a required one.";
    UnknownFeature = "E077": "A feature the interface does not define.";
    PublisherKeys = "E078": "A publisher's keys or threshold are invalid.";
    DuplicateKey = "E079": "An object has the same key twice (JSON readers disagree on which one wins).";
    ControlCharacter = "E080": "A name or value holds a NUL or another control character.";
    FileName = "E081": "A file name is not UTF-8 or holds a control character (e.g. a newline).";
    FileKind = "E082": "A path is not a regular file: a symbolic link (never followed), a FIFO, a device or a socket.";
    FileSize = "E083": "A file is larger than the limit for its kind.";
    ImageMissing = "E090": "A pinned image's manifest is not in its registry (`--online`).";
    ArtifactSize = "E091": "An artifact URL answers with another size than the document declares (`--online`).";
    OnlineUnreachable = "E092": "A registry or artifact server could not be asked (`--online`): nothing was verified.";
    Unsigned = "E100": "A document is not signed by its publisher, or changed after it was signed (`hsp sign`).";
    PublisherMetadata = "E101": "A publisher's signed metadata does not verify: signatures, threshold, expiry, namespaces or the documents it lists.";
    VersionDeleted = "E102": "A published version is gone (`--base`): versions are never deleted, only yanked.";
    VersionChanged = "E103": "A published version's bytes changed other than by yanking (`--base`): publish a new version instead.";
    YankTarget = "E104": "A maintainers' yank (`registry.json`'s `yanks`) names a service version the registry does not have, or twice.";
    Todo = "E105": "A `TODO` marker (left by `hsp new`) is still in the document.";
    NoHealthCheck = "W001": "A task that serves ports has no health check, so rollouts cannot wait for it.";
    SecretDefault = "W002": "A secret config entry has a default or example value, which every site would share.";
    NoSmokeTest = "W003": "The document has no smoke test.";
}

impl Code {
    /// Whether the code is a warning rather than an error.
    pub fn is_warning(self) -> bool {
        self.id().starts_with('W')
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_ordered_and_documented() {
        let ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted, "ids must be unique and listed in order");
        for c in Code::ALL {
            assert!(c.id().len() == 4 && c.summary().ends_with('.'), "{c:?}");
        }
    }
}
