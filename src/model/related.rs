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
    /// "Lambda function f (environment variables, account 111111111111, region eu-west-1)".
    pub fn describe(&self) -> String {
        format!(
            "{} {} ({}, account {}, region {})",
            type_words(&self.resource_type),
            self.resource_id,
            self.purpose,
            self.account,
            self.region
        )
    }
}

/// The resource types orgscan reports that ASFF does not list (AWS Security Hub API Reference, `Resource.Type`):
/// their ASFF resources are `Type: Other` ("Other object in ASFF", AWS Security Hub User Guide).
pub const ASFF_UNLISTED_TYPES: &[&str] = &["AwsLambdaWebFunction"];

/// A resource type in words.
pub fn type_words(resource_type: &str) -> &str {
    match resource_type {
        "AwsOpenSearchServiceDomain" => "OpenSearch domain",
        "AwsElasticsearchDomain" => "Elasticsearch domain",
        "AwsSageMakerNotebookInstance" => "SageMaker notebook instance",
        "AwsLambdaFunction" => "Lambda function",
        "AwsLambdaWebFunction" => "Lambda Web Function",
        "AwsKmsKey" => "KMS key",
        other => other,
    }
}
