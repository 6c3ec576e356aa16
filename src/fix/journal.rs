//! The journal of `orgscan fix --apply`: JSON Lines, one entry per step of a change as it happens (started,
//! then applied or failed; or skipped, with why), with the resource's state before and after.
//!
//! It is the one file orgscan appends to instead of writing atomically (src/files.rs): a journal is an audit
//! log, so entries are never rewritten, and each must be on disk before the next change starts, so that a
//! run stopped at any point (Ctrl-C, SIGTERM, a crash, a lost machine) leaves exactly what it did. Each entry
//! is one `write` of a whole line, flushed and synced; rewriting the file through a temporary one for every
//! entry would cost a copy of the whole journal per change and lose that `tail -f` follows it. A crash in the
//! middle of a write can leave only the last line torn: reading ignores such a line (with a warning), and the
//! next entry starts on a line of its own.
//!
//! What it holds: times, account, region, check, fingerprint, resource ARN, action, result, the resource's
//! state as the check reads it (key state, detector status, encryption options), the credentials used (a
//! role ARN, never a key or token) and the AWS error code and message. Never a credential or external id.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_with::skip_serializing_none;

use super::plan::Step;

/// What became of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepResult {
    /// About to call AWS (written before the call).
    Started,
    Applied,
    Failed,
    /// Not called: the resource no longer fails, is gone, changed since the plan, or cannot be changed
    /// automatically; or the journal shows it done by an earlier run of the same plan.
    Skipped,
}

/// One line of the journal.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    /// The run that wrote it: when it started (`orgscan-fix-<UTC timestamp>`, also its session name).
    pub run: String,
    /// The plan it belongs to: a digest of the report (or scan) the plan was made from and of the plan itself
    /// ([`super::plan::identity`]). Only an entry of the same plan stands for a step done: running the same
    /// command again resumes, a later remediation (another report, another selection) reads every resource
    /// again. Absent in journals written before it existed: such entries are history, never "done".
    pub plan: Option<String>,
    pub account: String,
    pub region: String,
    pub check: String,
    pub fingerprint: String,
    /// The resource as AWS named it when it was read right before the step (its ARN), in the account and
    /// region of the entry; when it could not be read (the account unreachable, the read refused), the one
    /// the report named, and `reason` says it was not read.
    pub resource: String,
    /// The resource as the report (or the scan) named it, when that differs from `resource`.
    pub reported_resource: Option<String>,
    /// The API operation (`CancelKeyDeletion`, ...).
    pub action: String,
    pub result: StepResult,
    /// Who made the call: a role ARN, or the caller's own credentials.
    pub credentials: String,
    pub reason: Option<String>,
    pub state_before: Option<Value>,
    pub state_after: Option<Value>,
    /// `<code>: <message>` of a failed call.
    pub error: Option<String>,
}

impl Entry {
    fn is(&self, plan: &str, fingerprint: &str, step: Step) -> bool {
        self.plan.as_deref() == Some(plan) && self.fingerprint == fingerprint && self.action == step.as_str()
    }
}

/// The journal: what earlier runs recorded, and the file this run appends to.
#[derive(Debug)]
pub struct Journal {
    pub path: PathBuf,
    /// Every entry, earlier runs' and this run's, in file order.
    pub entries: Vec<Entry>,
    /// The last line has no newline (a run stopped in the middle of a write): the next entry starts a line.
    pub torn_tail: bool,
    file: Option<File>,
}

impl Journal {
    /// Reads `path` (a missing file is an empty journal). Refuses a file that is not a journal, naming the
    /// line, so a wrong `--journal` is caught before any AWS call.
    pub fn read(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        if path.is_dir() {
            return Err(format!("invalid --journal '{shown}': it is a directory; give a file path"));
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read --journal '{shown}': {e}")),
        };
        let mut entries = Vec::new();
        let mut torn = 0;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => entries.push(e),
                // A line cut short (the JSON ends early): a write a crash interrupted.
                Err(e) if e.is_eof() => torn += 1,
                Err(e) => {
                    return Err(format!(
                        "--journal '{shown}' line {}: not an orgscan fix journal entry ({e}); give the journal of an earlier `orgscan fix --apply`, or a new path",
                        n + 1
                    ));
                }
            }
        }
        if torn > 0 {
            tracing::warn!(journal = %shown, "{torn} line(s) of the journal were cut short by an interrupted write; they are ignored");
        }
        let torn_tail = !text.is_empty() && !text.ends_with('\n');
        Ok(Self { path: path.to_owned(), entries, torn_tail, file: None })
    }

    /// The entry that shows `step` of `fingerprint` done (applied) by a run of `plan` (an earlier one this
    /// run resumes, or this one). A step another plan's run applied does not count: that resource may fail
    /// again since, and is read again.
    pub fn done(&self, plan: &str, fingerprint: &str, step: Step) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.is(plan, fingerprint, step) && e.result == StepResult::Applied)
    }

    /// Whether a run of `plan` started `step` of `fingerprint` and left no result (it was stopped during the
    /// call).
    pub fn unfinished(&self, plan: &str, fingerprint: &str, step: Step) -> bool {
        self.entries.iter().rev().find(|e| e.is(plan, fingerprint, step)).is_some_and(|e| e.result == StepResult::Started)
    }

    /// How many steps runs of `plan` applied, and how many runs of other plans did (history only).
    pub fn applied(&self, plan: &str) -> (usize, usize) {
        let applied = self.entries.iter().filter(|e| e.result == StepResult::Applied);
        let same = applied.clone().filter(|e| e.plan.as_deref() == Some(plan)).count();
        (same, applied.count() - same)
    }

    /// What the journal holds for a run of `plan`, in words (empty when it holds nothing applied).
    pub fn said(&self, plan: &str) -> String {
        let (resumed, others) = self.applied(plan);
        let path = self.path.display();
        let mut s = String::new();
        if resumed > 0 {
            s.push_str(&format!(
                "journal {path}: {resumed} step(s) applied by earlier runs of this plan (the same report and selection); a step it shows done is not repeated\n"
            ));
        }
        if others > 0 {
            s.push_str(&format!(
                "journal {path}: {others} step(s) applied by other remediations (another report or selection) are history only: every resource of this plan is read again before its change\n"
            ));
        }
        s
    }

    /// Appends `entry` as one line, flushed and synced before this returns.
    pub fn record(&mut self, entry: Entry) -> std::io::Result<()> {
        if self.file.is_none() {
            let mut f = OpenOptions::new().create(true).append(true).open(&self.path)?;
            if self.torn_tail {
                // The torn line stays as the evidence of the interrupted write; the next entry starts anew.
                f.write_all(b"\n")?;
                self.torn_tail = false;
            }
            self.file = Some(f);
        }
        let mut line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if let Some(f) = self.file.as_mut() {
            f.write_all(&line)?;
            f.flush()?;
            f.sync_data()?;
        }
        self.entries.push(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::kms::{CANCEL_KEY_DELETION, ENABLE_KEY};

    const PLAN: &str = "plan-a";

    fn entry(fp: &str, action: &str, result: StepResult) -> Entry {
        Entry {
            time: "2026-11-28T00:00:00Z".into(),
            run: "orgscan-fix-20261128T000000Z".into(),
            plan: Some(PLAN.into()),
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            check: "kms-key-not-pending-deletion".into(),
            fingerprint: fp.into(),
            resource: "arn:aws:kms:eu-west-1:111111111111:key/k".into(),
            reported_resource: None,
            action: action.into(),
            result,
            credentials: "arn:aws:iam::111111111111:role/OrgScanRemediation".into(),
            reason: None,
            state_before: Some(serde_json::json!({"key_state": "PendingDeletion"})),
            state_after: None,
            error: None,
        }
    }

    #[test]
    fn entries_are_appended_and_read_back_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = Journal::read(&path).unwrap();
        assert!(j.entries.is_empty());
        j.record(entry("a", "CancelKeyDeletion", StepResult::Started)).unwrap();
        j.record(entry("a", "CancelKeyDeletion", StepResult::Applied)).unwrap();
        j.record(entry("b", "CancelKeyDeletion", StepResult::Started)).unwrap();
        // A run killed in the middle of its next write.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(br#"{"time":"2026-11-"#).unwrap();
        let mut again = Journal::read(&path).unwrap();
        assert_eq!(again.entries.len(), 3);
        assert!(again.torn_tail);
        assert!(again.done(PLAN, "a", CANCEL_KEY_DELETION).is_some());
        assert!(again.done(PLAN, "a", ENABLE_KEY).is_none() && again.done(PLAN, "b", CANCEL_KEY_DELETION).is_none());
        assert!(again.unfinished(PLAN, "b", CANCEL_KEY_DELETION) && !again.unfinished(PLAN, "a", CANCEL_KEY_DELETION));
        again.record(entry("b", "CancelKeyDeletion", StepResult::Applied)).unwrap();
        let third = Journal::read(&path).unwrap();
        assert_eq!((third.entries.len(), third.torn_tail, third.applied(PLAN)), (4, false, (2, 0)));
        assert!(std::fs::read_to_string(&path).unwrap().contains("{\"time\":\"2026-11-\n"), "the torn line is kept, on its own");
    }

    #[test]
    fn only_a_run_of_the_same_plan_stands_for_a_step_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = Journal::read(&path).unwrap();
        j.record(entry("a", "CancelKeyDeletion", StepResult::Applied)).unwrap();
        j.record(Entry { plan: None, ..entry("b", "CancelKeyDeletion", StepResult::Applied) }).unwrap();
        j.record(Entry { plan: Some("plan-b".into()), ..entry("c", "CancelKeyDeletion", StepResult::Started) }).unwrap();
        let j = Journal::read(&path).unwrap();
        assert!(j.done(PLAN, "a", CANCEL_KEY_DELETION).is_some(), "the same plan resumes");
        assert!(j.done("plan-b", "a", CANCEL_KEY_DELETION).is_none(), "another plan's step is history, not done");
        assert!(j.done(PLAN, "b", CANCEL_KEY_DELETION).is_none(), "an entry of no plan (an older journal) is never done");
        assert!(j.unfinished("plan-b", "c", CANCEL_KEY_DELETION) && !j.unfinished(PLAN, "c", CANCEL_KEY_DELETION));
        assert_eq!(j.applied(PLAN), (1, 1));
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "not json\n{}\n").unwrap();
        let err = Journal::read(&path).unwrap_err();
        assert!(err.contains("line 1") && err.contains("not an orgscan fix journal entry"), "{err}");
        assert!(Journal::read(dir.path()).unwrap_err().contains("is a directory"));
    }
}
