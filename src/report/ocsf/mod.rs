//! OCSF: one Compliance Finding event (class_uid 2003, category Findings) per (check, resource), PASS
//! included, as JSON Lines (`--ocsf PATH`) and as Parquet for Amazon Security Lake (`--ocsf-dir DIR`, see
//! [`parquet`]). A pure function of the scan report, like every output.
//!
//! Schema: OCSF 1.5.0 (schema.ocsf.io/1.5.0/classes/compliance_finding), the version py-ocsf-models 0.10
//! models; the tests validate every event with it. The class extends Finding (`finding_info` required) and
//! the base event (`metadata`, `severity_id`, `time` required; `status_id` recommended); `compliance`
//! requires `standards`. `cloud` is the OCSF `cloud` profile (provider required), listed in
//! `metadata.profiles` with `datetime` (the `*_dt` twins of the timestamps).
//!
//! Severity, compliance status and finding status come from `model::verdict`, the mapping ASFF and SARIF
//! use. Resources that could not be evaluated and scopes that ended skipped or in error are not findings and
//! produce no event: coverage is the JSON report's (`coverage`, `not_evaluable`, `errors`).

pub mod parquet;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_with::skip_serializing_none;

use crate::model::{CheckInfo, Finding, ScanReport, Subject, Verdict};
use crate::securityhub::asff::FINDING_TYPE;

/// The OCSF version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.5.0";
pub const CLASS_UID: u32 = 2003;
pub const CATEGORY_UID: u32 = 2;
/// `activity_id` 1 (Create): each scan reports its findings anew; `type_uid` = class_uid * 100 + activity_id.
const ACTIVITY: (u32, &str) = (1, "Create");
/// The standard whose Security Hub controls every orgscan check maps to (each check's
/// `security_hub_controls` are controls of AWS Foundational Security Best Practices).
pub const STANDARD: &str = "AWS Foundational Security Best Practices v1.0.0";
/// `cloud.account.type_id` 10: AWS Account.
const AWS_ACCOUNT: (u32, &str) = (10, "AWS Account");

/// One OCSF Compliance Finding. `D` and `U` are the forms of `resources[].data` and `unmapped`: JSON objects
/// in the JSON Lines output, their JSON text in Parquet (whose columns are typed; free-form data is a string).
#[derive(Debug, Serialize)]
pub struct Event<'a, D, U> {
    pub activity_id: u32,
    pub activity_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub class_uid: u32,
    pub class_name: &'static str,
    pub type_uid: u32,
    pub type_name: &'static str,
    /// When the finding was made: the scan's start (milliseconds since the epoch).
    pub time: i64,
    pub time_dt: &'a str,
    pub severity_id: u8,
    pub severity: &'static str,
    pub status_id: u8,
    pub status: &'static str,
    /// What the check found, in words.
    pub message: &'a str,
    pub metadata: Metadata,
    pub finding_info: FindingInfo<'a>,
    pub compliance: ComplianceObject,
    pub resources: [ResourceDetails<'a, D>; 1],
    pub remediation: Remediation<'a>,
    pub cloud: Cloud<'a>,
    /// orgscan's own triage (baseline state, suppression), when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmapped: Option<U>,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub version: &'static str,
    pub product: Product,
    /// The check id.
    pub event_code: &'static str,
    /// When orgscan logged the event: the scan's end (milliseconds since the epoch).
    pub logged_time: i64,
    pub profiles: [&'static str; 2],
}

#[derive(Debug, Serialize)]
pub struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct FindingInfo<'a> {
    /// orgscan's fingerprint: stable across runs, the ASFF `Id`'s and SARIF's too.
    pub uid: String,
    pub title: &'static str,
    pub desc: &'static str,
    pub types: [&'static str; 1],
    pub src_url: &'static str,
    pub created_time: i64,
    pub created_time_dt: Cow<'a, str>,
    /// The first sighting (from `--baseline`), else this scan.
    pub first_seen_time: i64,
    pub first_seen_time_dt: Cow<'a, str>,
    /// This scan.
    pub last_seen_time: i64,
    pub last_seen_time_dt: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ComplianceObject {
    /// The first Security Hub control of the check (e.g. `KMS.3`); all of them are `requirements`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<&'static str>,
    pub requirements: &'static [&'static str],
    pub standards: [&'static str; 1],
    pub status_id: u8,
    pub status: &'static str,
    pub checks: [Check; 1],
}

/// The check that made the finding (`compliance.checks[]`).
#[derive(Debug, Serialize)]
pub struct Check {
    pub uid: &'static str,
    pub name: &'static str,
    pub severity_id: u8,
    pub severity: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ResourceDetails<'a, D> {
    /// The ARN (for an account: `arn:<partition>:iam::<account>:root`).
    pub uid: &'a str,
    /// The resource's own id (domain name, function name, key id, detector id, account id).
    pub name: &'a str,
    /// The ASFF resource type (`AwsKmsKey`, ...), as Security Hub names it.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub region: &'a str,
    pub cloud_partition: &'static str,
    /// `{"details": {<ASFF details key>: {...}}, "evidence": {...}}`: the check's typed details and the values
    /// the verdict was based on.
    pub data: D,
}

#[derive(Debug, Serialize)]
pub struct Remediation<'a> {
    /// What to do, then the AWS CLI commands that do it (placeholders in capitals).
    pub desc: Cow<'a, str>,
    pub references: [&'static str; 1],
}

#[derive(Debug, Serialize)]
pub struct Cloud<'a> {
    pub provider: &'static str,
    pub region: &'a str,
    pub account: Account<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<Organization<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Account<'a> {
    pub uid: &'a str,
    /// The account's name in the organization; its id when the organization was not listed.
    pub name: &'a str,
    pub type_id: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[skip_serializing_none]
#[derive(Debug, Serialize)]
pub struct Organization<'a> {
    pub uid: Option<&'a str>,
    /// The OU the account is directly in.
    pub ou_uid: Option<&'a str>,
    /// The OU path from the root (`Root/Prod/EU`).
    pub ou_name: Option<&'a str>,
}

/// `resources[].data` in the JSON Lines output.
#[derive(Debug, Serialize)]
pub struct ResourceData<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a crate::model::ResourceDetails>,
    pub evidence: &'a crate::model::Evidence,
}

/// `unmapped` in the JSON Lines output: orgscan's triage of the finding.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
pub struct Triage {
    pub baseline_state: Option<&'static str>,
    /// The suppression rule's reason, owner, expiry and position.
    pub suppressed: Option<String>,
}

/// What every event of one report shares: the scan's times and each check's remediation, formatted once.
pub struct Scan<'a> {
    report: &'a ScanReport,
    time: i64,
    time_dt: String,
    logged_time: i64,
    remediation: BTreeMap<&'static str, String>,
}

impl<'a> Scan<'a> {
    pub fn new(report: &'a ScanReport) -> Self {
        Scan {
            report,
            time: report.started_at.timestamp_millis(),
            time_dt: datetime(report.started_at),
            logged_time: report.finished_at.timestamp_millis(),
            remediation: report.checks.iter().map(|c| (c.id, remediation(c))).collect(),
        }
    }

    /// The scan's start: every event's `time` (and so its Security Lake `eventDay`).
    pub fn started_at(&self) -> DateTime<Utc> {
        self.report.started_at
    }

    /// The event of one finding, with `data` and `unmapped` as JSON objects.
    pub fn event(&'a self, f: &'a Finding) -> Event<'a, ResourceData<'a>, Triage> {
        self.event_with(f, ResourceData::of(f), Triage::of(f))
    }

    /// The event of one finding, with `data` and `unmapped` as given.
    pub fn event_with<D, U>(&'a self, f: &'a Finding, data: D, unmapped: Option<U>) -> Event<'a, D, U> {
        let check: &'static CheckInfo = f.check;
        let verdict = Verdict::of(f);
        let (severity_id, severity) = verdict.severity.ocsf();
        let (status_id, status) = verdict.workflow.ocsf();
        let (compliance_id, compliance) = verdict.compliance.ocsf();
        let (check_severity_id, check_severity) = crate::model::ReportedSeverity::Rated(check.severity).ocsf();
        let (first_seen, first_seen_dt) = match f.triage.first_seen {
            Some(t) => (t.timestamp_millis(), Cow::Owned(datetime(t))),
            None => (self.time, Cow::Borrowed(self.time_dt.as_str())),
        };
        let account = f.target.account.as_str();
        let info = self.report.accounts.get(&f.target.account);
        let org_id = match &self.report.subject {
            Subject::Organization { id, .. } => Some(id.as_str()),
            Subject::Account(_) | Subject::Accounts { .. } => None,
        };
        let ou_uid = info.and_then(|i| i.ous.last()).map(String::as_str);
        let ou_name = info.and_then(|i| i.ou_path.as_deref());
        let org = (org_id.is_some() || ou_uid.is_some() || ou_name.is_some()).then_some(Organization { uid: org_id, ou_uid, ou_name });
        Event {
            activity_id: ACTIVITY.0,
            activity_name: ACTIVITY.1,
            category_uid: CATEGORY_UID,
            category_name: "Findings",
            class_uid: CLASS_UID,
            class_name: "Compliance Finding",
            type_uid: CLASS_UID * 100 + ACTIVITY.0,
            type_name: "Compliance Finding: Create",
            time: self.time,
            time_dt: &self.time_dt,
            severity_id,
            severity,
            status_id,
            status,
            message: &f.message,
            metadata: Metadata {
                version: OCSF_VERSION,
                product: Product { name: "orgscan", vendor_name: "orgscan", version: self.report.tool_version },
                event_code: check.id,
                logged_time: self.logged_time,
                profiles: ["cloud", "datetime"],
            },
            finding_info: FindingInfo {
                uid: f.fingerprint().to_string(),
                title: check.title,
                desc: check.description,
                types: [FINDING_TYPE],
                src_url: check.docs_url,
                created_time: first_seen,
                created_time_dt: first_seen_dt.clone(),
                first_seen_time: first_seen,
                first_seen_time_dt: first_seen_dt,
                last_seen_time: self.time,
                last_seen_time_dt: &self.time_dt,
            },
            compliance: ComplianceObject {
                control: check.security_hub_controls.first().copied(),
                requirements: check.security_hub_controls,
                standards: [STANDARD],
                status_id: compliance_id,
                status: compliance,
                checks: [Check { uid: check.id, name: check.title, severity_id: check_severity_id, severity: check_severity }],
            },
            resources: [ResourceDetails {
                uid: &f.resource.arn,
                name: &f.resource.id,
                kind: f.resource.resource_type,
                region: f.target.region.as_str(),
                cloud_partition: f.target.partition.as_str(),
                data,
            }],
            remediation: Remediation {
                desc: self.remediation.get(check.id).map_or_else(|| Cow::Owned(remediation(check)), |r| Cow::Borrowed(r.as_str())),
                references: [check.docs_url],
            },
            cloud: Cloud {
                provider: "AWS",
                region: f.target.region.as_str(),
                account: Account {
                    uid: account,
                    name: info.map_or(account, |i| i.name.as_str()),
                    type_id: AWS_ACCOUNT.0,
                    kind: AWS_ACCOUNT.1,
                },
                org,
            },
            unmapped,
        }
    }
}

impl<'a> ResourceData<'a> {
    pub fn of(f: &'a Finding) -> Self {
        ResourceData { details: f.details.as_ref(), evidence: &f.evidence }
    }
}

impl Triage {
    /// orgscan's triage of a finding, when it has any (a baseline was given, or a rule accepts it).
    pub fn of(f: &Finding) -> Option<Self> {
        let t = &f.triage;
        (t.baseline.is_some() || t.suppressed.is_some()).then(|| Triage {
            baseline_state: t.baseline.map(|b| b.as_str()),
            suppressed: t.suppressed.as_ref().map(|r| r.justification()),
        })
    }
}

/// The remediation in words, then the CLI commands (as ASFF's recommendation has them, untruncated).
fn remediation(check: &CheckInfo) -> String {
    let words = check.remediation.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{words}\n{}", check.remediation_cli)
}

/// OCSF `datetime_t`: RFC 3339 in UTC, milliseconds.
pub fn datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `--ocsf PATH`: every finding of the report as one JSON event per line, in the report's order.
pub fn to_writer(report: &ScanReport, w: &mut dyn Write) -> std::io::Result<()> {
    let scan = Scan::new(report);
    for f in &report.findings {
        serde_json::to_writer(&mut *w, &scan.event(f))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{AccountId, AccountInfo, BaselineState, Rule, Status, Target};

    /// A report of an organization with one FAIL (suppressed, seen before) and one PASS of the KMS check.
    pub(super) fn report() -> ScanReport {
        let kms = crate::check::ALL.iter().map(|c| c.info()).find(|c| c.id == "kms-key-not-pending-deletion").unwrap();
        let account: AccountId = "123456789012".parse().unwrap();
        let mut findings = Vec::new();
        for (id, status, region) in [("k1", Status::Fail, "eu-west-1"), ("k2", Status::Pass, "us-east-1")] {
            let target = Target::new(account.clone(), region.parse().unwrap());
            let arn = format!("arn:aws:kms:{region}:123456789012:key/{id}");
            let b = Finding::builder(kms, &target).resource("AwsKmsKey", id, arn).evidence("key_state", "PendingDeletion");
            findings.push(b.status(status).message(format!("{id} is {status:?}")).build().unwrap());
        }
        findings[0].triage.baseline = Some(BaselineState::Unchanged);
        findings[0].triage.first_seen = Some("2026-10-01T08:00:00Z".parse().unwrap());
        findings[0].triage.suppressed = Some(Arc::new(Rule {
            index: 1,
            line: 1,
            check: "*".into(),
            reason: "retired".into(),
            owner: "kms-team".into(),
            expires: None,
        }));
        let subject = Subject::Organization { id: "o-abc123defg".into(), caller: account.clone() };
        let mut r = ScanReport { findings, ..ScanReport::new(subject, vec![kms]) };
        r.started_at = "2026-11-30T23:59:00Z".parse().unwrap();
        r.finished_at = "2026-12-01T00:01:00Z".parse().unwrap();
        let info = AccountInfo { name: "prod".into(), ou_path: Some("Root/Prod".into()), ous: vec!["ou-ab12-prod0001".into()] };
        r.accounts.insert(account, info);
        r
    }

    fn lines(r: &ScanReport) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        to_writer(r, &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn one_compliance_finding_per_finding_with_the_shared_mapping() {
        let r = report();
        let events = lines(&r);
        assert_eq!(events.len(), 2);
        let (fail, pass) = (&events[0], &events[1]);
        assert_eq!(
            (fail["class_uid"].as_u64(), fail["category_uid"].as_u64(), fail["type_uid"].as_u64()),
            (Some(2003), Some(2), Some(200301))
        );
        assert_eq!(fail["finding_info"]["uid"], r.findings[0].fingerprint().to_string());
        // A suppressed FAIL: critical, Fail, Suppressed; a PASS: informational, Pass, Resolved (as in ASFF).
        assert_eq!(
            (fail["severity_id"].as_u64(), fail["compliance"]["status_id"].as_u64(), fail["status_id"].as_u64()),
            (Some(5), Some(3), Some(3))
        );
        assert_eq!(
            (pass["severity_id"].as_u64(), pass["compliance"]["status_id"].as_u64(), pass["status_id"].as_u64()),
            (Some(1), Some(1), Some(4))
        );
        assert_eq!((pass["severity"].as_str(), pass["status"].as_str()), (Some("Informational"), Some("Resolved")));
        assert_eq!(fail["compliance"]["control"], "KMS.3");
        assert_eq!(fail["compliance"]["checks"][0]["uid"], "kms-key-not-pending-deletion");
        assert_eq!(fail["cloud"]["account"]["name"], "prod");
        assert_eq!(fail["cloud"]["org"]["ou_name"], "Root/Prod");
        assert_eq!(fail["cloud"]["org"]["uid"], "o-abc123defg");
        assert_eq!(fail["resources"][0]["uid"], "arn:aws:kms:eu-west-1:123456789012:key/k1");
        assert_eq!(fail["resources"][0]["data"]["evidence"]["key_state"], "PendingDeletion");
        // First seen from the baseline; last seen and the event time are this scan's start.
        assert_eq!(fail["finding_info"]["first_seen_time_dt"], "2026-10-01T08:00:00.000Z");
        assert_eq!(fail["finding_info"]["last_seen_time_dt"], "2026-11-30T23:59:00.000Z");
        assert_eq!(pass["finding_info"]["first_seen_time"], pass["time"]);
        assert!(fail["remediation"]["desc"].as_str().unwrap().contains("aws kms cancel-key-deletion"));
        assert_eq!(fail["unmapped"]["baseline_state"], "unchanged");
        assert!(pass.get("unmapped").is_none());
    }

    #[test]
    fn resources_not_evaluable_and_scopes_in_error_are_no_events() {
        use crate::model::{Coverage, CoverageStatus, NotEvaluable, Resource, ScopeError};
        let mut r = report();
        let target = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let resource = Resource { resource_type: "AwsKmsKey", id: "k3".into(), arn: "arn:aws:kms:eu-west-1:123456789012:key/k3".into() };
        let error = ScopeError::new("AccessDeniedException", "key policy");
        r.not_evaluable.push(NotEvaluable {
            check_id: "kms-key-not-pending-deletion",
            target: target.clone(),
            resource,
            error: error.clone(),
        });
        r.coverage.push(Coverage {
            check_id: "guardduty-enabled",
            account: target.account.clone(),
            region: Some(target.region.clone()),
            status: CoverageStatus::Error(error),
        });
        assert_eq!(lines(&r).len(), r.findings.len());
    }

    #[test]
    fn without_an_organization_the_account_is_named_by_its_id_and_has_no_org() {
        let mut r = report();
        r.accounts.clear();
        r.subject = Subject::Account("123456789012".parse().unwrap());
        let e = &lines(&r)[1];
        assert_eq!(e["cloud"]["account"]["name"], "123456789012");
        assert!(e["cloud"].get("org").is_none());
    }
}
