//! The books of a scan: findings, coverage and errors as they arrive, so that every planned scope ends
//! evaluated, skipped or in error, and nothing that was not evaluated reads as passing.

use std::collections::BTreeSet;

use super::{AccountOutcome, ScopeResult, ScpDenied};
use crate::check::Check;
use crate::model::{
    AccountId, CheckInfo, Coverage, CoverageStatus, ErrorEntry, Finding, KeyRefs, NotEvaluable, Note, Region, ScanReport, ScopeError,
    Stats, Subject,
};

/// The books of a scan: findings, coverage and errors as they arrive.
#[derive(Default)]
pub(super) struct Book {
    findings: Vec<Finding>,
    not_evaluable: Vec<NotEvaluable>,
    coverage: Vec<Coverage>,
    errors: Vec<ErrorEntry>,
    accounts_failed: BTreeSet<AccountId>,
    accounts_scanned: BTreeSet<AccountId>,
    regions: BTreeSet<Region>,
    /// Per account: how its regions were found (e.g. the bundled list stood in for the Account API).
    notes: Vec<(AccountId, String)>,
    /// Accounts whose regions are not known yet.
    unresolved: BTreeSet<AccountId>,
    /// Scopes planned and not finished yet.
    pending: BTreeSet<(&'static str, AccountId, Region)>,
    /// What the evaluated scopes recorded of KMS keys, for `dependents::link`.
    keys: KeyRefs,
}

impl Book {
    /// The books of a scan of these accounts (each unresolved until its regions are known).
    pub(super) fn new(accounts: impl IntoIterator<Item = AccountId>) -> Self {
        Self { unresolved: accounts.into_iter().collect(), ..Self::default() }
    }

    pub(super) fn account(&mut self, checks: &[&'static Check], account: AccountId, outcome: AccountOutcome) {
        self.unresolved.remove(&account);
        match outcome {
            AccountOutcome::Regions(resolved) => {
                self.accounts_scanned.insert(account.clone());
                for r in &resolved.regions {
                    self.pending.extend(checks.iter().map(|c| (c.info().id, account.clone(), r.clone())));
                }
                self.regions.extend(resolved.regions);
                if let Some(n) = resolved.note {
                    self.notes.push((account, n));
                }
            }
            AccountOutcome::Failed(e, regions) => {
                self.accounts_failed.insert(account.clone());
                self.errors.push(ErrorEntry { account: account.clone(), region: None, check_id: None, error: e.clone() });
                let detail = ScopeError::new(e.code.clone(), format!("account not scanned: {}", e.message));
                self.account_scopes(checks, &account, regions, &CoverageStatus::Error(detail));
            }
            AccountOutcome::Skipped(reason, regions) => {
                self.account_scopes(checks, &account, regions, &CoverageStatus::Skipped { reason });
            }
        }
    }

    pub(super) fn scope(&mut self, r: ScopeResult, scp_denied: ScpDenied) {
        let check_id = r.check.info().id;
        self.pending.remove(&(check_id, r.target.account.clone(), r.target.region.clone()));
        let status = match r.result {
            Ok(mut e) => {
                // A listing whose pages repeat an item (an endpoint that answers badly, or a resource listed
                // twice) gives one finding per resource, never two alerts with one fingerprint.
                let mut seen = std::collections::HashSet::new();
                e.findings.retain(|f| seen.insert(f.fingerprint()));
                let mut seen = std::collections::HashSet::new();
                e.not_evaluable.retain(|n| seen.insert(n.fingerprint()));
                let status = CoverageStatus::Evaluated {
                    resources: e.findings.len(),
                    not_applicable: e.not_applicable,
                    not_evaluable: e.not_evaluable.len(),
                };
                self.findings.extend(e.findings);
                self.not_evaluable.extend(e.not_evaluable);
                self.keys.extend(e.keys);
                self.notes.extend(e.notes.into_iter().map(|n| (r.target.account.clone(), n)));
                status
            }
            // Decided per scope, whatever the other checks there did: Control Tower's Region deny exempts
            // `kms:*` (and other global services) from the deny, so in a denied region KMS is evaluated while
            // the other checks are refused.
            Err(e) if e.is_scp_deny() && scp_denied == ScpDenied::Skip => {
                let action = e.denied_action().unwrap_or("an action of this check").to_owned();
                CoverageStatus::ClosedByPolicy { action, error: e }
            }
            Err(e) if e.is_region_not_enabled() && r.target.region.is_opt_in() && !r.region_confirmed => {
                CoverageStatus::Skipped { reason: format!("region not enabled for this account ({})", e.code) }
            }
            Err(e) => CoverageStatus::Error(e),
        };
        self.coverage.push(Coverage { check_id, account: r.target.account, region: Some(r.target.region), status });
    }

    /// `status` for every (check, region) of an account; with no known regions, once per check.
    fn account_scopes(&mut self, checks: &[&'static Check], account: &AccountId, regions: Option<Vec<Region>>, status: &CoverageStatus) {
        let regions: Vec<Option<Region>> = regions.map_or_else(|| vec![None], |rs| rs.into_iter().map(Some).collect());
        for c in checks {
            for region in &regions {
                let (check_id, account, region, status) = (c.info().id, account.clone(), region.clone(), status.clone());
                self.coverage.push(Coverage { check_id, account, region, status });
            }
        }
    }

    /// After an interruption: every scope that was planned and did not finish is an error, so coverage
    /// still accounts for every (check, account, region) and nothing unfinished reads as clean.
    pub(super) fn interrupt(&mut self, checks: &[&'static Check]) {
        let interrupted = ScopeError::new("Interrupted", "the scan was interrupted before this scope finished");
        for (check_id, account, region) in std::mem::take(&mut self.pending) {
            self.coverage.push(Coverage { check_id, account, region: Some(region), status: CoverageStatus::Error(interrupted.clone()) });
        }
        for account in std::mem::take(&mut self.unresolved) {
            self.errors.push(ErrorEntry { account: account.clone(), region: None, check_id: None, error: interrupted.clone() });
            self.account_scopes(checks, &account, None, &CoverageStatus::Error(interrupted.clone()));
        }
    }

    /// The report, and what the scopes recorded of KMS keys.
    pub(super) fn finish(mut self, subject: Subject, checks: Vec<&'static CheckInfo>, accounts: usize) -> (ScanReport, KeyRefs) {
        for c in &self.coverage {
            // An account that failed as a whole already has its one error entry.
            if self.accounts_failed.contains(&c.account) {
                continue;
            }
            if let (CoverageStatus::Error(e), Some(region)) = (&c.status, &c.region) {
                self.errors.push(ErrorEntry {
                    account: c.account.clone(),
                    region: Some(region.clone()),
                    check_id: Some(c.check_id),
                    error: e.clone(),
                });
            }
        }
        let mut report = ScanReport {
            findings: self.findings,
            coverage: self.coverage,
            errors: self.errors,
            not_evaluable: self.not_evaluable,
            notes: self.notes.into_iter().map(|(account, text)| Note { account: Some(account), text }).collect(),
            stats: Stats {
                accounts,
                accounts_scanned: self.accounts_scanned.len(),
                accounts_failed: self.accounts_failed.len(),
                regions: self.regions.len(),
                ..Stats::default()
            },
            ..ScanReport::new(subject, checks)
        };
        report.sort();
        (report, self.keys)
    }
}
