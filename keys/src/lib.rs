//! ed25519 key files, signing and TUF key ids.
