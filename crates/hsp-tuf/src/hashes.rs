//! [`Hashes`]: a target's or metadata file's hash algorithm -> hex digest,
//! serialised as a JSON object.
//!
//! A sorted `Vec` rather than a `BTreeMap`: a file lists one or two hashes, and
//! a `BTreeMap` allocates a node for eleven. A registry's metadata holds one
//! of these per target (100,000 and more), so this is most of the memory of
//! the parsed targets roles (50 MB less for `hsp build` of 100,000 documents).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Hash algorithm name to hex digest, sorted by name, names unique; `hsp`
/// writes `sha256`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Hashes(Vec<(String, String)>);

impl Hashes {
    /// The digest listed for `algorithm`.
    pub fn get(&self, algorithm: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(a, _)| a.as_str().cmp(algorithm))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// (algorithm, digest) in algorithm order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(a, d)| (a, d))
    }

    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(_, d)| d)
    }
}

impl FromIterator<(String, String)> for Hashes {
    /// As a map would: sorted by algorithm, the last of equal names kept.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(items: I) -> Hashes {
        let mut v: Vec<(String, String)> = items.into_iter().collect();
        v.reverse();
        // Stable: of equal names the last given comes first, and is kept.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|later, first| later.0 == first.0);
        v.shrink_to_fit();
        Hashes(v)
    }
}

impl<const N: usize> From<[(String, String); N]> for Hashes {
    fn from(items: [(String, String); N]) -> Hashes {
        items.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a Hashes {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(a, d)| (a, d))
    }
}

impl fmt::Debug for Hashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Hashes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (a, d) in &self.0 {
            map.serialize_entry(a, d)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Hashes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hashes, D::Error> {
        struct HashesVisitor;
        impl<'de> Visitor<'de> for HashesVisitor {
            type Value = Hashes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of hash algorithm names to hex digests")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Hashes, M::Error> {
                let mut items = Vec::with_capacity(m.size_hint().unwrap_or(1).min(8));
                while let Some(entry) = m.next_entry::<String, String>()? {
                    items.push(entry);
                }
                Ok(items.into_iter().collect())
            }
        }
        d.deserialize_map(HashesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_the_map_it_replaces() {
        let cases = [
            r#"{}"#,
            r#"{"sha256":"aa"}"#,
            r#"{"sha512":"bb","sha256":"aa"}"#,
            r#"{"sha256":"aa","md5":"cc","sha256":"dd"}"#,
        ];
        for json in cases {
            let ours: Hashes = serde_json::from_str(json).unwrap();
            let map: BTreeMap<String, String> = serde_json::from_str(json).unwrap();
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&map).unwrap(),
                "{json}"
            );
            assert_eq!(ours.len(), map.len());
            assert_eq!(ours.get("sha256"), map.get("sha256"), "{json}");
            assert_eq!(ours.get("none"), None);
            assert!(ours.iter().eq(map.iter()), "{json}");
            assert!(ours.values().eq(map.values()));
            assert_eq!(format!("{ours:?}"), format!("{map:?}"));
            let from_value: Hashes =
                serde_json::from_value(serde_json::from_str(json).unwrap()).unwrap();
            assert_eq!(from_value, ours);
        }
        assert!(serde_json::from_str::<Hashes>(r#"{"sha256":1}"#).is_err());
        assert!(serde_json::from_str::<Hashes>(r#"["sha256"]"#).is_err());
    }
}
