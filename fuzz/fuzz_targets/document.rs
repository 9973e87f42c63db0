//! The document parser and validator: any bytes, as a document of a
//! registry repo (the cross-file rules run) and as a lone file. Nothing may
//! panic, and every diagnostic is placed inside the file.
#![no_main]

use hsp_check::{validate_repo, RepoInput, Source};
use libfuzzer_sys::fuzz_target;

const CONFIG: &[u8] = include_bytes!("../../examples/registry/registry.json");
const PUBLISHER: &[u8] =
    include_bytes!("../../examples/registry/publishers/acme-health/publisher.json");

fuzz_target!(|data: &[u8]| {
    let doc = Source {
        path: "publishers/acme-health/services/com.acme.care-coordinator/1.0.0.json".into(),
        bytes: data.to_vec(),
    };
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for registry in [false, true] {
        let input = RepoInput {
            config: registry.then(|| Source {
                path: "registry.json".into(),
                bytes: CONFIG.to_vec(),
            }),
            publishers: if registry {
                vec![Source {
                    path: "publishers/acme-health/publisher.json".into(),
                    bytes: PUBLISHER.to_vec(),
                }]
            } else {
                vec![]
            },
            documents: vec![doc.clone()],
            ..RepoInput::default()
        };
        let repo = validate_repo(input);
        for d in &repo.diagnostics {
            if d.path == doc.path {
                assert!(d.line >= 1 && d.line <= lines, "{d}");
                assert!(d.column >= 1, "{d}");
            }
        }
    }
});
