//! A registry repo, read, checked and published: everything `hsp build`,
//! `hsp sign`, `hsp timestamp`, `hsp root` and `hsp serve` do besides parsing
//! their arguments.
//!
//! - [`repo`]: loading a registry repo (the only reads of its files), the
//!   streaming scan of its documents and the content-hash build cache.
//! - [`build`]: [`build::build`], a registry into a TUF repository and website.
//! - [`publishers`]: each publisher's delegated metadata verified against its
//!   record, namespaces and documents.
//! - [`summary`]: what the build keeps of each document (for the cross-file
//!   rules and the API).
//! - [`api`]: the JSON API files (catalogue, services, interfaces).
//! - [`metadata`], [`bins`], [`trust`]: signing the registry's roles (targets,
//!   `hsp-api` and its hash bins, snapshot, timestamp) with the online keys the
//!   root chain names.
//! - [`publish`]: writing OUT atomically, in TUF order.
//! - [`clock`], [`keydir`]: the build's one instant, and key folders.

pub mod api;
pub mod bins;
pub mod build;
pub mod clock;
pub mod keydir;
pub mod metadata;
pub mod publish;
pub mod publishers;
pub mod repo;
pub mod summary;
pub mod trust;
