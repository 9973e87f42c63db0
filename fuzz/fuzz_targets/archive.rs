//! The host driver's archive unpacker on any tar stream (gzip-wrapped here,
//! so the fuzzer explores the tar format, not deflate): no panic, and what it
//! unpacks stays inside the folder and grants nothing — no setuid, setgid or
//! sticky bit, no group or world write, no device or fifo, no link leaving the
//! folder. A refused archive leaves nothing behind.
#![no_main]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hsp_deploy::host::archive::{is_inside, unpack_within, Limits, MODE_MASK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&archive).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(data).unwrap();
    gz.finish().unwrap();
    let dest = dir.path().join("release");
    let limits = Limits {
        bytes: 1 << 20,
        entries: 64,
    };
    match unpack_within(&archive, &dest, limits) {
        Ok(()) => check_tree(&dest, &dest),
        Err(_) => assert!(!dest.exists() && !dest.with_extension("unpacking").exists()),
    }
});

fn check_tree(root: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            assert!(is_inside(&target), "{} -> {}", path.display(), target.display());
            continue;
        }
        assert!(kind.is_file() || kind.is_dir(), "{}: {kind:?}", path.display());
        let mode = meta.permissions().mode();
        assert_eq!(mode & MODE_MASK, 0, "{}: mode {mode:o}", path.display());
        if kind.is_dir() {
            check_tree(root, &path);
        }
    }
}
