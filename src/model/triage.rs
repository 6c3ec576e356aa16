//! What runs over time add to the scan: each FAIL's state against a baseline (an earlier report), when it
//! was first seen, the suppression rule that accepts it, the baseline FAILs that were fixed or could not be
//! read again (carried forward as stale), and the exit policy that decides which FAILs fail the run.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::finding::Finding;
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

/// A FAIL of the baseline that this run found fixed: its scope was evaluated and the resource passes
/// (`gone: false`) or no longer exists (`gone: true`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    /// The baseline's finding (its message and evidence as they were).
    pub finding: Finding,
    pub gone: bool,
}

/// A FAIL of the baseline whose scope or resource could not be read this time: re-emitted, marked stale,
/// so that no alert is closed by a read that failed; dropped once its scope is evaluated again.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    /// The baseline's finding, with its triage (first seen, suppression) as of this run.
    pub finding: Finding,
    /// When it was last read as a FAIL.
    pub last_seen: DateTime<Utc>,
    /// Why it was not read this time.
    pub reason: String,
}

/// The comparison with the baseline (`--baseline`).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// When the baseline scan started (its `started_at`).
    pub baseline_started_at: DateTime<Utc>,
    /// Sorted like findings.
    pub fixed: Vec<Fixed>,
    /// Sorted like findings.
    pub stale: Vec<Stale>,
    /// Baseline FAILs of checks, accounts or regions this run did not set out to scan: neither fixed nor
    /// carried forward (a run of another selection is compared against the baseline of that selection).
    pub out_of_selection: usize,
}

/// One rule of `--suppressions` and what it did in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleUse {
    pub rule: Arc<Rule>,
    /// Past its `expires` date on the scan date: it suppresses nothing.
    pub expired: bool,
    /// FAILs it suppressed (stale ones included).
    pub matched: usize,
}

/// `--suppressions`: every rule, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppressions {
    pub rules: Vec<RuleUse>,
    /// Whether "matched nothing" means unused: the scan was complete and covered the full selection.
    pub complete: bool,
}

impl Suppressions {
    pub fn expired(&self) -> impl Iterator<Item = &RuleUse> {
        self.rules.iter().filter(|r| r.expired)
    }

    /// Active rules that matched nothing in a complete scan of the full selection.
    pub fn unused(&self) -> impl Iterator<Item = &RuleUse> {
        self.rules.iter().filter(move |r| self.complete && !r.expired && r.matched == 0)
    }
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
}

impl FailPolicy {
    /// Whether this FAIL (of this run, `stale: false`, or carried forward) fails the scan.
    pub fn counts(&self, f: &Finding, stale: bool) -> bool {
        let state_ok = match self.fail_on {
            FailOn::Any => true,
            FailOn::New => !stale && f.triage.baseline != Some(BaselineState::Unchanged),
        };
        state_ok && f.triage.suppressed.is_none() && self.min_severity.is_none_or(|m| f.severity() >= m)
    }
}
