//! AWS Security Finding Format (ASFF): orgscan's own serde types for the findings it writes and imports
//! (the SDK's types have no serde) and their conversion into `aws_sdk_securityhub::types::AwsSecurityFinding`.
//! A check's `Resources[].Details` arrive typed on the finding (`model::ResourceDetails`): this module
//! embeds them without knowing any check.
//!
//! Field rules and lengths: AWS Security Hub API Reference, `AwsSecurityFinding`
//! (<https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html>). The subset
//! orgscan writes is documented by `schemas/asff-finding.schema.json`.

use std::collections::BTreeMap;

use aws_sdk_securityhub::types as sh;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{CheckInfo, Finding, ResourceDetails, Target, Verdict};

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Every `GeneratorId` orgscan writes starts with this; the sink recognises its own findings by it.
pub const GENERATOR_PREFIX: &str = "orgscan/";
pub const FINDING_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";

/// At most 240 KB per finding; a finding above it is sent without its `Resources[].Details`.
pub const MAX_FINDING_BYTES: usize = 240_000;
const MAX_ID: usize = 512;
const MAX_ACCOUNT_NAME: usize = 50;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 1024;
const MAX_RECOMMENDATION: usize = 512;
const MAX_PRODUCT_FIELD_VALUE: usize = 2048;
const MAX_RELATED_FINDINGS: usize = 10;
const MAX_RESOURCES: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffFinding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    /// The account's name in Organizations (1 to 50 characters; Security Hub API Reference, AwsSecurityFinding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_account_name: Option<String>,
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
    /// The findings of the same scan this one is linked with (a KMS key's dependents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_findings: Vec<AsffRelatedFinding>,
    /// An upper bound of the compact JSON size, set when the finding is built: batching needs a size for
    /// every finding, and a bound is much cheaper than a measurement.
    #[serde(skip)]
    pub(super) size_bound: SizeBound,
}

/// A cached bound that takes no part in equality: findings with the same fields are equal.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SizeBound(pub(super) Option<usize>);

impl PartialEq for SizeBound {
    fn eq(&self, _: &Self) -> bool {
        true
    }
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

/// `RelatedFindings[]`: another finding by its product ARN and `Id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AsffRelatedFinding {
    pub product_arn: String,
    pub id: String,
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
    pub details: Option<ResourceDetails>,
}

/// The ASFF `Id` of a finding: the generator and the stable fingerprint, identical across runs.
pub fn finding_id(f: &Finding) -> String {
    id_of(f.check.id, &f.fingerprint())
}

/// The ASFF `Id` of the finding of `check_id` with this fingerprint (as a report spells it, or as computed).
pub fn id_of(check_id: &str, fingerprint: &dyn std::fmt::Display) -> String {
    let id = format!("{GENERATOR_PREFIX}{check_id}/{fingerprint}");
    // Check ids are short constants, so this never triggers; the fingerprint alone still identifies the finding.
    if id.len() > MAX_ID { format!("{GENERATOR_PREFIX}{fingerprint}") } else { id }
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
    if f.resource.resource_type == crate::model::check_info::ACCOUNT_RESOURCE_TYPE {
        format!("AWS::::Account:{}", f.target.account)
    } else {
        f.resource.arn.clone()
    }
}

/// ASFF `Resources[].Type` of a resource type: itself, or `Other` for a type ASFF does not list (e.g. a Lambda
/// Web Function): "If the resource type is not one of the provided types, set Resource.Type to Other and use
/// the Other object to specify the details" ("Other object in ASFF", AWS Security Hub User Guide); the check's
/// `Details.Other` then names the type.
pub fn asff_type(resource_type: &str) -> &str {
    if crate::check::declare::resource_kind(resource_type).is_some_and(|k| !k.asff_listed) { OTHER } else { resource_type }
}

/// The ASFF resource type (and `Details` member) of a resource type ASFF does not list.
pub const OTHER: &str = "Other";

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
        // Status, record state and label: `model::verdict`, shared with SARIF and OCSF.
        let verdict = Verdict::of(f);
        let (compliance, record_state, label) = (verdict.compliance.asff(), verdict.asff_record_state(), verdict.severity.asff_label());
        let severity = AsffSeverity { label: label.to_owned(), original: Some(check.severity.asff_label().to_owned()) };
        let mut out = Self {
            schema_version: SCHEMA_VERSION.to_owned(),
            id: finding_id(f),
            product_arn: product_arn(&f.target),
            generator_id: generator_id(check),
            aws_account_id: f.target.account.to_string(),
            aws_account_name: None,
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
                resource_type: asff_type(f.resource.resource_type).to_owned(),
                id: resource_id(f),
                partition: f.target.partition.to_string(),
                region: f.target.region.to_string(),
                details: f.details.clone(),
            }],
            record_state: record_state.to_owned(),
            finding_provider_fields: AsffFindingProviderFields { severity, types: types() },
            related_findings: Vec::new(),
            size_bound: SizeBound(None),
        };
        out.link(f);
        out.fit();
        out
    }

    /// A KMS key's dependents: their own findings as `RelatedFindings` (at most 10) and the resources as
    /// further `Resources` (at most 32 in all), AWS Security Hub API Reference, `AwsSecurityFinding`. The
    /// description names them all (cut at 1,024 characters); the JSON report and SARIF list every one.
    fn link(&mut self, f: &Finding) {
        for r in &f.related {
            let target = Target { partition: f.target.partition, account: r.account.clone(), region: r.region.clone() };
            if let (Some(fp), true) = (&r.finding, self.related_findings.len() < MAX_RELATED_FINDINGS) {
                self.related_findings.push(AsffRelatedFinding { product_arn: product_arn(&target), id: id_of(&r.check_id, fp) });
            }
            if self.resources.len() < MAX_RESOURCES {
                self.resources.push(AsffResource {
                    resource_type: asff_type(&r.resource_type).to_owned(),
                    id: r.arn.clone(),
                    partition: f.target.partition.to_string(),
                    region: r.region.to_string(),
                    details: None,
                });
            }
        }
    }

    /// The archived form of a baseline FAIL whose resource is gone (its scope was evaluated and the resource
    /// no longer exists): what `archived_copy` sends for it during an import, built from the baseline.
    pub fn gone(f: &Finding, created_at: &str, updated_at: DateTime<Utc>) -> Self {
        let mut out = Self::from_finding(f, created_at, updated_at);
        out.record_state = "ARCHIVED".to_owned();
        out.product_fields = product_fields(f.check, Some(("ArchivedBecause", "the resource is no longer reported by this check")));
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
            .unwrap_or_else(|| check.severity.asff_label().to_owned());
        let severity = AsffSeverity { label, original: Some(check.severity.asff_label().to_owned()) };
        let status =
            existing.compliance().and_then(|c| c.status()).map(|s| s.as_str().to_owned()).unwrap_or_else(|| "NOT_AVAILABLE".to_owned());
        let description = existing.description().filter(|d| !d.trim().is_empty()).unwrap_or(check.title);
        let mut out = Self {
            schema_version: SCHEMA_VERSION.to_owned(),
            id: existing.id()?.to_owned(),
            product_arn: existing.product_arn()?.to_owned(),
            generator_id: generator_id(check),
            aws_account_id: existing.aws_account_id()?.to_owned(),
            aws_account_name: existing.aws_account_name().map(str::to_owned),
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
            related_findings: Vec::new(),
            size_bound: SizeBound(None),
        };
        out.fit();
        Some(out)
    }

    /// Names the account (cut to the 50 characters ASFF allows; an empty name is left out).
    pub fn with_account_name(mut self, name: Option<&str>) -> Self {
        self.aws_account_name = name.filter(|n| !n.trim().is_empty()).map(|n| truncate(n, MAX_ACCOUNT_NAME));
        self.fit();
        self
    }

    pub fn is_active(&self) -> bool {
        self.record_state == "ACTIVE"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::model::{Finding, Status};
    use crate::securityhub::testing::{kms, now, target};

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
        assert_eq!(
            r.details.as_ref().map(|d| (d.key(), d.json())),
            Some(("AwsKmsKey", r#"{"KeyId":"k1","KeyState":"PendingDeletion","KeyManager":"CUSTOMER"}"#))
        );
        let p = AsffFinding::from_finding(&kms("k1", Status::Pass), "x", now());
        assert_eq!(
            (p.compliance.status.as_str(), p.record_state.as_str(), p.severity.label.as_str()),
            ("PASSED", "ARCHIVED", "INFORMATIONAL")
        );
        assert_eq!(p.id, a.id, "the same resource keeps its id whatever its status");
        assert!(missing_required(&a.to_sdk()).is_empty(), "{:?}", missing_required(&a.to_sdk()));
    }

    #[test]
    fn a_resource_type_asff_does_not_list_is_other_with_its_details() {
        use crate::check::lambda::web::{RESOURCE_TYPE, ServedRevision, WebFunctionInfo, evaluate};
        let arn = "arn:aws:lambda:eu-west-1:123456789012:web-function/api";
        let served =
            vec![ServedRevision { revision_id: "r1".into(), endpoints: vec!["default".into()], runtime: Some("nodejs18.x".into()) }];
        let wf = WebFunctionInfo { name: "api".into(), arn: arn.into(), served, kms_keys: Vec::new() };
        let table = crate::check::lambda::RuntimeTable::bundled().unwrap();
        let e = evaluate(&target(), &[wf], &table, "2026-12-02".parse().unwrap(), 90).unwrap();
        let a = AsffFinding::from_finding(&e.findings[0], "2026-11-01T00:00:00.000Z", now());
        let r = &a.resources[0];
        assert_eq!((r.resource_type.as_str(), r.id.as_str()), ("Other", arn));
        assert_eq!(r.details.as_ref().map(|d| d.key()), Some("Other"));
        assert!(missing_required(&a.to_sdk()).is_empty());
        assert_eq!(asff_type(RESOURCE_TYPE), "Other");
        assert_eq!(asff_type("AwsLambdaFunction"), "AwsLambdaFunction");
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
}
