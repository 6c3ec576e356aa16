//! What runs over time add to a finding: its state against a baseline (an earlier report), when it was
//! first seen, the suppression rule that accepts it; and the exit policy that decides which FAILs fail the
//! run. The baseline FAILs that were fixed or carried forward are in `history`.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::severity::Severity;

/// A FAIL of this run against the baseline. A fixed FAIL is not a finding of this run: see [`Fixed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BaselineState {
    /// Not a FAIL in the baseline (a PASS then, or not seen at all).
    New,
    /// A FAIL in the baseline too (or carried forward there as stale).
    Unchanged,
}

impl BaselineState {
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
        }
    }
}

/// A suppression rule as the user wrote it (`--suppressions`), with where it is in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based position in the file.
    pub index: usize,
    /// The line of its `[[suppression]]` header.
    pub line: usize,
    /// A check id or `*`.
    pub check: String,
    pub reason: String,
    pub owner: String,
    pub expires: Option<NaiveDate>,
}

impl Rule {
    /// The words that go with a suppressed finding everywhere (SARIF justification, Security Hub note).
    pub fn justification(&self) -> String {
        let until = self.expires.map_or_else(|| "no expiry".to_owned(), |d| format!("until {d}"));
        format!(
            "{} (owner {}, {until}; orgscan suppression rule {} at line {})",
            self.reason.trim(),
            self.owner.trim(),
            self.index,
            self.line
        )
    }
}

/// What runs over time know about one finding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Triage {
    /// Set for FAILs when the scan had a baseline.
    pub baseline: Option<BaselineState>,
    /// When the resource's finding was first seen (from the baseline; this run's start for a new one). Set
    /// only when the scan had a baseline.
    pub first_seen: Option<DateTime<Utc>>,
    /// The active rule that accepts this FAIL.
    pub suppressed: Option<Arc<Rule>>,
}

/// Which FAILs make the scan fail (`--fail-on`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailOn {
    /// Every unsuppressed FAIL, stale ones included.
    #[default]
    Any,
    /// Only FAILs that are new against the baseline (all of them without a baseline).
    New,
}

/// `--fail-on` and `--fail-severity`: which unsuppressed FAILs make the scan fail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailPolicy {
    pub fail_on: FailOn,
    /// FAILs below this severity do not fail the scan.
    pub min_severity: Option<Severity>,
    /// `--fail-on-warning`: WARNINGs fail the scan too (at low severity, see `model::verdict`).
    pub warnings: bool,
}

impl FailPolicy {
    /// Whether a FAIL with this triage and severity (of this run, `stale: false`, or carried forward)
    /// fails the scan.
    pub fn counts(&self, triage: &Triage, severity: Severity, stale: bool) -> bool {
        let state_ok = match self.fail_on {
            FailOn::Any => true,
            FailOn::New => !stale && triage.baseline != Some(BaselineState::Unchanged),
        };
        state_ok && triage.suppressed.is_none() && self.min_severity.is_none_or(|m| severity >= m)
    }
}
