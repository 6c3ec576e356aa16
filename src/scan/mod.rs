//! The scanner: fans (account × region × check) out with bounded concurrency, and keeps the books of
//! coverage so that nothing that was not evaluated is ever reported as passing.

pub mod limits;
pub mod regions;
pub mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use crate::aws::{AccountConfig, ClientFactory};
use crate::check::{Check, CheckContext, CheckSettings, Evaluation};
use crate::error::ScopeError;
use crate::report::{Coverage, CoverageStatus, ErrorEntry, ScanReport, ScanScope, Stats};
use crate::target::{AccountId, Partition, Region, Target};

use self::limits::Limits;
use self::regions::{RegionPlan, ResolvedRegions};

/// An account to scan: its configuration (credentials), or why it cannot be scanned.
pub struct AccountPlan {
    pub account: AccountId,
    pub partition: Partition,
    pub source: AccountSource,
}

pub enum AccountSource {
    Ready(AccountConfig),
    /// The account cannot be scanned at all (e.g. the role cannot be assumed): one error entry.
    Failed(ScopeError),
    /// The account is deliberately not scanned (e.g. suspended): skipped with this reason.
    Skipped(String),
}

/// Observes progress (the terminal progress bar); called from the scan loop, never concurrently.
pub trait Progress: Send {
    fn accounts_total(&mut self, _n: usize) {}
    fn account_done(&mut self) {}
    fn targets_planned(&mut self, _n: usize) {}
    fn scope_done(&mut self, _findings: usize, _failed: usize, _error: bool) {}
}

/// No progress output.
pub struct Silent;
impl Progress for Silent {}

pub struct Scanner {
    pub factory: ClientFactory,
    pub limits: Arc<Limits>,
    pub checks: Vec<&'static dyn Check>,
    pub settings: CheckSettings,
    /// Scopes (check × target) run at once; the API-call caps live in `limits`.
    pub concurrency: usize,
}

struct ScopeResult {
    check: &'static dyn Check,
    target: Target,
    /// The account confirmed the region enabled (see `ResolvedRegions`).
    region_confirmed: bool,
    result: Result<Evaluation, ScopeError>,
}

enum Event {
    /// An account's regions were resolved (or it failed / was skipped as a whole).
    Account {
        plan_account: AccountId,
        outcome: AccountOutcome,
    },
    Scope(ScopeResult),
}

enum AccountOutcome {
    Regions(ResolvedRegions),
    Failed(ScopeError, Option<Vec<Region>>),
    Skipped(String, Option<Vec<Region>>),
}

impl Scanner {
    /// Scans every account of `accounts` in the regions of `regions`. Stops early when `cancel` completes,
    /// and still returns everything gathered so far (marked incomplete).
    pub async fn run(
        &self,
        scope: ScanScope,
        accounts: Vec<AccountPlan>,
        regions: &RegionPlan,
        cancel: impl Future<Output = ()>,
        progress: &mut dyn Progress,
    ) -> ScanReport {
        let started_at = Utc::now();
        let clock = Instant::now();
        let scan_time = started_at;
        let n_accounts = accounts.len();
        progress.accounts_total(n_accounts);
        let mut book = Book { unresolved: accounts.iter().map(|a| a.account.clone()).collect(), ..Book::default() };

        // Accounts flow through region discovery into scopes, one stream, so the first scopes start while
        // later accounts are still being resolved.
        let events = stream::iter(accounts)
            .map(|plan| async move { self.resolve_account(plan, regions).await })
            .buffer_unordered(self.concurrency.clamp(1, 16))
            .flat_map(|(plan_account, config, outcome)| {
                let mut scopes = Vec::new();
                if let (AccountOutcome::Regions(resolved), Some(config)) = (&outcome, config) {
                    for r in &resolved.regions {
                        for c in &self.checks {
                            scopes.push((config.clone(), Target::new(plan_account.clone(), r.clone()), *c, resolved.confirmed_enabled));
                        }
                    }
                }
                let head = stream::once(async move { Either::Left(Event::Account { plan_account, outcome }) });
                let tail = stream::iter(scopes).map(Either::Right);
                head.chain(tail)
            })
            .map(|item| async move {
                match item {
                    Either::Left(ev) => ev,
                    Either::Right((config, target, check, confirmed)) => {
                        Event::Scope(self.run_scope(&config, target, check, confirmed, scan_time).await)
                    }
                }
            })
            .buffer_unordered(self.concurrency.max(1));

        let mut incomplete = false;
        tokio::pin!(events);
        tokio::pin!(cancel);
        loop {
            tokio::select! {
                biased;
                () = &mut cancel => {
                    incomplete = true;
                    break;
                }
                next = events.next() => match next {
                    None => break,
                    Some(Event::Account { plan_account, outcome }) => {
                        progress.account_done();
                        if let AccountOutcome::Regions(resolved) = &outcome {
                            progress.targets_planned(resolved.regions.len() * self.checks.len());
                        }
                        book.account(&self.checks, plan_account, outcome);
                    }
                    Some(Event::Scope(r)) => {
                        let (n, failed) = match &r.result {
                            Ok(e) => (e.findings.len(), e.findings.iter().filter(|f| f.status == crate::finding::Status::Fail).count()),
                            Err(_) => (0, 0),
                        };
                        progress.scope_done(n, failed, r.result.is_err());
                        book.scope(r);
                    }
                }
            }
        }

        if incomplete {
            book.interrupt(&self.checks);
        }
        // Every call of the run counts, the walker's (STS, Organizations) included: the factory is per run.
        let api = self.factory.stats().snapshot();
        let mut report = book.finish(scope, self.checks.iter().map(|c| c.info()).collect(), n_accounts);
        report.started_at = started_at;
        report.finished_at = Utc::now();
        report.incomplete = incomplete;
        report.stats.duration_ms = clock.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
        report.stats.api = api;
        report
    }

    async fn resolve_account(&self, plan: AccountPlan, regions: &RegionPlan) -> (AccountId, Option<AccountConfig>, AccountOutcome) {
        match plan.source {
            AccountSource::Failed(e) => (plan.account, None, AccountOutcome::Failed(e, regions.explicit())),
            AccountSource::Skipped(reason) => (plan.account, None, AccountOutcome::Skipped(reason, regions.explicit())),
            AccountSource::Ready(config) => {
                let clients = self.factory.clients(&config, &self.factory.home_region());
                let home = Target::new(plan.account.clone(), self.factory.home_region());
                let resolved = regions.resolve(&clients, &self.limits, &home, plan.partition).await;
                (plan.account, Some(config), AccountOutcome::Regions(resolved))
            }
        }
    }

    async fn run_scope(
        &self,
        config: &AccountConfig,
        target: Target,
        check: &'static dyn Check,
        region_confirmed: bool,
        scan_time: DateTime<Utc>,
    ) -> ScopeResult {
        let cx = CheckContext {
            clients: self.factory.clients(config, &target.region),
            target,
            limits: self.limits.clone(),
            scan_time,
            settings: self.settings.clone(),
        };
        let mut result = check.run(&cx).await;
        // A session that expired early (revoked, clock skew): renew it and run the scope once more.
        if let Err(e) = &result
            && e.is_expired_token()
            && config.invalidate_credentials()
        {
            tracing::info!(target = %cx.target, check = check.info().id, "session expired; assuming the role again");
            result = check.run(&cx).await;
        }
        if let Err(e) = &mut result {
            // Connection failures and timeouts do not say where the call went: name the endpoint.
            if matches!(e.code.as_str(), "DispatchFailure" | "TimeoutError") {
                e.message = format!("{} (endpoint: {})", e.message, cx.clients.endpoint(check.info().service));
            }
            tracing::debug!(target = %cx.target, check = check.info().id, code = %e.code, "scope error");
        } else if let Ok(e) = &result {
            tracing::debug!(target = %cx.target, check = check.info().id, findings = e.findings.len(), "scope evaluated");
        }
        ScopeResult { check, target: cx.target, region_confirmed, result }
    }
}

enum Either<L, R> {
    Left(L),
    Right(R),
}

/// The books of a scan: findings, coverage and errors as they arrive.
#[derive(Default)]
struct Book {
    findings: Vec<crate::finding::Finding>,
    coverage: Vec<Coverage>,
    errors: Vec<ErrorEntry>,
    accounts_failed: BTreeSet<AccountId>,
    accounts_scanned: BTreeSet<AccountId>,
    regions: BTreeSet<Region>,
    /// Per account: how its regions were found (e.g. the bundled list stood in for the Account API).
    notes: Vec<(AccountId, String)>,
    /// Accounts whose regions are not known yet.
    unresolved: BTreeSet<AccountId>,
    /// Scopes planned and not finished yet.
    pending: BTreeSet<(&'static str, AccountId, Region)>,
}

impl Book {
    fn account(&mut self, checks: &[&'static dyn Check], account: AccountId, outcome: AccountOutcome) {
        self.unresolved.remove(&account);
        match outcome {
            AccountOutcome::Regions(resolved) => {
                self.accounts_scanned.insert(account.clone());
                for r in &resolved.regions {
                    self.pending.extend(checks.iter().map(|c| (c.info().id, account.clone(), r.clone())));
                }
                self.regions.extend(resolved.regions);
                if let Some(n) = resolved.note {
                    self.notes.push((account, n));
                }
            }
            AccountOutcome::Failed(e, regions) => {
                self.accounts_failed.insert(account.clone());
                self.errors.push(ErrorEntry { account: account.clone(), region: None, check_id: None, error: e.clone() });
                let detail = ScopeError::new(e.code.clone(), format!("account not scanned: {}", e.message));
                for_each_scope(checks, regions, |check_id, region| {
                    self.coverage.push(Coverage {
                        check_id,
                        account: account.clone(),
                        region,
                        status: CoverageStatus::Error(detail.clone()),
                    });
                });
            }
            AccountOutcome::Skipped(reason, regions) => {
                for_each_scope(checks, regions, |check_id, region| {
                    self.coverage.push(Coverage {
                        check_id,
                        account: account.clone(),
                        region,
                        status: CoverageStatus::Skipped { reason: reason.clone() },
                    });
                });
            }
        }
    }

    fn scope(&mut self, r: ScopeResult) {
        let check_id = r.check.info().id;
        self.pending.remove(&(check_id, r.target.account.clone(), r.target.region.clone()));
        let status = match r.result {
            Ok(e) => {
                let status = CoverageStatus::Evaluated { resources: e.findings.len(), not_applicable: e.not_applicable };
                self.findings.extend(e.findings);
                status
            }
            Err(e) if e.is_region_not_enabled() && r.target.region.is_opt_in() && !r.region_confirmed => {
                CoverageStatus::Skipped { reason: format!("region not enabled for this account ({})", e.code) }
            }
            Err(e) => CoverageStatus::Error(e),
        };
        self.coverage.push(Coverage { check_id, account: r.target.account, region: Some(r.target.region), status });
    }

    /// After an interruption: every scope that was planned and did not finish is an error, so coverage
    /// still accounts for every (check, account, region) and nothing unfinished reads as clean.
    fn interrupt(&mut self, checks: &[&'static dyn Check]) {
        let interrupted = ScopeError::new("Interrupted", "the scan was interrupted before this scope finished");
        for (check_id, account, region) in std::mem::take(&mut self.pending) {
            self.coverage.push(Coverage { check_id, account, region: Some(region), status: CoverageStatus::Error(interrupted.clone()) });
        }
        for account in std::mem::take(&mut self.unresolved) {
            self.errors.push(ErrorEntry { account: account.clone(), region: None, check_id: None, error: interrupted.clone() });
            for_each_scope(checks, None, |check_id, region| {
                self.coverage.push(Coverage {
                    check_id,
                    account: account.clone(),
                    region,
                    status: CoverageStatus::Error(interrupted.clone()),
                });
            });
        }
    }

    fn finish(mut self, scope: ScanScope, checks: Vec<&'static crate::check::CheckInfo>, accounts: usize) -> ScanReport {
        self.skip_regions_blocked_by_scp();
        for c in &self.coverage {
            // An account that failed as a whole already has its one error entry.
            if self.accounts_failed.contains(&c.account) {
                continue;
            }
            if let (CoverageStatus::Error(e), Some(region)) = (&c.status, &c.region) {
                self.errors.push(ErrorEntry {
                    account: c.account.clone(),
                    region: Some(region.clone()),
                    check_id: Some(c.check_id),
                    error: e.clone(),
                });
            }
        }
        let mut report = ScanReport {
            tool_version: env!("CARGO_PKG_VERSION"),
            started_at: Utc::now(),
            finished_at: Utc::now(),
            scope,
            checks,
            findings: self.findings,
            coverage: self.coverage,
            errors: self.errors,
            stats: Stats {
                accounts,
                accounts_scanned: self.accounts_scanned.len(),
                accounts_failed: self.accounts_failed.len(),
                regions: self.regions.len(),
                ..Stats::default()
            },
            incomplete: false,
        };
        for (account, note) in self.notes {
            tracing::info!(%account, "{note}");
        }
        report.sort();
        report
    }

    /// A region where every check of an account was refused by an explicit deny in a service control
    /// policy is a region the organization has closed: skipped with that reason, not an error.
    fn skip_regions_blocked_by_scp(&mut self) {
        let mut by_scope: BTreeMap<(AccountId, Region), (usize, usize)> = BTreeMap::new();
        for c in &self.coverage {
            if let Some(region) = &c.region {
                let e = by_scope.entry((c.account.clone(), region.clone())).or_default();
                e.0 += 1;
                if matches!(&c.status, CoverageStatus::Error(err) if err.is_scp_deny()) {
                    e.1 += 1;
                }
            }
        }
        for c in &mut self.coverage {
            let Some(region) = &c.region else { continue };
            let Some(&(total, denied)) = by_scope.get(&(c.account.clone(), region.clone())) else { continue };
            if total > 1
                && total == denied
                && let CoverageStatus::Error(e) = &c.status
            {
                c.status = CoverageStatus::Skipped { reason: format!("region blocked by a service control policy ({})", e.code) };
            }
        }
    }
}

/// Calls `f` for every (check, region) of an account; with no known regions, once per check.
fn for_each_scope(checks: &[&'static dyn Check], regions: Option<Vec<Region>>, mut f: impl FnMut(&'static str, Option<Region>)) {
    for c in checks {
        match &regions {
            Some(rs) => rs.iter().for_each(|r| f(c.info().id, Some(r.clone()))),
            None => f(c.info().id, None),
        }
    }
}
