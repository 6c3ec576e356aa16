//! The pure half of the import: which targets may be touched, and what to send to each.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::asff::{self, AsffFinding};
use crate::model::import::Counts;
use crate::model::{AccountId, CoverageStatus, Finding, Region, ScanReport, ScopeError, Status, Target};

/// How a planned finding changes Security Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    New,
    Updated,
    Archived { resolved: bool },
}

pub(super) fn count(c: &mut Counts, kind: Kind) {
    match kind {
        Kind::New => c.new += 1,
        Kind::Updated => c.updated += 1,
        Kind::Archived { resolved } => {
            c.archived += 1;
            if resolved {
                c.resolved += 1;
            }
        }
    }
}

/// An orgscan finding already in Security Hub in the scope (of a check this run evaluated there).
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    pub id: String,
    /// `RecordState` is not `ARCHIVED`.
    pub active: bool,
    pub created_at: Option<String>,
    /// The archived copy to send if this run no longer reports the finding (built for active ones only).
    pub archive: Option<AsffFinding>,
    /// `Workflow.Status` (`NEW`, `NOTIFIED`, `SUPPRESSED`, `RESOLVED`).
    pub workflow: Option<String>,
    /// `Note.Text`.
    pub note: Option<String>,
    /// The note was written by orgscan (`Note.UpdatedBy`): a suppression orgscan set, and may lift.
    pub note_by_orgscan: bool,
}

/// What the import may touch in one target (account, region). Decided per check: a check evaluated there
/// has its findings sent and its earlier findings resolved or archived, whatever the other checks did; a
/// check that was not evaluated (error, skip, closed by policy) has its findings there left as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub account: AccountId,
    /// `None` for an account that was not scanned at all.
    pub region: Option<Region>,
    /// The checks evaluated in this target.
    pub checks: BTreeSet<&'static str>,
    /// The checks that were not, each with why.
    pub untouched: Vec<(&'static str, String)>,
}

impl Readiness {
    /// Why nothing may be touched here, when no check was evaluated.
    pub fn skip_reason(&self) -> Option<String> {
        if self.region.is_none() {
            return Some(self.untouched.first().map_or_else(|| "the account was not scanned".to_owned(), |(_, r)| r.clone()));
        }
        if self.checks.is_empty() {
            return Some(self.untouched.first().map_or_else(|| "no check was evaluated here".to_owned(), |(c, r)| format!("{c}: {r}")));
        }
        None
    }
}

/// The readiness of every target of the report, sorted by account and region.
pub fn readiness(report: &ScanReport) -> Vec<Readiness> {
    let mut m: BTreeMap<(AccountId, Option<Region>), Readiness> = BTreeMap::new();
    for c in &report.coverage {
        let r = m.entry((c.account.clone(), c.region.clone())).or_insert_with(|| Readiness {
            account: c.account.clone(),
            region: c.region.clone(),
            checks: BTreeSet::new(),
            untouched: Vec::new(),
        });
        match &c.status {
            CoverageStatus::Evaluated { .. } => {
                r.checks.insert(c.check_id);
            }
            CoverageStatus::Error(e) => r.untouched.push((c.check_id, format!("not evaluated ({})", e.code))),
            skipped => r.untouched.push((c.check_id, format!("skipped: {}", skipped.skip_reason().unwrap_or_default()))),
        }
    }
    m.into_values().collect()
}

/// The ASFF ids of the findings of resources that could not be read: their earlier findings are kept as
/// they are (never resolved, never archived as "no longer reported").
pub fn protected_ids(report: &ScanReport, account: &AccountId, region: &Region) -> HashSet<String> {
    report
        .not_evaluable
        .iter()
        .filter(|n| &n.target.account == account && &n.target.region == region)
        .map(|n| asff::id_of(n.check_id, &n.fingerprint()))
        .collect()
}

/// What to send to one scope (pure): this run's findings, with `CreatedAt` kept from Security Hub, plus an
/// archived copy of every active earlier finding this run no longer reports. With `only_failed`, a PASS is
/// sent only where it resolves a finding that is active in Security Hub.
pub fn plan_sends(
    local: &[&Finding],
    existing: &[Existing],
    protected: &HashSet<String>,
    account_name: Option<&str>,
    only_failed: bool,
    created_at: &str,
    now: DateTime<Utc>,
) -> Vec<(AsffFinding, Kind)> {
    let by_id: HashMap<&str, &Existing> = existing.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out = Vec::new();
    let mut reported = HashSet::new();
    for f in local {
        let id = asff::finding_id(f);
        let before = by_id.get(id.as_str()).copied();
        let was_active = before.is_some_and(|e| e.active);
        reported.insert(id);
        if only_failed && f.status == Status::Pass && !was_active {
            continue;
        }
        let created = before.and_then(|e| e.created_at.as_deref()).unwrap_or(created_at);
        let a = AsffFinding::from_finding(f, created, now).with_account_name(account_name);
        let kind = match (f.status, before) {
            (Status::Pass, _) => Kind::Archived { resolved: was_active },
            (Status::Fail | Status::Warn, Some(_)) => Kind::Updated,
            (Status::Fail | Status::Warn, None) => Kind::New,
        };
        out.push((a, kind));
    }
    for e in existing {
        if e.active
            && !reported.contains(&e.id)
            && !protected.contains(&e.id)
            && let Some(a) = &e.archive
        {
            out.push((a.clone(), Kind::Archived { resolved: true }));
        }
    }
    out
}

/// `FailedFindings` codes worth re-sending: Security Hub's transient and throttling codes. Anything else
/// (`InvalidInput`, access errors, ...) fails the same way again.
pub fn is_retryable(code: &str) -> bool {
    const TRANSIENT: &[&str] = &[
        "InternalFailure",
        "InternalError",
        "InternalException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    ];
    TRANSIENT.contains(&code) || crate::model::error::is_throttling_code(code)
}

/// Adds the fix to the errors whose cause orgscan knows.
pub(super) fn explain(e: ScopeError, target: &Target) -> ScopeError {
    let (account, region) = (&target.account, &target.region);
    let fix = match e.code.as_str() {
        "InvalidAccessException" => format!(
            "Security Hub is not enabled in {region} for account {account}. Fix: enable it there (in that account: \
             `aws securityhub enable-security-hub --region {region}`; for every member: from the Security Hub delegated \
             administrator, `aws securityhub update-organization-configuration --auto-enable --region {region}`), or leave \
             the region out with --exclude-regions {region}"
        ),
        c if c.contains("AccessDenied") || c == "UnauthorizedOperation" => format!(
            "Fix: allow securityhub:BatchImportFindings, securityhub:GetFindings and (for suppressions) securityhub:BatchUpdateFindings \
             to the role orgscan uses in account {account} (README, Security Hub; deploy/securityhub-import-policy.json)"
        ),
        _ => return e,
    };
    ScopeError::new(e.code, format!("{}. {fix}", e.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::model::{Coverage, Subject};
    use crate::securityhub::testing::{kms, now, target_in};

    fn existing(f: &Finding, active: bool) -> Existing {
        let a = AsffFinding::from_finding(f, "2026-01-01T00:00:00.000Z", now());
        let archive = active.then(|| {
            let mut archived = a.clone();
            archived.record_state = "ARCHIVED".into();
            archived
        });
        Existing {
            id: a.id,
            active,
            created_at: Some("2026-01-01T00:00:00.000Z".into()),
            archive,
            workflow: None,
            note: None,
            note_by_orgscan: false,
        }
    }

    fn kinds(p: &[(AsffFinding, Kind)]) -> Vec<(String, Kind)> {
        p.iter().map(|(f, k)| (f.id.clone(), *k)).collect()
    }

    #[test]
    fn every_finding_is_sent_new_updated_or_archived_and_gone_ones_are_archived() {
        let (fail_new, fail_old, pass_fixed, gone) =
            (kms("a", Status::Fail), kms("b", Status::Fail), kms("c", Status::Pass), kms("d", Status::Fail));
        let before = [existing(&fail_old, true), existing(&kms("c", Status::Fail), true), existing(&gone, true)];
        let p = plan_sends(&[&fail_new, &fail_old, &pass_fixed], &before, &HashSet::new(), None, false, "2026-11-28T09:00:00.000Z", now());
        let id = asff::finding_id;
        assert_eq!(
            kinds(&p),
            vec![
                (id(&fail_new), Kind::New),
                (id(&fail_old), Kind::Updated),
                (id(&pass_fixed), Kind::Archived { resolved: true }),
                (id(&gone), Kind::Archived { resolved: true }),
            ]
        );
        assert_eq!(p[0].0.created_at, "2026-11-28T09:00:00.000Z");
        assert_eq!(p[1].0.created_at, "2026-01-01T00:00:00.000Z", "CreatedAt is kept from Security Hub");
        assert_eq!(p[3].0.record_state, "ARCHIVED");
    }

    #[test]
    fn only_failed_sends_a_pass_only_to_resolve_an_active_finding() {
        let (pass_new, pass_fixed, pass_archived) = (kms("a", Status::Pass), kms("b", Status::Pass), kms("c", Status::Pass));
        let before = [existing(&kms("b", Status::Fail), true), existing(&pass_archived, false)];
        let p = plan_sends(&[&pass_new, &pass_fixed, &pass_archived], &before, &HashSet::new(), None, true, "x", now());
        assert_eq!(kinds(&p), vec![(asff::finding_id(&pass_fixed), Kind::Archived { resolved: true })]);
        // An archived earlier finding that is gone stays as it is.
        let p = plan_sends(&[], &[existing(&kms("z", Status::Fail), false)], &HashSet::new(), None, false, "x", now());
        assert!(p.is_empty());
    }

    #[test]
    fn retryable_codes_are_transient_or_throttling_only() {
        for c in ["InternalFailure", "ThrottlingException", "TooManyRequestsException", "LimitExceededException", "ServiceUnavailable"] {
            assert!(is_retryable(c), "{c}");
        }
        for c in ["InvalidInput", "AccessDeniedException", "InvalidAccessException", "FindingSizeExceeded", ""] {
            assert!(!is_retryable(c), "{c}");
        }
    }

    #[test]
    fn the_invalid_access_error_says_how_to_enable_security_hub() {
        let e = explain(ScopeError::new("InvalidAccessException", "BatchImportFindings: not subscribed"), &target_in("eu-west-2"));
        assert!(e.message.contains("aws securityhub enable-security-hub --region eu-west-2"), "{}", e.message);
        assert!(e.message.contains("--exclude-regions eu-west-2") && e.message.contains("123456789012"));
        let e = explain(ScopeError::new("AccessDeniedException", "no"), &target_in("eu-west-2"));
        assert!(e.message.contains("securityhub:BatchImportFindings"));
        assert_eq!(explain(ScopeError::new("Other", "m"), &target_in("eu-west-2")).message, "m");
    }

    #[test]
    fn readiness_is_decided_per_check_and_an_account_that_was_not_scanned_is_skipped() {
        let acc = |a: &str| a.parse::<AccountId>().unwrap();
        let reg = |r: &str| Some(r.parse::<Region>().unwrap());
        let cov = |check: &'static str, a: &str, r: Option<Region>, status: CoverageStatus| Coverage {
            check_id: check,
            account: acc(a),
            region: r,
            status,
        };
        let ok = || CoverageStatus::Evaluated { resources: 1, not_applicable: 0, not_evaluable: 0 };
        let (k, g) = (check::kms::INFO.id, check::guardduty::INFO.id);
        let scp = ScopeError::new("AccessDeniedException", "with an explicit deny in a service control policy");
        let report = ScanReport {
            coverage: vec![
                cov(k, "111111111111", reg("eu-west-1"), ok()),
                cov(g, "111111111111", reg("eu-west-1"), ok()),
                cov(k, "111111111111", reg("eu-west-2"), ok()),
                cov(g, "111111111111", reg("eu-west-2"), CoverageStatus::Error(ScopeError::new("AccessDenied", "no"))),
                cov(k, "111111111111", reg("af-south-1"), CoverageStatus::Skipped { reason: "region not enabled".into() }),
                cov(g, "111111111111", reg("af-south-1"), CoverageStatus::Skipped { reason: "region not enabled".into() }),
                cov(k, "111111111111", reg("ap-south-2"), ok()),
                cov(
                    g,
                    "111111111111",
                    reg("ap-south-2"),
                    CoverageStatus::ClosedByPolicy { action: "guardduty:ListDetectors".into(), error: scp },
                ),
                cov(k, "222222222222", None, CoverageStatus::Error(ScopeError::new("AccessDenied", "role"))),
            ],
            ..ScanReport::new(Subject::Account(acc("111111111111")), vec![check::kms::INFO, check::guardduty::INFO])
        };
        let r = readiness(&report);
        let get = |a: &str, region: Option<Region>| r.iter().find(|x| x.account == acc(a) && x.region == region).unwrap();
        let all = get("111111111111", reg("eu-west-1"));
        assert_eq!((all.checks.len(), all.skip_reason()), (2, None));
        // GuardDuty errored: KMS is still imported and resolved there, GuardDuty's findings stay as they are.
        let partial = get("111111111111", reg("eu-west-2"));
        assert_eq!(partial.checks, BTreeSet::from([k]));
        assert_eq!(partial.untouched, vec![(g, "not evaluated (AccessDenied)".to_owned())]);
        assert_eq!(partial.skip_reason(), None);
        let closed = get("111111111111", reg("ap-south-2"));
        assert_eq!(closed.checks, BTreeSet::from([k]));
        assert!(closed.untouched[0].1.contains("closed by a service control policy: guardduty:ListDetectors"), "{:?}", closed.untouched);
        assert!(get("111111111111", reg("af-south-1")).skip_reason().unwrap().contains("region not enabled"));
        assert!(get("222222222222", None).skip_reason().unwrap().contains("AccessDenied"));
    }

    #[test]
    fn a_finding_of_a_resource_that_could_not_be_read_is_never_archived() {
        let unreadable = kms("locked", Status::Fail);
        let before = [existing(&unreadable, true), existing(&kms("gone", Status::Fail), true)];
        let protected = HashSet::from([asff::finding_id(&unreadable)]);
        let p = plan_sends(&[], &before, &protected, None, false, "x", now());
        assert_eq!(kinds(&p), vec![(asff::finding_id(&kms("gone", Status::Fail)), Kind::Archived { resolved: true })]);
    }
}
