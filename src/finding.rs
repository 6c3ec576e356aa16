//! What a check concludes about one resource, and the identity that ties it across runs.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::check::CheckInfo;
use crate::target::Target;

/// Severity, as Security Hub labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
        }
    }
}

/// The resource a finding is about. `resource_type` is the ASFF resource type name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub resource_type: &'static str,
    /// The resource's own id (domain name, function name, key id, detector id, account id).
    pub id: String,
    /// The ARN as AWS returns it (for an account: `arn:<partition>:iam::<account>:root`).
    pub arn: String,
}

/// One check's verdict on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub check: &'static CheckInfo,
    pub target: Target,
    pub resource: Resource,
    pub status: Status,
    pub message: String,
    /// The values the verdict was based on (never secrets: checks copy only the fields they evaluate).
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    pub fn builder(check: &'static CheckInfo, target: &Target) -> FindingBuilder {
        FindingBuilder { check, target: target.clone(), resource: None, status: None, message: None, evidence: serde_json::Map::new() }
    }

    pub fn severity(&self) -> Severity {
        self.check.severity
    }

    /// Stable identity of (check, partition, account, region, resource id): identical across runs, so it
    /// serves as the ASFF `Id` and the SARIF fingerprint. Never change the input layout: it is a contract.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.check.id,
            self.target.partition.as_str(),
            self.target.account.as_str(),
            self.target.region.as_str(),
            self.resource.id.as_str(),
        ] {
            h.update(part.as_bytes());
            // A separator that cannot occur in any part keeps ("a","bc") and ("ab","c") apart.
            h.update([0u8]);
        }
        let digest = h.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Deterministic output order: check, account, region, resource.
    pub fn sort_key(&self) -> (&str, &str, &str, &str, &str) {
        (self.check.id, self.target.account.as_str(), self.target.region.as_str(), self.resource.id.as_str(), self.resource.arn.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FindingError {
    #[error("finding of {0} has no resource")]
    NoResource(&'static str),
    #[error("finding of {0} has no status")]
    NoStatus(&'static str),
    #[error("finding of {0} has no message")]
    NoMessage(&'static str),
    #[error("finding of {0} has a resource with an empty id or ARN")]
    EmptyResource(&'static str),
}

/// Builds a [`Finding`]; a finding without a resource, status or message does not build.
#[derive(Debug)]
pub struct FindingBuilder {
    check: &'static CheckInfo,
    target: Target,
    resource: Option<Resource>,
    status: Option<Status>,
    message: Option<String>,
    evidence: serde_json::Map<String, serde_json::Value>,
}

impl FindingBuilder {
    pub fn resource(mut self, resource_type: &'static str, id: impl Into<String>, arn: impl Into<String>) -> Self {
        self.resource = Some(Resource { resource_type, id: id.into(), arn: arn.into() });
        self
    }

    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    pub fn pass(self, message: impl Into<String>) -> Self {
        self.status(Status::Pass).message(message)
    }

    pub fn fail(self, message: impl Into<String>) -> Self {
        self.status(Status::Fail).message(message)
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn evidence(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.evidence.insert(key.to_owned(), value.into());
        self
    }

    pub fn build(self) -> Result<Finding, FindingError> {
        let id = self.check.id;
        let resource = self.resource.ok_or(FindingError::NoResource(id))?;
        if resource.id.is_empty() || resource.arn.is_empty() {
            return Err(FindingError::EmptyResource(id));
        }
        let message = self.message.filter(|m| !m.trim().is_empty()).ok_or(FindingError::NoMessage(id))?;
        Ok(Finding {
            check: self.check,
            target: self.target,
            resource,
            status: self.status.ok_or(FindingError::NoStatus(id))?,
            message,
            evidence: self.evidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;

    fn target() -> Target {
        Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
    }

    fn finding(resource_id: &str) -> Finding {
        Finding::builder(check::kms::INFO, &target())
            .resource("AwsKmsKey", resource_id, format!("arn:aws:kms:eu-west-1:123456789012:key/{resource_id}"))
            .fail("pending deletion")
            .build()
            .unwrap()
    }

    #[test]
    fn a_finding_without_resource_or_message_does_not_build() {
        let b = Finding::builder(check::kms::INFO, &target());
        assert_eq!(b.fail("x").build().unwrap_err(), FindingError::NoResource("kms-key-not-pending-deletion"));
        let b = Finding::builder(check::kms::INFO, &target()).resource("AwsKmsKey", "k", "arn");
        assert_eq!(b.fail("  ").build().unwrap_err(), FindingError::NoMessage("kms-key-not-pending-deletion"));
        let b = Finding::builder(check::kms::INFO, &target()).resource("AwsKmsKey", "", "arn");
        assert_eq!(b.fail("m").build().unwrap_err(), FindingError::EmptyResource("kms-key-not-pending-deletion"));
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_resources() {
        let a = finding("k1");
        // Pinned value: the fingerprint is a public contract (ASFF Id, SARIF fingerprint) and must never drift.
        // sha256("kms-key-not-pending-deletion\0aws\0123456789012\0eu-west-1\0k1\0"), computed independently.
        assert_eq!(a.fingerprint(), "42e19f61b1f06c95c15c46e25179bf135380294d821db7baab3bc538694e49ae");
        assert_eq!(a.fingerprint(), finding("k1").fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
        assert_ne!(a.fingerprint(), finding("k2").fingerprint());
        let mut moved = finding("k1");
        moved.target.region = "eu-west-2".parse().unwrap();
        assert_ne!(a.fingerprint(), moved.fingerprint());
        // Status and message do not take part: a fixed resource keeps its identity.
        let mut fixed = finding("k1");
        fixed.status = Status::Pass;
        fixed.message = "fixed".into();
        assert_eq!(a.fingerprint(), fixed.fingerprint());
    }
}
