//! The end-to-end tests: one test binary (as ripgrep's and cargo's) whose
//! modules run the real `hsp` and `hsp-agent` binaries, found with
//! [`hsp_test_support::bin`] (built once per test process), against fixture
//! registries, real TUF clients, dockerd, systemd and a browser. The tools come
//! from `.ci/install`; a test whose tool is missing fails with the fix.
//!
//! Each library's own tests are in its crate (`crates/*/tests`).

mod airgap;
mod build;
mod check;
mod deploy;
mod examples;
mod export;
mod planner;
mod review;
mod site;
mod tuf;
mod validate;
