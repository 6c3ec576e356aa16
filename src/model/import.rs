//! What the Security Hub import did, per target: part of the scan report (the sink fills it).

use std::collections::BTreeMap;

use super::error::ScopeError;
use super::target::{AccountId, Region};

/// What was (or, in a dry run, would be) sent to one target (account, region). Only findings Security Hub accepted are counted,
/// except `failed`.
/// Its JSON form is the report's `counts` and `totals` (written, and read back by `orgscan merge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Active (FAIL) findings not yet in Security Hub.
    pub new: usize,
    /// Active (FAIL) findings already in Security Hub, updated in place.
    pub updated: usize,
    /// Findings sent as `ARCHIVED`: PASSes, and earlier findings whose resource is no longer reported.
    pub archived: usize,
    /// Of `archived`: findings that were active in Security Hub before this run.
    pub resolved: usize,
    /// Findings Security Hub refused for good (see the failures list).
    pub failed: usize,
    /// FAILs whose workflow was set to `SUPPRESSED` (a suppression rule accepts them).
    pub suppressed: usize,
    /// FAILs orgscan had suppressed whose rule expired or was removed: workflow back to `NEW`.
    pub unsuppressed: usize,
}

impl Counts {
    pub fn imported(&self) -> usize {
        self.new + self.updated
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.new += o.new;
        self.updated += o.updated;
        self.archived += o.archived;
        self.resolved += o.resolved;
        self.failed += o.failed;
        self.suppressed += o.suppressed;
        self.unsuppressed += o.unsuppressed;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportStatus {
    /// Every batch was sent (individual findings may still have failed: see `Counts::failed`).
    Imported,
    /// `--dry-run`: Security Hub was read, nothing was sent.
    DryRun,
    /// Not touched, and why (the scan did not evaluate every check there).
    Skipped(String),
    /// A call failed (the message says how to fix it where orgscan knows); the counts hold what was sent before.
    Error(ScopeError),
}

impl ImportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ImportStatus::Imported => "imported",
            ImportStatus::DryRun => "dry_run",
            ImportStatus::Skipped(_) => "skipped",
            ImportStatus::Error(_) => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetImport {
    pub account: AccountId,
    /// `None` for an account that was not scanned at all.
    pub region: Option<Region>,
    pub status: ImportStatus,
    pub counts: Counts,
    /// Checks whose findings in this target were left as they are (not evaluated here), with why.
    pub untouched: Vec<(String, String)>,
}

/// A finding Security Hub refused for good (a permanent `FailedFindings` code, or a retryable one after the
/// last attempt).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailedImport {
    pub account: AccountId,
    pub region: Region,
    pub finding_id: String,
    pub code: String,
    pub message: String,
}

/// The outcome of `--security-hub`, part of the scan report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub only_failed: bool,
    /// Sorted by account, region.
    pub scopes: Vec<TargetImport>,
    /// Sorted by account, region, finding id.
    pub failures: Vec<FailedImport>,
}

impl ImportReport {
    /// Whether anything that should have been imported was not: a failed finding or a scope error.
    pub fn has_problems(&self) -> bool {
        !self.failures.is_empty() || self.scopes.iter().any(|s| matches!(s.status, ImportStatus::Error(_)))
    }

    /// The stop of an import a stop interrupted (Ctrl-C, SIGTERM), naming the scopes it did not finish.
    pub fn stopped(&self) -> Option<super::Stopped> {
        let not_reached: Vec<String> = self
            .scopes
            .iter()
            .filter(|s| matches!(&s.status, ImportStatus::Error(e) if e.code == "Interrupted"))
            .map(|s| format!("Security Hub import of {}/{}", s.account, s.region.as_ref().map_or("-", |r| r.as_str())))
            .collect();
        (!not_reached.is_empty()).then_some(super::Stopped { phase: super::Phase::SecurityHubImport, not_reached })
    }

    pub fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for s in &self.scopes {
            t += s.counts;
        }
        t
    }

    pub fn by_account(&self) -> BTreeMap<&AccountId, Counts> {
        let mut m: BTreeMap<&AccountId, Counts> = BTreeMap::new();
        for s in &self.scopes {
            *m.entry(&s.account).or_default() += s.counts;
        }
        m
    }
}
