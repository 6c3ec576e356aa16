//! `orgscan fix`, wired: the FAILs of a report (or of a scan run first), the plan, the trust checks, the
//! journaled changes through the remediation role, and the rescan of what was changed. The workflow's parts
//! live in `fix/`; this module runs them with the scan and the walker (the layer above `config`).

use std::collections::HashMap;

use crate::aws::ClientFactory;
use crate::model::{AccountId, ScanReport};
use crate::org::{AccountSource, WalkError, Walker};
use crate::{check, config, fix, limits, model, org, run_scan, scan};

/// What `orgscan fix` shows as it goes: the plan, one line per step, the rescan; and the confirmation.
pub trait FixUi {
    fn say(&mut self, text: &str);
    /// Whether to make `changes` changes (asked only with `--apply` on a terminal without `--yes`).
    fn confirm(&mut self, changes: usize) -> bool;
}

/// What became of a selected FAIL, as the rescan read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFix {
    Pass,
    /// No longer failing, but a WARNING (e.g. moved to a runtime deprecated within --lambda-warn-days).
    Warn,
    Fail,
    /// The resource is no longer there (its scope was evaluated).
    Gone,
    /// Not rescanned: it was not changed (manual, dry run), or the run stopped first.
    NotRescanned,
    /// Its scope or the resource could not be read again.
    Unread(String),
}

/// What a fix did: the plan, what became of each item, the rescan, and the API calls of the changes.
pub struct FixOutcome {
    pub items: Vec<fix::Item>,
    pub applied: Option<fix::Applied>,
    /// Per item, in plan order.
    pub after: Vec<AfterFix>,
    pub rescan: Option<ScanReport>,
    /// The calls made while applying (the remediation role's and its AssumeRole), per (service, operation).
    pub apply_calls: std::collections::BTreeMap<(String, String), u64>,
    pub exit_code: u8,
}

/// Why a fix could not run: a bad selection found after the scan (exit 2), or a start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Walk(#[from] WalkError),
}

impl From<fix::trust::Untrusted> for FixError {
    fn from(e: fix::trust::Untrusted) -> Self {
        match e {
            fix::trust::Untrusted::Refused(why) => FixError::Usage(why),
            fix::trust::Untrusted::Walk(e) => FixError::Walk(e),
        }
    }
}

impl FixError {
    pub fn exit_code(&self) -> u8 {
        match self {
            FixError::Usage(_) => model::exit::USAGE,
            FixError::Walk(e) => e.exit_code(),
        }
    }
}

/// The UI of a fix with every text made safe for a terminal: the net under the values each text was built
/// from (made safe one by one where they are written), so nothing from AWS or a report file reaches the
/// operator raw (issue 27).
struct SafeUi<'a>(&'a mut dyn FixUi);

impl FixUi for SafeUi<'_> {
    fn say(&mut self, text: &str) {
        self.0.say(&model::terminal::safe_lines(text));
    }

    fn confirm(&mut self, changes: usize) -> bool {
        self.0.confirm(changes)
    }
}

/// Completes once `stop` turns true; never if its sender is gone.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The FAILs to fix, where they come from (in words, and as the plan's origin), and whether their source is
/// incomplete: the report given (its stale FAILs included), or a scan run first.
async fn fix_findings(
    plan: &config::fix::FixPlan,
    factory: &ClientFactory,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<(Vec<model::Finding>, String, String, bool), FixError> {
    use crate::config::fix::FixSource;
    let stamp = |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    Ok(match &plan.source {
        FixSource::Report(r) => {
            let mut f = r.findings.clone();
            f.extend(r.stale.iter().map(|(f, _)| f.clone()));
            let source = format!("{} (scan of {})", r.path.display(), r.started_at.format("%Y-%m-%dT%H:%M:%SZ"));
            (f, source, format!("report {}", stamp(&r.started_at)), false)
        }
        FixSource::Scan => {
            let report = run_scan(&plan.base, factory.clone(), stopped(stop.clone()), &mut scan::Silent).await?;
            if let Some(e) = plan.filter.unmatched(&report.findings).into_iter().next() {
                return Err(FixError::Usage(format!("{e} in this scan")));
            }
            let incomplete = report.is_incomplete();
            let origin = format!("scan {}", stamp(&report.started_at));
            (report.findings, format!("a scan of {} account(s)", report.stats.accounts), origin, incomplete)
        }
    })
}

/// The accounts the steps change, reached with the remediation role (the caller's own credentials in its own
/// account): each account's configuration, or why it could not be reached.
async fn reach(
    items: &[fix::plan::Item],
    factory: &ClientFactory,
    limits: &std::sync::Arc<crate::aws::limits::Limits>,
    caller: &org::Caller,
    remediation: &org::AccessPlan,
    session_name: &str,
) -> Result<std::collections::BTreeMap<AccountId, Result<crate::aws::AccountConfig, model::ScopeError>>, FixError> {
    let walker = Walker {
        factory,
        limits: limits.clone(),
        caller: caller.clone(),
        access: remediation,
        session_name: session_name.to_owned(),
        // The fix walks the organization to reach the accounts it changes, nothing more.
        read_delegated: false,
    };
    let mut accounts: Vec<AccountId> = items.iter().filter(|i| !i.steps().is_empty()).map(|i| i.finding.target.account.clone()).collect();
    accounts.sort();
    accounts.dedup();
    let walked = walker.plan(&org::OrgSelection { accounts, ..Default::default() }).await?;
    Ok(walked
        .accounts
        .into_iter()
        .map(|a| {
            let c = match a.source {
                AccountSource::Ready(c) => Ok(c),
                AccountSource::Failed(e) => Err(e),
                AccountSource::Skipped(why) => Err(model::ScopeError::new("Skipped", why)),
            };
            (a.account, c)
        })
        .collect())
}

/// `orgscan fix`: the FAILs (of the report, or of a scan run first), the plan, and with `--apply` the
/// confirmed, journaled changes and the rescan of the touched scopes. `stop` turning true (Ctrl-C, SIGTERM)
/// stops it between two steps.
pub async fn run_fix(
    plan: &mut config::fix::FixPlan,
    factory: ClientFactory,
    stop: tokio::sync::watch::Receiver<bool>,
    ui: &mut dyn FixUi,
) -> Result<FixOutcome, FixError> {
    let ui = &mut SafeUi(ui);
    let (caller, home) = org::whoami(&factory).await?;
    let factory = factory.with_home_region(home);
    let (findings, source, origin, mut incomplete) = fix_findings(plan, &factory, &stop).await?;
    let today = chrono::Utc::now().date_naive();
    let items = fix::plan::build(&findings, &plan.filter, plan.options, &plan.base.settings, today);
    let foreign: Vec<String> =
        items.iter().filter(|i| i.finding.target.partition != caller.partition).map(|i| i.finding.target.region.to_string()).collect();
    if let Some(r) = foreign.first() {
        return Err(FixError::Usage(format!(
            "FAILs in region {r} are not in partition {}, where the credentials belong: fix each partition with its own credentials (narrow with --regions)",
            caller.partition
        )));
    }
    fix::trust::organization_accounts(&items, &caller, &factory, &limits(&plan.base), &origin).await?;
    let plan_id = fix::plan::identity(&origin, &items);
    let remediation = plan.remediation.clone();
    let credentials = |a: &AccountId| {
        if *a == caller.account {
            format!("the caller's own credentials, {}", caller.arn)
        } else {
            remediation.role_arn(caller.partition.as_str(), a)
        }
    };
    ui.say(&fix::plan::render(&items, &source, &credentials));
    ui.say(&plan.journal.said(&plan_id));
    let (_, changes, _, _) = fix::plan::counts(&items);
    let mut outcome = FixOutcome {
        after: vec![AfterFix::NotRescanned; items.len()],
        items,
        applied: None,
        rescan: None,
        apply_calls: Default::default(),
        exit_code: 0,
    };
    // Stopped (Ctrl-C, SIGTERM) during the scan: nothing is asked, nothing changed.
    let asked = plan.apply && changes > 0 && !*stop.borrow();
    let go = asked && (!plan.confirm || ui.confirm(changes));
    if !go {
        if asked {
            ui.say("Not confirmed: nothing was changed.\n");
        } else if changes > 0 {
            ui.say(&format!("\nNothing was changed: --apply makes the {changes} change(s) (with --yes when not on a terminal).\n"));
        }
        outcome.exit_code = fix::exit_code(!outcome.items.is_empty(), incomplete, false);
        return Ok(outcome);
    }

    let before_calls = factory.stats().snapshot();
    let limits = limits(&plan.base);
    let session_name = format!("orgscan-fix-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let configs = reach(&outcome.items, &factory, &limits, &caller, &remediation, &session_name).await?;
    let cx = fix::apply::Context {
        factory: &factory,
        limits,
        settings: plan.base.settings.clone(),
        accounts: &configs,
        credentials: &credentials,
        run: session_name,
        plan: plan_id,
    };
    let is_stopped = || *stop.borrow();
    let applied = fix::apply::run(&cx, &outcome.items, &mut plan.journal, &is_stopped, &mut |line| ui.say(&format!("{line}\n"))).await;
    let after_calls = factory.stats().snapshot();
    outcome.apply_calls = after_calls
        .iter()
        .map(|(k, c)| (k.clone(), c.calls.saturating_sub(before_calls.get(k).map_or(0, |b| b.calls))))
        .filter(|(_, n)| *n > 0)
        .collect();
    incomplete |= applied.stopped || applied.outcomes.iter().any(|o| matches!(o, fix::Outcome::Failed(_)));
    let journal_failed = applied.journal_error.is_some();
    if !applied.stopped && !journal_failed {
        rescan(plan, &factory, stop, &mut outcome, ui).await;
    }
    incomplete |= outcome.after.iter().any(|a| matches!(a, AfterFix::Unread(_)));
    let failing = outcome.after.iter().any(|a| !matches!(a, AfterFix::Pass | AfterFix::Warn | AfterFix::Gone));
    outcome.exit_code = fix::exit_code(failing, incomplete, journal_failed);
    if applied.stopped {
        ui.say(&format!(
            "Stopped before every change was made: run the same command again (same --journal {}) to resume.\n",
            plan.journal.path.display()
        ));
    }
    outcome.applied = Some(applied);
    Ok(outcome)
}

/// Rescans the scopes (check, account, region) of the items with changes, with the audit role, and reads
/// each item's finding there.
async fn rescan(
    plan: &config::fix::FixPlan,
    factory: &ClientFactory,
    stop: tokio::sync::watch::Receiver<bool>,
    outcome: &mut FixOutcome,
    ui: &mut dyn FixUi,
) {
    use std::collections::BTreeSet;
    let touched: Vec<usize> = (0..outcome.items.len()).filter(|&n| !outcome.items[n].steps().is_empty()).collect();
    let targets = || touched.iter().map(|&n| &outcome.items[n].finding.target);
    let accounts: Vec<AccountId> = targets().map(|t| t.account.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let regions: Vec<model::Region> = targets().map(|t| t.region.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let checks: Vec<&'static check::Check> =
        check::ALL.iter().copied().filter(|c| touched.iter().any(|&n| outcome.items[n].finding.check.id == c.info().id)).collect();
    let rescan = plan.base.narrowed(&accounts, &regions, &checks);
    let report = match run_scan(&rescan, factory.clone(), stopped(stop), &mut scan::Silent).await {
        Ok(r) => r,
        Err(e) => {
            for &n in &touched {
                outcome.after[n] = AfterFix::Unread(format!("the rescan did not start: {e}"));
            }
            ui.say(&format!("orgscan: error: the rescan did not start: {e}\n"));
            return;
        }
    };
    let mut text = format!(
        "\nRescan with the audit role of {} check(s) in {} account(s) and {} region(s):\n",
        checks.len(),
        accounts.len(),
        regions.len()
    );
    let rescanned = Rescanned::index(&report);
    for &n in &touched {
        let f = &outcome.items[n].finding;
        let after = rescanned.after_fix(f);
        let shown = match &after {
            AfterFix::Pass => "PASS".to_owned(),
            AfterFix::Warn => "WARNING (no longer failing)".to_owned(),
            AfterFix::Fail => "still FAIL".to_owned(),
            AfterFix::Gone => "gone".to_owned(),
            AfterFix::NotRescanned => "not rescanned".to_owned(),
            AfterFix::Unread(why) => format!("NOT READ: {why}"),
        };
        let shown = model::terminal::safe(&shown);
        text.push_str(&format!("  [{}] {} {} in {}: {shown}\n", n + 1, f.check.id, model::terminal::safe(&f.resource.id), f.target));
        outcome.after[n] = after;
    }
    let passing = touched.iter().filter(|&&n| matches!(outcome.after[n], AfterFix::Pass | AfterFix::Warn | AfterFix::Gone)).count();
    let manual = outcome.items.len() - touched.len();
    text.push_str(&format!("{passing} of {} changed FAIL(s) pass now; {manual} manual FAIL(s) left as they are\n", touched.len()));
    ui.say(&text);
    outcome.rescan = Some(report);
}

/// Whether the check of `f` declares that the rescan reports its fixed resource under another id (a
/// region-level FAIL that becomes the new resource's finding).
fn by_scope(f: &model::Finding) -> bool {
    check::by_id(f.check.id).and_then(|c| c.changes).is_some_and(|c| c.rescan_by_scope)
}

/// The rescan's report indexed once (by fingerprint, scope and coverage), so each fixed item's word is a
/// look-up rather than a pass over the whole report: a fix of many resources stays linear.
struct Rescanned<'a> {
    /// Findings and resources not evaluable by fingerprint, computed once each.
    findings: HashMap<model::Fingerprint, &'a model::Finding>,
    unread: HashMap<model::Fingerprint, &'a model::NotEvaluable>,
    /// The first finding of each (check, target), for the checks whose changes declare `rescan_by_scope`.
    by_scope: HashMap<(&'static str, &'a model::Target), &'a model::Finding>,
    /// The first coverage entry of each (check, account, region).
    coverage: HashMap<(&'static str, &'a AccountId, Option<&'a model::Region>), &'a model::CoverageStatus>,
}

impl<'a> Rescanned<'a> {
    fn index(report: &'a ScanReport) -> Self {
        let mut r = Self { findings: HashMap::new(), unread: HashMap::new(), by_scope: HashMap::new(), coverage: HashMap::new() };
        for g in &report.findings {
            r.findings.entry(g.fingerprint()).or_insert(g);
            r.by_scope.entry((g.check.id, &g.target)).or_insert(g);
        }
        for n in &report.not_evaluable {
            r.unread.entry(n.fingerprint()).or_insert(n);
        }
        for c in &report.coverage {
            r.coverage.entry((c.check_id, &c.account, c.region.as_ref())).or_insert(&c.status);
        }
        r
    }

    /// The rescan's word on `f`: its own fingerprint, or (a check whose changes declare `rescan_by_scope`,
    /// as GuardDuty's region-level FAIL becomes a finding of the new detector) the scope's one finding of
    /// the check.
    fn after_fix(&self, f: &model::Finding) -> AfterFix {
        let fp = f.fingerprint();
        if let Some(n) = self.unread.get(&fp) {
            return AfterFix::Unread(n.error.to_string());
        }
        let found = self.findings.get(&fp).or_else(|| by_scope(f).then(|| self.by_scope.get(&(f.check.id, &f.target))).flatten());
        match found.map(|g| g.status) {
            Some(model::Status::Pass) => AfterFix::Pass,
            Some(model::Status::Fail) => AfterFix::Fail,
            Some(model::Status::Warn) => AfterFix::Warn,
            None => match self.coverage.get(&(f.check.id, &f.target.account, Some(&f.target.region))) {
                Some(model::CoverageStatus::Evaluated { .. }) => AfterFix::Gone,
                Some(s) => AfterFix::Unread(format!("its scope was {}", s.as_str())),
                None => AfterFix::Unread("its scope was not rescanned".into()),
            },
        }
    }
}
