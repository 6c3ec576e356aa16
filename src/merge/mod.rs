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

/// The shard reports' reader is the JSON report's ([`crate::json::read::shard`]).
pub use crate::json::read::shard as read;

use std::collections::{BTreeMap, BTreeSet};

pub use self::read::Part;
use crate::model::{Coverage, CoverageStatus, ErrorEntry, Note, ScanReport, ScopeError};

/// The error code of the accounts of a shard whose report was not given.
pub const SHARD_MISSING: &str = "ShardMissing";

/// Joins `parts` (at least one) into one report, or says why they do not belong together.
pub fn merge(parts: Vec<Part>) -> Result<ScanReport, String> {
    let mut merged = Merged::default();
    for p in parts {
        merged.add(p)?;
    }
    merged.finish()
}

/// Reads the shard reports at `paths` one after another and joins each into the merged report as soon as it
/// is read, until `stopped` says so (Ctrl-C, SIGTERM): the merged report, and each report not read, in words.
/// One part's findings are moved into the merged report before the next part is read, so a merge holds each
/// finding once (issue 26). A stop before the first report is an error: nothing was merged.
pub fn merge_until(paths: &[std::path::PathBuf], stopped: &dyn Fn() -> bool) -> Result<(ScanReport, Vec<String>), String> {
    let (mut merged, mut not_reached) = (Merged::default(), Vec::new());
    for p in paths {
        if stopped() {
            not_reached.push(format!("shard report {}", p.display()));
        } else {
            // The findings merged so far are handed to the reader, which appends this part's to them.
            let so_far = merged.first.as_mut().map(|(out, _)| std::mem::take(&mut out.findings)).unwrap_or_default();
            merged.add(read::load(p, so_far)?)?;
        }
    }
    if merged.first.is_none() && !not_reached.is_empty() {
        return Err("stopped before the first shard report was read: nothing was merged and no report was written".into());
    }
    Ok((merged.finish()?, not_reached))
}

/// The merge so far: the report of the parts added, and what the next part must agree with.
#[derive(Default)]
struct Merged {
    /// The merged report and the first part's shard section (the organization-wide parts every part shares).
    first: Option<(ScanReport, crate::model::ShardInfo)>,
    seen: BTreeMap<u32, std::path::PathBuf>,
    regions: BTreeSet<crate::model::Region>,
}

impl Merged {
    /// Checks that part `p` belongs with the parts added before it, and adds it. The organization-wide parts
    /// come from the first part; everything else is added part by part, the first included (moved, never
    /// copied: a part may hold hundreds of thousands of findings).
    fn add(&mut self, mut p: Part) -> Result<(), String> {
        let (out, info) = self.first.get_or_insert_with(|| {
            let mut out = ScanReport::new(p.report.subject.clone(), p.report.checks.clone());
            (out.started_at, out.finished_at) = (p.report.started_at, p.report.finished_at);
            (out, p.shard.clone())
        });
        let shown = p.path.display().to_string();
        let differs = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            format!(
                "shard report '{shown}' is of another scan: its {what} is {b:?}, not {a:?} as in the first report; merge the shards of one scan"
            )
        };
        let s = &p.shard;
        if s.shard.count != info.shard.count {
            return Err(differs("shard count", &info.shard.count, &s.shard.count));
        }
        if s.digest != info.digest {
            return Err(differs("account selection (digest)", &info.digest, &s.digest));
        }
        if p.report.subject != out.subject {
            return Err(differs("organization and caller", &out.subject, &p.report.subject));
        }
        let ids = |r: &ScanReport| r.checks.iter().map(|c| c.id).collect::<Vec<_>>();
        if ids(&p.report) != ids(out) {
            return Err(differs("checks", &ids(out), &ids(&p.report)));
        }
        if s.partial != info.partial {
            return Err(differs("selection (checks, regions, OUs)", &info.partial, &s.partial));
        }
        if let Some(earlier) = self.seen.insert(s.shard.index, p.path.clone()) {
            return Err(format!("shard {} is given twice: '{}' and '{shown}'", s.shard, earlier.display()));
        }
        let own = p.report.findings.get_mut(p.first..).unwrap_or_default();
        if !own.is_sorted_by(|a, b| a.sort_key() <= b.sort_key()) {
            crate::model::report::sort_findings(own);
        }
        belongs(&p)?;
        add(out, p.report);
        self.regions.extend(p.regions);
        Ok(())
    }

    /// The merged report: the accounts of the shards not added recorded as not scanned, everything sorted.
    fn finish(self) -> Result<ScanReport, String> {
        let (mut out, info) = self.first.ok_or("no shard report to merge")?;
        out.stats.regions = self.regions.len();
        for index in (0..info.shard.count).filter(|i| !self.seen.contains_key(i)) {
            missing(&mut out, &info, index);
        }
        out.notes.sort();
        out.notes.dedup();
        out.partial = info.partial;
        out.shard = None;
        out.sort();
        Ok(out)
    }
}

/// Whether every entry of part `p` (finding, coverage, error, resource not evaluable, note, Security Hub
/// scope and refused finding) is of an account of its shard (one of the selection the shard names, and that
/// shard's by the hash), and no finding's fingerprint was given by an earlier part. A shard report is a file
/// anyone may edit or mix up: an entry of another account would land in the merged report as if scanned, and
/// the same finding twice would be counted twice (issue 27). Refused, naming the part and the account.
fn belongs(p: &Part) -> Result<(), String> {
    use crate::model::AccountId;
    let (s, r, shown) = (&p.shard, &p.report, p.path.display());
    let selection: BTreeSet<&AccountId> = s.selection.iter().collect();
    let own = |a: &AccountId| selection.contains(a) && s.shard.owns(a);
    let foreign = |what: &str, a: &AccountId| {
        let why = if selection.contains(a) {
            format!("shard {}'s", crate::model::shard::shard_of(a, s.shard.count))
        } else {
            "not in the selection the shards share".to_owned()
        };
        format!(
            "shard report '{shown}' says it is shard {} but holds account {a} ({what}), which is {why}: a shard report holds only its own \
             accounts; merge the reports as the shards wrote them",
            s.shard
        )
    };
    let import = r.stats.security_hub.as_ref();
    let accounts = (p.own_findings().iter().map(|f| ("a finding", &f.target.account)))
        .chain(r.coverage.iter().map(|c| ("coverage", &c.account)))
        .chain(r.errors.iter().map(|e| ("an error", &e.account)))
        .chain(r.not_evaluable.iter().map(|n| ("a resource not evaluable", &n.target.account)))
        .chain(r.notes.iter().filter_map(|n| n.account.as_ref().map(|a| ("a note", a))))
        .chain(import.into_iter().flat_map(|i| i.scopes.iter().map(|t| ("a Security Hub import", &t.account))))
        .chain(import.into_iter().flat_map(|i| i.failures.iter().map(|f| ("a refused Security Hub finding", &f.account))));
    for (what, a) in accounts {
        if !own(a) {
            return Err(foreign(what, a));
        }
    }
    // Every finding was just held to its part's own accounts, and the shards' accounts are disjoint: a finding
    // can only be repeated within one part. The part is sorted by check, account, region and resource id
    // (which make the fingerprint, the partition being the region's), so a repeat is next to its first.
    if let Some(w) = p.own_findings().windows(2).find(|w| same_resource(&w[0], &w[1])) {
        let f = &w[1];
        return Err(format!(
            "shard report '{shown}' holds finding {} ({} {} in {}) a second time: every finding belongs to one shard, once; \
             merge the reports as the shards wrote them",
            f.fingerprint(),
            f.check.id,
            crate::model::terminal::safe(&f.resource.id),
            f.target,
        ));
    }
    Ok(())
}

/// Whether two findings have one fingerprint: the same check, account, region and resource id.
fn same_resource(a: &crate::model::Finding, b: &crate::model::Finding) -> bool {
    a.check.id == b.check.id && a.target == b.target && a.resource.id == b.resource.id
}

/// Adds one shard's report to the merged one (its findings list starts with the merged findings when they
/// were handed to the reader to append to).
fn add(out: &mut ScanReport, mut r: ScanReport) {
    out.started_at = out.started_at.min(r.started_at);
    out.finished_at = out.finished_at.max(r.finished_at);
    if out.findings.is_empty() {
        // The part's list holds the merged findings before its own (handed to the reader), or there were none:
        // it becomes the merged list, not copied into another.
        out.findings = std::mem::take(&mut r.findings);
    } else {
        out.findings.append(&mut r.findings);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountId, Finding, Shard, ShardInfo, Subject, Target};

    fn account(i: u64) -> AccountId {
        format!("{:012}", 200_000_000_000 + i).parse().unwrap()
    }

    fn finding(a: &AccountId, id: &str) -> Finding {
        let t = Target::new(a.clone(), "eu-west-1".parse().unwrap());
        let info = crate::check::kms::INFO;
        Finding::builder(info, &t).resource("AwsKmsKey", id, format!("arn:aws:kms:eu-west-1:{a}:key/{id}")).fail("pending").build().unwrap()
    }

    /// Two shards of a selection of ten accounts, each report with a finding and an evaluated scope per own
    /// account.
    fn parts() -> (Vec<AccountId>, Vec<Part>) {
        let selection: Vec<AccountId> = (0..10).map(account).collect();
        let parts = (0..2)
            .map(|index| {
                let shard = Shard::new(index, 2, "test").unwrap();
                let info = ShardInfo::new(shard, selection.clone(), None);
                let mut report = ScanReport::new(Subject::Accounts { caller: account(0) }, vec![crate::check::kms::INFO]);
                for a in selection.iter().filter(|a| shard.owns(a)) {
                    report.findings.push(finding(a, "k"));
                    report.coverage.push(Coverage {
                        check_id: crate::check::kms::INFO.id,
                        account: a.clone(),
                        region: Some("eu-west-1".parse().unwrap()),
                        status: CoverageStatus::Evaluated { resources: 1, not_applicable: 0, not_evaluable: 0 },
                    });
                }
                Part { path: format!("s{index}.json").into(), report, shard: info, regions: vec!["eu-west-1".parse().unwrap()], first: 0 }
            })
            .collect();
        (selection, parts)
    }

    #[test]
    fn every_entry_of_a_part_is_of_its_shard_s_accounts_and_every_finding_of_one_part() {
        let (selection, good) = parts();
        let merged = merge(good).unwrap();
        assert_eq!(merged.findings.len(), selection.len());

        // A finding of an account outside the selection (a fingerprint is a plain SHA-256: recomputed).
        let (_, mut p) = parts();
        let outsider: AccountId = "999999999999".parse().unwrap();
        p[1].report.findings.push(finding(&outsider, "k"));
        let e = merge(p).unwrap_err();
        assert!(e.contains("'s1.json'") && e.contains("account 999999999999 (a finding)") && e.contains("not in the selection"), "{e}");

        // Another shard's finding (its coverage left out), an error, a note.
        let theirs = selection.iter().find(|a| !Shard::new(1, 2, "t").unwrap().owns(a)).unwrap().clone();
        for (what, edit) in [
            (
                "a finding",
                Box::new(|r: &mut ScanReport, a: &AccountId| r.findings.push(finding(a, "other")))
                    as Box<dyn Fn(&mut ScanReport, &AccountId)>,
            ),
            (
                "an error",
                Box::new(|r: &mut ScanReport, a: &AccountId| {
                    r.errors.push(ErrorEntry { account: a.clone(), region: None, check_id: None, error: ScopeError::new("X", "y") })
                }),
            ),
            ("a note", Box::new(|r: &mut ScanReport, a: &AccountId| r.notes.push(Note { account: Some(a.clone()), text: "n".into() }))),
        ] {
            let (_, mut p) = parts();
            edit(&mut p[1].report, &theirs);
            let e = merge(p).unwrap_err();
            assert!(e.contains(&format!("holds account {theirs} ({what}), which is shard 0's")) && e.contains("'s1.json'"), "{e}");
        }

        // The same finding twice in a part.
        let (_, mut p) = parts();
        let again = p[0].report.findings[0].clone();
        p[0].report.findings.push(again.clone());
        let e = merge(p).unwrap_err();
        assert!(e.contains(&format!("holds finding {} ", again.fingerprint())) && e.contains("a second time"), "{e}");
    }
}
