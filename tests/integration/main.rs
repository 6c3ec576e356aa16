//! Integration tests: the real SDK over HTTP against the moto server started by scripts/test.sh, and
//! aws-smithy-mocks where moto cannot express a fault.

// Tests and their helpers unwrap (a panic is the failure), print what they measured, and read as scenarios.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::too_many_lines)]

#[path = "../support/mod.rs"]
mod support;

mod architecture;
mod config;
mod deeper;
mod faults;
mod fix;
mod fix_iam;
mod history;
mod html;
mod http_faults;
mod iam_enforced;
mod iam_policy;
mod image;
mod lambda_runtimes;
mod lambda_web;
mod least_privilege;
mod long_scans;
mod merge;
mod mocks;
mod notify;
mod ocsf;
mod org;
mod outputs;
mod real_org;
mod realism_proxy;
mod recipes;
mod sarif;
mod securityhub;
mod shard;
mod stops;
mod store;
mod summary;
mod suppressions;
mod tags;
mod this_account;
