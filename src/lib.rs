//! orgscan: audit a whole AWS Organization for five security best practices.
//!
//! The flow (see DESIGN.md): CLI → [`config::ScanPlan`] → [`org`] walker → [`scan::Scanner`] →
//! [`report::ScanReport`] → outputs. Checks never render or import; renderers never call AWS.

pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod finding;
pub mod org;
pub mod progress;
pub mod report;
pub mod scan;
pub mod securityhub;
pub mod target;

use std::future::Future;
use std::sync::Arc;

use crate::aws::{AccountConfig, ClientFactory};
use crate::config::{ScanPlan, ScopePlan};
use crate::org::{WalkError, Walker};
use crate::report::{ScanReport, ScanScope};
use crate::scan::limits::Limits;
use crate::scan::{AccountSource, Progress, Scanner};

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
    let limits = Arc::new(Limits::default().with_concurrency(plan.concurrency, plan.per_account_concurrency));
    let caller = org::whoami(&factory).await?;
    tracing::info!(account = %caller.account, partition = %caller.partition, "scanning as {}", caller.arn);
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
        access: &plan.access,
        session_name: format!("orgscan-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
    };
    let (scope, accounts) = match &plan.scope {
        ScopePlan::ThisAccount => (ScanScope::Account(caller.account.clone()), vec![walker.own_account()?]),
        ScopePlan::Organization(sel) => walker.plan(sel).await?,
    };
    let scanner = Scanner {
        factory: factory.clone(),
        limits,
        checks: plan.checks.clone(),
        settings: plan.settings.clone(),
        concurrency: plan.concurrency,
    };
    let configs = accounts
        .iter()
        .filter_map(|a| match &a.source {
            AccountSource::Ready(c) => Some(c.clone()),
            AccountSource::Failed(_) | AccountSource::Skipped(_) => None,
        })
        .collect();
    let report = scanner.run(scope, accounts, &plan.regions, cancel, progress).await;
    Ok(ScanOutcome { report, accounts: configs })
}

/// `--security-hub`: imports the findings of every fully evaluated (account, region) scope with that
/// account's credentials, and records the outcome (and the calls it made) in the report.
pub async fn import_security_hub(outcome: &mut ScanOutcome, plan: &ScanPlan, factory: &ClientFactory, cancel: impl Future<Output = ()>) {
    let sink = securityhub::Sink {
        factory,
        limits: Arc::new(Limits::default().with_concurrency(plan.concurrency, plan.per_account_concurrency)),
        options: plan.security_hub.import_options(plan.concurrency, plan.aws.max_attempts),
        checks: outcome.report.checks.clone(),
        now: chrono::Utc::now(),
    };
    let imported = sink.import(&outcome.report, &outcome.accounts, cancel).await;
    outcome.report.stats.security_hub = Some(imported);
    outcome.report.stats.api = factory.stats().snapshot();
}

/// Writes every requested output file, atomically. Returns the errors (one per file that failed).
pub fn write_outputs(report: &ScanReport, outputs: &config::Outputs) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(p) = &outputs.json
        && let Err(e) = report::write_atomic(p, |w| report::json::to_writer(report, w))
    {
        errors.push(format!("cannot write JSON report '{}': {e}", p.display()));
    }
    // SARIF: everything is rendered and checked against GitHub's limits before the first byte is written,
    // so an output GitHub would reject is never written (the error names the option that makes it fit).
    let limits = report::sarif::Limits::GITHUB;
    let category = outputs.sarif_category.as_deref();
    if let Some(p) = &outputs.sarif {
        match report::sarif::render_file(report, category, &limits) {
            Ok(file) => {
                if let Err(e) = report::write_atomic(p, |w| std::io::Write::write_all(w, &file.bytes)) {
                    errors.push(format!("cannot write SARIF '{}': {e}", p.display()));
                }
            }
            Err(e) => errors.push(format!("SARIF '{}' not written: {e}", p.display())),
        }
    }
    if let Some(dir) = &outputs.sarif_dir {
        match report::sarif::render_dir(report, category, &limits) {
            Ok(files) => {
                for file in files {
                    let p = dir.join(&file.file_name);
                    if let Err(e) = report::write_atomic(&p, |w| std::io::Write::write_all(w, &file.bytes)) {
                        errors.push(format!("cannot write SARIF '{}': {e}", p.display()));
                    }
                }
            }
            Err(e) => errors.push(format!("SARIF files in '{}' not written: {e}", dir.display())),
        }
    }
    errors
}
