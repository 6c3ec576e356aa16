//! The terminal summary: the facts of the JSON report, bounded and grouped so that it reads the same for one
//! account and for 500: counts per check, the worst failing resources first, coverage gaps and errors
//! grouped by cause. The JSON report keeps every entry; every list here that is cut says how many it left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::model::{AccountId, BaselineState, CoverageStatus, Finding, ScanReport, Severity, Status, Subject, exit};
mod fmt;
mod history;
mod import;

use self::fmt::{B, cut, named, one_line};
use self::history::{baseline, stale, suppressions};
use self::import::render_security_hub;

pub fn render(r: &ScanReport) -> String {
    let mut s = String::new();
    header(r, &mut s);
    baseline(r, &mut s);
    check_table(r, &mut s);
    failing_resources(r, &mut s);
    warnings(r, &mut s);
    check_lines(r, &mut s);
    stale(r, &mut s);
    suppressions(r, &mut s);
    coverage_gaps(r, &mut s);
    errors(r, &mut s);
    notes(r, &mut s);
    if let Some(sh) = &r.stats.security_hub {
        render_security_hub(sh, &mut s);
    }
    let _ = writeln!(s, "\n{} (exit code {})", verdict(r), r.exit_code());
    // Every value was put on one line and made safe where it was written; this is the net under them all.
    crate::model::terminal::safe_lines(&s).into_owned()
}

fn header(r: &ScanReport, s: &mut String) {
    let scope = match &r.subject {
        Subject::Account(a) => format!("account {a}"),
        // The organization id comes from DescribeOrganization, or from a report file read back (merge).
        Subject::Organization { id, .. } => format!("organization {}", one_line(id)),
        Subject::Accounts { caller } => format!("accounts scanned from {caller}"),
    };
    let _ = writeln!(
        s,
        "orgscan {}: {scope}, {} account(s), {} region(s), {} API calls in {:.1}s{}{}",
        r.tool_version,
        r.stats.accounts,
        r.stats.regions,
        r.stats.api_calls(),
        r.stats.duration_ms as f64 / 1000.0,
        r.stats.walk_ms.map(|w| format!(" (walk {:.1}s)", w as f64 / 1000.0)).unwrap_or_default(),
        if r.incomplete { " (INCOMPLETE: interrupted)" } else { "" }
    );
}

/// The columns of the per-check table after the severity.
const COLUMNS: [&str; 6] = ["PASS", "FAIL", "EVALUATED", "SKIPPED", "ERRORS", "NOT-EVAL"];

fn check_table(r: &ScanReport, s: &mut String) {
    // One pass over each list, whatever the number of checks; a row holds the counts of COLUMNS.
    let mut rows: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for f in &r.findings {
        // WARNINGs have a section of their own (`warnings`): neither PASS nor FAIL.
        match f.status {
            Status::Pass => rows.entry(f.check.id).or_default()[0] += 1,
            Status::Fail => rows.entry(f.check.id).or_default()[1] += 1,
            Status::Warn => {}
        }
    }
    for c in &r.coverage {
        let column = match c.status {
            CoverageStatus::Evaluated { .. } => 2,
            CoverageStatus::Skipped { .. } | CoverageStatus::ClosedByPolicy { .. } => 3,
            CoverageStatus::Error(_) => 4,
        };
        rows.entry(c.check_id).or_default()[column] += 1;
    }
    for n in &r.not_evaluable {
        rows.entry(n.check_id).or_default()[5] += 1;
    }

    let line = |s: &mut String, check: &str, severity: &str, x: [String; 6]| {
        let [p, f, e, sk, er, ne] = x;
        let _ = writeln!(s, "{check:<40} {severity:<8} {p:>7} {f:>7} {e:>9} {sk:>7} {er:>6} {ne:>8}");
    };
    let _ = writeln!(s);
    line(s, "CHECK", "SEVERITY", COLUMNS.map(str::to_owned));
    for info in &r.checks {
        line(s, info.id, info.severity.as_str(), rows.get(info.id).copied().unwrap_or_default().map(|n| n.to_string()));
    }
    // The totals count every entry of the report, a check missing from `checks` included.
    let mut total = [0usize; 6];
    for x in rows.values() {
        for (t, n) in total.iter_mut().zip(x) {
            *t += n;
        }
    }
    line(s, "TOTAL", "", total.map(|n| n.to_string()));
}

fn failing_resources(r: &ScanReport, s: &mut String) {
    let mut by_check: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    // Suppressed FAILs are listed under their rule instead.
    for f in r.failures().filter(|f| f.triage.suppressed.is_none()) {
        by_check.entry(f.check.id).or_default().push(f);
    }
    if by_check.is_empty() {
        return;
    }
    // Worst first: critical checks first, then the check with the most FAILs; registry order breaks ties.
    let position = |id: &str| r.checks.iter().position(|c| c.id == id).unwrap_or(usize::MAX);
    let mut groups: Vec<(&str, Severity, Vec<&Finding>)> =
        by_check.into_iter().filter_map(|(id, fs)| Some((id, fs.first()?.severity(), fs))).collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.len().cmp(&a.2.len())).then(position(a.0).cmp(&position(b.0))).then(a.0.cmp(b.0)));

    let total: usize = groups.iter().map(|g| g.2.len()).sum();
    let shown = per_check(groups.len());
    let _ = writeln!(s, "\nFailing resources ({total}; worst first, at most {shown} per check):");
    for (check, severity, mut fs) in groups {
        let _ = writeln!(s, "  {check} [{severity}] ({} failing)", fs.len());
        fs.sort_by(|a, b| {
            (&a.target.account, &a.target.region, &a.resource.id, &a.resource.arn).cmp(&(
                &b.target.account,
                &b.target.region,
                &b.resource.id,
                &b.resource.arn,
            ))
        });
        let new = |f: &Finding| if f.triage.baseline == Some(BaselineState::New) { "NEW " } else { "" };
        finding_lines(r, s, &fs, shown, new);
    }
}

/// How many failing resources each of `groups` checks lists: [`Bounds::per_check`], or fewer when more checks
/// fail than the section's [`Bounds::failing`] lines hold at that count (never fewer than one), so the summary
/// stays bounded as checks are added.
fn per_check(groups: usize) -> usize {
    (B.failing / groups.max(1)).clamp(1, B.per_check)
}

/// The first `shown` of `fs`, a line each (`mark`, where, which resource, the message cut to fit), and how
/// many more there are.
fn finding_lines(r: &ScanReport, s: &mut String, fs: &[&Finding], shown: usize, mark: impl Fn(&Finding) -> &'static str) {
    for f in fs.iter().take(shown) {
        let prefix = format!("    {}{}{} {}: ", mark(f), f.target, named(r, &f.target.account), one_line(&f.resource.arn));
        let room = B.line_width.saturating_sub(prefix.chars().count()).max(B.min_message);
        let _ = writeln!(s, "{prefix}{}", cut(&f.message, room));
    }
    if fs.len() > shown {
        let _ = writeln!(s, "    ... and {} more (see the JSON report)", fs.len() - shown);
    }
}

/// WARNINGs (runtimes deprecated soon): their own line, soonest first, and whether they fail the scan.
fn warnings(r: &ScanReport, s: &mut String) {
    let mut ws: Vec<&Finding> = r.warnings().filter(|f| f.triage.suppressed.is_none()).collect();
    if ws.is_empty() {
        return;
    }
    // The date each check declares a WARNING of its becomes a FAIL on (a runtime's deprecation date).
    let when = |f: &Finding| crate::check::by_id(f.check.id).and_then(|c| c.due_date).and_then(|k| k.str(f)).map(str::to_owned);
    ws.sort_by(|a, b| (when(a), a.sort_key()).cmp(&(when(b), b.sort_key())));
    let fails = if r.fail_policy.warnings { "they fail the scan (--fail-on-warning)" } else { "they do not fail the scan" };
    let _ = writeln!(s, "\nWarnings ({}; not failing yet, {fails}; soonest first, at most {}):", ws.len(), B.per_check);
    finding_lines(r, s, &ws, B.per_check, |_| "");
}

/// What each check adds to the summary (e.g. runtimes a check's table does not know), in registry order.
fn check_lines(r: &ScanReport, s: &mut String) {
    let fit = |list: &str| cut(list, B.line_width);
    for c in crate::check::ALL {
        for line in (c.summary)(&r.findings, &fit) {
            let _ = writeln!(s, "\n{line}");
        }
    }
}

/// Skipped scopes, regions closed by SCP and resources not evaluable: one line per group, never per scope.
fn coverage_gaps(r: &ScanReport, s: &mut String) {
    let mut lines = Vec::new();

    let mut skipped: BTreeMap<&str, (usize, BTreeSet<&AccountId>)> = BTreeMap::new();
    for c in &r.coverage {
        if let CoverageStatus::Skipped { reason } = &c.status {
            let e = skipped.entry(reason.as_str()).or_default();
            e.0 += 1;
            e.1.insert(&c.account);
        }
    }
    let mut skipped: Vec<_> = skipped.into_iter().collect();
    skipped.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    for (reason, (n, accounts)) in skipped.iter().take(B.gap_groups) {
        lines.push(format!("  {n} scope(s) skipped in {} account(s): {}", accounts.len(), one_line(reason)));
    }
    if skipped.len() > B.gap_groups {
        lines.push(format!("  ... and {} more skip reasons (see the JSON report)", skipped.len() - B.gap_groups));
    }

    // With Control Tower's Region deny this is every denied region of every account: one line.
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
        let actions: Vec<String> = closed_actions.iter().map(|(a, n)| format!("{} ({n})", one_line(a))).collect();
        lines.push(format!(
            "  {} region(s) closed by SCP in {} account(s): skipped, not incomplete; denied: {}",
            closed_targets.len(),
            accounts.len(),
            actions.join(", ")
        ));
    }

    if !r.not_evaluable.is_empty() {
        lines.push(format!("  Not evaluable ({}; listed but not readable, neither passed nor failed):", r.not_evaluable.len()));
        let mut groups: BTreeMap<(&str, &str), (usize, BTreeSet<&AccountId>, usize)> = BTreeMap::new();
        for (i, n) in r.not_evaluable.iter().enumerate() {
            let g = groups.entry((n.check_id, n.error.code.as_str())).or_insert((0, BTreeSet::new(), i));
            g.0 += 1;
            g.1.insert(&n.target.account);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        for ((check, code), (n, accounts, _)) in groups.iter().take(B.gap_groups) {
            lines.push(format!("    {n} x {check} {}: {} account(s)", one_line(code), accounts.len()));
        }
        if groups.len() > B.gap_groups {
            lines.push(format!("    ... and {} more (check, code) groups (see the JSON report)", groups.len() - B.gap_groups));
        }
        // The first resource of each group, biggest groups first.
        for (_, (_, _, first)) in groups.iter().take(B.not_evaluable_examples) {
            if let Some(n) = r.not_evaluable.get(*first) {
                let prefix = format!("    e.g. {}{} {} {}: ", n.target, named(r, &n.target.account), n.check_id, one_line(&n.resource.arn));
                let room = B.line_width.saturating_sub(prefix.chars().count()).max(B.min_message);
                lines.push(format!("{prefix}{}", cut(&n.error.to_string(), room)));
            }
        }
    }

    if !lines.is_empty() {
        let _ = writeln!(s, "\nCoverage gaps:");
        for l in lines {
            let _ = writeln!(s, "{l}");
        }
    }
}

/// One cause of errors: an error code in one check (or in the account as a whole).
#[derive(Default)]
struct Cause<'a> {
    count: usize,
    accounts: BTreeSet<&'a AccountId>,
    regions: BTreeSet<&'a str>,
    first_message: Option<&'a str>,
}

fn errors(r: &ScanReport, s: &mut String) {
    if r.errors.is_empty() {
        return;
    }
    let mut causes: BTreeMap<(&str, &str), Cause> = BTreeMap::new();
    for e in &r.errors {
        let c = causes.entry((e.error.code.as_str(), e.check_id.unwrap_or("account"))).or_default();
        c.count += 1;
        c.accounts.insert(&e.account);
        if let Some(region) = &e.region {
            c.regions.insert(region.as_str());
        }
        c.first_message.get_or_insert(e.error.message.as_str());
    }
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));

    let _ = writeln!(
        s,
        "\nErrors ({}; {} cause(s); these scopes were NOT evaluated and are not reported as passing):",
        r.errors.len(),
        causes.len()
    );
    for ((code, check), c) in causes.iter().take(B.error_groups) {
        let regions = if c.regions.is_empty() { "whole account".to_owned() } else { format!("{} region(s)", c.regions.len()) };
        let examples: Vec<String> = c.accounts.iter().take(B.error_examples).map(|a| format!("{a}{}", named(r, a))).collect();
        let more = if c.accounts.len() > B.error_examples { ", ..." } else { "" };
        let _ = writeln!(
            s,
            "  {} x {} in {check}: {} account(s), {regions} (e.g. {}{more}): {}",
            c.count,
            one_line(code),
            c.accounts.len(),
            examples.join(", "),
            cut(c.first_message.unwrap_or_default(), B.error_message)
        );
    }
    if causes.len() > B.error_groups {
        let _ = writeln!(s, "  ... and {} more causes (see the JSON report)", causes.len() - B.error_groups);
    }
}

fn notes(r: &ScanReport, s: &mut String) {
    if r.notes.is_empty() {
        return;
    }
    // The same text in many accounts (e.g. a region-list fallback) is one line with a count.
    let mut by_text: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for n in &r.notes {
        by_text.entry(n.text.as_str()).or_default().insert(n.account.as_ref().map_or("", |a| a.as_str()));
    }
    // The notes of the most accounts first: they are what the scan as a whole ran into.
    let mut by_text: Vec<_> = by_text.into_iter().collect();
    by_text.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let _ = writeln!(s, "\nNotes:");
    for (text, accounts) in by_text.iter().take(B.notes) {
        let text = one_line(text);
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
    if by_text.len() > B.notes {
        let _ = writeln!(s, "  ... and {} more notes (see the JSON report)", by_text.len() - B.notes);
    }
}

/// The verdict line of the summary (also the notification digest's).
pub fn verdict(r: &ScanReport) -> String {
    let fails = r.failing().count();
    // FAILs that do not fail the scan: suppressed, unchanged under --fail-on new, or below --fail-severity.
    // The open findings the policy weighs: FAILs, and WARNINGs with --fail-on-warning.
    let weighed = |f: &Finding| f.status == Status::Fail || (f.status == Status::Warn && r.fail_policy.warnings);
    let stale = r.history.iter().flat_map(|h| &h.stale).map(|s| &s.finding);
    let accepted = r.open().chain(stale).filter(|f| weighed(f)).count().saturating_sub(fails);
    let verdict = verdict_of(r, fails);
    if accepted > 0 {
        format!("{verdict} ({accepted} other FAIL(s) do not fail the scan: suppressed, or outside --fail-on/--fail-severity)")
    } else {
        verdict
    }
}

fn verdict_of(r: &ScanReport, fails: usize) -> String {
    match r.exit_code() {
        exit::OK => "OK: every scope evaluated, nothing failed".to_owned(),
        exit::FAILED_INCOMPLETE => {
            format!("FAIL and INCOMPLETE: {fails} failing resource(s), and some scopes could not be evaluated")
        }
        exit::FAILED => format!("FAIL: {fails} failing resource(s)"),
        _ if !r.evaluated_anything() => {
            "NOTHING EVALUATED: no scope was evaluated (no account matched, or every scope was skipped or failed)".to_owned()
        }
        _ if !r.has_errors() && !r.not_evaluable.is_empty() && !r.incomplete => {
            "INCOMPLETE: nothing failed, but some resources could not be read".to_owned()
        }
        _ if !r.has_errors() && !r.incomplete => "INCOMPLETE: nothing failed, but the Security Hub import did not complete".to_owned(),
        _ => "INCOMPLETE: nothing failed, but some scopes could not be evaluated".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_failing_section_lists_five_per_check_up_to_five_checks_then_shares_its_lines() {
        let shown: Vec<usize> = [0, 1, 5, 6, 8, 12, 25, 40].into_iter().map(super::per_check).collect();
        assert_eq!(shown, [5, 5, 5, 4, 3, 2, 1, 1]);
    }
}
