//! `hsp keygen --out FILE`: a new ed25519 key: FILE (private, mode 0600) and
//! FILE.pub (public, the form publisher.json lists). Prints the key id and the
//! public key on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use hsp_keys::PrivateKey;

#[derive(clap::Args)]
pub struct Args {
    /// Private key file to create (never overwritten); the public half goes to FILE.pub.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = PrivateKey::generate();
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
