//! Runs over time: the comparison with a baseline (an earlier JSON report) and the suppression rules,
//! applied to a finished scan report before any output is written. Pure: no AWS call, no file written.
//!
//! The rules that keep alerts truthful:
//! - a baseline FAIL is `fixed` only if its scope (check, account, region) was evaluated in this run and the
//!   resource was not *not evaluable*: it now passes, or it is gone;
//! - a baseline FAIL whose scope or resource could not be read this time is carried forward as stale (with
//!   when it was last read), so no output closes it; it is dropped once its scope is evaluated again;
//! - a baseline FAIL of a check, account or region this run did not set out to scan is neither.

/// The baseline's reader is the JSON report's ([`crate::json::read`]); its type is used here.
pub mod baseline {
    pub use crate::json::read::baseline::{Baseline, MAX_CAUSES};
}
pub mod suppress;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

pub use self::baseline::Baseline;
pub use self::suppress::RuleSet;
use crate::model::{
    AccountId, BaselineState, CoverageStatus, Finding, Fingerprint, Fixed, History, Note, Region, RuleUse, ScanReport, Stale, Status,
    Suppressions,
};

/// Compares `report` with `baseline`, then applies `rules` (both optional), as of `today` (the scan date,
/// UTC). Fills `report.history`, `report.suppressions` and every finding's triage.
pub fn apply(report: &mut ScanReport, baseline: Option<&Baseline>, rules: Option<&RuleSet>, today: NaiveDate) {
    if let Some(b) = baseline {
        compare(report, b);
    }
    if let Some(rules) = rules {
        suppress(report, rules, today);
    }
}

/// What this run read of a baseline FAIL's scope.
enum Outcome {
    Evaluated,
    Unread(String),
    /// Not part of this run's selection.
    Outside,
}

fn compare(report: &mut ScanReport, b: &Baseline) {
    for w in &b.warnings {
        report.notes.push(Note { account: None, text: w.clone() });
    }
    if let (Some(theirs), crate::model::Subject::Organization { id, .. }) = (&b.organization_id, &report.subject)
        && theirs != id
    {
        report.notes.push(Note {
            account: None,
            text: format!(
                "--baseline '{}' is a report of organization {theirs:?}, not of {id}, the organization scanned: its FAILs are \
                 compared by fingerprint all the same; give a baseline of this organization",
                b.path.display()
            ),
        });
    }
    // When each fingerprint was first seen, and the baseline's FAILs with when each was last read.
    let mut first_seen: HashMap<Fingerprint, DateTime<Utc>> = HashMap::new();
    let mut fails: Vec<(&Finding, DateTime<Utc>)> = Vec::new();
    for f in &b.findings {
        first_seen.insert(f.fingerprint(), f.triage.first_seen.unwrap_or(b.started_at));
        if f.status.is_open() {
            fails.push((f, b.started_at));
        }
    }
    for (f, last_seen) in &b.stale {
        first_seen.entry(f.fingerprint()).or_insert(f.triage.first_seen.unwrap_or(*last_seen));
        fails.push((f, *last_seen));
    }
    let was_failing: HashSet<Fingerprint> = fails.iter().map(|(f, _)| f.fingerprint()).collect();
    let mut now: HashMap<Fingerprint, Status> = HashMap::new();
    for f in &mut report.findings {
        let fp = f.fingerprint();
        f.triage.first_seen = Some(first_seen.get(&fp).copied().unwrap_or(report.started_at));
        if f.status.is_open() {
            f.triage.baseline = Some(if was_failing.contains(&fp) { BaselineState::Unchanged } else { BaselineState::New });
        }
        now.insert(fp, f.status);
    }
    let scopes: HashMap<(&str, &AccountId, Option<&Region>), &CoverageStatus> =
        report.coverage.iter().map(|c| ((c.check_id, &c.account, c.region.as_ref()), &c.status)).collect();
    let unreadable: HashMap<Fingerprint, &str> = report.not_evaluable.iter().map(|n| (n.fingerprint(), n.error.code.as_str())).collect();
    let checks: HashSet<&str> = report.checks.iter().map(|c| c.id).collect();
    let mut history = History { baseline_started_at: b.started_at, fixed: Vec::new(), stale: Vec::new(), out_of_selection: 0 };
    let mut seen = HashSet::new();
    for (f, last_seen) in fails {
        let fp = f.fingerprint();
        if !seen.insert(fp) || now.get(&fp).is_some_and(|s| s.is_open()) {
            continue;
        }
        let t = &f.target;
        let status = scopes.get(&(f.check.id, &t.account, Some(&t.region))).or_else(|| scopes.get(&(f.check.id, &t.account, None)));
        let outcome = match status {
            Some(CoverageStatus::Evaluated { .. }) => match unreadable.get(&fp) {
                Some(code) => Outcome::Unread(format!("the resource could not be read ({code})")),
                None => Outcome::Evaluated,
            },
            Some(CoverageStatus::Error(e)) => Outcome::Unread(format!("not evaluated ({}): {}", e.code, e.message)),
            Some(s) => Outcome::Unread(format!("skipped: {}", s.skip_reason().unwrap_or_default())),
            // An interrupted scan has no coverage for the scopes it never reached.
            None if report.incomplete && checks.contains(f.check.id) => {
                Outcome::Unread("the scan was interrupted before this scope".into())
            }
            None => Outcome::Outside,
        };
        let mut finding = f.clone();
        finding.triage.first_seen = first_seen.get(&fp).copied();
        match outcome {
            Outcome::Evaluated => history.fixed.push(Fixed { gone: !now.contains_key(&fp), finding }),
            Outcome::Unread(reason) => {
                finding.triage.baseline = Some(BaselineState::Unchanged);
                history.stale.push(Stale { finding, last_seen, reason });
            }
            Outcome::Outside => history.out_of_selection += 1,
        }
    }
    history.fixed.sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
    history.stale.sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
    report.history = Some(history);
    report.notes.sort();
}

fn suppress(report: &mut ScanReport, rules: &RuleSet, today: NaiveDate) {
    let mut uses: Vec<RuleUse> =
        rules.matchers.iter().map(|m| RuleUse { rule: m.rule.clone(), expired: m.is_expired(today), matched: 0 }).collect();
    let accounts = &report.accounts;
    let mut apply_to = |f: &mut Finding| {
        if !f.status.is_open() {
            return;
        }
        let ous = accounts.get(&f.target.account).map_or(&[][..], |a| a.ous.as_slice());
        for (m, u) in rules.matchers.iter().zip(uses.iter_mut()) {
            if !u.expired && m.matches(f, ous) {
                u.matched += 1;
                f.triage.suppressed = Some(m.rule.clone());
                return;
            }
        }
    };
    for f in &mut report.findings {
        apply_to(f);
    }
    if let Some(h) = report.history.as_mut() {
        for s in &mut h.stale {
            apply_to(&mut s.finding);
        }
    }
    // OU rules cannot match when the OU tree was not read (`--accounts`, or the walk failed).
    if rules.matchers.iter().any(|m| m.uses_ous()) && report.accounts.values().all(|a| a.ou_path.is_none()) {
        report.notes.push(Note {
            account: None,
            text: "suppression rules with `ous` matched nothing: the OU tree was not read in this scan (--accounts, or the walk failed)"
                .into(),
        });
        report.notes.sort();
    }
    let complete = !report.has_gaps() && !report.incomplete && report.partial.is_none();
    report.suppressions = Some(Suppressions { rules: uses, complete });
}
