//! AWS Security Finding Format (ASFF): orgscan's own serde types for the findings it writes and imports
//! (the SDK's types have no serde), their conversion into `aws_sdk_securityhub::types::AwsSecurityFinding`,
//! batching within the `BatchImportFindings` limits, and the `--asff-dir` batch files.
//!
//! Field rules and lengths: AWS Security Hub API Reference, `AwsSecurityFinding`
//! (<https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html>); limits:
//! Security Hub partner guide, "Guidelines for using the BatchImportFindings API" (100 findings and 6 MB per
//! request, 240 KB per finding). The subset orgscan writes is documented by `schemas/asff-finding.schema.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use aws_sdk_securityhub::types as sh;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ScanReport;
use crate::check::CheckInfo;
use crate::finding::{Finding, Severity, Status};
use crate::target::{AccountId, Region, Target};

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Every `GeneratorId` orgscan writes starts with this; the sink recognises its own findings by it.
pub const GENERATOR_PREFIX: &str = "orgscan/";
pub const FINDING_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";

/// At most 100 findings per `BatchImportFindings` request.
pub const MAX_BATCH_FINDINGS: usize = 100;
/// At most 6 MB per request; counted in bytes of JSON with a margin for the request envelope.
pub const MAX_BATCH_BYTES: usize = 6_000_000;
/// At most 240 KB per finding; a finding above it is sent without its `Resources[].Details`.
pub const MAX_FINDING_BYTES: usize = 240_000;
/// Bytes around the findings of one request or file (`{"Findings":[` ... `]}`, `[\n` ... `\n]\n`).
const ENVELOPE_BYTES: usize = 64;
/// Bytes between two findings (`,\n`).
const SEPARATOR_BYTES: usize = 2;

const MAX_ID: usize = 512;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1024;
const MAX_RECOMMENDATION: usize = 512;
const MAX_PRODUCT_FIELD_VALUE: usize = 2048;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffFinding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub remediation: AsffRemediation,
    pub product_fields: BTreeMap<String, String>,
    pub compliance: AsffCompliance,
    pub resources: Vec<AsffResource>,
    pub record_state: String,
    pub finding_provider_fields: AsffFindingProviderFields,
    /// An upper bound of the compact JSON size, set when the finding is built: batching needs a size for
    /// every finding, and a bound is much cheaper than a measurement.
    #[serde(skip)]
    size_bound: SizeBound,
}

/// A cached bound that takes no part in equality: findings with the same fields are equal.
#[derive(Debug, Clone, Copy, Default)]
struct SizeBound(Option<usize>);

impl PartialEq for SizeBound {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Bytes of keys, braces, brackets, colons, commas and quotes of a finding, beyond its string values
/// (the fixed field names take about 600), with room for every array and map element's punctuation.
const STRUCTURE_BYTES: usize = 2_048;

/// A string's worst-case JSON size: every byte escaped as `\u00XX` (6 bytes), plus its quotes.
fn string_bound(s: &str) -> usize {
    6 * s.len() + 2
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffSeverity {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffRemediation {
    pub recommendation: AsffRecommendation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffRecommendation {
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffCompliance {
    /// `PASSED` or `FAILED` (an archived copy of an earlier finding keeps what it had).
    pub status: String,
    /// The Security Hub control ids the check corresponds to (e.g. `KMS.3`).
    pub related_requirements: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffFindingProviderFields {
    pub severity: AsffSeverity,
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffResource {
    #[serde(rename = "Type")]
    pub resource_type: String,
    /// The ARN, or `AWS::::Account:<id>` for an account.
    pub id: String,
    pub partition: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<AsffDetails>,
}

/// Typed `Resources[].Details` for the resource types orgscan reports (only the fields the checks read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_kms_key: Option<KmsKeyDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_lambda_function: Option<LambdaFunctionDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_open_search_service_domain: Option<OpenSearchDomainDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_elasticsearch_domain: Option<ElasticsearchDomainDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sage_maker_notebook_instance: Option<SageMakerNotebookDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_guard_duty_detector: Option<GuardDutyDetectorDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KmsKeyDetails {
    pub key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LambdaFunctionDetails {
    pub function_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EncryptionAtRestDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OpenSearchDomainDetails {
    pub domain_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_at_rest_options: Option<EncryptionAtRestDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ElasticsearchDomainDetails {
    pub domain_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_at_rest_options: Option<EncryptionAtRestDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SageMakerNotebookDetails {
    pub notebook_instance_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_internet_access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GuardDutyDetectorDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The ASFF `Id` of a finding: the generator and the stable fingerprint, identical across runs.
pub fn finding_id(f: &Finding) -> String {
    let id = format!("{GENERATOR_PREFIX}{}/{}", f.check.id, f.fingerprint());
    // Check ids are short constants, so this never triggers; the fingerprint alone still identifies the finding.
    if id.len() > MAX_ID { format!("{GENERATOR_PREFIX}{}", f.fingerprint()) } else { id }
}

pub fn generator_id(check: &CheckInfo) -> String {
    format!("{GENERATOR_PREFIX}{}", check.id)
}

/// The check id of an orgscan `GeneratorId`, if it is one.
pub fn check_of_generator(generator_id: &str) -> Option<&str> {
    generator_id.strip_prefix(GENERATOR_PREFIX).filter(|c| !c.is_empty() && !c.contains('/'))
}

/// The default product ARN of the account: findings under it must be imported by that very account.
pub fn product_arn(target: &Target) -> String {
    format!("arn:{}:securityhub:{}:{}:product/{}/default", target.partition, target.region, target.account, target.account)
}

/// `Resources[0].Id`: the ARN, or `AWS::::Account:<id>` for an account (the form Security Hub uses).
pub fn resource_id(f: &Finding) -> String {
    if f.resource.resource_type == "AwsAccount" { format!("AWS::::Account:{}", f.target.account) } else { f.resource.arn.clone() }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// At most `max` characters, cut at a character boundary with an ellipsis.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn evidence_str(f: &Finding, key: &str) -> Option<String> {
    f.evidence.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

/// Typed details from the values the check evaluated (never the whole evidence map).
fn details(f: &Finding) -> Option<AsffDetails> {
    let id = f.resource.id.clone();
    let encryption = || {
        let enabled = f.evidence.get("encryption_at_rest_enabled").and_then(|v| v.as_bool());
        let kms_key_id = evidence_str(f, "kms_key_id");
        (enabled.is_some() || kms_key_id.is_some()).then_some(EncryptionAtRestDetails { enabled, kms_key_id })
    };
    let engine = evidence_str(f, "engine_version").filter(|v| v != "unknown engine");
    let d = match f.resource.resource_type {
        "AwsKmsKey" => AsffDetails {
            aws_kms_key: Some(KmsKeyDetails {
                key_id: id,
                key_state: evidence_str(f, "key_state"),
                key_manager: evidence_str(f, "key_manager"),
            }),
            ..AsffDetails::default()
        },
        "AwsLambdaFunction" => AsffDetails {
            aws_lambda_function: Some(LambdaFunctionDetails { function_name: id, runtime: evidence_str(f, "runtime") }),
            ..AsffDetails::default()
        },
        "AwsOpenSearchServiceDomain" => AsffDetails {
            aws_open_search_service_domain: Some(OpenSearchDomainDetails {
                domain_name: id,
                engine_version: engine,
                encryption_at_rest_options: encryption(),
            }),
            ..AsffDetails::default()
        },
        "AwsElasticsearchDomain" => AsffDetails {
            aws_elasticsearch_domain: Some(ElasticsearchDomainDetails {
                domain_name: id,
                elasticsearch_version: engine.map(|v| v.strip_prefix("Elasticsearch_").map(str::to_owned).unwrap_or(v)),
                encryption_at_rest_options: encryption(),
            }),
            ..AsffDetails::default()
        },
        "AwsSageMakerNotebookInstance" => AsffDetails {
            aws_sage_maker_notebook_instance: Some(SageMakerNotebookDetails {
                notebook_instance_name: id,
                direct_internet_access: evidence_str(f, "direct_internet_access"),
                subnet_id: evidence_str(f, "subnet_id"),
            }),
            ..AsffDetails::default()
        },
        "AwsGuardDutyDetector" => AsffDetails {
            aws_guard_duty_detector: Some(GuardDutyDetectorDetails { status: evidence_str(f, "status") }),
            ..AsffDetails::default()
        },
        // ASFF has no details type for an account.
        _ => return None,
    };
    Some(d)
}

fn recommendation(check: &CheckInfo) -> AsffRecommendation {
    let words = check.remediation.split_whitespace().collect::<Vec<_>>().join(" ");
    let with_cli = format!("{words}\n{}", check.remediation_cli);
    let text = if with_cli.chars().count() <= MAX_RECOMMENDATION { with_cli } else { truncate(&words, MAX_RECOMMENDATION) };
    AsffRecommendation { text, url: check.docs_url.to_owned() }
}

fn product_fields(check: &CheckInfo, extra: Option<(&str, &str)>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("orgscan/CheckId".to_owned(), check.id.to_owned());
    m.insert("orgscan/Version".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
    if let Some((k, v)) = extra {
        m.insert(format!("orgscan/{k}"), truncate(v, MAX_PRODUCT_FIELD_VALUE));
    }
    m
}

fn types() -> Vec<String> {
    vec![FINDING_TYPE.to_owned()]
}

impl AsffFinding {
    /// The ASFF form of a finding: FAIL is `FAILED`/`ACTIVE`, PASS is `PASSED`/`ARCHIVED` (so an earlier
    /// FAIL of the same resource is resolved). A PASS carries `INFORMATIONAL` severity, as Security Hub's own
    /// passed control findings do, with the check's severity as `Original`. `created_at` should be the
    /// `CreatedAt` of the finding already in Security Hub, if there is one.
    pub fn from_finding(f: &Finding, created_at: &str, updated_at: DateTime<Utc>) -> Self {
        let check = f.check;
        let (compliance, record_state, label) = match f.status {
            Status::Fail => ("FAILED", "ACTIVE", severity_label(check.severity)),
            Status::Pass => ("PASSED", "ARCHIVED", "INFORMATIONAL"),
        };
        let severity = AsffSeverity { label: label.to_owned(), original: Some(severity_label(check.severity).to_owned()) };
        let mut out = Self {
            schema_version: SCHEMA_VERSION.to_owned(),
            id: finding_id(f),
            product_arn: product_arn(&f.target),
            generator_id: generator_id(check),
            aws_account_id: f.target.account.to_string(),
            types: types(),
            created_at: created_at.to_owned(),
            updated_at: timestamp(updated_at),
            severity: severity.clone(),
            title: truncate(check.title, MAX_TITLE),
            description: truncate(&f.message, MAX_DESCRIPTION),
            remediation: AsffRemediation { recommendation: recommendation(check) },
            product_fields: product_fields(check, None),
            compliance: AsffCompliance {
                status: compliance.to_owned(),
                related_requirements: check.security_hub_controls.iter().map(|c| (*c).to_owned()).collect(),
            },
            resources: vec![AsffResource {
                resource_type: f.resource.resource_type.to_owned(),
                id: resource_id(f),
                partition: f.target.partition.to_string(),
                region: f.target.region.to_string(),
                details: details(f),
            }],
            record_state: record_state.to_owned(),
            finding_provider_fields: AsffFindingProviderFields { severity, types: types() },
            size_bound: SizeBound(None),
        };
        out.fit();
        out
    }

    /// An archived copy of a finding orgscan imported earlier whose resource this run no longer reports
    /// (deleted, or out of the check's scope): what Security Hub holds, re-sent with `RecordState=ARCHIVED`.
    /// Returns `None` when the stored finding lacks what a valid import needs.
    pub fn archived_copy(existing: &sh::AwsSecurityFinding, check: &CheckInfo, updated_at: DateTime<Utc>) -> Option<Self> {
        let r = existing.resources().first()?;
        let label = existing
            .finding_provider_fields()
            .and_then(|p| p.severity())
            .and_then(|s| s.label())
            .or_else(|| existing.severity().and_then(|s| s.label()))
            .map(|l| l.as_str().to_owned())
            .unwrap_or_else(|| severity_label(check.severity).to_owned());
        let severity = AsffSeverity { label, original: Some(severity_label(check.severity).to_owned()) };
        let status =
            existing.compliance().and_then(|c| c.status()).map(|s| s.as_str().to_owned()).unwrap_or_else(|| "NOT_AVAILABLE".to_owned());
        let description = existing.description().filter(|d| !d.trim().is_empty()).unwrap_or(check.title);
        let mut out = Self {
            schema_version: SCHEMA_VERSION.to_owned(),
            id: existing.id()?.to_owned(),
            product_arn: existing.product_arn()?.to_owned(),
            generator_id: generator_id(check),
            aws_account_id: existing.aws_account_id()?.to_owned(),
            types: types(),
            created_at: existing.created_at().map(str::to_owned).unwrap_or_else(|| timestamp(updated_at)),
            updated_at: timestamp(updated_at),
            severity: severity.clone(),
            title: truncate(check.title, MAX_TITLE),
            description: truncate(description, MAX_DESCRIPTION),
            remediation: AsffRemediation { recommendation: recommendation(check) },
            product_fields: product_fields(check, Some(("ArchivedBecause", "the resource is no longer reported by this check"))),
            compliance: AsffCompliance {
                status,
                related_requirements: check.security_hub_controls.iter().map(|c| (*c).to_owned()).collect(),
            },
            resources: vec![AsffResource {
                resource_type: r.r#type()?.to_owned(),
                id: r.id()?.to_owned(),
                partition: r.partition().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "aws".to_owned()),
                region: r.region()?.to_owned(),
                details: None,
            }],
            record_state: "ARCHIVED".to_owned(),
            finding_provider_fields: AsffFindingProviderFields { severity, types: types() },
            size_bound: SizeBound(None),
        };
        out.fit();
        Some(out)
    }

    /// Size of the finding in bytes of compact JSON (what a request or a batch file holds).
    pub fn json_len(&self) -> usize {
        let mut counter = ByteCounter(0);
        match serde_json::to_writer(&mut counter, self) {
            Ok(()) => counter.0,
            Err(_) => usize::MAX,
        }
    }

    /// An upper bound of [`Self::json_len`], computed from the string lengths (and the small `Details`,
    /// measured), without serializing the finding.
    fn compute_size_bound(&self) -> usize {
        let opt = |o: &Option<String>| o.as_deref().map_or(0, string_bound);
        let sev = |v: &AsffSeverity| string_bound(&v.label) + opt(&v.original);
        let list = |v: &[String]| v.iter().map(|x| string_bound(x) + 1).sum::<usize>();
        let details = |d: &Option<AsffDetails>| match d {
            None => 0,
            Some(d) => {
                let mut counter = ByteCounter(0);
                serde_json::to_writer(&mut counter, d).map_or(usize::MAX / 4, |()| counter.0)
            }
        };
        STRUCTURE_BYTES
            + [&self.schema_version, &self.id, &self.product_arn, &self.generator_id, &self.aws_account_id]
                .iter()
                .map(|x| string_bound(x))
                .sum::<usize>()
            + list(&self.types)
            + string_bound(&self.created_at)
            + string_bound(&self.updated_at)
            + sev(&self.severity)
            + string_bound(&self.title)
            + string_bound(&self.description)
            + string_bound(&self.remediation.recommendation.text)
            + string_bound(&self.remediation.recommendation.url)
            + self.product_fields.iter().map(|(k, v)| string_bound(k) + string_bound(v) + 2).sum::<usize>()
            + string_bound(&self.compliance.status)
            + list(&self.compliance.related_requirements)
            + self
                .resources
                .iter()
                .map(|r| {
                    string_bound(&r.resource_type)
                        + string_bound(&r.id)
                        + string_bound(&r.partition)
                        + string_bound(&r.region)
                        + details(&r.details)
                        + 64
                })
                .sum::<usize>()
            + string_bound(&self.record_state)
            + sev(&self.finding_provider_fields.severity)
            + list(&self.finding_provider_fields.types)
    }

    /// What batching counts for this finding: its size bound (conservative; computed when built).
    pub fn batch_size(&self) -> usize {
        self.size_bound.0.unwrap_or_else(|| self.compute_size_bound())
    }

    /// Keeps the finding under the 240 KB limit: `Details` are dropped rather than the finding failing.
    /// Every constructor ends here. The bound settles it for ordinary findings; only a finding whose bound
    /// exceeds the limit is measured.
    fn fit(&mut self) {
        let mut bound = self.compute_size_bound();
        if bound > MAX_FINDING_BYTES && self.json_len() > MAX_FINDING_BYTES {
            for r in &mut self.resources {
                r.details = None;
            }
            bound = self.compute_size_bound().min(self.json_len());
        }
        self.size_bound = SizeBound(Some(bound));
    }

    pub fn is_active(&self) -> bool {
        self.record_state == "ACTIVE"
    }

    /// The SDK form, for `BatchImportFindings`.
    pub fn to_sdk(&self) -> sh::AwsSecurityFinding {
        let severity = || {
            sh::Severity::builder()
                .label(sh::SeverityLabel::from(self.severity.label.as_str()))
                .set_original(self.severity.original.clone())
                .build()
        };
        let fp = &self.finding_provider_fields;
        sh::AwsSecurityFinding::builder()
            .schema_version(&self.schema_version)
            .id(&self.id)
            .product_arn(&self.product_arn)
            .generator_id(&self.generator_id)
            .aws_account_id(&self.aws_account_id)
            .set_types(Some(self.types.clone()))
            .created_at(&self.created_at)
            .updated_at(&self.updated_at)
            .severity(severity())
            .title(&self.title)
            .description(&self.description)
            .remediation(
                sh::Remediation::builder()
                    .recommendation(
                        sh::Recommendation::builder()
                            .text(&self.remediation.recommendation.text)
                            .url(&self.remediation.recommendation.url)
                            .build(),
                    )
                    .build(),
            )
            .set_product_fields(Some(self.product_fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .compliance(
                sh::Compliance::builder()
                    .status(sh::ComplianceStatus::from(self.compliance.status.as_str()))
                    .set_related_requirements(Some(self.compliance.related_requirements.clone()))
                    .build(),
            )
            .set_resources(Some(self.resources.iter().map(AsffResource::to_sdk).collect()))
            .record_state(sh::RecordState::from(self.record_state.as_str()))
            .finding_provider_fields(
                sh::FindingProviderFields::builder()
                    .severity(
                        sh::FindingProviderSeverity::builder()
                            .label(sh::SeverityLabel::from(fp.severity.label.as_str()))
                            .set_original(fp.severity.original.clone())
                            .build(),
                    )
                    .set_types(Some(fp.types.clone()))
                    .build(),
            )
            .build()
    }
}

impl AsffResource {
    fn to_sdk(&self) -> sh::Resource {
        sh::Resource::builder()
            .r#type(&self.resource_type)
            .id(&self.id)
            .partition(sh::Partition::from(self.partition.as_str()))
            .region(&self.region)
            .set_details(self.details.as_ref().map(AsffDetails::to_sdk))
            .build()
    }
}

impl AsffDetails {
    fn to_sdk(&self) -> sh::ResourceDetails {
        let enc_os = |e: &EncryptionAtRestDetails| {
            sh::AwsOpenSearchServiceDomainEncryptionAtRestOptionsDetails::builder()
                .set_enabled(e.enabled)
                .set_kms_key_id(e.kms_key_id.clone())
                .build()
        };
        let enc_es = |e: &EncryptionAtRestDetails| {
            sh::AwsElasticsearchDomainEncryptionAtRestOptions::builder().set_enabled(e.enabled).set_kms_key_id(e.kms_key_id.clone()).build()
        };
        sh::ResourceDetails::builder()
            .set_aws_kms_key(self.aws_kms_key.as_ref().map(|k| {
                sh::AwsKmsKeyDetails::builder()
                    .key_id(&k.key_id)
                    .set_key_state(k.key_state.clone())
                    .set_key_manager(k.key_manager.clone())
                    .build()
            }))
            .set_aws_lambda_function(
                self.aws_lambda_function.as_ref().map(|l| {
                    sh::AwsLambdaFunctionDetails::builder().function_name(&l.function_name).set_runtime(l.runtime.clone()).build()
                }),
            )
            .set_aws_open_search_service_domain(self.aws_open_search_service_domain.as_ref().map(|d| {
                sh::AwsOpenSearchServiceDomainDetails::builder()
                    .domain_name(&d.domain_name)
                    .set_engine_version(d.engine_version.clone())
                    .set_encryption_at_rest_options(d.encryption_at_rest_options.as_ref().map(enc_os))
                    .build()
            }))
            .set_aws_elasticsearch_domain(self.aws_elasticsearch_domain.as_ref().map(|d| {
                sh::AwsElasticsearchDomainDetails::builder()
                    .domain_name(&d.domain_name)
                    .set_elasticsearch_version(d.elasticsearch_version.clone())
                    .set_encryption_at_rest_options(d.encryption_at_rest_options.as_ref().map(enc_es))
                    .build()
            }))
            .set_aws_sage_maker_notebook_instance(self.aws_sage_maker_notebook_instance.as_ref().map(|n| {
                sh::AwsSageMakerNotebookInstanceDetails::builder()
                    .notebook_instance_name(&n.notebook_instance_name)
                    .set_direct_internet_access(n.direct_internet_access.clone())
                    .set_subnet_id(n.subnet_id.clone())
                    .build()
            }))
            .set_aws_guard_duty_detector(
                self.aws_guard_duty_detector
                    .as_ref()
                    .map(|g| sh::AwsGuardDutyDetectorDetails::builder().set_status(g.status.clone()).build()),
            )
            .build()
    }
}

/// The fields `AwsSecurityFinding` requires (API reference) that `f` lacks; empty when it is importable.
pub fn missing_required(f: &sh::AwsSecurityFinding) -> Vec<&'static str> {
    let mut missing = Vec::new();
    let mut need = |name: &'static str, present: bool| {
        if !present {
            missing.push(name);
        }
    };
    need("SchemaVersion", f.schema_version().is_some());
    need("Id", f.id().is_some_and(|s| !s.is_empty() && s.len() <= MAX_ID));
    need("ProductArn", f.product_arn().is_some());
    need("GeneratorId", f.generator_id().is_some());
    need("AwsAccountId", f.aws_account_id().is_some_and(|a| a.len() == 12));
    need("CreatedAt", f.created_at().is_some());
    need("UpdatedAt", f.updated_at().is_some());
    need("Severity", f.severity().and_then(|s| s.label()).is_some() || f.finding_provider_fields().and_then(|p| p.severity()).is_some());
    need("Title", f.title().is_some_and(|t| !t.is_empty()));
    need("Description", f.description().is_some_and(|d| !d.is_empty()));
    need("Resources", !f.resources().is_empty() && f.resources().iter().all(|r| r.r#type().is_some() && r.id().is_some()));
    need("Types", !f.types().is_empty() || f.finding_provider_fields().is_some_and(|p| !p.types().is_empty()));
    missing
}

/// An `io::Write` that only counts bytes.
struct ByteCounter(usize);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Splits items of the given JSON sizes into consecutive batches of at most `max_count` items and
/// `max_bytes` bytes (envelope and separators counted). An item larger than `max_bytes` goes alone.
pub fn batch_ranges(sizes: &[usize], max_count: usize, max_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let max_count = max_count.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = ENVELOPE_BYTES;
    for (i, &size) in sizes.iter().enumerate() {
        let n = i - start;
        let add = size.saturating_add(SEPARATOR_BYTES);
        if n > 0 && (n >= max_count || bytes.saturating_add(add) > max_bytes) {
            out.push(start..i);
            start = i;
            bytes = ENVELOPE_BYTES;
        }
        bytes = bytes.saturating_add(add);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Batches within the `BatchImportFindings` limits: at most 100 findings and 6 MB each.
pub fn batches(findings: Vec<AsffFinding>) -> Vec<Vec<AsffFinding>> {
    let sizes: Vec<usize> = findings.iter().map(AsffFinding::batch_size).collect();
    let ranges = batch_ranges(&sizes, MAX_BATCH_FINDINGS, MAX_BATCH_BYTES);
    let mut rest = findings.into_iter();
    ranges.into_iter().map(|r| rest.by_ref().take(r.len()).collect()).collect()
}

/// A JSON array with one compact finding per line (importable with `aws securityhub batch-import-findings
/// --findings file://...`).
pub fn write_batch(findings: &[AsffFinding], w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(b"[\n")?;
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *w, f)?;
    }
    w.write_all(b"\n]\n")
}

/// Name of the n-th (from 1) batch file of a scope.
pub fn batch_file_name(n: usize) -> String {
    format!("batch-{n:04}.json")
}

fn is_batch_file_name(name: &str) -> bool {
    name.strip_prefix("batch-").and_then(|r| r.strip_suffix(".json")).is_some_and(|d| d.len() >= 4 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Every finding of the report in ASFF, grouped by (account, region) in report order.
pub fn by_scope(report: &ScanReport, updated_at: DateTime<Utc>) -> BTreeMap<(AccountId, Region), Vec<AsffFinding>> {
    let created_at = timestamp(report.started_at);
    let mut out: BTreeMap<(AccountId, Region), Vec<AsffFinding>> = BTreeMap::new();
    for f in &report.findings {
        out.entry((f.target.account.clone(), f.target.region.clone())).or_default().push(AsffFinding::from_finding(
            f,
            &created_at,
            updated_at,
        ));
    }
    out
}

/// `--asff-dir DIR`: `DIR/<account>/<region>/batch-0001.json`, ... for every scope of the report, each file
/// written atomically; batch files left in those directories by an earlier, larger run are removed so the
/// directory holds exactly this run's batches. Returns one error per file that could not be written.
pub fn write_dir(report: &ScanReport, dir: &Path, updated_at: DateTime<Utc>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut scopes = by_scope(report, updated_at);
    // Scopes without findings still get their stale batches removed.
    for c in &report.coverage {
        if let Some(region) = &c.region {
            scopes.entry((c.account.clone(), region.clone())).or_default();
        }
    }
    for ((account, region), findings) in scopes {
        let scope_dir = dir.join(account.as_str()).join(region.as_str());
        let mut written = BTreeSet::new();
        let batches = batches(findings);
        if !batches.is_empty()
            && let Err(e) = std::fs::create_dir_all(&scope_dir)
        {
            errors.push(format!("cannot create ASFF directory '{}': {e}", scope_dir.display()));
            continue;
        }
        for (i, batch) in batches.iter().enumerate() {
            let name = batch_file_name(i + 1);
            let path = scope_dir.join(&name);
            match super::write_atomic(&path, |w| write_batch(batch, w)) {
                Ok(()) => {
                    written.insert(name);
                }
                Err(e) => errors.push(format!("cannot write ASFF batch '{}': {e}", path.display())),
            }
        }
        let Ok(entries) = std::fs::read_dir(&scope_dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_batch_file_name(&name)
                && !written.contains(&name)
                && let Err(e) = std::fs::remove_file(entry.path())
            {
                errors.push(format!("cannot remove stale ASFF batch '{}': {e}", entry.path().display()));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;

    fn target() -> Target {
        Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
    }

    fn kms(id: &str, status: Status) -> Finding {
        let b = Finding::builder(check::kms::INFO, &target())
            .resource("AwsKmsKey", id, format!("arn:aws:kms:eu-west-1:123456789012:key/{id}"))
            .evidence("key_state", if status == Status::Fail { "PendingDeletion" } else { "Enabled" })
            .evidence("key_manager", "CUSTOMER");
        match status {
            Status::Fail => b.fail("pending deletion"),
            Status::Pass => b.pass("enabled"),
        }
        .build()
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn a_fail_is_active_and_failed_a_pass_is_archived_and_passed() {
        let a = AsffFinding::from_finding(&kms("k1", Status::Fail), "2026-11-01T00:00:00.000Z", now());
        assert_eq!((a.compliance.status.as_str(), a.record_state.as_str(), a.severity.label.as_str()), ("FAILED", "ACTIVE", "CRITICAL"));
        assert_eq!(a.finding_provider_fields.severity.label, "CRITICAL");
        assert_eq!(a.product_arn, "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default");
        assert_eq!(a.generator_id, "orgscan/kms-key-not-pending-deletion");
        assert_eq!(a.compliance.related_requirements, ["KMS.3"]);
        assert_eq!(a.created_at, "2026-11-01T00:00:00.000Z");
        assert_eq!(a.updated_at, "2026-11-28T10:00:00.000Z");
        let r = &a.resources[0];
        assert_eq!(
            (r.resource_type.as_str(), r.id.as_str(), r.partition.as_str()),
            ("AwsKmsKey", "arn:aws:kms:eu-west-1:123456789012:key/k1", "aws")
        );
        assert_eq!(r.details.as_ref().and_then(|d| d.aws_kms_key.as_ref()).and_then(|k| k.key_state.as_deref()), Some("PendingDeletion"));
        let p = AsffFinding::from_finding(&kms("k1", Status::Pass), "x", now());
        assert_eq!(
            (p.compliance.status.as_str(), p.record_state.as_str(), p.severity.label.as_str()),
            ("PASSED", "ARCHIVED", "INFORMATIONAL")
        );
        assert_eq!(p.id, a.id, "the same resource keeps its id whatever its status");
        assert!(missing_required(&a.to_sdk()).is_empty(), "{:?}", missing_required(&a.to_sdk()));
    }

    #[test]
    fn ids_are_stable_and_at_most_512_characters_for_every_check() {
        let long = "x".repeat(2000);
        for c in check::ALL {
            let f = Finding::builder(c.info(), &target())
                .resource("AwsKmsKey", long.as_str(), "arn:aws:kms:::key/x")
                .fail("m")
                .build()
                .unwrap();
            let id = finding_id(&f);
            assert!(id.len() <= 512, "{id}");
            assert_eq!(id, finding_id(&f.clone()));
            assert_eq!(id, format!("orgscan/{}/{}", c.info().id, f.fingerprint()));
            assert_eq!(check_of_generator(&generator_id(c.info())), Some(c.info().id));
        }
        assert_eq!(check_of_generator("other/kms"), None);
        assert_eq!(check_of_generator("orgscan/"), None);
    }

    #[test]
    fn an_account_resource_uses_the_security_hub_account_id_form() {
        let t = target();
        let f = Finding::builder(check::guardduty::INFO, &t)
            .resource("AwsAccount", "123456789012", "arn:aws:iam::123456789012:root")
            .fail("no detector")
            .build()
            .unwrap();
        let a = AsffFinding::from_finding(&f, "x", now());
        assert_eq!(a.resources[0].id, "AWS::::Account:123456789012");
        assert_eq!(a.resources[0].details, None);
    }

    #[test]
    fn long_texts_are_cut_to_the_asff_lengths() {
        let f = Finding::builder(check::kms::INFO, &target())
            .resource("AwsKmsKey", "k", "arn:aws:kms:::key/k")
            .fail("é".repeat(3000))
            .build()
            .unwrap();
        let a = AsffFinding::from_finding(&f, "x", now());
        assert_eq!(a.description.chars().count(), 1024);
        assert!(a.description.ends_with('…'));
        for c in check::ALL {
            let r = recommendation(c.info());
            assert!(!r.text.is_empty() && r.text.chars().count() <= 512, "{}", c.info().id);
            assert!(c.info().title.chars().count() <= 256);
        }
    }

    #[test]
    fn a_finding_over_240_kb_drops_its_details_rather_than_fail() {
        let huge = "k".repeat(300_000);
        let f = Finding::builder(check::opensearch::INFO, &target())
            .resource("AwsOpenSearchServiceDomain", "d", "arn:aws:es:eu-west-1:123456789012:domain/d")
            .evidence("engine_version", "OpenSearch_2.11")
            .evidence("encryption_at_rest_enabled", true)
            .evidence("kms_key_id", huge.as_str())
            .pass("encrypted")
            .build()
            .unwrap();
        let a = AsffFinding::from_finding(&f, "x", now());
        assert_eq!(a.resources[0].details, None);
        assert!(a.json_len() <= MAX_FINDING_BYTES);
        // A normal-sized one keeps them.
        let small = Finding { evidence: serde_json::Map::new(), ..f };
        let a = AsffFinding::from_finding(&small, "x", now());
        assert!(a.resources[0].details.as_ref().and_then(|d| d.aws_open_search_service_domain.as_ref()).is_some());
    }

    #[test]
    fn the_size_bound_is_never_below_the_real_size() {
        let awkward = "\u{1}\"\\é漢".repeat(50);
        let mut findings = vec![AsffFinding::from_finding(&kms("k", Status::Fail), "2026-11-01T00:00:00.000Z", now())];
        for check in check::ALL {
            let info = check.info();
            let f = Finding::builder(info, &target())
                .resource(info.resource_types[0], &awkward, format!("arn:aws:x:eu-west-1:123456789012:{awkward}"))
                .evidence("runtime", awkward.as_str())
                .evidence("key_state", awkward.as_str())
                .fail(awkward.as_str())
                .build()
                .unwrap();
            findings.push(AsffFinding::from_finding(&f, &awkward, now()));
        }
        for a in &findings {
            assert!(a.batch_size() >= a.json_len(), "{} < {}", a.batch_size(), a.json_len());
            // Not wildly loose for ordinary findings: 100 of them stay far below a 6 MB batch.
        }
        assert!(findings[0].batch_size() * MAX_BATCH_FINDINGS < MAX_BATCH_BYTES / 2);
    }

    #[test]
    fn batches_hold_at_most_100_findings() {
        let sizes = vec![1_000; 250];
        let r = batch_ranges(&sizes, 100, MAX_BATCH_BYTES);
        assert_eq!(r, vec![0..100, 100..200, 200..250]);
        assert_eq!(batch_ranges(&[], 100, 1_000), vec![]);
        assert_eq!(batch_ranges(&[5; 100], 100, MAX_BATCH_BYTES), vec![0..100]);
    }

    #[test]
    fn batches_stay_under_the_byte_limit_and_an_oversized_item_goes_alone() {
        // 100 items of 70 KB would be 7 MB: split by bytes long before the count limit.
        let sizes = vec![70_000; 100];
        let r = batch_ranges(&sizes, 100, MAX_BATCH_BYTES);
        assert!(r.len() >= 2);
        for range in &r {
            let bytes: usize = ENVELOPE_BYTES + sizes[range.clone()].iter().map(|s| s + SEPARATOR_BYTES).sum::<usize>();
            assert!(bytes <= MAX_BATCH_BYTES, "{range:?} holds {bytes} bytes");
        }
        assert_eq!(r.iter().map(|r| r.len()).sum::<usize>(), 100);
        let r = batch_ranges(&[10, 5_000, 10], 100, 1_000);
        assert_eq!(r, vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn batch_files_are_json_arrays_that_read_back_and_convert() {
        let findings: Vec<AsffFinding> =
            (0..3).map(|i| AsffFinding::from_finding(&kms(&format!("k{i}"), Status::Fail), "x", now())).collect();
        let mut buf = Vec::new();
        write_batch(&findings, &mut buf).unwrap();
        let back: Vec<AsffFinding> = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back, findings);
        assert_eq!(buf.len(), "[\n\n]\n".len() + findings.iter().map(|f| f.json_len()).sum::<usize>() + ",\n".len() * 2);
        assert!(is_batch_file_name(&batch_file_name(1)) && is_batch_file_name("batch-12345.json") && !is_batch_file_name("batch-1.json"));
    }
}
