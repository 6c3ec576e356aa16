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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_securityhub::types::{
    AwsSecurityFindingFilters, AwsSecurityFindingIdentifier, NoteUpdate, RecordState, StringFilter, StringFilterComparison, WorkflowStatus,
    WorkflowUpdate,
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use super::asff::{self, AsffFinding};
use super::batch;
use super::plan::{Existing, Kind, count, explain, is_retryable, plan_sends, protected_ids, readiness};
use super::workflow;
use crate::aws::limits::Limits;
use crate::aws::{AccountConfig, ClientFactory};
use crate::model::import::{Counts, FailedImport, ImportReport, ImportStatus, TargetImport};
use crate::model::{AccountId, CheckInfo, Finding, Region, ScanReport, ScopeError, Service, Target};

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

impl ImportOptions {
    /// The wait before re-sending after the `attempt`-th send (from 1): doubling, capped at 64 times the first.
    fn backoff(&self, attempt: u32) -> Duration {
        self.retry_backoff.saturating_mul(1 << attempt.saturating_sub(1).min(6))
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { dry_run: false, only_failed: false, max_attempts: 5, retry_backoff: Duration::from_millis(200), concurrency: 16 }
    }
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
    /// The checks evaluated in this target: only their earlier findings are read and archived.
    checks: BTreeSet<&'static str>,
    /// Findings of resources that could not be read: never archived.
    protected: HashSet<String>,
    untouched: Vec<(String, String)>,
    account_name: Option<String>,
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
        for r in readiness(report) {
            let skip = if report.incomplete {
                Some("the scan was interrupted: nothing is imported after a partial scan".to_owned())
            } else {
                r.skip_reason()
            };
            let untouched: Vec<(String, String)> = r.untouched.iter().map(|(c, why)| ((*c).to_owned(), why.clone())).collect();
            let account = r.account;
            match (r.region, skip) {
                (region, Some(reason)) => scopes.push(TargetImport {
                    account,
                    region,
                    status: ImportStatus::Skipped(reason),
                    counts: Counts::default(),
                    untouched,
                }),
                (None, None) => {}
                (Some(region), None) => match configs.get(&account) {
                    Some(config) => {
                        let findings = local.remove(&(account.clone(), region.clone())).unwrap_or_default();
                        let protected = protected_ids(report, &account, &region);
                        let account_name = report.account_name(&account).map(str::to_owned);
                        jobs.push(Job {
                            account,
                            region,
                            config: (*config).clone(),
                            findings,
                            checks: r.checks,
                            protected,
                            untouched,
                            account_name,
                        });
                    }
                    None => scopes.push(TargetImport {
                        status: ImportStatus::Error(ScopeError::internal(format!("no credentials for account {account}"))),
                        account,
                        region: Some(region),
                        counts: Counts::default(),
                        untouched,
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
            scopes.push(TargetImport {
                account,
                region: Some(region),
                status: ImportStatus::Error(e),
                counts: Counts::default(),
                untouched: Vec::new(),
            });
        }
        scopes.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        failures.sort();
        ImportReport { dry_run: self.options.dry_run, only_failed: self.options.only_failed, scopes, failures }
    }

    async fn scope(&self, job: Job<'_>, created_at: &str) -> (TargetImport, Vec<FailedImport>) {
        let target = Target::new(job.account.clone(), job.region.clone());
        let client = self.factory.clients(&job.config, &target.region).securityhub();
        let mut out = TargetImport {
            account: job.account,
            region: Some(job.region),
            status: ImportStatus::Imported,
            counts: Counts::default(),
            untouched: job.untouched,
        };
        let existing = match self.existing(&client, &target, &job.checks).await {
            Ok(e) => e,
            Err(e) => {
                out.status = ImportStatus::Error(e);
                return (out, Vec::new());
            }
        };
        let planned = plan_sends(
            &job.findings,
            &existing,
            &job.protected,
            job.account_name.as_deref(),
            self.options.only_failed,
            created_at,
            self.now,
        );
        let changes = workflow::plan(&job.findings, &existing);
        if self.options.dry_run {
            out.status = ImportStatus::DryRun;
            for (_, kind) in &planned {
                count(&mut out.counts, *kind);
            }
            for c in &changes {
                count_workflow(&mut out.counts, c.status, c.ids.len());
            }
            return (out, Vec::new());
        }
        let kinds: HashMap<String, Kind> = planned.iter().map(|(f, k)| (f.id.clone(), *k)).collect();
        let mut failures = Vec::new();
        for batch in batch::batches(planned.into_iter().map(|(f, _)| f).collect()) {
            let r = self.send(&client, &target, batch).await;
            for id in &r.accepted {
                if let Some(k) = kinds.get(id) {
                    count(&mut out.counts, *k);
                }
            }
            out.counts.failed += r.failed.len();
            failures.extend(r.failed);
            if let Some(e) = r.error {
                out.status = ImportStatus::Error(e);
                break;
            }
        }
        // Workflow changes need the findings in Security Hub: only after every batch went through.
        if out.status == ImportStatus::Imported {
            for change in changes {
                let r = self.update_workflow(&client, &target, &change).await;
                count_workflow(&mut out.counts, change.status, r.accepted.len());
                out.counts.failed += r.failed.len();
                failures.extend(r.failed);
                if let Some(e) = r.error {
                    out.status = ImportStatus::Error(e);
                    break;
                }
            }
        }
        tracing::info!(target = %target, new = out.counts.new, updated = out.counts.updated, archived = out.counts.archived, failed = out.counts.failed, "Security Hub import");
        (out, failures)
    }

    /// orgscan's findings in the target's Security Hub, of the checks this run evaluated there (`GetFindings`,
    /// every page, 3 requests/s). The filters are applied again here: moto ignores them.
    async fn existing(
        &self,
        client: &aws_sdk_securityhub::Client,
        target: &Target,
        evaluated: &BTreeSet<&'static str>,
    ) -> Result<Vec<Existing>, ScopeError> {
        let product = asff::product_arn(target);
        let account = target.account.as_str();
        let filter = |cmp: StringFilterComparison, v: &str| StringFilter::builder().comparison(cmp).value(v).build();
        let filters = AwsSecurityFindingFilters::builder()
            .product_arn(filter(StringFilterComparison::Equals, &product))
            .aws_account_id(filter(StringFilterComparison::Equals, account))
            .generator_id(filter(StringFilterComparison::Prefix, asff::GENERATOR_PREFIX))
            .build();
        let pages = client.get_findings().filters(filters).max_results(100).into_paginator().send();
        let mut out = Vec::new();
        let gate = self.limits.gate(Service::SecurityHubRead, target);
        gate.pages("GetFindings", pages, |page| {
            for f in page.findings() {
                if f.product_arn() != Some(product.as_str()) || f.aws_account_id() != Some(account) {
                    continue;
                }
                let Some(check) = f
                    .generator_id()
                    .and_then(asff::check_of_generator)
                    .filter(|id| evaluated.contains(id))
                    .and_then(|id| self.checks.iter().find(|c| c.id == id))
                else {
                    continue;
                };
                let Some(id) = f.id() else { continue };
                let active = f.record_state() != Some(&RecordState::Archived);
                let archive = if active { AsffFinding::archived_copy(f, check, self.now) } else { None };
                if active && archive.is_none() {
                    tracing::warn!(target = %target, id, "an earlier orgscan finding lacks the fields needed to archive it");
                }
                out.push(Existing {
                    id: id.to_owned(),
                    active,
                    created_at: f.created_at().map(str::to_owned),
                    archive,
                    workflow: f.workflow().and_then(|w| w.status()).map(|s| s.as_str().to_owned()),
                    note: f.note().and_then(|n| n.text()).map(str::to_owned),
                    note_by_orgscan: f.note().and_then(|n| n.updated_by()) == Some(workflow::NOTE_AUTHOR),
                });
            }
        })
        .await
        .map_err(|e| explain(e, target))?;
        Ok(out)
    }

    /// One `BatchUpdateFindings` call (and re-sends of the findings it could not process for a reason that
    /// may pass). Every `UnprocessedFindings` entry is read: the call answers HTTP 200 when some fail.
    async fn update_workflow(&self, client: &aws_sdk_securityhub::Client, target: &Target, change: &workflow::Change) -> BatchResult {
        let mut result = BatchResult::default();
        let product = asff::product_arn(target);
        let status = match change.status {
            workflow::Target::Suppressed => WorkflowStatus::Suppressed,
            workflow::Target::New => WorkflowStatus::New,
        };
        let mut pending = change.ids.clone();
        let max_attempts = self.options.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let ids = pending.iter().map(|id| AwsSecurityFindingIdentifier::builder().id(id).product_arn(&product).build()).collect();
            let response = {
                let _permit = self.limits.permit(Service::SecurityHub, target).await;
                client
                    .batch_update_findings()
                    .set_finding_identifiers(Some(ids))
                    .workflow(WorkflowUpdate::builder().status(status.clone()).build())
                    .note(NoteUpdate::builder().text(&change.note).updated_by(workflow::NOTE_AUTHOR).build())
                    .send()
                    .await
            };
            let out = match response {
                Ok(o) => o,
                Err(e) => {
                    result.error = Some(explain(ScopeError::from_sdk("BatchUpdateFindings", &e), target));
                    return result;
                }
            };
            let mut retry = Vec::new();
            let mut unprocessed = HashSet::new();
            for u in out.unprocessed_findings() {
                let id = u.finding_identifier().and_then(|i| i.id()).unwrap_or("(no id)").to_owned();
                let code = u.error_code().unwrap_or("Unknown");
                unprocessed.insert(id.clone());
                // A finding imported a moment ago may not be visible yet, and a concurrent update may clear.
                let transient = is_retryable(code) || code == "FindingNotFound" || code == "ConcurrentUpdateError";
                if transient && attempt < max_attempts && pending.contains(&id) {
                    retry.push(id);
                } else {
                    result.failed.push(FailedImport {
                        account: target.account.clone(),
                        region: target.region.clone(),
                        finding_id: id,
                        code: code.to_owned(),
                        message: format!("BatchUpdateFindings (workflow {}): {}", status.as_str(), u.error_message().unwrap_or_default()),
                    });
                }
            }
            result.accepted.extend(pending.iter().filter(|id| !unprocessed.contains(*id)).cloned());
            if retry.is_empty() {
                return result;
            }
            tokio::time::sleep(self.options.backoff(attempt)).await;
            attempt += 1;
            pending = retry;
        }
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
            let wait = self.options.backoff(attempt);
            tracing::debug!(target = %target, retry = retry.len(), attempt, "re-sending findings that failed with a retryable code");
            tokio::time::sleep(wait).await;
            attempt += 1;
            pending = retry;
        }
    }
}

fn count_workflow(c: &mut Counts, status: workflow::Target, n: usize) {
    match status {
        workflow::Target::Suppressed => c.suppressed += n,
        workflow::Target::New => c.unsuppressed += n,
    }
}
