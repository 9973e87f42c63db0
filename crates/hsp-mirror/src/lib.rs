//! What reaches outside the index: image digests through the OCI distribution
//! API (`hsp pin`, `hsp check --online`), and verified copies of an index,
//! the images it names and its bare-metal artifacts for sites that cannot
//! reach the publishers (`hsp mirror`, bundles).

pub mod artifacts;
pub mod bundle;
pub mod images;
pub mod index;
pub mod oci;
pub mod online;
pub mod pin;
pub mod plan;
pub mod run;

pub use oci::Oci;
