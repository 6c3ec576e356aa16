//! The machine-readable JSON report: a versioned type of its own (schema `schemas/report.schema.json`),
//! separate from the internal structs so that refactoring never changes the contract by accident.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::OpCounts;
use crate::model::{AccountId, CoverageStatus, ScanReport, Subject};

pub const SCHEMA_VERSION: &str = crate::model::report::REPORT_SCHEMA_VERSION;

#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub schema_version: &'static str,
    pub tool: Tool,
    pub scope: Scope<'a>,
    pub started_at: String,
    pub finished_at: String,
    pub incomplete: bool,
    pub findings: Vec<JsonFinding<'a>>,
    pub coverage: Vec<JsonCoverage<'a>>,
    pub errors: Vec<JsonError<'a>>,
    /// Resources listed but not readable (their read was denied or failed): neither PASS nor FAIL.
    pub not_evaluable: Vec<JsonNotEvaluable<'a>>,
    /// Fallbacks taken and details that could not be read (per account, or for the whole scan).
    pub notes: Vec<JsonNote<'a>>,
    pub stats: JsonStats,
    /// Present only when the Security Hub import ran (`--security-hub`): an optional section, so
    /// schema_version "1" readers are unaffected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<JsonSecurityHub<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonSecurityHub<'a> {
    pub dry_run: bool,
    pub only_failed: bool,
    pub totals: JsonImportCounts,
    /// One entry per (account, region), sorted; `region` is null for an account that was not scanned.
    pub scopes: Vec<JsonImportScope<'a>>,
    /// Every finding Security Hub refused for good, sorted by account, region, finding id.
    pub failed_findings: Vec<JsonFailedFinding<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonImportCounts {
    pub new: usize,
    pub updated: usize,
    pub archived: usize,
    pub resolved: usize,
    pub failed: usize,
}

#[derive(Debug, Serialize)]
pub struct JsonImportScope<'a> {
    pub account_id: &'a str,
    pub region: Option<&'a str>,
    /// `imported`, `dry_run`, `skipped` or `error`.
    pub status: &'static str,
    /// Why the scope was skipped, or the error (with its fix).
    pub detail: Option<String>,
    pub code: Option<&'a str>,
    pub counts: JsonImportCounts,
    /// Checks whose findings here were left as they are (not evaluated in this target).
    pub untouched: Vec<JsonUntouched<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonFailedFinding<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub finding_id: &'a str,
    pub code: &'a str,
    pub message: &'a str,
}

impl From<crate::model::import::Counts> for JsonImportCounts {
    fn from(c: crate::model::import::Counts) -> Self {
        Self { new: c.new, updated: c.updated, archived: c.archived, resolved: c.resolved, failed: c.failed }
    }
}

impl<'a> JsonSecurityHub<'a> {
    pub fn new(s: &'a crate::model::import::ImportReport) -> Self {
        use crate::model::import::ImportStatus;
        Self {
            dry_run: s.dry_run,
            only_failed: s.only_failed,
            totals: s.totals().into(),
            scopes: s
                .scopes
                .iter()
                .map(|x| {
                    let (detail, code) = match &x.status {
                        ImportStatus::Imported | ImportStatus::DryRun => (None, None),
                        ImportStatus::Skipped(reason) => (Some(reason.clone()), None),
                        ImportStatus::Error(e) => (Some(e.message.clone()), Some(e.code.as_str())),
                    };
                    JsonImportScope {
                        account_id: x.account.as_str(),
                        region: x.region.as_ref().map(|r| r.as_str()),
                        status: x.status.as_str(),
                        detail,
                        code,
                        counts: x.counts.into(),
                        untouched: x.untouched.iter().map(|(c, r)| JsonUntouched { check_id: c, reason: r }).collect(),
                    }
                })
                .collect(),
            failed_findings: s
                .failures
                .iter()
                .map(|f| JsonFailedFinding {
                    account_id: f.account.as_str(),
                    region: f.region.as_str(),
                    finding_id: &f.finding_id,
                    code: &f.code,
                    message: &f.message,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Scope<'a> {
    pub kind: &'static str,
    pub account_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    pub check_id: &'static str,
    pub status: &'static str,
    pub severity: &'static str,
    #[serde(flatten)]
    pub account: Owner<'a>,
    pub region: &'a str,
    pub resource_type: &'static str,
    pub resource_id: &'a str,
    pub resource_arn: &'a str,
    pub title: &'static str,
    pub message: &'a str,
    pub fingerprint: String,
    pub evidence: &'a serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct JsonCoverage<'a> {
    pub check_id: &'static str,
    #[serde(flatten)]
    pub account: Owner<'a>,
    pub region: Option<&'a str>,
    pub status: &'static str,
    /// `service_control_policy` for a scope an SCP closed; null otherwise (the detail says why).
    pub skip_cause: Option<&'static str>,
    /// The IAM action the service control policy denied.
    pub denied_action: Option<&'a str>,
    pub detail: String,
}

/// The account a record is about: its id, and its name and OU path when the organization was listed.
#[derive(Debug, Serialize)]
pub struct Owner<'a> {
    pub account_id: &'a str,
    pub account_name: Option<&'a str>,
    pub ou_path: Option<&'a str>,
}

impl<'a> Owner<'a> {
    fn of(r: &'a ScanReport, account: &'a AccountId) -> Self {
        Self { account_id: account.as_str(), account_name: r.account_name(account), ou_path: r.ou_path(account) }
    }
}

#[derive(Debug, Serialize)]
pub struct JsonNotEvaluable<'a> {
    pub check_id: &'static str,
    #[serde(flatten)]
    pub account: Owner<'a>,
    pub region: &'a str,
    pub resource_type: &'static str,
    pub resource_id: &'a str,
    pub resource_arn: &'a str,
    /// The fingerprint its finding has when it can be read (the Security Hub finding left as it is).
    pub fingerprint: String,
    pub code: &'a str,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonNote<'a> {
    pub account_id: Option<&'a str>,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonUntouched<'a> {
    pub check_id: &'a str,
    pub reason: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonError<'a> {
    pub account_id: &'a str,
    pub region: Option<&'a str>,
    pub check_id: Option<&'static str>,
    pub code: &'a str,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonStats {
    pub accounts: usize,
    pub accounts_scanned: usize,
    pub accounts_failed: usize,
    pub regions: usize,
    pub api_calls: u64,
    pub api_calls_by_service: BTreeMap<String, u64>,
    pub api_calls_by_operation: BTreeMap<String, OpCounts>,
    pub retries: u64,
    pub throttled: u64,
    pub duration_ms: u64,
}

impl<'a> JsonReport<'a> {
    pub fn new(r: &'a ScanReport) -> Self {
        let scope = match &r.subject {
            Subject::Account(a) => Scope { kind: "account", account_id: Some(a.as_str()), organization_id: None },
            Subject::Organization { id, caller } => {
                Scope { kind: "organization", account_id: Some(caller.as_str()), organization_id: Some(id) }
            }
            Subject::Accounts { caller } => Scope { kind: "accounts", account_id: Some(caller.as_str()), organization_id: None },
        };
        Self {
            schema_version: SCHEMA_VERSION,
            tool: Tool { name: "orgscan", version: r.tool_version },
            scope,
            started_at: r.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: r.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            incomplete: r.incomplete,
            findings: r
                .findings
                .iter()
                .map(|f| JsonFinding {
                    check_id: f.check.id,
                    status: f.status.as_str(),
                    severity: f.severity().as_str(),
                    account: Owner::of(r, &f.target.account),
                    region: f.target.region.as_str(),
                    resource_type: f.resource.resource_type,
                    resource_id: &f.resource.id,
                    resource_arn: &f.resource.arn,
                    title: f.check.title,
                    message: &f.message,
                    fingerprint: f.fingerprint(),
                    evidence: &f.evidence,
                })
                .collect(),
            coverage: r
                .coverage
                .iter()
                .map(|c| JsonCoverage {
                    check_id: c.check_id,
                    account: Owner::of(r, &c.account),
                    region: c.region.as_ref().map(|r| r.as_str()),
                    status: c.status.as_str(),
                    skip_cause: matches!(c.status, CoverageStatus::ClosedByPolicy { .. }).then_some("service_control_policy"),
                    denied_action: match &c.status {
                        CoverageStatus::ClosedByPolicy { action, .. } => Some(action.as_str()),
                        _ => None,
                    },
                    detail: match &c.status {
                        CoverageStatus::Evaluated { resources, not_applicable, not_evaluable: 0 } => {
                            format!("{resources} resources evaluated, {not_applicable} not applicable")
                        }
                        CoverageStatus::Evaluated { resources, not_applicable, not_evaluable } => {
                            format!("{resources} resources evaluated, {not_applicable} not applicable, {not_evaluable} not evaluable")
                        }
                        CoverageStatus::ClosedByPolicy { error, .. } => {
                            format!("{}: {}", c.status.skip_reason().unwrap_or_default(), error.message)
                        }
                        CoverageStatus::Skipped { reason } => reason.clone(),
                        CoverageStatus::Error(e) => e.to_string(),
                    },
                })
                .collect(),
            errors: r
                .errors
                .iter()
                .map(|e| JsonError {
                    account_id: e.account.as_str(),
                    region: e.region.as_ref().map(|r| r.as_str()),
                    check_id: e.check_id,
                    code: &e.error.code,
                    message: &e.error.message,
                })
                .collect(),
            not_evaluable: r
                .not_evaluable
                .iter()
                .map(|n| JsonNotEvaluable {
                    check_id: n.check_id,
                    account: Owner::of(r, &n.target.account),
                    region: n.target.region.as_str(),
                    resource_type: n.resource.resource_type,
                    resource_id: &n.resource.id,
                    resource_arn: &n.resource.arn,
                    fingerprint: n.fingerprint(),
                    code: &n.error.code,
                    message: &n.error.message,
                })
                .collect(),
            notes: r.notes.iter().map(|n| JsonNote { account_id: n.account.as_ref().map(|a| a.as_str()), text: &n.text }).collect(),
            stats: JsonStats {
                accounts: r.stats.accounts,
                accounts_scanned: r.stats.accounts_scanned,
                accounts_failed: r.stats.accounts_failed,
                regions: r.stats.regions,
                api_calls: r.stats.api_calls(),
                api_calls_by_service: r.stats.calls_by_service(),
                api_calls_by_operation: r.stats.api.iter().map(|((s, o), c)| (format!("{s}:{o}"), *c)).collect(),
                retries: r.stats.retries(),
                throttled: r.stats.throttled(),
                duration_ms: r.stats.duration_ms,
            },
            security_hub: r.stats.security_hub.as_ref().map(JsonSecurityHub::new),
        }
    }
}

pub fn to_writer(r: &ScanReport, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &JsonReport::new(r))?;
    w.write_all(b"\n")
}
