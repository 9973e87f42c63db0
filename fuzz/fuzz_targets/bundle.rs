//! Any bytes as a bundle file (`hsp mirror FILE OUT` unpacks it before it
//! verifies anything) and as an image manifest or index from a registry: no
//! panic, no hang, nothing unpacked outside the staging folder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hsp_mirror::oci::Manifest::parse("fuzz", data.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.bundle");
    std::fs::write(&file, data).unwrap();
    let staging = dir.path().join("staging");
    let _ = hsp_mirror::bundle::unpack(&file, &staging);
    // Only the bundle's parts may appear in the staging folder.
    if let Ok(entries) = std::fs::read_dir(&staging) {
        for e in entries {
            let name = e.unwrap().file_name();
            let name = name.to_string_lossy();
            assert!(
                ["metadata", "targets", "images", "artifacts"].contains(&name.as_ref()),
                "unpacked {name} into the staging folder"
            );
        }
    }
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let name = e.unwrap().file_name();
        assert!(name == "in.bundle" || name == "staging", "wrote {name:?} beside the staging folder");
    }
});
