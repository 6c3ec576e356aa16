//! The Security Hub sink: imports each (account, region) scope's findings with `BatchImportFindings`, called
//! by that very account (with the default product ARN, Security Hub accepts a finding only from the account
//! named in its `AwsAccountId`; Security Hub API Reference, BatchImportFindings), so that every run updates
//! the same findings in place, resolves the fixed ones and archives the ones no longer reported.
//!
//! Rules that keep Security Hub truthful:
//! - a scope where any check errored or was skipped is never touched: a partial scan never resolves a live
//!   finding;
//! - the response is HTTP 200 even when findings fail: every `FailedFindings` entry is read; retryable ones
//!   are re-sent (only those), the others are reported with their id, code and message;
//! - at most 100 findings and 6 MB per request, 10 requests/s with a burst of 30 per account and region
//!   (partner guide, "Guidelines for using the BatchImportFindings API"); throttling and transient errors of
//!   the whole call are retried by the SDK's standard retry mode.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_securityhub::types::{AwsSecurityFindingFilters, RecordState, StringFilter, StringFilterComparison};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use crate::aws::{AccountConfig, ClientFactory};
use crate::check::CheckInfo;
use crate::error::ScopeError;
use crate::finding::{Finding, Status};
use crate::report::asff::{self, AsffFinding};
use crate::report::{CoverageStatus, ScanReport};
use crate::scan::limits::{Limits, Service};
use crate::target::{AccountId, Region, Target};

/// How the import runs (from `--security-hub*`, `--dry-run` and `--max-attempts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Read Security Hub and count, send nothing.
    pub dry_run: bool,
    /// Send FAILs only; a PASS is sent only to resolve a finding that is active in Security Hub.
    pub only_failed: bool,
    /// Sends of one finding that failed with a retryable `FailedFindings` code, the first included.
    pub max_attempts: u32,
    /// First wait before re-sending failed findings; doubles with each attempt.
    pub retry_backoff: Duration,
    /// Scopes imported at once (the rate limits are per account and region).
    pub concurrency: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { dry_run: false, only_failed: false, max_attempts: 5, retry_backoff: Duration::from_millis(200), concurrency: 16 }
    }
}

/// What was (or, in a dry run, would be) sent to one scope. Only findings Security Hub accepted are counted,
/// except `failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Active (FAIL) findings not yet in Security Hub.
    pub new: usize,
    /// Active (FAIL) findings already in Security Hub, updated in place.
    pub updated: usize,
    /// Findings sent as `ARCHIVED`: PASSes, and earlier findings whose resource is no longer reported.
    pub archived: usize,
    /// Of `archived`: findings that were active in Security Hub before this run.
    pub resolved: usize,
    /// Findings Security Hub refused for good (see the failures list).
    pub failed: usize,
}

impl Counts {
    pub fn imported(&self) -> usize {
        self.new + self.updated
    }

    fn add(&mut self, kind: Kind) {
        match kind {
            Kind::New => self.new += 1,
            Kind::Updated => self.updated += 1,
            Kind::Archived { resolved } => {
                self.archived += 1;
                if resolved {
                    self.resolved += 1;
                }
            }
        }
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.new += o.new;
        self.updated += o.updated;
        self.archived += o.archived;
        self.resolved += o.resolved;
        self.failed += o.failed;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeStatus {
    /// Every batch was sent (individual findings may still have failed: see `Counts::failed`).
    Imported,
    /// `--dry-run`: Security Hub was read, nothing was sent.
    DryRun,
    /// Not touched, and why (the scan did not evaluate every check there).
    Skipped(String),
    /// A call failed (the message says how to fix it where orgscan knows); the counts hold what was sent before.
    Error(ScopeError),
}

impl ScopeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ScopeStatus::Imported => "imported",
            ScopeStatus::DryRun => "dry_run",
            ScopeStatus::Skipped(_) => "skipped",
            ScopeStatus::Error(_) => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeImport {
    pub account: AccountId,
    /// `None` for an account that was not scanned at all.
    pub region: Option<Region>,
    pub status: ScopeStatus,
    pub counts: Counts,
}

/// A finding Security Hub refused for good (a permanent `FailedFindings` code, or a retryable one after the
/// last attempt).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailedImport {
    pub account: AccountId,
    pub region: Region,
    pub finding_id: String,
    pub code: String,
    pub message: String,
}

/// The outcome of `--security-hub`, part of the scan report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub only_failed: bool,
    /// Sorted by account, region.
    pub scopes: Vec<ScopeImport>,
    /// Sorted by account, region, finding id.
    pub failures: Vec<FailedImport>,
}

impl ImportReport {
    /// Whether anything that should have been imported was not: a failed finding or a scope error.
    pub fn has_problems(&self) -> bool {
        !self.failures.is_empty() || self.scopes.iter().any(|s| matches!(s.status, ScopeStatus::Error(_)))
    }

    pub fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for s in &self.scopes {
            t += s.counts;
        }
        t
    }

    pub fn by_account(&self) -> BTreeMap<&AccountId, Counts> {
        let mut m: BTreeMap<&AccountId, Counts> = BTreeMap::new();
        for s in &self.scopes {
            *m.entry(&s.account).or_default() += s.counts;
        }
        m
    }
}

/// How a planned finding changes Security Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    New,
    Updated,
    Archived { resolved: bool },
}

/// An orgscan finding already in Security Hub in the scope (of a check this run evaluated there).
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    pub id: String,
    /// `RecordState` is not `ARCHIVED`.
    pub active: bool,
    pub created_at: Option<String>,
    /// The archived copy to send if this run no longer reports the finding (built for active ones only).
    pub archive: Option<AsffFinding>,
}

/// For every (account, region) of the report: `None` when every check of the run was evaluated there (the
/// scope may be imported), else why it must not be touched.
pub fn readiness(report: &ScanReport) -> Vec<(AccountId, Option<Region>, Option<String>)> {
    #[derive(Default)]
    struct Acc {
        evaluated: BTreeSet<&'static str>,
        error: Option<String>,
        skip: Option<String>,
    }
    let mut m: BTreeMap<(AccountId, Option<Region>), Acc> = BTreeMap::new();
    for c in &report.coverage {
        let a = m.entry((c.account.clone(), c.region.clone())).or_default();
        match &c.status {
            CoverageStatus::Evaluated { .. } => {
                a.evaluated.insert(c.check_id);
            }
            CoverageStatus::Skipped { reason } => {
                a.skip.get_or_insert_with(|| format!("{} was skipped: {reason}", c.check_id));
            }
            CoverageStatus::Error(e) => {
                a.error.get_or_insert_with(|| format!("{} was not evaluated ({})", c.check_id, e.code));
            }
        }
    }
    m.into_iter()
        .map(|((account, region), a)| {
            let reason = if region.is_none() {
                Some(a.error.or(a.skip).unwrap_or_else(|| "the account was not scanned".to_owned()))
            } else if let Some(r) = a.error.or(a.skip) {
                Some(r)
            } else if report.checks.iter().any(|c| !a.evaluated.contains(c.id)) {
                Some("not every check completed in this scope".to_owned())
            } else {
                None
            };
            (account, region, reason)
        })
        .collect()
}

/// What to send to one scope (pure): this run's findings, with `CreatedAt` kept from Security Hub, plus an
/// archived copy of every active earlier finding this run no longer reports. With `only_failed`, a PASS is
/// sent only where it resolves a finding that is active in Security Hub.
pub fn plan_sends(
    local: &[&Finding],
    existing: &[Existing],
    only_failed: bool,
    created_at: &str,
    now: DateTime<Utc>,
) -> Vec<(AsffFinding, Kind)> {
    let by_id: HashMap<&str, &Existing> = existing.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out = Vec::new();
    let mut reported = HashSet::new();
    for f in local {
        let id = asff::finding_id(f);
        let before = by_id.get(id.as_str()).copied();
        let was_active = before.is_some_and(|e| e.active);
        reported.insert(id);
        if only_failed && f.status == Status::Pass && !was_active {
            continue;
        }
        let created = before.and_then(|e| e.created_at.as_deref()).unwrap_or(created_at);
        let a = AsffFinding::from_finding(f, created, now);
        let kind = match (f.status, before) {
            (Status::Pass, _) => Kind::Archived { resolved: was_active },
            (Status::Fail, Some(_)) => Kind::Updated,
            (Status::Fail, None) => Kind::New,
        };
        out.push((a, kind));
    }
    for e in existing {
        if e.active
            && !reported.contains(&e.id)
            && let Some(a) = &e.archive
        {
            out.push((a.clone(), Kind::Archived { resolved: true }));
        }
    }
    out
}

/// `FailedFindings` codes worth re-sending: Security Hub's transient and throttling codes. Anything else
/// (`InvalidInput`, access errors, ...) fails the same way again.
pub fn is_retryable(code: &str) -> bool {
    const TRANSIENT: &[&str] = &[
        "InternalFailure",
        "InternalError",
        "InternalException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    ];
    TRANSIENT.contains(&code) || crate::error::is_throttling_code(code)
}

/// Adds the fix to the errors whose cause orgscan knows.
fn explain(e: ScopeError, target: &Target) -> ScopeError {
    let (account, region) = (&target.account, &target.region);
    let fix = match e.code.as_str() {
        "InvalidAccessException" => format!(
            "Security Hub is not enabled in {region} for account {account}. Fix: enable it there (in that account: \
             `aws securityhub enable-security-hub --region {region}`; for every member: from the Security Hub delegated \
             administrator, `aws securityhub update-organization-configuration --auto-enable --region {region}`), or leave \
             the region out with --exclude-regions {region}"
        ),
        c if c.contains("AccessDenied") || c == "UnauthorizedOperation" => format!(
            "Fix: allow securityhub:BatchImportFindings and securityhub:GetFindings to the role orgscan uses in account {account} \
             (README, Security Hub)"
        ),
        _ => return e,
    };
    ScopeError::new(e.code, format!("{}. {fix}", e.message))
}

/// The sink. Borrowed for one import.
pub struct Sink<'a> {
    pub factory: &'a ClientFactory,
    pub limits: Arc<Limits>,
    pub options: ImportOptions,
    /// The checks of the run: only their earlier findings are archived.
    pub checks: Vec<&'static CheckInfo>,
    /// `UpdatedAt` of everything sent (later than any earlier run's, so Security Hub applies the update).
    pub now: DateTime<Utc>,
}

struct Job<'r> {
    account: AccountId,
    region: Region,
    config: AccountConfig,
    findings: Vec<&'r Finding>,
}

/// What one batch achieved.
#[derive(Default)]
struct BatchResult {
    accepted: Vec<String>,
    failed: Vec<FailedImport>,
    error: Option<ScopeError>,
}

impl Sink<'_> {
    /// Imports every scope of `report` that may be imported, with the credentials of its account from
    /// `accounts`. Stops early when `cancel` completes; unfinished scopes are then reported as errors.
    pub async fn import(&self, report: &ScanReport, accounts: &[AccountConfig], cancel: impl Future<Output = ()>) -> ImportReport {
        let configs: HashMap<&AccountId, &AccountConfig> = accounts.iter().map(|c| (&c.account, c)).collect();
        let mut local: HashMap<(AccountId, Region), Vec<&Finding>> = HashMap::new();
        for f in &report.findings {
            local.entry((f.target.account.clone(), f.target.region.clone())).or_default().push(f);
        }
        let mut scopes = Vec::new();
        let mut jobs = Vec::new();
        for (account, region, reason) in readiness(report) {
            let skip = if report.incomplete {
                Some("the scan was interrupted: nothing is imported after a partial scan".to_owned())
            } else {
                reason
            };
            match (region, skip) {
                (region, Some(reason)) => {
                    scopes.push(ScopeImport { account, region, status: ScopeStatus::Skipped(reason), counts: Counts::default() })
                }
                (None, None) => {}
                (Some(region), None) => match configs.get(&account) {
                    Some(config) => {
                        let findings = local.remove(&(account.clone(), region.clone())).unwrap_or_default();
                        jobs.push(Job { account, region, config: (*config).clone(), findings });
                    }
                    None => scopes.push(ScopeImport {
                        status: ScopeStatus::Error(ScopeError::internal(format!("no credentials for account {account}"))),
                        account,
                        region: Some(region),
                        counts: Counts::default(),
                    }),
                },
            }
        }

        let mut pending: BTreeSet<(AccountId, Region)> = jobs.iter().map(|j| (j.account.clone(), j.region.clone())).collect();
        let mut failures = Vec::new();
        let created_at = asff::timestamp(report.started_at);
        let results = stream::iter(jobs).map(|job| self.scope(job, &created_at)).buffer_unordered(self.options.concurrency.max(1));
        tokio::pin!(results);
        tokio::pin!(cancel);
        loop {
            tokio::select! {
                biased;
                () = &mut cancel => break,
                next = results.next() => match next {
                    None => break,
                    Some((scope, failed)) => {
                        if let Some(region) = &scope.region {
                            pending.remove(&(scope.account.clone(), region.clone()));
                        }
                        scopes.push(scope);
                        failures.extend(failed);
                    }
                }
            }
        }
        for (account, region) in pending {
            let e = ScopeError::new("Interrupted", "the import was interrupted before this scope completed; it may be partly imported");
            scopes.push(ScopeImport { account, region: Some(region), status: ScopeStatus::Error(e), counts: Counts::default() });
        }
        scopes.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        failures.sort();
        ImportReport { dry_run: self.options.dry_run, only_failed: self.options.only_failed, scopes, failures }
    }

    async fn scope(&self, job: Job<'_>, created_at: &str) -> (ScopeImport, Vec<FailedImport>) {
        let target = Target::new(job.account.clone(), job.region.clone());
        let client = self.factory.clients(&job.config, &target.region).securityhub();
        let mut out =
            ScopeImport { account: job.account, region: Some(job.region), status: ScopeStatus::Imported, counts: Counts::default() };
        let existing = match self.existing(&client, &target).await {
            Ok(e) => e,
            Err(e) => {
                out.status = ScopeStatus::Error(e);
                return (out, Vec::new());
            }
        };
        let planned = plan_sends(&job.findings, &existing, self.options.only_failed, created_at, self.now);
        if self.options.dry_run {
            out.status = ScopeStatus::DryRun;
            for (_, kind) in &planned {
                out.counts.add(*kind);
            }
            return (out, Vec::new());
        }
        let kinds: HashMap<String, Kind> = planned.iter().map(|(f, k)| (f.id.clone(), *k)).collect();
        let mut failures = Vec::new();
        for batch in asff::batches(planned.into_iter().map(|(f, _)| f).collect()) {
            let r = self.send(&client, &target, batch).await;
            for id in &r.accepted {
                if let Some(k) = kinds.get(id) {
                    out.counts.add(*k);
                }
            }
            out.counts.failed += r.failed.len();
            failures.extend(r.failed);
            if let Some(e) = r.error {
                out.status = ScopeStatus::Error(e);
                break;
            }
        }
        tracing::info!(target = %target, new = out.counts.new, updated = out.counts.updated, archived = out.counts.archived, failed = out.counts.failed, "Security Hub import");
        (out, failures)
    }

    /// orgscan's findings in the scope's Security Hub, of the checks this run evaluated (`GetFindings`, every
    /// page, 3 requests/s). The filters are applied again here: moto ignores them.
    async fn existing(&self, client: &aws_sdk_securityhub::Client, target: &Target) -> Result<Vec<Existing>, ScopeError> {
        let product = asff::product_arn(target);
        let account = target.account.as_str();
        let filter = |cmp: StringFilterComparison, v: &str| StringFilter::builder().comparison(cmp).value(v).build();
        let filters = AwsSecurityFindingFilters::builder()
            .product_arn(filter(StringFilterComparison::Equals, &product))
            .aws_account_id(filter(StringFilterComparison::Equals, account))
            .generator_id(filter(StringFilterComparison::Prefix, asff::GENERATOR_PREFIX))
            .build();
        let mut pages = client.get_findings().filters(filters).max_results(100).into_paginator().send();
        let mut out = Vec::new();
        loop {
            let permit = self.limits.permit(Service::SecurityHubRead, target).await;
            let Some(page) = pages.next().await else { break };
            drop(permit);
            let page = page.map_err(|e| explain(ScopeError::from_sdk("GetFindings", &e), target))?;
            for f in page.findings() {
                if f.product_arn() != Some(product.as_str()) || f.aws_account_id() != Some(account) {
                    continue;
                }
                let Some(check) =
                    f.generator_id().and_then(asff::check_of_generator).and_then(|id| self.checks.iter().find(|c| c.id == id))
                else {
                    continue;
                };
                let Some(id) = f.id() else { continue };
                let active = f.record_state() != Some(&RecordState::Archived);
                let archive = if active { AsffFinding::archived_copy(f, check, self.now) } else { None };
                if active && archive.is_none() {
                    tracing::warn!(target = %target, id, "an earlier orgscan finding lacks the fields needed to archive it");
                }
                out.push(Existing { id: id.to_owned(), active, created_at: f.created_at().map(str::to_owned), archive });
            }
        }
        Ok(out)
    }

    /// Sends one batch; re-sends only the findings that failed with a retryable code, with backoff.
    async fn send(&self, client: &aws_sdk_securityhub::Client, target: &Target, batch: Vec<AsffFinding>) -> BatchResult {
        let mut result = BatchResult::default();
        let mut pending = batch;
        let max_attempts = self.options.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let sdk = pending.iter().map(AsffFinding::to_sdk).collect();
            let response = {
                let _permit = self.limits.permit(Service::SecurityHub, target).await;
                client.batch_import_findings().set_findings(Some(sdk)).send().await
            };
            let out = match response {
                Ok(o) => o,
                Err(e) => {
                    result.error = Some(explain(ScopeError::from_sdk("BatchImportFindings", &e), target));
                    return result;
                }
            };
            let failed = out.failed_findings();
            let failed_ids: HashSet<&str> = failed.iter().filter_map(|f| f.id()).collect();
            result.accepted.extend(pending.iter().filter(|f| !failed_ids.contains(f.id.as_str())).map(|f| f.id.clone()));
            let mut retry = Vec::new();
            for f in failed {
                let id = f.id().unwrap_or("(no id)");
                let code = f.error_code().unwrap_or("Unknown");
                let message = f.error_message().unwrap_or_default();
                let again = is_retryable(code) && attempt < max_attempts;
                match pending.iter().find(|p| p.id == id) {
                    Some(p) if again => retry.push(p.clone()),
                    _ => {
                        let message = if is_retryable(code) { format!("{message} (after {attempt} attempts)") } else { message.to_owned() };
                        result.failed.push(FailedImport {
                            account: target.account.clone(),
                            region: target.region.clone(),
                            finding_id: id.to_owned(),
                            code: code.to_owned(),
                            message,
                        });
                    }
                }
            }
            let count = usize::try_from(out.failed_count().unwrap_or(0)).unwrap_or(0);
            if count > failed.len() {
                result.failed.push(FailedImport {
                    account: target.account.clone(),
                    region: target.region.clone(),
                    finding_id: "(unlisted)".to_owned(),
                    code: "UnlistedFailure".to_owned(),
                    message: format!("FailedCount is {count} but only {} FailedFindings entries were returned", failed.len()),
                });
            }
            if retry.is_empty() {
                return result;
            }
            let wait = self.options.retry_backoff.saturating_mul(1 << (attempt - 1).min(6));
            tracing::debug!(target = %target, retry = retry.len(), attempt, "re-sending findings that failed with a retryable code");
            tokio::time::sleep(wait).await;
            attempt += 1;
            pending = retry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::report::{Coverage, ScanScope, Stats};

    fn target(region: &str) -> Target {
        Target::new("123456789012".parse().unwrap(), region.parse().unwrap())
    }

    fn kms(id: &str, status: Status) -> Finding {
        let b = Finding::builder(check::kms::INFO, &target("eu-west-1")).resource(
            "AwsKmsKey",
            id,
            format!("arn:aws:kms:eu-west-1:123456789012:key/{id}"),
        );
        match status {
            Status::Fail => b.fail("pending"),
            Status::Pass => b.pass("fine"),
        }
        .build()
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z").unwrap().to_utc()
    }

    fn existing(f: &Finding, active: bool) -> Existing {
        let a = AsffFinding::from_finding(f, "2026-01-01T00:00:00.000Z", now());
        let archive = active.then(|| {
            let mut archived = a.clone();
            archived.record_state = "ARCHIVED".into();
            archived
        });
        Existing { id: a.id, active, created_at: Some("2026-01-01T00:00:00.000Z".into()), archive }
    }

    fn kinds(p: &[(AsffFinding, Kind)]) -> Vec<(String, Kind)> {
        p.iter().map(|(f, k)| (f.id.clone(), *k)).collect()
    }

    #[test]
    fn every_finding_is_sent_new_updated_or_archived_and_gone_ones_are_archived() {
        let (fail_new, fail_old, pass_fixed, gone) =
            (kms("a", Status::Fail), kms("b", Status::Fail), kms("c", Status::Pass), kms("d", Status::Fail));
        let before = [existing(&fail_old, true), existing(&kms("c", Status::Fail), true), existing(&gone, true)];
        let p = plan_sends(&[&fail_new, &fail_old, &pass_fixed], &before, false, "2026-11-28T09:00:00.000Z", now());
        let id = asff::finding_id;
        assert_eq!(
            kinds(&p),
            vec![
                (id(&fail_new), Kind::New),
                (id(&fail_old), Kind::Updated),
                (id(&pass_fixed), Kind::Archived { resolved: true }),
                (id(&gone), Kind::Archived { resolved: true }),
            ]
        );
        assert_eq!(p[0].0.created_at, "2026-11-28T09:00:00.000Z");
        assert_eq!(p[1].0.created_at, "2026-01-01T00:00:00.000Z", "CreatedAt is kept from Security Hub");
        assert_eq!(p[3].0.record_state, "ARCHIVED");
    }

    #[test]
    fn only_failed_sends_a_pass_only_to_resolve_an_active_finding() {
        let (pass_new, pass_fixed, pass_archived) = (kms("a", Status::Pass), kms("b", Status::Pass), kms("c", Status::Pass));
        let before = [existing(&kms("b", Status::Fail), true), existing(&pass_archived, false)];
        let p = plan_sends(&[&pass_new, &pass_fixed, &pass_archived], &before, true, "x", now());
        assert_eq!(kinds(&p), vec![(asff::finding_id(&pass_fixed), Kind::Archived { resolved: true })]);
        // An archived earlier finding that is gone stays as it is.
        let p = plan_sends(&[], &[existing(&kms("z", Status::Fail), false)], false, "x", now());
        assert!(p.is_empty());
    }

    #[test]
    fn retryable_codes_are_transient_or_throttling_only() {
        for c in ["InternalFailure", "ThrottlingException", "TooManyRequestsException", "LimitExceededException", "ServiceUnavailable"] {
            assert!(is_retryable(c), "{c}");
        }
        for c in ["InvalidInput", "AccessDeniedException", "InvalidAccessException", "FindingSizeExceeded", ""] {
            assert!(!is_retryable(c), "{c}");
        }
    }

    #[test]
    fn the_invalid_access_error_says_how_to_enable_security_hub() {
        let e = explain(ScopeError::new("InvalidAccessException", "BatchImportFindings: not subscribed"), &target("eu-west-2"));
        assert!(e.message.contains("aws securityhub enable-security-hub --region eu-west-2"), "{}", e.message);
        assert!(e.message.contains("--exclude-regions eu-west-2") && e.message.contains("123456789012"));
        let e = explain(ScopeError::new("AccessDeniedException", "no"), &target("eu-west-2"));
        assert!(e.message.contains("securityhub:BatchImportFindings"));
        assert_eq!(explain(ScopeError::new("Other", "m"), &target("eu-west-2")).message, "m");
    }

    #[test]
    fn only_fully_evaluated_scopes_are_ready() {
        let acc = |a: &str| a.parse::<AccountId>().unwrap();
        let reg = |r: &str| Some(r.parse::<Region>().unwrap());
        let cov = |check: &'static str, a: &str, r: Option<Region>, status: CoverageStatus| Coverage {
            check_id: check,
            account: acc(a),
            region: r,
            status,
        };
        let ok = || CoverageStatus::Evaluated { resources: 1, not_applicable: 0 };
        let (k, g) = (check::kms::INFO.id, check::guardduty::INFO.id);
        let report = ScanReport {
            tool_version: "0",
            started_at: now(),
            finished_at: now(),
            scope: ScanScope::Account(acc("111111111111")),
            checks: vec![check::kms::INFO, check::guardduty::INFO],
            findings: vec![],
            coverage: vec![
                cov(k, "111111111111", reg("eu-west-1"), ok()),
                cov(g, "111111111111", reg("eu-west-1"), ok()),
                cov(k, "111111111111", reg("eu-west-2"), ok()),
                cov(g, "111111111111", reg("eu-west-2"), CoverageStatus::Error(ScopeError::new("AccessDenied", "no"))),
                cov(k, "111111111111", reg("af-south-1"), CoverageStatus::Skipped { reason: "region not enabled".into() }),
                cov(g, "111111111111", reg("af-south-1"), CoverageStatus::Skipped { reason: "region not enabled".into() }),
                cov(k, "111111111111", reg("us-east-1"), ok()),
                cov(k, "222222222222", None, CoverageStatus::Error(ScopeError::new("AccessDenied", "role"))),
            ],
            errors: vec![],
            stats: Stats::default(),
            incomplete: false,
        };
        let r = readiness(&report);
        let get = |a: &str, region: Option<Region>| r.iter().find(|x| x.0 == acc(a) && x.1 == region).map(|x| x.2.clone()).unwrap();
        assert_eq!(get("111111111111", reg("eu-west-1")), None);
        assert_eq!(get("111111111111", reg("eu-west-2")).as_deref(), Some("guardduty-enabled was not evaluated (AccessDenied)"));
        assert!(get("111111111111", reg("af-south-1")).unwrap().contains("region not enabled"));
        assert_eq!(get("111111111111", reg("us-east-1")).as_deref(), Some("not every check completed in this scope"));
        assert!(get("222222222222", None).unwrap().contains("AccessDenied"));
    }
}
