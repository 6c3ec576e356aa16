//! `orgscan merge`: joins the reports of the shards of one sharded scan into the report of that scan.
//!
//! The union is exact: every shard scanned disjoint accounts, so findings, coverage, errors, resources not
//! evaluable and Security Hub scopes are simply put together; the organization-wide parts (the
//! organization, the caller, the selection and its digest, the checks, the shard count) must be equal. The
//! merged report then goes through the same triage (`--baseline`, `--suppressions`) and the same outputs as
//! one scan's. Triage runs here, not in the shards: a shard sees only its accounts, so the baseline FAILs of
//! the others would be "out of selection" there, and "unused" suppression rules could not be told.
//!
//! A shard whose report is missing leaves its accounts unscanned: each gets an error entry and
//! error coverage (code `ShardMissing`), so the result is incomplete (exit code 3 or 4), never a pass, and
//! their baseline FAILs are carried forward.

mod import;
pub mod read;

use std::collections::{BTreeMap, BTreeSet};

pub use self::read::Part;
use crate::model::{Coverage, CoverageStatus, ErrorEntry, Note, ScanReport, ScopeError};

/// The error code of the accounts of a shard whose report was not given.
pub const SHARD_MISSING: &str = "ShardMissing";

/// Joins `parts` (at least one) into one report, or says why they do not belong together.
pub fn merge(parts: Vec<Part>) -> Result<ScanReport, String> {
    let mut parts = parts.into_iter();
    let first = parts.next().ok_or("no shard report to merge")?;
    let (count, digest) = (first.shard.shard.count, first.shard.digest.clone());
    let mut seen: BTreeMap<u32, std::path::PathBuf> = BTreeMap::new();
    let mut regions = BTreeSet::new();
    // The organization-wide parts come from the first report; everything else is added part by part, the
    // first included (moved, never copied: a part may hold hundreds of thousands of findings).
    let mut out = ScanReport::new(first.report.subject.clone(), first.report.checks.clone());
    (out.started_at, out.finished_at) = (first.report.started_at, first.report.finished_at);
    let info = first.shard.clone();
    for p in std::iter::once(first).chain(parts) {
        let shown = p.path.display().to_string();
        let differs = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            format!(
                "shard report '{shown}' is of another scan: its {what} is {b:?}, not {a:?} as in the first report; merge the shards of one scan"
            )
        };
        let s = &p.shard;
        if s.shard.count != count {
            return Err(differs("shard count", &count, &s.shard.count));
        }
        if s.digest != digest {
            return Err(differs("account selection (digest)", &digest, &s.digest));
        }
        if p.report.subject != out.subject {
            return Err(differs("organization and caller", &out.subject, &p.report.subject));
        }
        let ids = |r: &ScanReport| r.checks.iter().map(|c| c.id).collect::<Vec<_>>();
        if ids(&p.report) != ids(&out) {
            return Err(differs("checks", &ids(&out), &ids(&p.report)));
        }
        if s.partial != info.partial {
            return Err(differs("selection (checks, regions, OUs)", &info.partial, &s.partial));
        }
        if let Some(earlier) = seen.insert(s.shard.index, p.path.clone()) {
            return Err(format!("shard {} is given twice: '{}' and '{shown}'", s.shard, earlier.display()));
        }
        if let Some(c) = p.report.coverage.iter().find(|c| !s.shard.owns(&c.account)) {
            return Err(format!(
                "shard report '{shown}' says it is shard {} but holds account {}, which is not that shard's",
                s.shard, c.account
            ));
        }
        add(&mut out, p.report);
        regions.extend(p.regions);
    }
    out.stats.regions = regions.len();
    for index in (0..count).filter(|i| !seen.contains_key(i)) {
        missing(&mut out, &info, index);
    }
    out.notes.sort();
    out.notes.dedup();
    out.partial = info.partial;
    out.shard = None;
    out.sort();
    Ok(out)
}

/// Adds one shard's report to the merged one.
fn add(out: &mut ScanReport, r: ScanReport) {
    out.started_at = out.started_at.min(r.started_at);
    out.finished_at = out.finished_at.max(r.finished_at);
    out.findings.extend(r.findings);
    out.coverage.extend(r.coverage);
    out.errors.extend(r.errors);
    out.not_evaluable.extend(r.not_evaluable);
    // Every shard reads the whole organization: its notes about the walk and its account names repeat.
    out.notes.extend(r.notes);
    for (a, i) in r.accounts {
        out.accounts.entry(a).or_insert(i);
    }
    out.incomplete |= r.incomplete;
    let s = &mut out.stats;
    s.accounts += r.stats.accounts;
    s.accounts_scanned += r.stats.accounts_scanned;
    s.accounts_failed += r.stats.accounts_failed;
    s.duration_ms = s.duration_ms.max(r.stats.duration_ms);
    for (k, c) in r.stats.api {
        let e = s.api.entry(k).or_default();
        e.calls += c.calls;
        e.attempts += c.attempts;
        e.throttled += c.throttled;
    }
    if let Some(imported) = r.stats.security_hub {
        let into = s.security_hub.get_or_insert_with(|| crate::model::import::ImportReport {
            dry_run: imported.dry_run,
            only_failed: imported.only_failed,
            ..Default::default()
        });
        into.scopes.extend(imported.scopes);
        into.failures.extend(imported.failures);
        into.scopes.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        into.failures.sort();
    }
}

/// Records the accounts of shard `index`, whose report is missing, as not scanned.
fn missing(out: &mut ScanReport, info: &crate::model::ShardInfo, index: u32) {
    let count = info.shard.count;
    let accounts: Vec<_> = info.accounts_of(index).cloned().collect();
    let names: Vec<String> = accounts.iter().map(|a| a.to_string()).collect();
    out.notes.push(Note {
        account: None,
        text: format!(
            "shard {index}/{count} is missing: no report of it was given to orgscan merge, so its {} account(s) were not scanned{}{}",
            accounts.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        ),
    });
    let error = ScopeError::new(SHARD_MISSING, format!("shard {index}/{count} did not report: run it and merge its report too"));
    for a in accounts {
        out.errors.push(ErrorEntry { account: a.clone(), region: None, check_id: None, error: error.clone() });
        for c in &out.checks {
            out.coverage.push(Coverage { check_id: c.id, account: a.clone(), region: None, status: CoverageStatus::Error(error.clone()) });
        }
        out.stats.accounts += 1;
        out.stats.accounts_failed += 1;
    }
}
