//! Air-gapped delivery with real registries (distribution 2.8 on loopback,
//! images made locally with skopeo): `hsp pin`, `hsp check --online`, and
//! `hsp mirror` of an index, its images and artifacts.

mod mirror;
mod pin;
