//! [`Signed<T>`]: one metadata file, `{"signatures": [...], "signed": {...}}`,
//! keeping the exact bytes it was read from (or written as) and the canonical
//! bytes its signatures cover.

use serde::{Deserialize, Serialize};

use super::metadata::{KeyId, Role};
use super::{to_canonical, write_canonical, TufError};

/// One signature: the key id and the hex ed25519 signature of the canonical
/// JSON of `signed`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: KeyId,
    pub sig: String,
}

/// Something that signs canonical bytes with one ed25519 key (`hsp_keys::PrivateKey`
/// implements it; this crate holds no private keys).
pub trait Signer {
    /// TUF key id of the public half.
    fn key_id(&self) -> KeyId;
    /// ed25519 signature of `message`.
    fn sign_bytes(&self, message: &[u8]) -> [u8; 64];
}

/// A metadata file: the parsed payload `signed`, its `signatures`, the
/// canonical bytes of `signed` (what signatures cover) and the file's exact
/// bytes ([`Signed::raw`]).
///
/// Read with [`Signed::from_bytes`]; create with [`Signed::sign`]. The payload is
/// public for reading; changing it does not change [`Signed::raw`] or
/// [`Signed::canonical`] (re-sign with [`Signed::sign`] instead).
#[derive(Clone, Debug)]
pub struct Signed<T> {
    pub signed: T,
    pub signatures: Vec<Signature>,
    canonical: Vec<u8>,
    raw: Vec<u8>,
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    signatures: &'a [Signature],
    signed: &'a T,
}

#[derive(Deserialize)]
struct RawEnvelope {
    signatures: Vec<Signature>,
    signed: serde_json::Value,
}

impl<T: Role> Signed<T> {
    /// Parses a metadata file. The canonical bytes are computed from the JSON as
    /// read (so fields this crate does not know still count), and `_type` must
    /// be `T::TYPE`. Does not verify anything: see [`super::verify_role`].
    pub fn from_bytes(raw: Vec<u8>) -> Result<Self, TufError> {
        let env: RawEnvelope = serde_json::from_slice(&raw).map_err(TufError::Json)?;
        let found = env
            .signed
            .get("_type")
            .and_then(|t| t.as_str())
            .unwrap_or("");
        if found != T::TYPE {
            return Err(TufError::WrongType {
                expected: T::TYPE,
                found: found.to_string(),
            });
        }
        // The canonical form is at most about as long as the file.
        let mut canonical = Vec::with_capacity(raw.len());
        write_canonical(&env.signed, &mut canonical)?;
        canonical.shrink_to_fit();
        let signed = T::deserialize(&env.signed).map_err(TufError::Json)?;
        Ok(Signed {
            signed,
            signatures: env.signatures,
            canonical,
            raw,
        })
    }

    /// Signs `signed` with every signer (signatures sorted by key id) and
    /// encodes the file as canonical JSON of the whole envelope.
    pub fn sign(signed: T, signers: &[&dyn Signer]) -> Result<Self, TufError> {
        let canonical = to_canonical(&signed)?;
        let signatures = signers
            .iter()
            .map(|s| Signature {
                keyid: s.key_id(),
                sig: hex::encode(s.sign_bytes(&canonical)),
            })
            .collect();
        Self::assemble(signed, canonical, signatures)
    }

    /// Adds (or replaces) `signer`'s signature over the same payload, keeping
    /// the others: how a root signed by several offline keys is assembled.
    pub fn add_signature(self, signer: &dyn Signer) -> Result<Self, TufError> {
        let keyid = signer.key_id();
        let mut signatures: Vec<Signature> = self
            .signatures
            .into_iter()
            .filter(|s| s.keyid != keyid)
            .collect();
        signatures.push(Signature {
            keyid,
            sig: hex::encode(signer.sign_bytes(&self.canonical)),
        });
        Self::assemble(self.signed, self.canonical, signatures)
    }

    fn assemble(
        signed: T,
        canonical: Vec<u8>,
        mut signatures: Vec<Signature>,
    ) -> Result<Self, TufError> {
        signatures.sort();
        signatures.dedup();
        let raw = to_canonical(&Envelope {
            signatures: &signatures,
            signed: &signed,
        })?;
        Ok(Signed {
            signed,
            signatures,
            canonical,
            raw,
        })
    }
}

impl<T> Signed<T> {
    /// The exact bytes of the file: written and served verbatim.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The canonical JSON of `signed`: the bytes the signatures cover.
    pub fn canonical(&self) -> &[u8] {
        &self.canonical
    }

    /// The file bytes, consuming `self`.
    pub fn into_raw(self) -> Vec<u8> {
        self.raw
    }
}
