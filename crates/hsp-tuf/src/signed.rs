//! [`Signed<T>`]: one metadata file, `{"signatures": [...], "signed": {...}}`,
//! keeping the exact bytes it was read from (or written as) and the canonical
//! bytes its signatures cover.
//!
//! Parsing has two paths with the same results for every input. The fast path
//! borrows `signed` as raw text and, when [`super::scanner`] finds it already
//! canonical (files `hsp sign` and `hsp build` write; python-tuf's compact
//! output when all its text is printable ASCII), takes those bytes as the canonical bytes and
//! deserialises the payload straight from them. Any other input (pretty-printed
//! files, unsorted keys, escapes such as python-tuf's `\u00e9`, invalid files)
//! goes the general path: a [`serde_json::Value`], re-encoded by
//! [`super::write_canonical`]; its errors are the ones reported.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::canonical::canonical_to_json_file;
use super::metadata::{KeyId, Role};
use super::{scanner, to_canonical, write_canonical, TufError};

/// One signature: the key id and the hex signature of the canonical JSON of
/// `signed` (encoding per key type: see [`super::verify`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: KeyId,
    pub sig: String,
}

/// Something that signs canonical bytes with one key (`hsp_keys::PrivateKey`
/// implements it; this crate holds no private keys).
pub trait Signer {
    /// TUF key id of the public half.
    fn key_id(&self) -> KeyId;
    /// The signature of `message`, in the key type's encoding (64 bytes for
    /// ed25519, DER for ECDSA).
    fn sign_bytes(&self, message: &[u8]) -> Vec<u8>;
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

/// The envelope with `signed` left as the text it was read from.
#[derive(Deserialize)]
struct BorrowedEnvelope<'a> {
    signatures: Vec<Signature>,
    #[serde(borrow)]
    signed: &'a RawValue,
}

impl<T: Role> Signed<T> {
    /// Parses a metadata file. The canonical bytes are computed from the JSON as
    /// read (so fields this crate does not know still count), and `_type` must
    /// be `T::TYPE`. Does not verify anything: see [`super::verify_role`].
    ///
    /// Takes the fast path when `signed` is already canonical, else
    /// [`Signed::from_bytes_via_value`]; both give the same result.
    pub fn from_bytes(raw: Vec<u8>) -> Result<Self, TufError> {
        match Self::parse_canonical(&raw) {
            Some((signed, signatures, canonical)) => {
                check_unique_keyids(&signatures)?;
                Ok(Signed {
                    signed,
                    signatures,
                    canonical,
                    raw,
                })
            }
            None => Self::from_bytes_via_value(raw),
        }
    }

    /// The fast path: `Some` only if `signed` is already canonical, has
    /// `_type` `T::TYPE` and deserialises as `T`; then the general path would
    /// give the same payload, signatures and canonical bytes.
    fn parse_canonical(raw: &[u8]) -> Option<(T, Vec<Signature>, Vec<u8>)> {
        debug_assert!(!T::TYPE.contains(['"', '\\']));
        if !signed_may_be_canonical(raw) {
            return None;
        }
        let env: BorrowedEnvelope = serde_json::from_slice(raw).ok()?;
        let text = env.signed.get();
        let scanned = scanner::scan(text)?;
        // `T::TYPE` has no `"` or `\`, so the escaped text equals it exactly
        // when the unescaped string does.
        if scanned.type_? != T::TYPE {
            return None;
        }
        let signed = serde_json::from_str(text).ok()?;
        Some((signed, env.signatures, text.as_bytes().to_vec()))
    }

    /// The general path of [`Signed::from_bytes`], for any input: `signed` is
    /// parsed into a [`serde_json::Value`], re-encoded as canonical JSON and
    /// the payload deserialised from the `Value`. Same results as
    /// [`Signed::from_bytes`], slower on canonical files; public for the
    /// equivalence tests and the benchmark (`cargo bench -p hsp-index`).
    pub fn from_bytes_via_value(raw: Vec<u8>) -> Result<Self, TufError> {
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
        check_unique_keyids(&env.signatures)?;
        Ok(Signed {
            signed,
            signatures: env.signatures,
            canonical,
            raw,
        })
    }

    /// Signs `signed` with every signer (signatures sorted by key id) and
    /// encodes the file as canonical JSON of the whole envelope (control
    /// characters escaped: see [`canonical_to_json_file`]).
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
        let raw = canonical_to_json_file(to_canonical(&Envelope {
            signatures: &signatures,
            signed: &signed,
        })?);
        Ok(Signed {
            signed,
            signatures,
            canonical,
            raw,
        })
    }
}

/// Each key id signs at most once (TUF 1.0 §4.2: "the keyid MUST be unique
/// in the signatures array"); python-tuf refuses such a file too.
fn check_unique_keyids(signatures: &[Signature]) -> Result<(), TufError> {
    let mut seen = std::collections::BTreeSet::new();
    for s in signatures {
        if !seen.insert(&s.keyid) {
            return Err(TufError::DuplicateSignature {
                keyid: s.keyid.to_string(),
            });
        }
    }
    Ok(())
}

/// A cheap look before the fast path: the first `"signed"` key is followed by
/// an object that starts as canonical text does (`{"` or `{}`). Pretty-printed
/// files fail here without being parsed twice; a wrong guess only costs speed.
fn signed_may_be_canonical(raw: &[u8]) -> bool {
    const KEY: &[u8] = b"\"signed\"";
    let Some(at) = raw.windows(KEY.len()).position(|w| w == KEY) else {
        return false;
    };
    let space = |b: &&u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut rest = raw[at + KEY.len()..].iter().skip_while(space);
    if rest.next() != Some(&b':') {
        return false;
    }
    let mut rest = rest.skip_while(space);
    rest.next() == Some(&b'{') && matches!(rest.next(), Some(b'"' | b'}'))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde_json::{json, Value};

    use super::*;
    use crate::metadata::{
        DelegatedRole, Delegations, MetaFile, RoleKeys, Root, Snapshot, TargetFile, Targets,
        Timestamp, SPEC_VERSION,
    };
    use crate::payloads::{self, TestKey};

    /// A payload of any shape with `_type` `any`: the equivalence tests' role.
    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct AnyRole(Value);

    impl Role for AnyRole {
        const TYPE: &'static str = "any";
        fn version(&self) -> u64 {
            0
        }
        fn expires(&self) -> DateTime<Utc> {
            DateTime::UNIX_EPOCH
        }
    }

    /// The error and its sources, one line.
    fn describe(e: &TufError) -> String {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    }

    /// Checks that [`Signed::from_bytes`] and [`Signed::from_bytes_via_value`]
    /// agree on `file`; returns whether the fast path took it.
    fn same_both_ways<T: Role>(file: &[u8]) -> bool {
        let fast = Signed::<T>::from_bytes(file.to_vec());
        let slow = Signed::<T>::from_bytes_via_value(file.to_vec());
        let text = String::from_utf8_lossy(file);
        match (&fast, &slow) {
            (Ok(f), Ok(s)) => {
                assert_eq!(f.canonical(), s.canonical(), "{text}");
                assert_eq!(
                    to_canonical(&f.signed).unwrap(),
                    to_canonical(&s.signed).unwrap(),
                    "{text}"
                );
                assert_eq!(f.signatures, s.signatures, "{text}");
                assert_eq!(f.raw(), file, "{text}");
            }
            (Err(f), Err(s)) => assert_eq!(describe(f), describe(s), "{text}"),
            _ => panic!(
                "{text}: fast {:?} vs general {:?}",
                fast.as_ref().err().map(describe),
                slow.as_ref().err().map(describe)
            ),
        }
        Signed::<T>::parse_canonical(file).is_some()
    }

    fn envelope(signed: &str) -> Vec<u8> {
        format!(r#"{{"signatures":[{{"keyid":"ab","sig":"cd"}}],"signed":{signed}}}"#).into_bytes()
    }

    #[test]
    fn tricky_and_random_payloads_parse_the_same_both_ways() {
        let mut fast = 0;
        let payloads = payloads::tricky();
        let random = payloads::random();
        for text in payloads.iter().chain(&random) {
            let took_fast = same_both_ways::<AnyRole>(&envelope(text));
            // `signed` is read without the whitespace around it.
            let value = text.trim_matches([' ', '\t', '\n', '\r']);
            let expected = scanner::scan(value).is_some_and(|c| c.type_ == Some("any"));
            assert_eq!(took_fast, expected, "{text}");
            fast += usize::from(took_fast);
        }
        let total = payloads.len() + random.len();
        assert!(fast > 1000 && total - fast > 1000, "fast {fast} of {total}");
    }

    #[test]
    fn type_is_checked_like_the_general_path() {
        for signed in [
            r#"{"_type":"any"}"#,
            r#"{"_type":"targets"}"#,
            r#"{"_type":"an\"y"}"#,
            r#"{"_type":1}"#,
            r#"{"a":1}"#,
            r#"{"x":{"_type":"any"}}"#,
            r#"["_type","any"]"#,
            r#""any""#,
        ] {
            let fast = same_both_ways::<AnyRole>(&envelope(signed));
            assert_eq!(fast, signed == r#"{"_type":"any"}"#, "{signed}");
        }
    }

    #[test]
    fn envelopes_are_read_like_the_general_path() {
        let signed = r#"{"_type":"any"}"#;
        for (file, fast) in [
            (format!(r#"{{"signatures":[],"signed":{signed}}}"#), true),
            (format!(r#"{{"signed":{signed},"signatures":[]}}"#), true),
            (
                format!(" {{ \"signatures\" : [ ] , \"signed\" : {signed} }}\n"),
                true,
            ),
            (
                format!(r#"{{"signatures":[],"signed":{signed},"x":[1.5]}}"#),
                true,
            ),
            (format!(r#"{{"signatures":[],"signed":{signed}}}x"#), false),
            (format!(r#"{{"signatures":{{}},"signed":{signed}}}"#), false),
            (
                format!(r#"{{"signatures":[{{"keyid":"a"}}],"signed":{signed}}}"#),
                false,
            ),
            (format!(r#"{{"signed":{signed}}}"#), false),
            (r#"{"signatures":[]}"#.to_string(), false),
            (
                format!(r#"{{"signatures":[],"signed":{signed},"signed":{signed}}}"#),
                false,
            ),
            (format!(r#"{{"signatures":[],"signed":{signed}"#), false),
            (
                format!(r#"{{"signatures":["\ud800"],"signed":{signed}}}"#),
                false,
            ),
            (String::new(), false),
        ] {
            assert_eq!(same_both_ways::<AnyRole>(file.as_bytes()), fast, "{file}");
        }
        let mut invalid_utf8 = envelope(r#"{"_type":"any","v":"é"}"#);
        let at = invalid_utf8.len() - 4;
        invalid_utf8[at] = 0xff;
        assert!(!same_both_ways::<AnyRole>(&invalid_utf8));
    }

    fn expires() -> DateTime<Utc> {
        "2030-01-02T03:04:05Z".parse().unwrap()
    }

    /// A targets role as `hsp sign` writes it, with delegations and custom data.
    fn targets(n: usize, key: &TestKey) -> Targets {
        let targets = (0..n)
            .map(|i| {
                let mut file = TargetFile::from_bytes(format!("document {i}").as_bytes());
                if i % 7 == 0 {
                    file.custom = Some(
                        json!({"note": "quote \" back \\ é", "n": -i64::try_from(i).unwrap()}),
                    );
                }
                (format!("services/org.example.svc{i}/1.{i}.0.json"), file)
            })
            .collect();
        let delegations = Delegations {
            keys: BTreeMap::from([(key.key_id(), key.public())]),
            roles: vec![DelegatedRole {
                name: "org.example".into(),
                keyids: vec![key.key_id()],
                threshold: 1,
                terminating: true,
                paths: Some(vec!["services/org.example.*/*".into()]),
                path_hash_prefixes: None,
            }],
        };
        Targets {
            type_: "targets".into(),
            spec_version: SPEC_VERSION.into(),
            version: 3,
            expires: expires(),
            targets,
            delegations: Some(delegations),
        }
    }

    /// Both paths on the file as signed (canonical: fast) and pretty-printed
    /// as python-tuf's `JSONSerializer()` writes (general path); a file of
    /// another role is refused the same way.
    fn check_role<T: Role>(signed: T, key: &TestKey) {
        let file = Signed::sign(signed, &[key as &dyn Signer]).unwrap();
        assert!(same_both_ways::<T>(file.raw()));
        let reread = Signed::<T>::from_bytes(file.raw().to_vec()).unwrap();
        assert_eq!(reread.canonical(), file.canonical());
        let pretty: Value = serde_json::from_slice(file.raw()).unwrap();
        let pretty = serde_json::to_vec_pretty(&pretty).unwrap();
        assert!(!same_both_ways::<T>(&pretty));
        assert_eq!(
            Signed::<T>::from_bytes(pretty).unwrap().canonical(),
            file.canonical()
        );
        assert!(!same_both_ways::<AnyRole>(file.raw()));
        assert!(matches!(
            Signed::<AnyRole>::from_bytes(file.raw().to_vec()),
            Err(TufError::WrongType {
                expected: "any",
                ..
            })
        ));
    }

    #[test]
    fn every_role_takes_the_fast_path_when_canonical() {
        let key = TestKey::new(7);
        check_role(targets(50, &key), &key);
        let meta = BTreeMap::from([(
            "targets.json".to_string(),
            MetaFile {
                version: 3,
                length: Some(1234),
                hashes: Some(super::super::Hashes::from([(
                    "sha256".into(),
                    "ab".repeat(32),
                )])),
            },
        )]);
        check_role(
            Snapshot {
                type_: "snapshot".into(),
                spec_version: SPEC_VERSION.into(),
                version: 4,
                expires: expires(),
                meta: meta.clone(),
            },
            &key,
        );
        check_role(
            Timestamp {
                type_: "timestamp".into(),
                spec_version: SPEC_VERSION.into(),
                version: 5,
                expires: expires(),
                meta,
            },
            &key,
        );
        let keyids = vec![key.key_id()];
        check_role(
            Root {
                type_: "root".into(),
                spec_version: SPEC_VERSION.into(),
                version: 1,
                expires: expires(),
                consistent_snapshot: true,
                keys: BTreeMap::from([(key.key_id(), key.public())]),
                roles: ["root", "targets", "snapshot", "timestamp"]
                    .map(|r| {
                        let keys = RoleKeys {
                            keyids: keyids.clone(),
                            threshold: 1,
                        };
                        (r.to_string(), keys)
                    })
                    .into(),
            },
            &key,
        );
    }

    #[test]
    fn payload_errors_are_the_general_paths() {
        // Canonical, right `_type`, but not a valid `Targets`.
        for signed in [
            r#"{"_type":"targets"}"#,
            r#"{"_type":"targets","expires":"2030-01-02T03:04:05.5Z","spec_version":"1.0.31","targets":{},"version":1}"#,
            r#"{"_type":"targets","expires":"2030-01-02T03:04:05Z","spec_version":"1.0.31","targets":{},"version":-1}"#,
        ] {
            assert!(scanner::is_canonical(signed));
            assert!(!same_both_ways::<Targets>(&envelope(signed)));
        }
    }
}
