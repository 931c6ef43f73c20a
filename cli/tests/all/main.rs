//! Integration tests of the `agentrace` command: `replay`, `check` and `--watch` as a user runs
//! them, and the sidecar (`serve`) over HTTP.

mod cli;
mod common;
#[path = "../../../tests/support/pki.rs"]
mod pki;
mod sidecar;
