//! The scan report, the single input of every output: findings, coverage, errors and statistics.
//!
//! Vocabulary (one meaning each):
//! - a **target** is one (partition, account, region);
//! - a **scope** is one (check, target): the unit of coverage, which ends evaluated, skipped or in error;
//! - the **subject** is what the whole scan covered (an organization, named accounts, or one account);
//! - the **selection** is what the user asked for (accounts, OUs, regions, checks); the **plan** is the
//!   validated selection with every other option, ready to run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::check_info::CheckInfo;
use super::error::ScopeError;
use super::finding::{Finding, Fingerprint, Resource, Status};
use super::history::{History, Suppressions};
use super::import::ImportReport;
use super::shard::ShardInfo;
use super::target::{AccountId, Region, Target};
use super::triage::{BaselineState, FailPolicy};

/// API call counts for one (service, operation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OpCounts {
    /// Calls made by orgscan (one per SDK operation invocation).
    pub calls: u64,
    /// HTTP attempts, retries included.
    pub attempts: u64,
    /// Attempts answered with a throttling error.
    pub throttled: u64,
}

/// How one (check, account, region) scope ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageStatus {
    /// Every resource was read, except the `not_evaluable` ones (listed in `ScanReport::not_evaluable`).
    Evaluated {
        resources: usize,
        not_applicable: usize,
        not_evaluable: usize,
    },
    Skipped {
        reason: String,
    },
    /// The organization closed the scope: an explicit deny in a service control policy refused `action`
    /// (e.g. Control Tower's Region deny). Counted as a skip, like a region that is not enabled.
    ClosedByPolicy {
        action: String,
        error: ScopeError,
    },
    Error(ScopeError),
}

impl CoverageStatus {
    /// The JSON report's `status`: a scope closed by policy is `skipped` (its `skip_cause` says why).
    pub fn as_str(&self) -> &'static str {
        match self {
            CoverageStatus::Evaluated { .. } => "evaluated",
            CoverageStatus::Skipped { .. } | CoverageStatus::ClosedByPolicy { .. } => "skipped",
            CoverageStatus::Error(_) => "error",
        }
    }

    pub fn is_skip(&self) -> bool {
        matches!(self, CoverageStatus::Skipped { .. } | CoverageStatus::ClosedByPolicy { .. })
    }

    /// Why the scope was skipped, in words (`None` unless it was).
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            CoverageStatus::Skipped { reason } => Some(reason.clone()),
            CoverageStatus::ClosedByPolicy { action, error } => {
                Some(format!("closed by a service control policy: {action} is denied ({})", error.code))
            }
            CoverageStatus::Evaluated { .. } | CoverageStatus::Error(_) => None,
        }
    }
}

/// A resource the check listed but could not read (its describe call was denied, e.g. by a KMS key policy
/// that does not allow the caller, or failed): never a PASS, never a FAIL, and its earlier Security Hub
/// finding is left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEvaluable {
    pub check_id: &'static str,
    pub target: Target,
    pub resource: Resource,
    pub error: ScopeError,
}

impl NotEvaluable {
    /// The fingerprint the resource's finding has (or would have): see [`Finding::fingerprint`].
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.check_id, &self.target, &self.resource.id)
    }
}

/// Something the user should know that is neither a finding nor an error: a fallback taken, a detail that
/// could not be read (e.g. the bundled region list stood in for the Account API, the OU tree was not readable).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note {
    /// The account it concerns; `None` for the scan as a whole.
    pub account: Option<AccountId>,
    pub text: String,
}

/// What the organization says about an account: its name and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub name: String,
    /// `Root/Prod/EU` (OU names from the root down); `None` when the tree was not read.
    pub ou_path: Option<String>,
    /// The ids of the OUs the account is under, from the root down (empty when the tree was not read).
    pub ous: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub check_id: &'static str,
    pub account: AccountId,
    /// `None` when the scope failed before its regions were known (e.g. the role could not be assumed).
    pub region: Option<Region>,
    pub status: CoverageStatus,
}

/// An error entry: one scope, a whole target (region), or a whole account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    pub account: AccountId,
    pub region: Option<Region>,
    pub check_id: Option<&'static str>,
    pub error: ScopeError,
}

/// What the scan covered, for titles and SARIF categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `--this-account`.
    Account(AccountId),
    /// The organization `id`, scanned from the `caller` account.
    Organization { id: String, caller: AccountId },
    /// Accounts named with `--accounts` (or an organization whose id could not be read).
    Accounts { caller: AccountId },
}

impl Subject {
    pub fn caller(&self) -> &AccountId {
        match self {
            Subject::Account(a) | Subject::Organization { caller: a, .. } | Subject::Accounts { caller: a } => a,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub accounts: usize,
    pub accounts_scanned: usize,
    pub accounts_failed: usize,
    pub regions: usize,
    /// The whole run, the walk included.
    pub duration_ms: u64,
    /// The part of the run before the scan started (who am I, the account listing); `None` where unknown
    /// (a merged report, a report read back).
    pub walk_ms: Option<u64>,
    /// Per (service, operation) as the SDK names them.
    pub api: BTreeMap<(String, String), OpCounts>,
    /// What the Security Hub import (`--security-hub`) sent, per scope; `None` when it did not run.
    pub security_hub: Option<ImportReport>,
}

impl Stats {
    pub fn api_calls(&self) -> u64 {
        self.api.values().map(|c| c.calls).sum()
    }

    pub fn retries(&self) -> u64 {
        self.api.values().map(|c| c.attempts.saturating_sub(c.calls)).sum()
    }

    pub fn throttled(&self) -> u64 {
        self.api.values().map(|c| c.throttled).sum()
    }

    pub fn calls_by_service(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((service, _), c) in &self.api {
            *out.entry(service.clone()).or_default() += c.calls;
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    pub tool_version: &'static str,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub subject: Subject,
    /// The checks that were run, in registry order.
    pub checks: Vec<&'static CheckInfo>,
    /// Sorted by check, account, region, resource.
    pub findings: Vec<Finding>,
    /// Sorted by check, account, region.
    pub coverage: Vec<Coverage>,
    /// Sorted by account, region, check.
    pub errors: Vec<ErrorEntry>,
    /// Resources listed but not readable, sorted by check, account, region, resource.
    pub not_evaluable: Vec<NotEvaluable>,
    /// Names and OU paths of the organization's accounts (empty when the organization was not listed).
    pub accounts: BTreeMap<AccountId, AccountInfo>,
    /// Sorted by account (the scan's own first), then text.
    pub notes: Vec<Note>,
    pub stats: Stats,
    /// True when the scan was interrupted: what was gathered is reported, the rest is missing.
    pub incomplete: bool,
    /// What the selection narrowed, for the SARIF category: `None` for a full scan (every check, every
    /// enabled region, every account of the subject), else its words, e.g. `checks=kms-key-not-pending-deletion`.
    pub partial: Option<String>,
    /// The comparison with `--baseline`.
    pub history: Option<History>,
    /// `--suppressions`: the rules and what each matched.
    pub suppressions: Option<Suppressions>,
    /// `--fail-on` and `--fail-severity`.
    pub fail_policy: FailPolicy,
    /// `--shard INDEX/COUNT`: which shard of a sharded scan this is, and the full selection; `None` for a
    /// scan of the whole selection (a merged report included).
    pub shard: Option<ShardInfo>,
    /// The run was stopped (Ctrl-C, SIGTERM): in which phase, and what it did not reach; `None` otherwise.
    pub stopped: Option<Stopped>,
}

/// The phase of a run a stop (Ctrl-C, SIGTERM) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The organization walk: accounts, OUs, delegated administrators, role assumption.
    Walk,
    /// The scopes (check x account x region).
    Scan,
    /// `--security-hub`: the import.
    SecurityHubImport,
    /// `orgscan merge`: reading the shard reports.
    Merge,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Walk => "walk",
            Phase::Scan => "scan",
            Phase::SecurityHubImport => "security_hub_import",
            Phase::Merge => "merge",
        }
    }
}

/// A stopped run: the phase it was in and, in words, each thing it did not reach (accounts, scopes, shard
/// reports), so a reader (and a `--baseline` run after it) knows what this report does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub phase: Phase,
    pub not_reached: Vec<String>,
}

/// The schema version of the JSON report this orgscan writes (`schemas/report.schema.json`).
pub const REPORT_SCHEMA_VERSION: &str = "3";
/// The versions it reads back as a baseline: 2 adds baseline states, stale FAILs and suppressions to 1; 3
/// adds the WARNING status, the findings' `related` resources and the `shard` section of sharded scans
/// (absent otherwise) to 2.
pub const REPORT_SCHEMA_VERSIONS_READ: &[&str] = &["1", "2", "3"];

/// Exit codes (documented in `--help` and the README).
///
/// A CI step acts on them without parsing files: 0 and 1 are complete scans; 3 and 4 are the same verdicts
/// with something unread (do not let the run close alerts it did not check); 5 means an output the pipeline
/// expects is missing, whatever was found; 2 and 6 mean nothing was scanned (fix the invocation, or retry).
/// Stable: a code never changes meaning.
pub mod exit {
    /// Every scope evaluated (skips by region or SCP allowed), nothing failed, every output written.
    pub const OK: u8 = 0;
    /// At least one FAIL that fails the scan (unsuppressed, under the `FailPolicy`), every scope evaluated.
    pub const FAILED: u8 = 1;
    /// Bad invocation or configuration (nothing was scanned): the message names the value.
    pub const USAGE: u8 = 2;
    /// No FAIL, but something was not evaluated: scope errors, resources not evaluable, an interrupted scan,
    /// an incomplete Security Hub import, or nothing evaluated at all.
    pub const INCOMPLETE: u8 = 3;
    /// FAILs found, and something was not evaluated (as for 3).
    pub const FAILED_INCOMPLETE: u8 = 4;
    /// An output could not be written or was refused (e.g. SARIF over GitHub's limits); wins over 0, 1, 3, 4.
    pub const OUTPUT: u8 = 5;
    /// AWS could not be reached, or the scan could not start for a reason that may pass (throttling or
    /// 5xx after every retry, a timeout): nothing was scanned; retry later.
    pub const UNAVAILABLE: u8 = 6;
}

impl ScanReport {
    /// An empty report of `subject` for `checks`, started and finished now: the books fill it in.
    pub fn new(subject: Subject, checks: Vec<&'static CheckInfo>) -> Self {
        let now = chrono::Utc::now();
        Self {
            tool_version: env!("CARGO_PKG_VERSION"),
            started_at: now,
            finished_at: now,
            subject,
            checks,
            findings: Vec::new(),
            coverage: Vec::new(),
            errors: Vec::new(),
            not_evaluable: Vec::new(),
            accounts: BTreeMap::new(),
            notes: Vec::new(),
            stats: Stats::default(),
            incomplete: false,
            partial: None,
            history: None,
            suppressions: None,
            fail_policy: FailPolicy::default(),
            shard: None,
            stopped: None,
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Fail)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Warn)
    }

    /// FAILs and WARNINGs: what the outputs list as open.
    pub fn open(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status.is_open())
    }

    /// This run's FAILs in `state` against the baseline (0 without one).
    pub fn baseline_count(&self, state: BaselineState) -> usize {
        self.failures().filter(|f| f.triage.baseline == Some(state)).count()
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.coverage.iter().any(|c| matches!(c.status, CoverageStatus::Error(_)))
    }

    /// Whether anything the scan set out to read was not read: a scope error or a resource not evaluable.
    pub fn has_gaps(&self) -> bool {
        self.has_errors() || !self.not_evaluable.is_empty()
    }

    pub fn account_name(&self, account: &AccountId) -> Option<&str> {
        self.accounts.get(account).map(|a| a.name.as_str())
    }

    pub fn ou_path(&self, account: &AccountId) -> Option<&str> {
        self.accounts.get(account).and_then(|a| a.ou_path.as_deref())
    }

    /// Whether something the scan set out to do was not done: scopes or resources unread, an interruption,
    /// an incomplete Security Hub import, or nothing evaluated at all.
    pub fn is_incomplete(&self) -> bool {
        self.has_gaps()
            || self.incomplete
            || self.stopped.is_some()
            || self.stats.security_hub.as_ref().is_some_and(|s| s.has_problems())
            || !self.evaluated_anything()
    }

    /// The FAILs (and WARNINGs with `--fail-on-warning`) that fail the scan under its [`FailPolicy`]:
    /// unsuppressed, severe enough, new if asked, of this run or carried forward from the baseline.
    pub fn failing(&self) -> impl Iterator<Item = &Finding> {
        let stale = self.history.iter().flat_map(|h| h.stale.iter().map(|s| (&s.finding, true)));
        // A WARNING counts only with `--fail-on-warning`, at its reported (low) severity.
        let fails = |f: &Finding, stale: bool| match f.status {
            Status::Pass => false,
            Status::Fail => self.fail_policy.counts(&f.triage, f.severity(), stale),
            Status::Warn => self.fail_policy.warnings && self.fail_policy.counts(&f.triage, super::Severity::Low, stale),
        };
        self.open().map(|f| (f, false)).chain(stale).filter(move |(f, stale)| fails(f, *stale)).map(|(f, _)| f)
    }

    /// The exit code of the scan itself (outputs that could not be written make it `exit::OUTPUT`).
    pub fn exit_code(&self) -> u8 {
        match (self.failing().next().is_some(), self.is_incomplete()) {
            (false, false) => exit::OK,
            (true, false) => exit::FAILED,
            (false, true) => exit::INCOMPLETE,
            (true, true) => exit::FAILED_INCOMPLETE,
        }
    }

    /// Whether at least one scope was evaluated: a scan that evaluated nothing (no account matched, every
    /// region skipped) assures nothing and never exits 0.
    pub fn evaluated_anything(&self) -> bool {
        self.coverage.iter().any(|c| matches!(c.status, CoverageStatus::Evaluated { .. }))
    }

    /// The report of a run stopped during the organization walk: no scope, one `Interrupted` error on the
    /// caller, `incomplete`, and `not_reached` named.
    pub fn stopped_in_walk(caller: &AccountId, checks: Vec<&'static CheckInfo>, not_reached: Vec<String>) -> Self {
        let mut report = Self::new(Subject::Accounts { caller: caller.clone() }, checks);
        let error = ScopeError::new("Interrupted", "stopped during the organization walk, before any account was scanned");
        report.errors.push(ErrorEntry { account: caller.clone(), region: None, check_id: None, error });
        report.incomplete = true;
        report.stopped = Some(Stopped { phase: Phase::Walk, not_reached });
        report
    }

    /// The accounts with a scope a stop interrupted, each with how many of its scopes it left unfinished.
    pub fn interrupted_accounts(&self) -> Vec<String> {
        let mut by_account: BTreeMap<&AccountId, usize> = BTreeMap::new();
        for c in &self.coverage {
            if matches!(&c.status, CoverageStatus::Error(e) if e.code == "Interrupted") {
                *by_account.entry(&c.account).or_default() += 1;
            }
        }
        by_account.into_iter().map(|(a, n)| format!("account {a}: {n} scope(s) not finished")).collect()
    }

    /// Puts everything in its deterministic order.
    pub fn sort(&mut self) {
        sort_findings(&mut self.findings);
        self.coverage.sort_by(|a, b| (a.check_id, &a.account, &a.region).cmp(&(b.check_id, &b.account, &b.region)));
        self.errors.sort_by(|a, b| (&a.account, &a.region, a.check_id).cmp(&(&b.account, &b.region, b.check_id)));
        self.notes.sort();
        self.not_evaluable.sort_by(|a, b| {
            (a.check_id, &a.target.account, &a.target.region, &a.resource.id).cmp(&(
                b.check_id,
                &b.target.account,
                &b.target.region,
                &b.resource.id,
            ))
        });
    }
}

/// Sorts `findings` by [`Finding::sort_key`], stably, without a second copy of them: a stable sort of the
/// findings themselves would take scratch room for half of them (184 MB for a million), so the positions are
/// sorted instead and the findings then moved into place, cycle by cycle.
pub fn sort_findings(findings: &mut [Finding]) {
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| findings[a].sort_key().cmp(&findings[b].sort_key()));
    // `order[i]` is the position whose finding belongs at `i`; an entry set to its own index is in place.
    for start in 0..order.len() {
        let mut at = start;
        loop {
            let from = order[at];
            order[at] = at;
            if from == start || from == at {
                break;
            }
            findings.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_sort_stably_in_place_as_a_stable_sort_does() {
        let check = crate::model::finding::tests::KMS;
        let account: AccountId = "123456789012".parse().unwrap();
        let mut findings = Vec::new();
        // Every permutation pattern of a few keys, with equal keys told apart by their message.
        for (i, key) in [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3].into_iter().enumerate() {
            let t = crate::model::Target::new(account.clone(), "eu-west-1".parse().unwrap());
            findings.push(
                Finding::builder(check, &t)
                    .resource("AwsKmsKey", format!("k{key}"), format!("arn:k{key}"))
                    .pass(format!("{i}"))
                    .build()
                    .unwrap(),
            );
        }
        let mut expected = findings.clone();
        expected.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        sort_findings(&mut findings);
        let messages = |v: &[Finding]| v.iter().map(|f| f.message.clone()).collect::<Vec<_>>();
        assert_eq!(messages(&findings), messages(&expected));
        sort_findings(&mut []);
    }
}
