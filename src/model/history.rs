//! The comparison with a baseline and what the suppression rules did: the baseline FAILs found fixed, those
//! carried forward as stale, and each rule's use.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::finding::Finding;
use super::triage::Rule;

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
