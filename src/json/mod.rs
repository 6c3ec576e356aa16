//! The machine-readable JSON report: a versioned type of its own (schema `schemas/report.schema.json`),
//! separate from the internal structs so that refactoring never changes the contract by accident. Schema 3
//! is frozen: this module writes it (here, with its `shard` and `security_hub` sections) and is the only one
//! that reads a report back (`read`: one header check, one finding entry; a baseline and a shard report).

use std::collections::BTreeMap;

use serde::Serialize;

pub mod read;
pub mod security_hub;
pub mod shard;

pub use self::security_hub::{JsonFailedFinding, JsonImportScope, JsonSecurityHub, JsonUntouched};
pub use self::shard::JsonShard;
use crate::model::OpCounts;
use crate::model::{AccountId, BaselineState, CoverageStatus, Finding, History, Related, Rule, ScanReport, Subject, Suppressions};

pub const SCHEMA_VERSION: &str = crate::model::report::REPORT_SCHEMA_VERSION;

#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub schema_version: &'static str,
    pub tool: Tool,
    pub scope: Scope<'a>,
    pub started_at: String,
    pub finished_at: String,
    pub incomplete: bool,
    /// Serialized one finding at a time, never collected: a report may hold a million.
    pub findings: JsonFindings<'a>,
    pub coverage: Vec<JsonCoverage<'a>>,
    pub errors: Vec<JsonError<'a>>,
    /// Resources listed but not readable (their read was denied or failed): neither PASS nor FAIL.
    pub not_evaluable: Vec<JsonNotEvaluable<'a>>,
    /// Fallbacks taken and details that could not be read (per account, or for the whole scan).
    pub notes: Vec<JsonNote<'a>>,
    pub stats: JsonStats,
    /// Baseline FAILs carried forward: their scope or resource could not be read this time (empty without
    /// `--baseline`). A later run reads them back from this file as FAILs last seen at `last_seen`.
    pub stale: Vec<JsonStale<'a>>,
    /// The comparison with `--baseline`; null without one.
    pub baseline: Option<JsonBaseline<'a>>,
    /// `--suppressions`: every rule and what it matched; null without one.
    pub suppressions: Option<JsonSuppressions<'a>>,
    /// Present only when the Security Hub import ran (`--security-hub`): an optional section, so
    /// schema_version "1" readers are unaffected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<JsonSecurityHub<'a>>,
    /// Present only in a shard's report (`--shard`): see `JsonShard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<JsonShard>,
    /// Present only when the run was stopped (Ctrl-C, SIGTERM): the phase, and what it did not reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<JsonStopped<'a>>,
}

/// The findings of a report as the JSON report writes them, each turned into a [`JsonFinding`] as it is
/// written.
#[derive(Debug)]
pub struct JsonFindings<'a>(pub &'a ScanReport);

impl Serialize for JsonFindings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        s.collect_seq(r.findings.iter().map(|f| finding(r, f)))
    }
}

#[derive(Debug, Serialize)]
pub struct JsonStopped<'a> {
    /// `walk`, `scan`, `security_hub_import` or `merge`.
    pub phase: &'static str,
    /// Each account, scope or shard report the run did not reach, in words.
    pub not_reached: &'a [String],
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
    pub evidence: &'a crate::model::Evidence,
    /// `new` or `unchanged` for a FAIL when the scan had a baseline; null otherwise.
    pub baseline_state: Option<&'static str>,
    /// When the resource's finding was first seen (with a baseline); null otherwise.
    pub first_seen: Option<String>,
    /// The suppression rule that accepts this FAIL; null if none.
    pub suppressed: Option<JsonSuppressed<'a>>,
    /// Other resources of the scan linked with this one (a KMS key's dependents).
    pub related: &'a [Related],
}

#[derive(Debug, Serialize)]
pub struct JsonSuppressed<'a> {
    pub rule: usize,
    pub line: usize,
    pub check: &'a str,
    pub reason: &'a str,
    pub owner: &'a str,
    pub expires: Option<String>,
}

impl<'a> JsonSuppressed<'a> {
    fn of(rule: &'a Rule) -> Self {
        Self {
            rule: rule.index,
            line: rule.line,
            check: &rule.check,
            reason: &rule.reason,
            owner: &rule.owner,
            expires: rule.expires.map(|d| d.to_string()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JsonStale<'a> {
    #[serde(flatten)]
    pub finding: JsonFinding<'a>,
    /// When it was last read as a FAIL.
    pub last_seen: String,
    /// Why it was not read this time.
    pub reason: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonBaseline<'a> {
    /// When the baseline scan started.
    pub started_at: String,
    pub new: usize,
    pub unchanged: usize,
    pub fixed: usize,
    pub stale: usize,
    /// Baseline FAILs of checks, accounts or regions this run did not set out to scan.
    pub out_of_selection: usize,
    /// The baseline FAILs found fixed: their scope was evaluated and the resource passes or is gone.
    pub fixed_findings: Vec<JsonFixed<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonFixed<'a> {
    #[serde(flatten)]
    pub resource: ResourceRef<'a>,
    /// The resource no longer exists (rather than passing now).
    pub gone: bool,
    /// The baseline's message.
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonSuppressions<'a> {
    pub rules: Vec<JsonRuleUse<'a>>,
    /// Whether "matched nothing" means unused: the scan was complete and covered the full selection.
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct JsonRuleUse<'a> {
    #[serde(flatten)]
    pub rule: JsonSuppressed<'a>,
    /// `active`, `expired`, or `unused` (active, matched nothing in a complete scan).
    pub status: &'static str,
    pub matched: usize,
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn finding<'a>(r: &'a ScanReport, f: &'a Finding) -> JsonFinding<'a> {
    JsonFinding {
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
        fingerprint: f.fingerprint().to_string(),
        evidence: &f.evidence,
        baseline_state: f.triage.baseline.map(BaselineState::as_str),
        first_seen: f.triage.first_seen.as_ref().map(time),
        suppressed: f.triage.suppressed.as_deref().map(JsonSuppressed::of),
        related: &f.related,
    }
}

fn baseline<'a>(r: &'a ScanReport, h: &'a History) -> JsonBaseline<'a> {
    let state = |b: BaselineState| r.baseline_count(b);
    JsonBaseline {
        started_at: time(&h.baseline_started_at),
        new: state(BaselineState::New),
        unchanged: state(BaselineState::Unchanged),
        fixed: h.fixed.len(),
        stale: h.stale.len(),
        out_of_selection: h.out_of_selection,
        fixed_findings: h
            .fixed
            .iter()
            .map(|x| {
                let f = &x.finding;
                JsonFixed { resource: ResourceRef::of(r, f.check.id, &f.target, &f.resource), gone: x.gone, message: &f.message }
            })
            .collect(),
    }
}

fn suppressions(s: &Suppressions) -> JsonSuppressions<'_> {
    let unused: Vec<usize> = s.unused().map(|u| u.rule.index).collect();
    JsonSuppressions {
        rules: s
            .rules
            .iter()
            .map(|u| JsonRuleUse {
                rule: JsonSuppressed::of(&u.rule),
                status: if u.expired {
                    "expired"
                } else if unused.contains(&u.rule.index) {
                    "unused"
                } else {
                    "active"
                },
                matched: u.matched,
            })
            .collect(),
        complete: s.complete,
    }
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

/// The fields that name one resource of one check, first in the records about it: the check, its account
/// (with the name and OU path), region and resource, and the fingerprint of its finding.
#[derive(Debug, Serialize)]
pub struct ResourceRef<'a> {
    pub check_id: &'static str,
    #[serde(flatten)]
    pub account: Owner<'a>,
    pub region: &'a str,
    pub resource_type: &'static str,
    pub resource_id: &'a str,
    pub resource_arn: &'a str,
    pub fingerprint: String,
}

impl<'a> ResourceRef<'a> {
    fn of(r: &'a ScanReport, check_id: &'static str, target: &'a crate::model::Target, resource: &'a crate::model::Resource) -> Self {
        Self {
            check_id,
            account: Owner::of(r, &target.account),
            region: target.region.as_str(),
            resource_type: resource.resource_type,
            resource_id: &resource.id,
            resource_arn: &resource.arn,
            fingerprint: crate::model::Fingerprint::of(check_id, target, &resource.id).to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JsonNotEvaluable<'a> {
    /// With the fingerprint its finding has when it can be read (the Security Hub finding left as it is).
    #[serde(flatten)]
    pub resource: ResourceRef<'a>,
    pub code: &'a str,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct JsonNote<'a> {
    pub account_id: Option<&'a str>,
    pub text: &'a str,
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
    /// Of `duration_ms`, the time before the scan started (the organization walk's critical part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walk_ms: Option<u64>,
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
            findings: JsonFindings(r),
            stale: r
                .history
                .iter()
                .flat_map(|h| &h.stale)
                .map(|s| JsonStale { finding: finding(r, &s.finding), last_seen: time(&s.last_seen), reason: &s.reason })
                .collect(),
            baseline: r.history.as_ref().map(|h| baseline(r, h)),
            suppressions: r.suppressions.as_ref().map(suppressions),
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
                    resource: ResourceRef::of(r, n.check_id, &n.target, &n.resource),
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
                walk_ms: r.stats.walk_ms,
            },
            security_hub: r.stats.security_hub.as_ref().map(JsonSecurityHub::new),
            shard: r.shard.as_ref().map(|s| JsonShard::new(r, s)),
            stopped: r.stopped.as_ref().map(|s| JsonStopped { phase: s.phase.as_str(), not_reached: &s.not_reached }),
        }
    }
}

pub fn to_writer(r: &ScanReport, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &JsonReport::new(r))?;
    w.write_all(b"\n")
}
