//! What the Lambda check says of the scan as a whole: the report's notes (a stale runtime table, runtimes
//! newer than it) and the summary's line of runtimes the table does not know.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::evidence as ev;
use super::runtimes::RuntimeState;
use super::{INFO, STALE_AFTER_DAYS, scan_date};
use crate::check::CheckSettings;
use crate::model::Finding;

/// What the check tells about the scan as a whole: a stale runtime table (the same words in every shard of
/// a sharded scan, so a merge keeps one), and a table older than runtimes in use (named; they passed).
pub(super) fn notes(settings: &CheckSettings, scan_time: DateTime<Utc>, findings: &[Finding]) -> Vec<String> {
    let table = &settings.lambda_runtimes;
    let mut notes = Vec::new();
    if let Some(days) = table.stale_days(scan_date(scan_time)) {
        notes.push(format!(
            "the Lambda runtime table was last updated on {} ({days} days before this scan, over {STALE_AFTER_DAYS}): runtimes added or \
             deprecated since are missing from it; update orgscan or pass --lambda-runtimes",
            table.updated
        ));
    }
    let newer = runtimes_with_status(findings, RuntimeState::Newer.as_str());
    if !newer.is_empty() {
        let list: Vec<String> = newer.keys().map(|r| r.to_string()).collect();
        notes.push(format!(
            "the Lambda runtime table (updated {}) is older than runtimes in use: {}; they are newer than every runtime of their family \
             in it and pass; update orgscan or pass --lambda-runtimes to judge them by their dates",
            table.updated,
            list.join(", ")
        ));
    }
    notes
}

/// The runtimes of `findings` (of this check, `$LATEST` and aliased versions) that the table did not know,
/// with how many versions use each: the summary lists them apart from the deprecated ones.
pub fn unknown_runtimes<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> BTreeMap<&'a str, usize> {
    runtimes_with_status(findings, RuntimeState::Unknown.as_str())
}

/// The runtimes of `findings` (of this check, `$LATEST` and aliased versions) whose evidence has `status`,
/// with how many versions use each.
pub(crate) fn runtimes_with_status<'a>(findings: impl IntoIterator<Item = &'a Finding>, status: &str) -> BTreeMap<&'a str, usize> {
    let mut found: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings.into_iter().filter(|f| f.check.id == INFO.id) {
        // Aliased versions of a function; the served revisions of a Web Function, whose top level repeats the worst.
        let served = ev::SERVED_REVISIONS.value(f).and_then(|v| v.as_array());
        let aliased = ev::ALIASED_VERSIONS.value(f).and_then(|v| v.as_array());
        let top = served.is_none().then(|| (ev::RUNTIME.value(f), ev::RUNTIME_STATUS.value(f)));
        let versions = aliased
            .into_iter()
            .chain(served)
            .flatten()
            .filter_map(|v| v.as_object())
            .map(|m| (m.get(ev::RUNTIME.name()), m.get(ev::RUNTIME_STATUS.name())));
        for (runtime, state) in top.into_iter().chain(versions) {
            if let (Some(r), Some(s)) = (runtime.and_then(|r| r.as_str()), state.and_then(|s| s.as_str()))
                && s == status
            {
                *found.entry(r).or_default() += 1;
            }
        }
    }
    found
}

/// The summary's line of the runtimes the table does not know: they fail as unknown, told apart from
/// deprecated ones.
pub(super) fn summary(findings: &[Finding], fit: &dyn Fn(&str) -> String) -> Vec<String> {
    let unknown = unknown_runtimes(findings);
    if unknown.is_empty() {
        return Vec::new();
    }
    let list: Vec<String> = unknown.iter().map(|(runtime, n)| format!("{runtime} ({n})")).collect();
    vec![format!(
        "Lambda runtimes unknown to the runtime table, failing as unknown (not as deprecated): {}; check them against the AWS \
         Lambda runtimes page, then update orgscan or pass --lambda-runtimes",
        fit(&list.join(", "))
    )]
}
