//! The HSP data model. The index format (TUF metadata) is `hsp-tuf`; the
//! rules that check these files are `hsp-check`.
//!
//! - [`api`]: the JSON API files published as TUF targets.
//! - [`document`]: the conformance document, one JSON file per service version,
//!   written by an ISV and signed by its publisher key.
//! - [`interface`]: interface definitions (`interfaces/<id>.json` in a registry);
//!   requirements name interfaces, never services.
//! - [`name`]: the name rules (names, ids, env names) every crate shares.
//! - [`publisher`]: publisher records (`publishers/<name>/publisher.json`).
//! - [`secret_file`]: the one rule and reader of secret files.
//! - [`registry`]: the registry config (`registry.json`) and the repo layout.
//! - [`environment`]: a site's environment file, read by `hsp-agent`.
//! - [`image`]: image references as Docker normalizes them, and mirrors.
//! - [`artifact_mirror`]: a host target's artifact mirror (`<mirror>/sha256/<hex>`).
//! - [`plan`]: a resolved, concrete plan that drivers and exporters consume.
//! - [`version`]: lenient semver versions (`7.4` = `7.4.0`) and ranges.
//!
//! **Invariant:** this crate does no I/O except where a function says so in its
//! name (`read_*`); validators take data and return data.

pub mod api;
pub mod artifact_mirror;
pub mod document;
pub mod environment;
pub mod image;
pub mod interface;
pub mod name;
pub mod plan;
pub mod publisher;
pub mod registry;
pub mod schema;
pub mod secret_file;
pub mod validation;
pub mod version;

pub use document::Document;
pub use environment::Environment;
pub use interface::Interface;
pub use plan::Plan;
pub use publisher::Publisher;
pub use registry::RegistryConfig;
