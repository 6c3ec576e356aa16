//! The terminal summary: counts by check and status, the failing resources, coverage and errors.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::Status;
use crate::model::import::{ImportReport, ImportStatus};
use crate::model::{CoverageStatus, ScanReport, Subject};

/// How many failing resources to list per check before summarising the rest (the files hold them all).
const MAX_LISTED_PER_CHECK: usize = 20;

pub fn render(r: &ScanReport) -> String {
    let mut s = String::new();
    let scope = match &r.subject {
        Subject::Account(a) => format!("account {a}"),
        Subject::Organization { id, .. } => format!("organization {id}"),
        Subject::Accounts { caller } => format!("accounts scanned from {caller}"),
    };
    let _ = writeln!(
        s,
        "orgscan {}: {scope}, {} account(s), {} region(s), {} API calls in {:.1}s{}",
        r.tool_version,
        r.stats.accounts,
        r.stats.regions,
        r.stats.api_calls(),
        r.stats.duration_ms as f64 / 1000.0,
        if r.incomplete { " (INCOMPLETE: interrupted)" } else { "" }
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "{:<40} {:>6} {:>6} {:>10} {:>8} {:>7}", "CHECK", "PASS", "FAIL", "EVALUATED", "SKIPPED", "ERRORS");
    for info in &r.checks {
        let count = |st: Status| r.findings.iter().filter(|f| f.check.id == info.id && f.status == st).count();
        let cov = |name: &str| r.coverage.iter().filter(|c| c.check_id == info.id && c.status.as_str() == name).count();
        let _ = writeln!(
            s,
            "{:<40} {:>6} {:>6} {:>10} {:>8} {:>7}",
            info.id,
            count(Status::Pass),
            count(Status::Fail),
            cov("evaluated"),
            cov("skipped"),
            cov("error")
        );
    }

    let mut failing: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for f in r.failures() {
        failing.entry(f.check.id).or_default().push(f);
    }
    if !failing.is_empty() {
        let _ = writeln!(s, "\nFailing resources:");
        for (check, fs) in &failing {
            let sev = fs.first().map(|f| f.severity().as_str()).unwrap_or_default();
            let _ = writeln!(s, "  {check} [{sev}] ({} failing)", fs.len());
            for f in fs.iter().take(MAX_LISTED_PER_CHECK) {
                let _ = writeln!(s, "    {}{} {}: {}", f.target, named(r, &f.target.account), f.resource.arn, f.message);
            }
            if fs.len() > MAX_LISTED_PER_CHECK {
                let _ = writeln!(s, "    ... and {} more (see the report files)", fs.len() - MAX_LISTED_PER_CHECK);
            }
        }
    }

    let skipped: Vec<_> = r.coverage.iter().filter(|c| matches!(c.status, CoverageStatus::Skipped { .. })).collect();
    if !skipped.is_empty() {
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &skipped {
            if let CoverageStatus::Skipped { reason } = &c.status {
                *reasons.entry(reason.as_str()).or_default() += 1;
            }
        }
        let _ = writeln!(s, "\nSkipped scopes:");
        for (reason, n) in reasons {
            let _ = writeln!(s, "  {n} x {reason}");
        }
    }

    // Grouped, never listed: with Control Tower's Region deny this is every denied region of every account.
    let mut closed_targets = BTreeSet::new();
    let mut closed_actions: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &r.coverage {
        if let (CoverageStatus::ClosedByPolicy { action, .. }, Some(region)) = (&c.status, &c.region) {
            closed_targets.insert((&c.account, region));
            *closed_actions.entry(action.as_str()).or_default() += 1;
        }
    }
    if !closed_targets.is_empty() {
        let accounts: BTreeSet<_> = closed_targets.iter().map(|(a, _)| *a).collect();
        let actions: Vec<String> = closed_actions.iter().map(|(a, n)| format!("{a} ({n})")).collect();
        let _ = writeln!(
            s,
            "\n{} region(s) closed by SCP in {} account(s): skipped, not incomplete; denied: {}",
            closed_targets.len(),
            accounts.len(),
            actions.join(", ")
        );
    }

    if !r.not_evaluable.is_empty() {
        let _ = writeln!(s, "\nNot evaluable ({}; listed but not readable, neither passed nor failed):", r.not_evaluable.len());
        for n in r.not_evaluable.iter().take(MAX_LISTED_PER_CHECK) {
            let _ = writeln!(s, "  {}{} {} {}: {}", n.target, named(r, &n.target.account), n.check_id, n.resource.arn, n.error);
        }
        if r.not_evaluable.len() > MAX_LISTED_PER_CHECK {
            let _ = writeln!(s, "  ... and {} more (see the JSON report)", r.not_evaluable.len() - MAX_LISTED_PER_CHECK);
        }
    }

    if !r.notes.is_empty() {
        // The same text in many accounts (e.g. a region-list fallback) is one line with a count.
        let mut by_text: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for n in &r.notes {
            by_text.entry(n.text.as_str()).or_default().insert(n.account.as_ref().map_or("", |a| a.as_str()));
        }
        let _ = writeln!(s, "\nNotes:");
        for (text, accounts) in by_text {
            match accounts.len() {
                1 if accounts.contains("") => {
                    let _ = writeln!(s, "  {text}");
                }
                1 => {
                    let _ = writeln!(s, "  account {}: {text}", accounts.iter().next().copied().unwrap_or_default());
                }
                n => {
                    let _ = writeln!(s, "  {n} accounts: {text}");
                }
            }
        }
    }

    if !r.errors.is_empty() {
        let _ = writeln!(s, "\nErrors ({}; these scopes were NOT evaluated and are not reported as passing):", r.errors.len());
        for e in &r.errors {
            let region = e.region.as_ref().map(|r| r.as_str()).unwrap_or("*");
            let check = e.check_id.unwrap_or("*");
            let _ = writeln!(s, "  {}/{region}{} {check}: {}", e.account, named(r, &e.account), e.error);
        }
    }

    if let Some(sh) = &r.stats.security_hub {
        render_security_hub(sh, &mut s);
    }

    let fails = r.failures().count();
    let verdict = match r.exit_code() {
        crate::model::exit::OK => "OK: every scope evaluated, nothing failed".to_owned(),
        crate::model::exit::FAILED => format!("FAIL: {fails} failing resource(s)"),
        _ if !r.evaluated_anything() => {
            "NOTHING EVALUATED: no scope was evaluated (no account matched, or every scope was skipped or failed)".to_owned()
        }
        _ if !r.has_errors() && !r.not_evaluable.is_empty() && !r.incomplete => {
            "INCOMPLETE: nothing failed, but some resources could not be read".to_owned()
        }
        _ if !r.has_errors() && !r.incomplete => "INCOMPLETE: nothing failed, but the Security Hub import did not complete".to_owned(),
        _ => "INCOMPLETE: nothing failed, but some scopes could not be evaluated".to_owned(),
    };
    let _ = writeln!(s, "\n{verdict} (exit code {})", r.exit_code());
    s
}

/// ` (account name)` when the organization named the account.
fn named(r: &ScanReport, account: &crate::model::AccountId) -> String {
    r.account_name(account).map(|n| format!(" ({n})")).unwrap_or_default()
}

/// How many import errors and failed findings to list (the JSON report holds them all).
const MAX_LISTED_IMPORT: usize = 20;

/// The Security Hub import: per account (per account and region in a dry run), then what was not imported.
fn render_security_hub(sh: &ImportReport, s: &mut String) {
    let mode = if sh.only_failed { "FAILs only" } else { "FAILs active, PASSes archived" };
    if sh.dry_run {
        let _ = writeln!(s, "\nSecurity Hub import, DRY RUN ({mode}): nothing was sent; what would be sent per account and region:");
        let _ = writeln!(s, "  {:<14} {:<16} {:>6} {:>8} {:>9} {:>9}", "ACCOUNT", "REGION", "NEW", "UPDATED", "ARCHIVED", "RESOLVED");
        for x in sh.scopes.iter().filter(|x| x.status == ImportStatus::DryRun) {
            let region = x.region.as_ref().map(|r| r.as_str()).unwrap_or("*");
            let c = x.counts;
            let _ =
                writeln!(s, "  {:<14} {region:<16} {:>6} {:>8} {:>9} {:>9}", x.account.as_str(), c.new, c.updated, c.archived, c.resolved);
        }
    } else {
        let _ = writeln!(s, "\nSecurity Hub import ({mode}), per account:");
        let _ = writeln!(
            s,
            "  {:<14} {:>9} {:>6} {:>8} {:>9} {:>9} {:>7}",
            "ACCOUNT", "IMPORTED", "NEW", "UPDATED", "ARCHIVED", "RESOLVED", "FAILED"
        );
        let imported: BTreeMap<_, _> = sh.by_account();
        for (account, c) in imported {
            if sh.scopes.iter().any(|x| &x.account == account && matches!(x.status, ImportStatus::Imported | ImportStatus::Error(_))) {
                let _ = writeln!(
                    s,
                    "  {:<14} {:>9} {:>6} {:>8} {:>9} {:>9} {:>7}",
                    account.as_str(),
                    c.imported(),
                    c.new,
                    c.updated,
                    c.archived,
                    c.resolved,
                    c.failed
                );
            }
        }
    }
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &sh.scopes {
        if let ImportStatus::Skipped(reason) = &x.status {
            *skipped.entry(reason.as_str()).or_default() += 1;
        }
    }
    if !skipped.is_empty() {
        let _ = writeln!(s, "  Not touched (a partial scope never resolves a live finding):");
        for (reason, n) in skipped {
            let _ = writeln!(s, "    {n} scope(s): {reason}");
        }
    }
    let mut untouched: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for x in sh.scopes.iter().filter(|x| matches!(x.status, ImportStatus::Imported | ImportStatus::DryRun)) {
        for (check, why) in &x.untouched {
            *untouched.entry((check.as_str(), why.as_str())).or_default() += 1;
        }
    }
    if !untouched.is_empty() {
        let _ = writeln!(s, "  Left as they are in imported regions (these checks were not evaluated there):");
        for ((check, why), n) in untouched {
            let _ = writeln!(s, "    {check} in {n} region(s): {why}");
        }
    }
    let errors: Vec<_> =
        sh.scopes.iter().filter_map(|x| if let ImportStatus::Error(e) = &x.status { Some((x, e)) } else { None }).collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "  Import errors ({}; these scopes were not, or only partly, imported):", errors.len());
        for (x, e) in errors.iter().take(MAX_LISTED_IMPORT) {
            let region = x.region.as_ref().map(|r| r.as_str()).unwrap_or("*");
            let _ = writeln!(s, "    {}/{region}: {e}", x.account);
        }
        if errors.len() > MAX_LISTED_IMPORT {
            let _ = writeln!(s, "    ... and {} more (see the JSON report)", errors.len() - MAX_LISTED_IMPORT);
        }
    }
    if !sh.failures.is_empty() {
        let _ = writeln!(s, "  Findings Security Hub refused ({}):", sh.failures.len());
        for f in sh.failures.iter().take(MAX_LISTED_IMPORT) {
            let _ = writeln!(s, "    {}/{} {} {}: {}", f.account, f.region, f.finding_id, f.code, f.message);
        }
        if sh.failures.len() > MAX_LISTED_IMPORT {
            let _ = writeln!(s, "    ... and {} more (see the JSON report)", sh.failures.len() - MAX_LISTED_IMPORT);
        }
    }
}
