//! The environment file parser and checker (`hsp-agent`'s input): no panic,
//! and every problem is placed inside the file. Secret files are not looked
//! at (the check is given as a function).
#![no_main]

use std::path::Path;

use hsp_planner::env::{parse_environment, EnvError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let no_secret_problem = |_: &Path| None;
    match parse_environment(
        Path::new("env.json"),
        data,
        Path::new("/site"),
        &no_secret_problem,
    ) {
        Ok(_) => {}
        Err(EnvError::Invalid { issues, .. }) => {
            assert!(!issues.is_empty());
            for i in &issues {
                assert!(i.line >= 1 && i.line <= lines && i.column >= 1, "{i:?}");
            }
        }
        Err(e) => panic!("reading from memory cannot fail to read: {e}"),
    }
});
