//! orgscan: audit a whole AWS Organization for five security best practices.
//!
//! The flow (see ARCHITECTURE.md): CLI → [`config::ScanPlan`] → [`org`] walker → [`scan::Scanner`] →
//! [`model::ScanReport`] → outputs ([`report`]) and the Security Hub sink ([`securityhub`]). Checks never
//! render or import; renderers never call AWS.
//!
//! Layers, from the bottom: `model` and `files` (leaves), `aws`, `check`, `org`, `scan`, `triage`, `securityhub`,
//! `store` and `notify` (the S3 and notification sinks), `report` and `fix` (orgscan fix), `merge` (orgscan merge),
//! then `cli`, `config`, `progress`, `deliver`, `remediate` (orgscan fix, wired) and this file, which wires one run. A module
//! imports only from layers below it (tests/integration/architecture.rs holds the tree to it).

pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod files;
pub mod fix;
pub mod iam;
pub mod json;
pub mod merge;
pub mod model;
pub mod notify;
pub mod org;
pub mod progress;
pub mod remediate;
pub mod report;
pub mod scan;
pub mod securityhub;
pub mod store;
pub mod triage;

pub use deliver::{Published, Remote, RemoteError, prepare_remote, publish};
pub use remediate::{AfterFix, FixError, FixOutcome, FixUi, run_fix};
pub use report::write_outputs;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;

use crate::aws::limits::Limits;
use crate::aws::{AccountConfig, ClientFactory};
use crate::config::{ScanPlan, Selection};
use crate::model::{AccountId, Note, ScanReport};
use crate::org::{AccountSource, OrgStart, WalkError, Walker};
use crate::scan::{Progress, Scanner};

/// Role chaining limits a session to one hour (IAM User Guide, "Role chaining"; STS AssumeRole,
/// `DurationSeconds`: "if you assume a role using role chaining and provide a DurationSeconds parameter value
/// greater than one hour, the operation fails").
const MAX_CHAINED_SESSION: std::time::Duration = std::time::Duration::from_secs(3600);

/// The rate limits and in-flight caps of one run: each service's budget from the registry.
pub(crate) fn limits(plan: &ScanPlan) -> Arc<Limits> {
    Arc::new(Limits::with_rates(check::rate).with_concurrency(plan.concurrency, plan.per_account_concurrency))
}

/// Runs a whole scan: who am I, which accounts, then every (account, region, check).
///
/// Fails only when the scan cannot start (no credentials, organization not listable); every later
/// failure is recorded in the report.
pub async fn run_scan(
    plan: &ScanPlan,
    factory: ClientFactory,
    cancel: impl Future<Output = ()>,
    progress: &mut dyn Progress,
) -> Result<ScanReport, WalkError> {
    Ok(run_scan_with_accounts(plan, factory, cancel, progress).await?.report)
}

/// A scan's report and the configuration (credentials) of every account that could be reached, which the
/// Security Hub import needs: `BatchImportFindings` must be called by the account a finding belongs to.
pub struct ScanOutcome {
    pub report: ScanReport,
    pub accounts: Vec<AccountConfig>,
}

/// [`run_scan`], keeping the accounts' configurations.
pub async fn run_scan_with_accounts(
    plan: &ScanPlan,
    factory: ClientFactory,
    cancel: impl Future<Output = ()>,
    progress: &mut dyn Progress,
) -> Result<ScanOutcome, WalkError> {
    let clock = scan::RunClock::now();
    let limits = limits(plan);
    // One stop for every phase: the walk as the scopes (a stop before the first scope must not kill the run).
    tokio::pin!(cancel);
    let (caller, home) = tokio::select! {
        biased;
        () = &mut cancel => return Err(WalkError::Stopped),
        r = org::whoami(&factory) => r?,
    };
    let factory = factory.with_home_region(home);
    tracing::info!(account = %caller.account, partition = %caller.partition, "scanning as {}", caller.arn);
    let mut notes = Vec::new();
    let mut access = plan.access.clone();
    if caller.is_assumed_role() && access.session_duration > MAX_CHAINED_SESSION {
        let text = format!(
            "the caller is an assumed role ({}), so each audit-role session is role chaining, which AWS caps at one hour: \
             --session-duration {} lowered to {}",
            caller.arn,
            access.session_duration.as_secs(),
            MAX_CHAINED_SESSION.as_secs()
        );
        tracing::warn!("{text}");
        notes.push(Note { account: None, text });
        access.session_duration = MAX_CHAINED_SESSION;
    }
    if let Some(regions) = plan.regions.explicit() {
        let foreign: Vec<String> = regions.iter().filter(|r| r.partition() != caller.partition).map(|r| r.to_string()).collect();
        if !foreign.is_empty() {
            return Err(WalkError::Partition { regions: foreign.join(","), partition: caller.partition });
        }
    }
    let walker = Walker {
        factory: &factory,
        limits: limits.clone(),
        caller: caller.clone(),
        access: &access,
        session_name: format!("orgscan-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
        read_delegated: plan.settings.deep,
    };
    // The scan starts as soon as the accounts are listed; their roles are assumed as the scan takes them, and
    // the OU tree is read beside the scan (joined into the report below).
    let (mut org, own) = match &plan.selection {
        Selection::ThisAccount => (OrgStart::this_account(&caller.account), Some(walker.own_account()?)),
        Selection::Organization(sel) => tokio::select! {
            biased;
            () = &mut cancel => return Ok(ScanOutcome { report: stopped_in_walk(plan, &caller.account, sel, notes, &factory), accounts: Vec::new() }),
            r = walker.start(sel) => (r?, None),
        },
    };
    let book: Vec<AccountId> = match &own {
        Some(p) => vec![p.account.clone()],
        None => org.accounts.iter().map(|(a, _)| a.clone()).collect(),
    };
    let plans = match own {
        Some(p) => futures::stream::iter(vec![p]).left_stream(),
        None => walker.account_plans(std::mem::take(&mut org.accounts)).right_stream(),
    };
    // The accounts reached, for the Security Hub import (`BatchImportFindings` runs in each member account).
    let configs = std::sync::Mutex::new(Vec::new());
    let plans = plans.inspect(|a| {
        if let AccountSource::Ready(c) = &a.source {
            configs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(c.clone());
        }
    });
    let mut settings = plan.settings.clone();
    settings.delegated_admins = Arc::new(std::mem::take(&mut org.delegated_admins));
    let scanner = Scanner {
        factory: factory.clone(),
        limits,
        checks: plan.checks.clone(),
        settings,
        concurrency: plan.concurrency,
        scp_denied: plan.scp_denied,
    };
    let subject = org.subject.clone();
    let accounts = scan::Accounts { ids: book, plans };
    let report = scanner.run(subject, accounts, &plan.regions, clock, &mut cancel, progress).await;
    let configs = configs.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let report = finish(plan, report, org, notes, &factory, &mut cancel).await;
    Ok(ScanOutcome { report, accounts: configs })
}

/// The scan's report completed: its stop (if any), the OU tree joined (or named as not reached when a stop
/// ends the wait), the walk's errors and notes, the shard section, and triage. The API calls and the duration
/// are taken again once the tree is in: its listings may end after the last scope.
async fn finish(
    plan: &ScanPlan,
    mut report: ScanReport,
    mut org: OrgStart,
    notes: Vec<Note>,
    factory: &ClientFactory,
    mut cancel: impl Future<Output = ()> + Unpin,
) -> ScanReport {
    let waited = std::time::Instant::now();
    report.stopped = report.incomplete.then(|| model::Stopped { phase: model::Phase::Scan, not_reached: report.interrupted_accounts() });
    if report.incomplete {
        // Stopped: the cancel future has completed (and must not be polled again); the tree is not waited for.
        org.abandon_tree();
    } else {
        // A stop while the tree is still being read ends the wait (and the read).
        let stopped = tokio::select! {
            biased;
            () = &mut cancel => true,
            () = org.join_tree() => false,
        };
        if stopped {
            // The scopes are whole; what the stop left unread is the OU tree, so the run is incomplete.
            org.abandon_tree();
            let not_reached = vec!["the OU tree: the findings carry no OU path".to_owned()];
            report.stopped = Some(model::Stopped { phase: model::Phase::Walk, not_reached });
        }
    }
    // Every call of the run counts, the tree's made after the last scope included, and so does the wait.
    report.stats.api = factory.stats().snapshot();
    report.stats.duration_ms = report.stats.duration_ms.saturating_add(waited.elapsed().as_millis().try_into().unwrap_or(u64::MAX));
    report.finished_at = chrono::Utc::now();
    let selection = std::mem::take(&mut org.selection);
    report.accounts = org.infos;
    // An organization entry that could not be taken is an error of the scan, never silently dropped.
    report.errors.extend(org.errors);
    report.notes.extend(org.notes);
    report.notes.extend(notes);
    // The books sorted everything else; only the notes were added here.
    report.notes.sort();
    report.partial = plan.partial.clone();
    if let Selection::Organization(org::OrgSelection { shard: Some(shard), .. }) = &plan.selection {
        // A shard's own SARIF gets a category of its own, so uploading it never closes the other shards' alerts;
        // the merged report takes back the selection's.
        let words = format!("shard={shard}");
        report.partial = Some(plan.partial.as_ref().map_or(words.clone(), |p| format!("{p}/{words}")));
        report.shard = Some(model::ShardInfo::new(*shard, selection, plan.partial.clone()));
    }
    report.fail_policy = plan.fail_policy;
    let today = report.started_at.date_naive();
    triage::apply(&mut report, plan.baseline.as_ref(), plan.suppressions.as_ref(), today);
    report
}

/// The report of a scan stopped during the organization walk: each account selected (or the organization)
/// is named as not reached, and a baseline's FAILs are carried forward.
fn stopped_in_walk(plan: &ScanPlan, caller: &AccountId, sel: &org::OrgSelection, notes: Vec<Note>, factory: &ClientFactory) -> ScanReport {
    let mut report = ScanReport::stopped_in_walk(caller, plan.checks.iter().map(|c| c.info()).collect(), sel.not_reached());
    (report.notes, report.partial, report.fail_policy) = (notes, plan.partial.clone(), plan.fail_policy);
    report.stats.api = factory.stats().snapshot();
    let today = report.started_at.date_naive();
    triage::apply(&mut report, plan.baseline.as_ref(), plan.suppressions.as_ref(), today);
    report
}

/// `--security-hub`: imports the findings of every fully evaluated (account, region) scope with that
/// account's credentials, and records the outcome (and the calls it made) in the report.
pub async fn import_security_hub(outcome: &mut ScanOutcome, plan: &ScanPlan, factory: &ClientFactory, cancel: impl Future<Output = ()>) {
    let sink = securityhub::Sink {
        factory,
        limits: limits(plan),
        options: plan.security_hub.import_options(plan.concurrency, plan.aws.max_attempts),
        checks: outcome.report.checks.clone(),
        now: chrono::Utc::now(),
    };
    let imported = sink.import(&outcome.report, &outcome.accounts, cancel).await;
    outcome.report.stopped = outcome.report.stopped.take().or_else(|| imported.stopped());
    outcome.report.stats.security_hub = Some(imported);
    outcome.report.stats.api = factory.stats().snapshot();
}

/// `orgscan merge`: reads the shard reports, joins them, and triages the result (baseline, suppressions) as
/// one scan's; makes no AWS call. Fails (exit 2) when a report cannot be read or does not belong.
/// A stop (Ctrl-C, SIGTERM; `stopped` says so) is honoured before each shard report: the reports not read are
/// missing shards (their accounts unscanned, the result incomplete) and the report names them.
pub fn run_merge(plan: &config::merge::MergePlan, stopped: &dyn Fn() -> bool) -> Result<ScanReport, String> {
    let (mut report, not_reached) = merge::merge_until(&plan.reports, stopped)?;
    if !not_reached.is_empty() {
        report.incomplete = true;
        report.stopped = Some(model::Stopped { phase: model::Phase::Merge, not_reached });
    }
    report.fail_policy = plan.fail_policy;
    let today = report.started_at.date_naive();
    triage::apply(&mut report, plan.baseline.as_ref(), plan.suppressions.as_ref(), today);
    Ok(report)
}
