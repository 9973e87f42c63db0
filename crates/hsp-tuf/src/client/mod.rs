//! The TUF client (updater): the TUF 1.0 detailed client workflow over HTTP(S)
//! (ureq) or a folder, with trusted metadata persisted atomically.
//!
//! - [`fetch`]: where repository files come from ([`fetch::HttpFetcher`],
//!   [`fetch::DirFetcher`]), with length caps enforced while streaming and
//!   conditional GETs.
//! - [`checks`]: the stateless checks of one file (spec version, top-level
//!   signatures, expiry, listed length and hashes).
//! - [`trusted`]: [`TrustedSet`], the verification steps with no I/O: root
//!   chain, rollback, freeze, mix-and-match, fast-forward recovery.
//! - [`store`]: the metadata directory (non-versioned names, atomic writes).
//! - [`updater`]: [`Updater`], which ties them together: `refresh`, the
//!   delegation walk, verified and cached targets; and [`LastVerified`], the
//!   persisted metadata read without checking expiry, for browsing only.
//!
//! ```no_run
//! # fn main() -> Result<(), hsp_tuf::client::UpdateError> {
//! use hsp_tuf::client::{fetch, Updater};
//! let mut up = Updater::new("/var/lib/hsp-agent/metadata", fetch::open("https://index.example/metadata")?)
//!     .with_targets(fetch::open("https://index.example/targets")?, "/var/lib/hsp-agent/targets");
//! up.refresh()?;
//! let catalogue = up.get_target("api/catalogue.json")?;
//! # Ok(()) }
//! ```
//!
//! **Invariant:** each role is persisted as soon as it verified, as the spec
//! says (§5.3.8 root, §5.4.5 timestamp, §5.5.7 snapshot, §5.6.6 targets), so
//! a failed update keeps what verified before the failure (a new timestamp
//! when the snapshot then fails); metadata that did not verify is never
//! written, and a timestamp and snapshot whose keys the new root rotated are
//! removed with it (§5.3.11). Each file is replaced atomically (temp file,
//! fsync, rename, directory fsync): a crash leaves the old or the new bytes.
//! **Invariant:** no download is read past its length cap.

pub mod checks;
pub mod error;
pub mod fetch;
pub mod http;
pub mod store;
pub mod trusted;
pub mod updater;

pub use error::UpdateError;
pub use trusted::TrustedSet;
pub use updater::{LastVerified, Limits, Updater};

use std::path::Path;

/// An updater for the index at `url` (`<url>/metadata`, `<url>/targets`).
pub fn updater_for(
    url: &str,
    metadata_dir: &Path,
    targets_dir: &Path,
) -> Result<Updater, UpdateError> {
    let metadata = fetch::open(&fetch::join(url, "metadata"))?;
    let targets = fetch::open(&fetch::join(url, "targets"))?;
    Ok(Updater::new(metadata_dir, metadata).with_targets(targets, targets_dir))
}
