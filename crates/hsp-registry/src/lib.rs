//! A registry repo, read, checked and published: everything `hsp build`,
//! `hsp sign`, `hsp timestamp`, `hsp init`, `hsp root` and `hsp serve` do
//! besides parsing their arguments.
//!
//! The modules, from the bottom up (each uses only those above it):
//!
//! - `clock`, `keydir`: the build's one instant, and key folders.
//! - `summary`: what the build keeps of each document (for the cross-file
//!   rules and the API).
//! - `api`: the JSON API files (catalogue, services, interfaces).
//! - `repo`: loading a registry repo (the only reads of its files), the
//!   streaming scan of its documents and the content-hash build cache.
//! - `publishers`: each publisher's delegated metadata verified against its
//!   record, namespaces and documents.
//! - `bins`, `trust`, `metadata`: signing the registry's roles (targets,
//!   `hsp-api` and its hash bins, snapshot, timestamp) with the online keys
//!   the root chain names.
//! - `publish`: writing OUT atomically, in TUF order.
//! - `build`: [`build`], a registry into a TUF repository and website.
//! - `signing`, `timestamp`, `ceremony`: [`sign_publisher`] (`hsp sign`),
//!   [`Retimestamp`] (`hsp timestamp`), [`init`] and [`rotate_root`] /
//!   [`sign_root`] (`hsp init`, `hsp root`).

mod api;
pub mod base;
mod bins;
mod build;
mod ceremony;
mod clock;
pub mod diff;
mod keydir;
mod metadata;
mod publish;
mod published;
mod publishers;
mod repo;
pub mod scaffold;
mod signing;
mod summary;
mod timestamp;
mod trust;
pub mod validations;

pub use base::{Base, Snapshot};
pub use build::{build, BuildOptions, BuildReport};
pub use ceremony::{init, rotate_root, sign_root, InitOptions, NewRoot};
pub use clock::{now, HELP as NOW_HELP};
pub use publish::Published;
pub use publishers::check_signatures;
pub use repo::{find_root, load, read_loose, LoadError};
pub use signing::{sign_publisher, SignedPublisher};
pub use timestamp::Retimestamp;
pub use trust::KeySource;
