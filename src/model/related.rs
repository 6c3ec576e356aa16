//! A finding's links to other resources of the same scan: the dependents the scan links to the finding of
//! a KMS key pending deletion (see `scan::dependents`, the one place that joins them).

use serde::{Deserialize, Serialize};

use super::target::{AccountId, Region};

/// Another resource of the same scan that a finding's resource is linked with: for a KMS key pending
/// deletion, a resource whose configuration names the key (its data becomes unrecoverable with the key).
/// Its JSON form is the report's `related` entry (schemas/report.schema.json), read back from a baseline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RelatedRecord")]
pub struct Related {
    #[serde(rename = "account_id")]
    pub account: AccountId,
    pub region: Region,
    /// The ASFF resource type (`AwsOpenSearchServiceDomain`, `AwsSageMakerNotebookInstance`, ...).
    pub resource_type: String,
    pub resource_id: String,
    #[serde(rename = "resource_arn")]
    pub arn: String,
    /// The check that read it, and the fingerprint of its finding of that check in this scan (`None` when it
    /// has none, e.g. a Lambda function packaged as an image, which the runtime check does not evaluate).
    pub check_id: String,
    #[serde(rename = "fingerprint")]
    pub finding: Option<String>,
    /// What the key protects there.
    pub purpose: String,
}

/// A `related` entry as the JSON report holds it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelatedRecord {
    account_id: String,
    region: String,
    resource_type: String,
    resource_id: String,
    resource_arn: String,
    check_id: String,
    fingerprint: Option<String>,
    purpose: String,
}

impl TryFrom<RelatedRecord> for Related {
    type Error = String;

    fn try_from(r: RelatedRecord) -> Result<Self, String> {
        Ok(Related {
            account: r.account_id.parse()?,
            region: r.region.parse()?,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            arn: r.resource_arn,
            check_id: r.check_id,
            finding: r.fingerprint,
            purpose: r.purpose,
        })
    }
}

impl Related {
    /// "Lambda function f (environment variables, account 111111111111, region eu-west-1)", with the resource
    /// type in `words` (the checks declare them).
    pub fn describe(&self, words: &str) -> String {
        format!("{} {} ({}, account {}, region {})", words, self.resource_id, self.purpose, self.account, self.region)
    }
}
