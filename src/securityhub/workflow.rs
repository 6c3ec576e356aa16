//! Suppressions in Security Hub: a FAIL accepted by a suppression rule gets the workflow status
//! `SUPPRESSED` with the rule's reason in a note, and goes back to `NEW` when the rule expires or is removed.
//!
//! `BatchImportFindings` cannot change `Workflow` or `Note` of an existing finding; `BatchUpdateFindings` can,
//! called by the finding's own account (a member updates its own findings; the administrator could too), at
//! most 100 finding identifiers per call, `Note.Text` and `Note.UpdatedBy` 1 to 512 characters each (Security
//! Hub API Reference, BatchUpdateFindings; User Guide, "BatchImportFindings for finding providers": "Finding
//! providers cannot use BatchImportFindings to update ... Note ... Workflow"). Security Hub never moves a
//! finding out of `SUPPRESSED` by itself, so orgscan does, and only for the findings whose note it wrote
//! (`Note.UpdatedBy = orgscan`): a finding a person suppressed in the console is left as it is.

use std::collections::{BTreeMap, HashMap};

use super::asff;
use super::plan::Existing;
use crate::model::Finding;

/// `Note.UpdatedBy` of every note orgscan writes: how it recognises the suppressions it set.
pub const NOTE_AUTHOR: &str = "orgscan";
/// `Note.Text` at most 512 characters.
pub const MAX_NOTE: usize = 512;
/// Finding identifiers per `BatchUpdateFindings` call.
pub const MAX_IDENTIFIERS: usize = 100;

/// The workflow status a change sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Suppressed,
    New,
}

/// One `BatchUpdateFindings` call's worth: the same status and note for up to 100 findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub status: Target,
    pub note: String,
    /// `Id`s of findings of the scope (their product ARN is the scope's).
    pub ids: Vec<String>,
}

const REOPENED: &str = "orgscan: the suppression rule that accepted this finding expired or was removed; it is open again.";

fn note(text: &str) -> String {
    if text.chars().count() <= MAX_NOTE { text.to_owned() } else { text.chars().take(MAX_NOTE - 3).collect::<String>() + "..." }
}

/// The workflow changes of one scope (pure): suppress the FAILs a rule accepts that are not yet suppressed
/// with the same note, and reopen the FAILs orgscan suppressed earlier that no rule accepts now. PASSes are
/// archived by the import and left alone here.
pub fn plan(local: &[&Finding], existing: &[Existing]) -> Vec<Change> {
    let before: HashMap<&str, &Existing> = existing.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut groups: BTreeMap<(Target, String), Vec<String>> = BTreeMap::new();
    for f in local.iter().filter(|f| f.status.is_open()) {
        let id = asff::finding_id(f);
        let was = before.get(id.as_str());
        let suppressed_by_us = was.is_some_and(|e| e.workflow.as_deref() == Some("SUPPRESSED") && e.note_by_orgscan);
        match &f.triage.suppressed {
            Some(rule) => {
                let text = note(&format!("Suppressed by orgscan: {}", rule.justification()));
                let same = was.is_some_and(|e| e.workflow.as_deref() == Some("SUPPRESSED") && e.note.as_deref() == Some(text.as_str()));
                if !same {
                    groups.entry((Target::Suppressed, text)).or_default().push(id);
                }
            }
            None if suppressed_by_us => groups.entry((Target::New, REOPENED.to_owned())).or_default().push(id),
            None => {}
        }
    }
    let mut out = Vec::new();
    for ((status, note), ids) in groups {
        for chunk in ids.chunks(MAX_IDENTIFIERS) {
            out.push(Change { status, note: note.clone(), ids: chunk.to_vec() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Rule, Status};
    use crate::securityhub::testing::kms;

    fn existing(f: &Finding, workflow: &str, note: Option<&str>, by_orgscan: bool) -> Existing {
        Existing {
            id: asff::finding_id(f),
            active: true,
            created_at: None,
            archive: None,
            workflow: Some(workflow.to_owned()),
            note: note.map(str::to_owned),
            note_by_orgscan: by_orgscan,
        }
    }

    #[test]
    fn suppressed_fails_are_suppressed_once_and_reopened_only_if_orgscan_suppressed_them() {
        let rule = Arc::new(Rule {
            index: 1,
            line: 3,
            check: "*".into(),
            reason: "sandbox keys".into(),
            owner: "kms-team".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
        });
        let mut accepted = kms("a", Status::Fail);
        accepted.triage.suppressed = Some(rule.clone());
        let mut already = kms("b", Status::Fail);
        already.triage.suppressed = Some(rule.clone());
        let (expired, by_person, pass) = (kms("c", Status::Fail), kms("d", Status::Fail), kms("e", Status::Pass));
        let text = format!("Suppressed by orgscan: {}", rule.justification());
        let before = [
            existing(&already, "SUPPRESSED", Some(&text), true),
            existing(&expired, "SUPPRESSED", Some("Suppressed by orgscan: old"), true),
            existing(&by_person, "SUPPRESSED", Some("accepted by alice"), false),
            existing(&pass, "SUPPRESSED", Some("x"), true),
        ];
        let p = plan(&[&accepted, &already, &expired, &by_person, &pass], &before);
        assert_eq!(
            p,
            vec![
                Change { status: Target::Suppressed, note: text.clone(), ids: vec![asff::finding_id(&accepted)] },
                Change { status: Target::New, note: REOPENED.to_owned(), ids: vec![asff::finding_id(&expired)] },
            ]
        );
        assert!(text.contains("sandbox keys") && text.contains("owner kms-team") && text.contains("until 2027-01-31"), "{text}");
        // A changed reason is written again; more than 100 findings take several calls.
        let many: Vec<Finding> = (0..150)
            .map(|i| {
                let mut f = kms(&format!("k{i}"), Status::Fail);
                f.triage.suppressed = Some(rule.clone());
                f
            })
            .collect();
        let refs: Vec<&Finding> = many.iter().collect();
        let p = plan(&refs, &[]);
        assert_eq!(p.iter().map(|c| c.ids.len()).collect::<Vec<_>>(), [100, 50]);
        assert!(note(&"x".repeat(600)).chars().count() == MAX_NOTE);
    }
}
