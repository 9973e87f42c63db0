//! TUF metadata parsing (`Signed::from_bytes`) for every role: no panic, and
//! the fast path and the general path agree (ARCHITECTURE.md's invariant).
#![no_main]

use hsp_tuf::metadata::{Role, Root, Snapshot, Targets, Timestamp};
use hsp_tuf::{to_canonical, Signed};
use libfuzzer_sys::fuzz_target;

fn same_both_ways<T: Role>(data: &[u8]) {
    let fast = Signed::<T>::from_bytes(data.to_vec());
    let slow = Signed::<T>::from_bytes_via_value(data.to_vec());
    match (fast, slow) {
        (Ok(f), Ok(s)) => {
            assert_eq!(f.canonical(), s.canonical());
            assert_eq!(f.signatures, s.signatures);
            assert_eq!(
                to_canonical(&f.signed).ok(),
                to_canonical(&s.signed).ok()
            );
            assert_eq!(f.raw(), data);
        }
        (Err(_), Err(_)) => {}
        (f, s) => panic!(
            "fast path {:?}, general path {:?}",
            f.err().map(|e| e.to_string()),
            s.err().map(|e| e.to_string())
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    same_both_ways::<Root>(data);
    same_both_ways::<Targets>(data);
    same_both_ways::<Snapshot>(data);
    same_both_ways::<Timestamp>(data);
});
