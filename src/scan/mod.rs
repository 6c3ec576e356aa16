//! The scanner: fans (account × region × check) out with bounded concurrency, and keeps the books of
//! coverage so that nothing that was not evaluated is ever reported as passing.

mod book;
mod dependents;
pub mod regions;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use self::book::Book;
use self::regions::{RegionPlan, ResolvedRegions};
use crate::aws::limits::Limits;
use crate::aws::{AccountConfig, ClientFactory};
use crate::check::{Check, CheckContext, CheckSettings, Evaluation};
use crate::model::{AccountId, Note, Region, ScanReport, ScopeError, Status, Subject, Target};
use crate::org::{AccountPlan, AccountSource};

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
    pub checks: Vec<&'static Check>,
    pub settings: CheckSettings,
    /// Scopes (check × target) run at once; the API-call caps live in `limits`.
    pub concurrency: usize,
    /// What an explicit deny in a service control policy makes of a scope.
    pub scp_denied: ScpDenied,
}

/// `--scp-denied`: a scope whose calls a service control policy explicitly denies is skipped (the
/// organization closed it, e.g. Control Tower's Region deny), or, for teams that want every deny to count
/// as incomplete, an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScpDenied {
    #[default]
    Skip,
    Error,
}

pub(crate) struct ScopeResult {
    pub(crate) check: &'static Check,
    pub(crate) target: Target,
    /// The account confirmed the region enabled (see `ResolvedRegions`).
    pub(crate) region_confirmed: bool,
    pub(crate) result: Result<Evaluation, ScopeError>,
}

enum Event {
    /// An account's regions were resolved (or it failed / was skipped as a whole).
    Account {
        plan_account: AccountId,
        outcome: AccountOutcome,
    },
    Scope(ScopeResult),
}

pub(crate) enum AccountOutcome {
    Regions(ResolvedRegions),
    Failed(ScopeError, Option<Vec<Region>>),
    Skipped(String, Option<Vec<Region>>),
}

impl Scanner {
    /// Scans every account of `accounts` in the regions of `regions`, taking each account's plan from `plans`
    /// as it comes (its role assumed). Stops early when `cancel` completes, and still returns everything
    /// gathered so far (marked incomplete). `run` is the instant the run began (before the walk): the
    /// report's start and duration cover the whole run, and `stats.walk_ms` the part before this scan.
    pub async fn run(
        &self,
        subject: Subject,
        accounts: Accounts<impl futures::Stream<Item = AccountPlan>>,
        regions: &RegionPlan,
        run: RunClock,
        cancel: impl Future<Output = ()>,
        progress: &mut dyn Progress,
    ) -> ScanReport {
        let walk_ms = millis(run.instant.elapsed());
        let scan_time = run.started_at;
        let Accounts { ids, plans } = accounts;
        let n_accounts = ids.len();
        progress.accounts_total(n_accounts);
        let mut book = Book::new(ids);

        // Accounts flow from the walker (roles assumed) through region discovery into scopes, one stream, so
        // the first scopes start while later accounts are still being reached and resolved.
        let events = plans
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
                            Ok(e) => (e.findings.len(), e.findings.iter().filter(|f| f.status == Status::Fail).count()),
                            Err(_) => (0, 0),
                        };
                        progress.scope_done(n, failed, r.result.is_err());
                        book.scope(r, self.scp_denied);
                    }
                }
            }
        }

        if incomplete {
            book.interrupt(&self.checks);
        }
        // Every call of the run counts, the walker's (STS, Organizations) included: the factory is per run.
        let api = self.factory.stats().snapshot();
        let (mut report, keys) = book.finish(subject, self.checks.iter().map(|c| c.info()).collect(), n_accounts);
        if self.settings.deep {
            dependents::link(&mut report, &keys);
        }
        for c in &self.checks {
            let notes = (c.notes)(&self.settings, scan_time, &report.findings);
            report.notes.extend(notes.into_iter().map(|text| Note { account: None, text }));
        }
        report.notes.sort();
        report.started_at = run.started_at;
        report.finished_at = Utc::now();
        report.incomplete = incomplete;
        report.stats.duration_ms = millis(run.instant.elapsed());
        report.stats.walk_ms = Some(walk_ms);
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
        check: &'static Check,
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

/// The accounts a scan covers: every id (the coverage book expects each), and their plans as the walker
/// makes them ready.
pub struct Accounts<S> {
    pub ids: Vec<AccountId>,
    pub plans: S,
}

/// When a run began, on the wall clock (the report's `started_at`, the date checks evaluate against) and on
/// the monotonic clock (its duration).
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    pub started_at: DateTime<Utc>,
    pub instant: Instant,
}

impl RunClock {
    pub fn now() -> Self {
        Self { started_at: Utc::now(), instant: Instant::now() }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

enum Either<L, R> {
    Left(L),
    Right(R),
}
