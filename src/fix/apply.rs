//! Applying a plan: one item after another, each step after reading the resource again, each journaled as it
//! happens. A stop (Ctrl-C, SIGTERM) is honoured between steps, never in the middle of a call, so the journal
//! always says what was done.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use serde_json::Value;

use super::journal::{Entry, Journal, StepResult};
use super::plan::{Item, Step};
use super::steps;
use crate::aws::limits::Limits;
use crate::aws::{AccountConfig, ClientFactory};
use crate::check::remedy::Verdict;
use crate::check::{CheckContext, CheckSettings};
use crate::model::{AccountId, Finding, ScopeError};

/// What a run needs to change resources.
pub struct Context<'a> {
    pub factory: &'a ClientFactory,
    pub limits: Arc<Limits>,
    /// The checks' settings, for the reads before each change.
    pub settings: CheckSettings,
    /// Each account's configuration with the credentials of the changes, or why it cannot be reached.
    pub accounts: &'a BTreeMap<AccountId, Result<AccountConfig, ScopeError>>,
    /// The credentials used in an account, in words (a role ARN, or the caller's own).
    pub credentials: &'a dyn Fn(&AccountId) -> String,
    /// This run's name (its session name, and the journal's `run`).
    pub run: String,
    /// The plan's identity ([`super::plan::identity`]): the journal's `plan`; only its entries stand for a
    /// step done.
    pub plan: String,
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The steps applied by this run, and those an earlier run had applied (the journal says so).
    Applied { now: Vec<Step>, earlier: Vec<Step> },
    /// Nothing was called: the resource no longer fails, is gone, changed since the plan, or cannot be
    /// changed automatically now; why.
    Skipped(String),
    /// A read or a call failed: the AWS error.
    Failed(String),
    /// Manual steps only: nothing to apply.
    Manual,
    /// The run was stopped before this item.
    NotReached,
}

impl Outcome {
    /// Whether the item was changed as planned (now or earlier).
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }
}

/// The outcome of every item, in plan order.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub outcomes: Vec<Outcome>,
    /// The run was stopped (Ctrl-C, SIGTERM) before every item was reached.
    pub stopped: bool,
    /// The journal could not be written: the run stopped before the next change.
    pub journal_error: Option<String>,
}

struct JournalFailed(String);

/// Applies every item with steps, in order, until `stop()` says to stop. `say` gets one line per step as it
/// happens, made safe for a terminal (ids, states and AWS's error messages are outside data: a line break or
/// an escape sequence in them is shown escaped, see [`crate::model::terminal`]).
pub async fn run(cx: &Context<'_>, items: &[Item], journal: &mut Journal, stop: &dyn Fn() -> bool, say: &mut dyn FnMut(String)) -> Applied {
    let say = &mut |line: String| say(crate::model::terminal::safe(&line).into_owned());
    let mut out = Applied::default();
    for (n, item) in items.iter().enumerate() {
        if item.steps().is_empty() {
            out.outcomes.push(Outcome::Manual);
            continue;
        }
        if out.stopped || out.journal_error.is_some() || stop() {
            out.stopped |= out.journal_error.is_none();
            out.outcomes.push(Outcome::NotReached);
            continue;
        }
        match apply_item(cx, n + 1, item, journal, say).await {
            Ok(o) => out.outcomes.push(o),
            Err(JournalFailed(e)) => {
                say(format!("orgscan: error: cannot write the journal {}: {e}; stopping before the next change", journal.path.display()));
                out.outcomes.push(Outcome::Failed(format!("the journal could not be written: {e}")));
                out.journal_error = Some(e);
            }
        }
    }
    out
}

/// The journal entry of one step.
struct Record<'a> {
    cx: &'a Context<'a>,
    finding: &'a Finding,
    /// The resource as the last read named it (its ARN); the report's until a read answered.
    resource: String,
}

impl Record<'_> {
    fn entry(&self, step: Step, result: StepResult, reason: Option<String>, before: Option<&Value>, after: Option<&Value>) -> Entry {
        let f = self.finding;
        Entry {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            run: self.cx.run.clone(),
            plan: Some(self.cx.plan.clone()),
            account: f.target.account.to_string(),
            region: f.target.region.to_string(),
            check: f.check.id.to_owned(),
            fingerprint: f.fingerprint().to_string(),
            resource: self.resource.clone(),
            reported_resource: (self.resource != f.resource.arn).then(|| f.resource.arn.clone()),
            action: step.as_str().to_owned(),
            result,
            credentials: (self.cx.credentials)(&f.target.account),
            reason,
            state_before: before.cloned(),
            state_after: after.cloned(),
            error: None,
        }
    }
}

fn write(journal: &mut Journal, e: Entry) -> Result<(), JournalFailed> {
    journal.record(e).map_err(|e| JournalFailed(e.to_string()))
}

async fn apply_item(
    cx: &Context<'_>,
    n: usize,
    item: &Item,
    journal: &mut Journal,
    say: &mut dyn FnMut(String),
) -> Result<Outcome, JournalFailed> {
    let f = &item.finding;
    let mut rec = Record { cx, finding: f, resource: f.resource.arn.clone() };
    let fp = f.fingerprint().to_string();
    let what = format!("[{n}] {} {} in {}", f.check.id, f.resource.id, f.target);
    let first_step = item.steps()[0];
    let config = match cx.accounts.get(&f.target.account) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            let mut entry = rec.entry(first_step, StepResult::Failed, Some("the account cannot be reached".into()), None, None);
            entry.error = Some(e.to_string());
            write(journal, entry)?;
            say(format!("{what}: FAILED: {e}"));
            return Ok(Outcome::Failed(e.to_string()));
        }
        None => return Ok(Outcome::Failed(format!("no credentials for account {}", f.target.account))),
    };
    let ccx = CheckContext {
        clients: cx.factory.clients(config, &f.target.region),
        target: f.target.clone(),
        limits: cx.limits.clone(),
        scan_time: Utc::now(),
        settings: cx.settings.clone(),
    };
    let (mut now, mut earlier) = (Vec::new(), Vec::new());
    for (i, &step) in item.steps().iter().enumerate() {
        if let Some(done) = journal.done(&cx.plan, &fp, step) {
            let why = format!("done by run {} at {} (journal)", done.run, done.time);
            write(journal, rec.entry(step, StepResult::Skipped, Some(why.clone()), None, None))?;
            say(format!("{what}: {} {why}", step.as_str()));
            earlier.push(step);
            continue;
        }
        let before = match steps::probe(&ccx, f, step).await {
            Ok(p) => p,
            Err(e) => {
                let mut entry = rec.entry(step, StepResult::Failed, Some("the resource could not be read again".into()), None, None);
                entry.error = Some(e.to_string());
                write(journal, entry)?;
                say(format!("{what}: FAILED to read it again before {}: {e}", step.as_str()));
                return Ok(Outcome::Failed(e.to_string()));
            }
        };
        rec.resource = before.arn.clone();
        match &before.verdict {
            Verdict::Due => {}
            Verdict::Reached(why) if journal.unfinished(&cx.plan, &fp, step) => {
                // An interrupted run made the call and was stopped before it could record the result.
                let why = format!("the call of an interrupted run took effect: {why}");
                write(journal, rec.entry(step, StepResult::Applied, Some(why.clone()), None, Some(&before.state)))?;
                say(format!("{what}: {} {why}", step.as_str()));
                earlier.push(step);
                continue;
            }
            Verdict::Reached(why) | Verdict::Blocked(why) if i == 0 => {
                write(journal, rec.entry(step, StepResult::Skipped, Some(why.clone()), Some(&before.state), None))?;
                say(format!("{what}: skipped: {why}"));
                return Ok(Outcome::Skipped(why.clone()));
            }
            Verdict::Reached(why) => {
                write(journal, rec.entry(step, StepResult::Skipped, Some(why.clone()), Some(&before.state), None))?;
                say(format!("{what}: {} not needed: {why}", step.as_str()));
                continue;
            }
            Verdict::Blocked(why) => {
                write(journal, rec.entry(step, StepResult::Skipped, Some(why.clone()), Some(&before.state), None))?;
                say(format!("{what}: {} skipped: {why}", step.as_str()));
                return Ok(Outcome::Skipped(format!("{}: {why}", step.as_str())));
            }
        }
        // A step made only after another of the same item (a key enabled only after orgscan cancelled its
        // deletion: never one someone disabled on purpose).
        if let Some(after) = step.only_after
            && !now.iter().chain(&earlier).any(|s: &Step| s.operation == after.operation)
        {
            let why = after.why_not.to_owned();
            write(journal, rec.entry(step, StepResult::Skipped, Some(why.clone()), Some(&before.state), None))?;
            say(format!("{what}: {} skipped: {why}", step.as_str()));
            continue;
        }
        write(journal, rec.entry(step, StepResult::Started, None, Some(&before.state), None))?;
        match steps::call(&ccx, f, step, &before).await {
            Ok(()) => {
                let after = match steps::probe(&ccx, f, step).await {
                    Ok(p) => p.state,
                    Err(e) => serde_json::json!({"unread": e.to_string()}),
                };
                write(journal, rec.entry(step, StepResult::Applied, None, Some(&before.state), Some(&after)))?;
                say(format!("{what}: {} applied ({} -> {})", step.as_str(), before.state, after));
                now.push(step);
            }
            Err(e) => {
                let mut entry = rec.entry(step, StepResult::Failed, None, Some(&before.state), None);
                entry.error = Some(e.to_string());
                write(journal, entry)?;
                say(format!("{what}: {} FAILED: {e}", step.as_str()));
                return Ok(Outcome::Failed(e.to_string()));
            }
        }
    }
    Ok(Outcome::Applied { now, earlier })
}
