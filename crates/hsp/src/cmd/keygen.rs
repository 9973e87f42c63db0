//! `hsp keygen --out FILE [--type ed25519|ecdsa-p256]`: a new key: FILE
//! (private, mode 0600) and FILE.pub (public, the form publisher.json lists).
//! Prints the key id and the public key on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_keys::{KeyType, PrivateKey};

/// A key type on the command line (`--type`, `hsp init --key-type`).
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Type {
    /// ed25519 (TUF `ed25519`/`ed25519`).
    Ed25519,
    /// ECDSA on NIST P-256 (TUF `ecdsa`/`ecdsa-sha2-nistp256`), the type cloud
    /// KMS, HSMs and PIV tokens hold.
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
}

impl From<Type> for KeyType {
    fn from(t: Type) -> KeyType {
        match t {
            Type::Ed25519 => KeyType::Ed25519,
            Type::EcdsaP256 => KeyType::EcdsaP256,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Private key file to create (never overwritten); the public half goes to FILE.pub.
    #[arg(long)]
    out: PathBuf,
    /// Key type.
    #[arg(long = "type", value_enum, default_value = "ed25519")]
    key_type: Type,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = PrivateKey::generate_of(args.key_type.into());
    hsp_keys::write_private(&args.out, &key)?;
    eprintln!(
        "wrote {} (private, mode 0600) and {} (public)",
        args.out.display(),
        hsp_keys::public_path(&args.out).display()
    );
    println!("keyid: {}", key.key_id());
    println!("{}", serde_json::to_string(key.public())?);
    Ok(ExitCode::SUCCESS)
}
