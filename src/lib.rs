//! orgscan: audit a whole AWS Organization for five security best practices.
//!
//! The flow (see DESIGN.md): CLI → [`config::ScanPlan`] → [`org`] walker → [`scan::Scanner`] →
//! [`model::ScanReport`] → outputs ([`report`]) and the Security Hub sink ([`securityhub`]). Checks never
//! render or import; renderers never call AWS.
//!
//! Layers, from the bottom: `model` and `files` (leaves), `aws`, `check`, `org`, `scan`, `triage`, `securityhub`,
//! `report`, then `cli`, `config`, `progress` and this file, which wires one run. A module imports only from
//! layers below it (tests/integration/architecture.rs holds the tree to it).

pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod files;
pub mod model;
pub mod org;
pub mod progress;
pub mod report;
pub mod scan;
pub mod securityhub;
pub mod triage;

pub use report::write_outputs;

use std::future::Future;
use std::sync::Arc;

use crate::aws::limits::Limits;
use crate::aws::{AccountConfig, ClientFactory};
use crate::config::{ScanPlan, Selection};
use crate::model::{Note, ScanReport, Subject};
use crate::org::{AccountSource, OrgPlan, WalkError, Walker};
use crate::scan::{Progress, Scanner};

/// Role chaining limits a session to one hour (IAM User Guide, "Role chaining"; STS AssumeRole,
/// `DurationSeconds`: "if you assume a role using role chaining and provide a DurationSeconds parameter value
/// greater than one hour, the operation fails").
const MAX_CHAINED_SESSION: std::time::Duration = std::time::Duration::from_secs(3600);

/// The rate limits and in-flight caps of one run: each service's budget from the registry.
fn limits(plan: &ScanPlan) -> Arc<Limits> {
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
    let limits = limits(plan);
    let (caller, home) = org::whoami(&factory).await?;
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
    };
    let org = match &plan.selection {
        Selection::ThisAccount => OrgPlan {
            subject: Subject::Account(caller.account.clone()),
            accounts: vec![walker.own_account()?],
            infos: Default::default(),
            notes: Vec::new(),
        },
        Selection::Organization(sel) => walker.plan(sel).await?,
    };
    let (subject, accounts) = (org.subject, org.accounts);
    let scanner = Scanner {
        factory: factory.clone(),
        limits,
        checks: plan.checks.clone(),
        settings: plan.settings.clone(),
        concurrency: plan.concurrency,
        scp_denied: plan.scp_denied,
    };
    let configs = accounts
        .iter()
        .filter_map(|a| match &a.source {
            AccountSource::Ready(c) => Some(c.clone()),
            AccountSource::Failed(_) | AccountSource::Skipped(_) => None,
        })
        .collect();
    let mut report = scanner.run(subject, accounts, &plan.regions, cancel, progress).await;
    report.accounts = org.infos;
    report.notes.extend(org.notes);
    report.notes.extend(notes);
    // The books sorted everything else; only the notes were added here.
    report.notes.sort();
    report.partial = plan.partial.clone();
    report.fail_policy = plan.fail_policy;
    let today = report.started_at.date_naive();
    triage::apply(&mut report, plan.baseline.as_ref(), plan.suppressions.as_ref(), today);
    Ok(ScanOutcome { report, accounts: configs })
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
    outcome.report.stats.security_hub = Some(imported);
    outcome.report.stats.api = factory.stats().snapshot();
}
