//! The IAM emulator, tested from outside: the real aws-sdk-iam client over HTTP, raw HTTP for malformed input,
//! property tests over the request handling, persistence across restarts, and the built binary configured
//! through `SSC_EMULATOR_*` variables.
//!
//! Run: `cargo test --test emulator`.

#[path = "emulator/support.rs"]
mod support;

#[path = "emulator/check.rs"]
mod check;
#[path = "emulator/cli.rs"]
mod cli;
#[path = "emulator/credentials.rs"]
mod credentials;
#[path = "emulator/disabled_services.rs"]
mod disabled_services;
#[path = "emulator/faults.rs"]
mod faults;
#[path = "emulator/fuzz.rs"]
mod fuzz;
#[path = "emulator/persistence.rs"]
mod persistence;
#[path = "emulator/properties.rs"]
mod properties;
#[path = "emulator/raw_http.rs"]
mod raw_http;
#[path = "emulator/sigv4.rs"]
mod sigv4;
#[path = "emulator/users.rs"]
mod users;
