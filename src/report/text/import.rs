//! The summary's Security Hub section: what the import sent per account, and what it could not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::fmt::{B, cut, one_line};
use crate::model::AccountId;
use crate::model::import::{Counts, ImportReport, ImportStatus};

/// The Security Hub import: per account (per account and region in a dry run), then what was not imported.
pub(super) fn render_security_hub(sh: &ImportReport, s: &mut String) {
    let mode = if sh.only_failed { "FAILs only" } else { "FAILs active, PASSes archived" };
    // Accounts with an import error first, then those with refused findings, then the rest by id: the rows a
    // person must act on are never the ones cut.
    let mut rank: BTreeMap<&AccountId, u8> = BTreeMap::new();
    for x in &sh.scopes {
        let r = match (&x.status, x.counts.failed) {
            (ImportStatus::Error(_), _) => 0,
            (_, 0) => 2,
            _ => 1,
        };
        rank.entry(&x.account).and_modify(|v| *v = (*v).min(r)).or_insert(r);
    }
    for f in &sh.failures {
        rank.entry(&f.account).and_modify(|v| *v = (*v).min(1)).or_insert(1);
    }
    let rank = |a: &AccountId| rank.get(a).copied().unwrap_or(2);
    // One row per account; per account and region in a dry run.
    let mut rows: Vec<(&AccountId, &str, Counts)> = if sh.dry_run {
        let _ = writeln!(s, "\nSecurity Hub import, DRY RUN ({mode}): nothing was sent; what would be sent per account and region:");
        let _ = writeln!(s, "  {:<14} {:<16} {:>6} {:>8} {:>9} {:>9}", "ACCOUNT", "REGION", "NEW", "UPDATED", "ARCHIVED", "RESOLVED");
        let dry = sh.scopes.iter().filter(|x| x.status == ImportStatus::DryRun);
        dry.map(|x| (&x.account, x.region.as_ref().map_or("*", |r| r.as_str()), x.counts)).collect()
    } else {
        let _ = writeln!(s, "\nSecurity Hub import ({mode}), per account:");
        let _ = writeln!(
            s,
            "  {:<14} {:>9} {:>6} {:>8} {:>9} {:>9} {:>7}",
            "ACCOUNT", "IMPORTED", "NEW", "UPDATED", "ARCHIVED", "RESOLVED", "FAILED"
        );
        let sent: BTreeSet<&AccountId> =
            sh.scopes.iter().filter(|x| matches!(x.status, ImportStatus::Imported | ImportStatus::Error(_))).map(|x| &x.account).collect();
        sh.by_account().into_iter().filter(|(a, _)| sent.contains(a)).map(|(a, c)| (a, "", c)).collect()
    };
    rows.sort_by_key(|(a, region, _)| (rank(a), *a, *region));
    let row = |s: &mut String, account: &str, region: &str, c: Counts| {
        let _ = if sh.dry_run {
            writeln!(s, "  {account:<14} {region:<16} {:>6} {:>8} {:>9} {:>9}", c.new, c.updated, c.archived, c.resolved)
        } else {
            let (i, n, u, a, r, f) = (c.imported(), c.new, c.updated, c.archived, c.resolved, c.failed);
            writeln!(s, "  {account:<14} {i:>9} {n:>6} {u:>8} {a:>9} {r:>9} {f:>7}")
        };
    };
    let mut total = Counts::default();
    for (_, _, c) in &rows {
        total += *c;
    }
    for (account, region, c) in rows.iter().take(B.import_accounts) {
        row(s, account.as_str(), region, *c);
    }
    if rows.len() > B.import_accounts {
        let accounts = |rows: &[(&AccountId, &str, Counts)]| rows.iter().map(|r| r.0).collect::<BTreeSet<_>>().len();
        let hidden = accounts(&rows) - accounts(&rows[..B.import_accounts]);
        let _ = if sh.dry_run {
            writeln!(
                s,
                "  ... and {} more account/region rows, {hidden} more accounts (see the JSON report)",
                rows.len() - B.import_accounts
            )
        } else {
            writeln!(s, "  ... and {hidden} more accounts (see the JSON report)")
        };
    }
    if rows.len() > 1 {
        row(s, "TOTAL", "", total);
    }
    if total.suppressed + total.unsuppressed > 0 {
        let (set, back) = if sh.dry_run { ("would be set", "would go") } else { ("set", "went") };
        let _ = writeln!(
            s,
            "  Workflow (BatchUpdateFindings): {} FAIL(s) {set} to SUPPRESSED by a rule, {} {back} back to NEW (rule expired or removed)",
            total.suppressed, total.unsuppressed
        );
    }
    render_not_imported(sh, s);
}

/// What the import left as it was (skipped scopes, checks not evaluated in imported regions), its errors, and
/// the findings Security Hub refused.
fn render_not_imported(sh: &ImportReport, s: &mut String) {
    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &sh.scopes {
        if let ImportStatus::Skipped(reason) = &x.status {
            *skipped.entry(reason.as_str()).or_default() += 1;
        }
    }
    if !skipped.is_empty() {
        let _ = writeln!(s, "  Not touched (a partial scope never resolves a live finding):");
        for (reason, n) in skipped.iter().take(B.import_groups) {
            let _ = writeln!(s, "    {n} scope(s): {}", one_line(reason));
        }
        if skipped.len() > B.import_groups {
            let _ = writeln!(s, "    ... and {} more reasons (see the JSON report)", skipped.len() - B.import_groups);
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
        for ((check, why), n) in untouched.iter().take(B.import_groups) {
            let _ = writeln!(s, "    {check} in {n} region(s): {}", one_line(why));
        }
        if untouched.len() > B.import_groups {
            let _ = writeln!(s, "    ... and {} more (see the JSON report)", untouched.len() - B.import_groups);
        }
    }
    let errors: Vec<_> =
        sh.scopes.iter().filter_map(|x| if let ImportStatus::Error(e) = &x.status { Some((x, e)) } else { None }).collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "  Import errors ({}; these scopes were not, or only partly, imported):", errors.len());
        for (x, e) in errors.iter().take(B.import_listed) {
            let region = x.region.as_ref().map(|r| r.as_str()).unwrap_or("*");
            // Not cut: the message ends with the command that fixes it where orgscan knows one.
            let _ = writeln!(s, "    {}/{region}: {}", x.account, one_line(&e.to_string()));
        }
        if errors.len() > B.import_listed {
            let _ = writeln!(s, "    ... and {} more (see the JSON report)", errors.len() - B.import_listed);
        }
    }
    if !sh.failures.is_empty() {
        let _ = writeln!(s, "  Findings Security Hub refused ({}):", sh.failures.len());
        for f in sh.failures.iter().take(B.import_listed) {
            let _ =
                writeln!(s, "    {}/{} {} {}: {}", f.account, f.region, f.finding_id, one_line(&f.code), cut(&f.message, B.error_message));
        }
        if sh.failures.len() > B.import_listed {
            let _ = writeln!(s, "    ... and {} more (see the JSON report)", sh.failures.len() - B.import_listed);
        }
    }
}
