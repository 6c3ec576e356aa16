//! What a check declares about itself, once, in its own file; every output, the rate limits, the IAM
//! policy tests and the docs read it from the registry.

use super::service::{Rate, Service};
use super::severity::Severity;

/// The ASFF resource type of an account (`Resources[].Id` `AWS::::Account:<id>`), for a finding on the account
/// itself rather than on one of its resources.
pub const ACCOUNT_RESOURCE_TYPE: &str = "AwsAccount";

/// Metadata declared once per check; nothing re-derives it.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable kebab-case id: a public contract, never reused with another meaning.
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The AWS service the check calls (SARIF paths, tags, endpoints in error messages).
    pub service: Service,
    /// The request budget per account and region for this check's calls: below the service's published
    /// quota, which the account's own workloads share. Two checks on one service share the stricter.
    pub rate: Rate,
    /// Exactly the IAM actions the check's calls need (the audit role grants the union of all checks').
    pub iam_actions: &'static [&'static str],
    /// Security Hub control ids this check corresponds to.
    pub security_hub_controls: &'static [&'static str],
    /// ASFF resource type names the check reports.
    pub resource_types: &'static [&'static str],
    /// Why it matters (one paragraph).
    pub description: &'static str,
    /// What to do, in words.
    pub remediation: &'static str,
    /// The AWS CLI commands that fix it (from the source article), with placeholders in capitals.
    pub remediation_cli: &'static str,
    pub docs_url: &'static str,
}
