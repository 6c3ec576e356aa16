//! The check model: static metadata, the `Check` trait, and the registry.
//!
//! A check collects with the SDK and then calls a pure `evaluate` over plain data. Walking accounts, rate
//! limiting, credentials, rendering and importing live elsewhere.

pub mod guardduty;
pub mod kms;
pub mod lambda;
pub mod opensearch;
pub mod sagemaker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::aws::Clients;
use crate::error::ScopeError;
use crate::finding::{Finding, Severity};
use crate::scan::limits::{Limits, Permit, Service};
use crate::target::Target;

/// Metadata declared once per check; every output reads it and nothing re-derives it.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckInfo {
    /// Stable kebab-case id: a public contract, never reused with another meaning.
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The AWS service, lower-case, as used in SARIF paths and tags.
    pub service: Service,
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

/// Per-check settings that come from the user (loaded once, shared by every target).
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub lambda_runtimes: Arc<lambda::RuntimeTable>,
}

/// Everything a check may use for one target.
pub struct CheckContext {
    pub target: Target,
    pub clients: Clients,
    pub limits: Arc<Limits>,
    /// The instant the scan started: date-dependent checks evaluate against it, so one run is consistent.
    pub scan_time: DateTime<Utc>,
    pub settings: CheckSettings,
}

impl CheckContext {
    /// Waits for the rate limit and concurrency caps of this target's account, region and `service`. Call
    /// before every request and hold the permit until the response is in.
    pub async fn permit(&self, service: Service) -> Permit {
        self.limits.permit(service, &self.target).await
    }
}

/// The result of running one check on one target.
#[derive(Debug, Default, PartialEq)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    /// Resources seen but out of the check's scope (e.g. image-packaged Lambda functions).
    pub not_applicable: usize,
}

pub trait Check: Send + Sync {
    fn info(&self) -> &'static CheckInfo;

    /// Collects with the SDK and evaluates. An error covers the whole (check, target) scope: no finding
    /// of a scope that errored is reported, so a partial read never passes.
    fn run<'a>(&'a self, cx: &'a CheckContext) -> BoxFuture<'a, Result<Evaluation, ScopeError>>;
}

/// The registry: one line per check, in the order they are listed.
pub static ALL: &[&dyn Check] = &[
    &opensearch::OpenSearchEncryptionAtRest,
    &sagemaker::SageMakerNotebookNoDirectInternet,
    &lambda::LambdaSupportedRuntime,
    &kms::KmsKeyNotPendingDeletion,
    &guardduty::GuardDutyEnabled,
];

pub fn ids() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|c| c.info().id)
}

/// Resolves user-given check ids; the error names the bad id and lists the valid ones.
pub fn select(ids_wanted: &[String]) -> Result<Vec<&'static dyn Check>, String> {
    if ids_wanted.is_empty() {
        return Ok(ALL.to_vec());
    }
    let mut out: Vec<&'static dyn Check> = Vec::new();
    for want in ids_wanted {
        let check = ALL
            .iter()
            .find(|c| c.info().id == want)
            .ok_or_else(|| format!("unknown check id '{want}'; valid ids: {}", ids().collect::<Vec<_>>().join(", ")))?;
        if !out.iter().any(|c| c.info().id == check.info().id) {
            out.push(*check);
        }
    }
    Ok(out)
}

/// `Vec<Finding>` from builder results: a finding that does not build is a bug in the check, reported as an
/// internal error of the scope rather than silently dropped.
pub(crate) fn collect_findings(
    results: impl IntoIterator<Item = Result<Finding, crate::finding::FindingError>>,
) -> Result<Vec<Finding>, ScopeError> {
    results.into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| ScopeError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_metadata_complete() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            let i = c.info();
            assert!(seen.insert(i.id), "duplicate id {}", i.id);
            assert!(i.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", i.id);
            assert!(!i.title.is_empty() && !i.description.is_empty() && !i.remediation.is_empty());
            assert!(i.remediation_cli.starts_with("aws "), "{}", i.id);
            assert!(i.docs_url.starts_with("https://"), "{}", i.id);
            assert!(!i.security_hub_controls.is_empty() && !i.resource_types.is_empty());
        }
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn select_names_the_bad_id_and_the_valid_ones() {
        let err = select(&["no-such-check".into()]).err().unwrap();
        assert!(err.contains("'no-such-check'") && err.contains("kms-key-not-pending-deletion"), "{err}");
        let two = select(&["guardduty-enabled".into(), "guardduty-enabled".into(), "kms-key-not-pending-deletion".into()]);
        let ids: Vec<_> = two.unwrap().iter().map(|c| c.info().id).collect();
        assert_eq!(ids, ["guardduty-enabled", "kms-key-not-pending-deletion"]);
        assert_eq!(select(&[]).unwrap().len(), 5);
    }
}
