//! What every part of the summary shares: its bounds and the way text is put on one line.

use crate::model::{AccountId, ScanReport};

/// How much the summary lists before "and N more" (the JSON report holds everything).
pub(super) struct Bounds {
    /// Failing resources per check.
    pub(super) per_check: usize,
    /// Failing resources listed in all, shared by the checks that fail (five checks list `per_check` each).
    pub(super) failing: usize,
    /// The width a failing-resource line is cut to (its message gives way first) ...
    pub(super) line_width: usize,
    /// ... keeping at least this much of the message however long the ARN.
    pub(super) min_message: usize,
    /// Error causes, example accounts per cause, and the length an error's message is cut to.
    pub(super) error_groups: usize,
    pub(super) error_examples: usize,
    pub(super) error_message: usize,
    /// Skip reasons and (check, code) groups of resources not evaluable; example resources over all groups.
    pub(super) gap_groups: usize,
    pub(super) not_evaluable_examples: usize,
    pub(super) notes: usize,
    /// Security Hub: accounts in the table (account and region rows in a dry run), import errors and refused
    /// findings, grouped lines ("Not touched", "Left as they are") per list.
    pub(super) import_accounts: usize,
    pub(super) import_listed: usize,
    pub(super) import_groups: usize,
}

pub(super) const B: Bounds = Bounds {
    per_check: 5,
    failing: 25,
    line_width: 160,
    min_message: 60,
    error_groups: 10,
    error_examples: 3,
    error_message: 120,
    gap_groups: 5,
    not_evaluable_examples: 3,
    notes: 10,
    import_accounts: 20,
    import_listed: 20,
    import_groups: 10,
};

/// ` (account name)` when the organization named the account.
pub(super) fn named(r: &ScanReport, account: &AccountId) -> String {
    r.account_name(account).map(|n| format!(" ({})", one_line(n))).unwrap_or_default()
}

/// The text on one line and safe for a terminal: a line break in an AWS message becomes a space, so it does
/// not break the summary's layout; every other control, bidi or invisible character is escaped
/// ([`crate::model::terminal::safe`]).
pub(super) fn one_line(s: &str) -> String {
    let spaced: String = s.chars().map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }).collect();
    crate::model::terminal::safe(&spaced).into_owned()
}

/// The text on one line, cut to at most `max` characters (`...` marks the cut).
pub(super) fn cut(s: &str, max: usize) -> String {
    let s = one_line(s.trim());
    if s.chars().count() <= max {
        return s;
    }
    let keep = max.saturating_sub(3);
    let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    format!("{}...", s[..end].trim_end())
}
