//! `hsp-agent` as a library: the binary in `main.rs` is a thin CLI over these.
//!
//! - [`tuf`]: the TUF client (updater) over HTTP (ureq) and folders.
//! - [`catalog`]: a site's state directory and the verified JSON API of the index.
//! - [`planner`]: PubGrub resolution of an environment into a [`hsp_index::Plan`].
//! - [`driver`]: deploying a plan to Docker or bare-metal hosts.
//! - [`export`]: Kubernetes manifests, a Helm chart and a Compose file from a plan.

pub mod catalog;
pub mod driver;
pub mod export;
pub mod planner;
pub mod tuf;
