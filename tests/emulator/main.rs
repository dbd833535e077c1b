//! The IAM emulator, tested from outside: the real aws-sdk-iam client over HTTP, raw HTTP for malformed input,
//! property tests over the request handling, persistence across restarts, and the built binary configured
//! through `SSC_EMULATOR_*` variables.
//!
//! Run: `cargo test --test emulator`.

mod support;

mod accounts;
mod check;
mod cli;
mod credentials;
mod disabled_services;
mod faults;
mod fuzz;
mod migration;
mod persistence;
mod properties;
mod raw_http;
mod sigv4;
mod users;
