//! The summary's lines about runs over time: the comparison with the baseline, the FAILs carried forward,
//! and what each suppression rule did.

use std::fmt::Write as _;

use super::fmt::{B, cut, named, one_line};
use crate::model::{BaselineState, ScanReport};

/// The comparison with the baseline, right under the header: what changed since the last run.
pub(super) fn baseline(r: &ScanReport, s: &mut String) {
    let Some(h) = &r.history else { return };
    let state = |b: BaselineState| r.baseline_count(b);
    let _ = write!(
        s,
        "Since the baseline of {}: {} new, {} fixed, {} unchanged",
        h.baseline_started_at.format("%Y-%m-%d %H:%M UTC"),
        state(BaselineState::New),
        h.fixed.len(),
        state(BaselineState::Unchanged)
    );
    if !h.stale.is_empty() {
        let _ = write!(s, "; {} carried forward as stale (not read this time)", h.stale.len());
    }
    if h.out_of_selection > 0 {
        let _ = write!(s, "; {} outside this selection", h.out_of_selection);
    }
    let _ = writeln!(s);
}

/// Baseline FAILs that could not be read again: still open, with why and when they were last seen.
pub(super) fn stale(r: &ScanReport, s: &mut String) {
    let Some(h) = r.history.as_ref().filter(|h| !h.stale.is_empty()) else { return };
    let _ = writeln!(s, "\nCarried forward from the baseline ({}; not read this time, so not closed):", h.stale.len());
    for x in h.stale.iter().take(B.per_check) {
        let f = &x.finding;
        let prefix = format!("  {} {}{} {}: ", f.check.id, f.target, named(r, &f.target.account), one_line(&f.resource.arn));
        let why = format!("last seen {}; {}", x.last_seen.format("%Y-%m-%d"), x.reason);
        let room = B.line_width.saturating_sub(prefix.chars().count()).max(B.min_message);
        let _ = writeln!(s, "{prefix}{}", cut(&why, room));
    }
    if h.stale.len() > B.per_check {
        let _ = writeln!(s, "  ... and {} more (see the JSON report)", h.stale.len() - B.per_check);
    }
}

/// What each suppression rule did: FAILs accepted per rule, rules that expired, rules that matched nothing.
pub(super) fn suppressions(r: &ScanReport, s: &mut String) {
    let Some(sup) = &r.suppressions else { return };
    let until = |d: Option<chrono::NaiveDate>| d.map_or_else(|| "no expiry".to_owned(), |d| format!("until {d}"));
    let used: Vec<_> = sup.rules.iter().filter(|u| u.matched > 0).collect();
    if !used.is_empty() {
        let total: usize = used.iter().map(|u| u.matched).sum();
        let _ = writeln!(s, "\nSuppressed ({total} FAIL(s) accepted by rules; they do not fail the scan):");
        for u in used.iter().take(B.notes) {
            let x = &u.rule;
            let _ = writeln!(
                s,
                "  rule {} (line {}, {}, owner {}, {}): {} FAIL(s): {}",
                x.index,
                x.line,
                x.check,
                one_line(&x.owner),
                until(x.expires),
                u.matched,
                cut(&one_line(&x.reason), B.error_message)
            );
        }
        if used.len() > B.notes {
            let _ = writeln!(s, "  ... and {} more rules (see the JSON report)", used.len() - B.notes);
        }
    }
    for (title, list) in [
        ("Expired suppression rules (they suppress nothing now; renew or remove them)", sup.expired().collect::<Vec<_>>()),
        ("Unused suppression rules (matched nothing in this complete scan; remove them)", sup.unused().collect()),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{title}:");
        for u in list.iter().take(B.notes) {
            let x = &u.rule;
            let when = x.expires.map(|d| format!(", expired {d}")).filter(|_| u.expired).unwrap_or_default();
            let _ = writeln!(s, "  rule {} (line {}, {}): owner {}{when}", x.index, x.line, x.check, one_line(&x.owner));
        }
        if list.len() > B.notes {
            let _ = writeln!(s, "  ... and {} more (see the JSON report)", list.len() - B.notes);
        }
    }
}
