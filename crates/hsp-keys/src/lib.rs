//! ed25519 and ECDSA P-256 key files, signing and TUF key ids.
//!
//! - [`key`]: [`PrivateKey`], an ed25519 or ECDSA P-256 ([`KeyType`]) signing
//!   key that knows its public half and TUF key id and implements
//!   [`hsp_tuf::Signer`]; development keys (ed25519) derived from a fixed,
//!   public seed ([`PrivateKey::dev`]).
//! - [`file`]: key files. A private key file is JSON
//!   `{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"<hex>","private":"<hex seed>"}}`
//!   (securesystemslib's legacy form) or, for ECDSA,
//!   `{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"<PEM>","private":"<PKCS#8 PEM>"}}`,
//!   with mode 0600; a public key file is the same without `private`, the form
//!   `publisher.json` and TUF root metadata embed.
//!
//! Key ids are [`hsp_tuf::key_id`]: hex sha256 of the canonical JSON of the
//! public key.
//!
//! **Invariant:** private key files are created with mode 0600 and never
//! overwritten; reading one that group or others can read is an error.
//! **Invariant:** private key bytes never appear in `Debug` output or errors.

pub mod error;
pub mod file;
pub mod key;

pub use error::KeyError;
pub use file::{public_path, read_private, read_public, write_private, write_public};
pub use hsp_tuf::PublicKey;
pub use hsp_tuf::{key_id, KeyId};
pub use key::{KeyType, PrivateKey};
