//! Test helpers shared by the Security Hub modules' unit tests.

use chrono::{DateTime, Utc};

use crate::check;
use crate::model::{Finding, Status, Target};

pub fn target_in(region: &str) -> Target {
    Target::new("123456789012".parse().unwrap(), region.parse().unwrap())
}

pub fn target() -> Target {
    target_in("eu-west-1")
}

/// A KMS key finding with its evidence and ASFF details, as the check builds them.
pub fn kms(id: &str, status: Status) -> Finding {
    let state = if status == Status::Fail { "PendingDeletion" } else { "Enabled" };
    let b = Finding::builder(check::kms::INFO, &target())
        .resource("AwsKmsKey", id, format!("arn:aws:kms:eu-west-1:123456789012:key/{id}"))
        .evidence("key_state", state)
        .evidence("key_manager", "CUSTOMER")
        .details(check::kms::AwsKmsKeyDetails { key_id: id.into(), key_state: Some(state.into()), key_manager: Some("CUSTOMER".into()) });
    match status {
        Status::Fail => b.fail("pending deletion"),
        Status::Warn => b.warn("about to be deleted"),
        Status::Pass => b.pass("enabled"),
    }
    .build()
    .unwrap()
}

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap().to_utc()
}
