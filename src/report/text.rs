//! The terminal summary: counts by check and status, the failing resources, coverage and errors.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{CoverageStatus, ScanReport, ScanScope};
use crate::finding::Status;

/// How many failing resources to list per check before summarising the rest (the files hold them all).
const MAX_LISTED_PER_CHECK: usize = 20;

pub fn render(r: &ScanReport) -> String {
    let mut s = String::new();
    let scope = match &r.scope {
        ScanScope::Account(a) => format!("account {a}"),
        ScanScope::Organization { id, .. } => format!("organization {id}"),
        ScanScope::Accounts { caller } => format!("accounts scanned from {caller}"),
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
                let _ = writeln!(s, "    {} {}: {}", f.target, f.resource.arn, f.message);
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

    if !r.errors.is_empty() {
        let _ = writeln!(s, "\nErrors ({}; these scopes were NOT evaluated and are not reported as passing):", r.errors.len());
        for e in &r.errors {
            let region = e.region.as_ref().map(|r| r.as_str()).unwrap_or("*");
            let check = e.check_id.unwrap_or("*");
            let _ = writeln!(s, "  {}/{region} {check}: {}", e.account, e.error);
        }
    }

    let fails = r.failures().count();
    let verdict = match r.exit_code() {
        super::exit::OK => "OK: every scope evaluated, nothing failed".to_owned(),
        super::exit::FAILED => format!("FAIL: {fails} failing resource(s)"),
        _ => "INCOMPLETE: nothing failed, but some scopes could not be evaluated".to_owned(),
    };
    let _ = writeln!(s, "\n{verdict} (exit code {})", r.exit_code());
    s
}
