//! The plan: for each selected FAIL, the API calls orgscan would make, or the manual steps. Pure: built from
//! findings alone, so a plan from a report file needs no AWS call, and it is unit-tested without AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::NaiveDate;

pub use crate::check::remedy::{Options, Remedy, Step};
use crate::check::remedy::{PlanInput, no_fix};
use crate::check::{self, CheckSettings};
use crate::model::terminal::{safe, safe_lines};
use crate::model::{AccountId, Finding, Fingerprint, Region, Status};

/// `--checks`, `--accounts`, `--regions` and `--only`: a FAIL is kept when it matches every one given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Check ids; empty keeps every check.
    pub checks: Vec<&'static str>,
    pub accounts: Vec<AccountId>,
    pub regions: Vec<Region>,
    /// `--only`: the findings named by their fingerprint.
    pub only: BTreeSet<Fingerprint>,
}

impl Filter {
    pub fn keeps(&self, f: &Finding) -> bool {
        (self.checks.is_empty() || self.checks.contains(&f.check.id))
            && (self.accounts.is_empty() || self.accounts.contains(&f.target.account))
            && (self.regions.is_empty() || self.regions.contains(&f.target.region))
            && (self.only.is_empty() || self.only.contains(&f.fingerprint()))
    }

    /// The `--only` fingerprints that name no FAIL among `findings`, each with why (a PASS, or absent).
    pub fn unmatched(&self, findings: &[Finding]) -> Vec<String> {
        self.only
            .iter()
            .filter_map(|fp| match findings.iter().find(|f| f.fingerprint() == *fp).map(|f| f.status) {
                Some(Status::Fail) => None,
                Some(Status::Pass) => Some(format!("--only {fp}: that finding is a PASS, nothing to fix")),
                Some(Status::Warn) => Some(format!("--only {fp}: that finding is a WARNING, not a FAIL: nothing to fix yet")),
                None => Some(format!("--only {fp}: no finding of the selection has this fingerprint")),
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub finding: Finding,
    pub remedy: Remedy,
}

impl Item {
    pub fn steps(&self) -> &[Step] {
        match &self.remedy {
            Remedy::Change { steps, .. } => steps,
            Remedy::Manual { .. } => &[],
        }
    }
}

/// The items of the FAILs among `findings` that `filter` keeps, one per fingerprint, in report order
/// (check, account, region, resource).
pub fn build(findings: &[Finding], filter: &Filter, options: Options, settings: &CheckSettings, today: NaiveDate) -> Vec<Item> {
    let input = PlanInput { options, settings, today };
    let mut seen = BTreeSet::new();
    let mut kept: Vec<&Finding> =
        findings.iter().filter(|f| f.status == Status::Fail && filter.keeps(f) && seen.insert(f.fingerprint())).collect();
    kept.sort_by(|a, b| (&a.target.account, &a.target.region, a.sort_key()).cmp(&(&b.target.account, &b.target.region, b.sort_key())));
    kept.into_iter().map(|f| Item { finding: f.clone(), remedy: remedy(f, &input) }).collect()
}

/// What becomes of `f`: its check's remedy (the registry's), or by hand with the check's CLI when orgscan
/// does not know the check.
fn remedy(f: &Finding, input: &PlanInput<'_>) -> Remedy {
    match check::by_id(f.check.id) {
        Some(c) => (c.remedy)(f, input),
        None => no_fix(f, input),
    }
}

/// The identity of a plan, for the journal: a SHA-256 of what it was made from (`source`: the report's or
/// the scan's start time, so another report is another plan) and of every item (fingerprint, resource,
/// steps). Running the same command on the same report again gives the same identity (a resume); a later
/// remediation of the same estate gives another, so what an earlier one did never stands for a resource that
/// fails now (issue 27).
pub fn identity(source: &str, items: &[Item]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // Each field ends with a 0 byte, so no two different lists hash alike.
    let mut field = |s: &str| {
        h.update(s.as_bytes());
        h.update([0u8]);
    };
    field("orgscan-fix-plan-1");
    field(source);
    for i in items {
        field(&i.finding.fingerprint().to_string());
        field(&i.finding.resource.arn);
        for step in i.steps() {
            field(step.as_str());
        }
        field("");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts of a plan: (FAILs, changes, API calls, manual).
pub fn counts(items: &[Item]) -> (usize, usize, usize, usize) {
    let changes = items.iter().filter(|i| !i.steps().is_empty()).count();
    let calls = items.iter().map(|i| i.steps().len()).sum();
    (items.len(), changes, calls, items.len() - changes)
}

/// The plan as printed: grouped by account (with the credentials the changes use there) and region, one
/// entry per FAIL with its fingerprint (for `--only`). Every value from a report or from AWS (ids, messages,
/// the commands built from them, the source's path) is made safe for the terminal, one by one
/// ([`crate::model::terminal`]): the operator reads this before typing `yes`.
pub fn render(items: &[Item], source: &str, role: &dyn Fn(&AccountId) -> String) -> String {
    let (fails, changes, calls, manual) = counts(items);
    let mut s = format!(
        "orgscan fix: {fails} FAIL(s) selected from {}: {changes} to change ({calls} API call(s)), {manual} manual\n",
        safe(source)
    );
    let mut groups: BTreeMap<(&AccountId, &Region), Vec<(usize, &Item)>> = BTreeMap::new();
    for (n, i) in items.iter().enumerate() {
        groups.entry((&i.finding.target.account, &i.finding.target.region)).or_default().push((n + 1, i));
    }
    // The notes of the changes are the same for every resource of a kind: printed once, at the end.
    let mut all_notes: Vec<&str> = Vec::new();
    let mut account: Option<&AccountId> = None;
    for ((a, r), entries) in groups {
        if account != Some(a) {
            let _ = writeln!(s, "\nAccount {a} ({})", safe(&role(a)));
            account = Some(a);
        }
        let _ = writeln!(s, "  {r}");
        for (n, i) in entries {
            let f = &i.finding;
            let _ = writeln!(s, "    [{n}] {} {}: {}", f.check.id, safe(&f.resource.id), safe(&f.message));
            match &i.remedy {
                Remedy::Change { steps, notes } => {
                    let names: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
                    let refs: Vec<String> = notes
                        .iter()
                        .map(|note| {
                            let k = all_notes.iter().position(|x| x == note).unwrap_or_else(|| {
                                all_notes.push(note);
                                all_notes.len() - 1
                            });
                            (k + 1).to_string()
                        })
                        .collect();
                    let _ = writeln!(s, "        change: {} (notes {})", names.join(", then "), refs.join(", "));
                }
                Remedy::Manual { why, commands } => {
                    let _ = writeln!(s, "        MANUAL: {}", safe(why));
                    for c in commands {
                        let _ = writeln!(s, "          {}{}", if c.starts_with('#') { "" } else { "$ " }, safe(c));
                    }
                }
            }
            let _ = writeln!(s, "        fingerprint {}", f.fingerprint());
        }
    }
    if !all_notes.is_empty() {
        let _ = writeln!(s, "\nNotes on the changes:");
        for (k, note) in all_notes.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", k + 1, safe(note));
        }
    }
    safe_lines(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::guardduty::fix::{CREATE_DETECTOR, UPDATE_DETECTOR};
    use crate::check::kms::{CANCEL_KEY_DELETION, ENABLE_KEY};
    use crate::check::lambda::RuntimeTable;
    use crate::check::opensearch::fix::UPDATE_DOMAIN_CONFIG;
    use crate::check::{guardduty, kms, lambda, opensearch, sagemaker};
    use crate::model::Target;

    fn settings() -> CheckSettings {
        CheckSettings::new(RuntimeTable::bundled().unwrap(), 90, true, false)
    }

    fn fail(info: &'static crate::model::CheckInfo, rtype: &'static str, id: &str, evidence: &[(&str, &str)]) -> Finding {
        let t = Target::new("111111111111".parse().unwrap(), "eu-west-1".parse().unwrap());
        let mut b = Finding::builder(info, &t).resource(rtype, id, format!("arn:aws:x:eu-west-1:111111111111:{id}")).fail("fails");
        for (k, v) in evidence {
            b = b.evidence(k, *v);
        }
        b.build().unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn estate() -> Vec<Finding> {
        vec![
            fail(kms::INFO, "AwsKmsKey", "k1", &[("key_state", "PendingDeletion")]),
            fail(guardduty::INFO, "AwsAccount", "111111111111", &[]),
            fail(guardduty::INFO, "AwsGuardDutyDetector", "d1", &[("status", "DISABLED")]),
            fail(opensearch::INFO, "AwsOpenSearchServiceDomain", "os-plain", &[("engine_version", "OpenSearch_2.11")]),
            fail(opensearch::INFO, "AwsElasticsearchDomain", "es-old", &[("engine_version", "Elasticsearch_5.6")]),
            fail(sagemaker::INFO, "AwsSageMakerNotebookInstance", "nb-open", &[("subnet_id", "subnet-1")]),
            fail(lambda::INFO, "AwsLambdaFunction", "fn-old", &[("runtime", "python3.8")]),
        ]
    }

    #[test]
    fn safe_fixes_are_changes_and_the_rest_manual() {
        let table = settings();
        let plain = build(&estate(), &Filter::default(), Options::default(), &table, today());
        let steps: Vec<(&str, Vec<Step>)> = plain.iter().map(|i| (i.finding.resource.id.as_str(), i.steps().to_vec())).collect();
        assert!(steps.contains(&("k1", vec![CANCEL_KEY_DELETION])));
        assert!(steps.contains(&("111111111111", vec![CREATE_DETECTOR])));
        assert!(steps.contains(&("d1", vec![UPDATE_DETECTOR])));
        for manual in ["os-plain", "es-old", "nb-open", "fn-old"] {
            assert!(steps.contains(&(manual, vec![])), "{manual}");
        }
        let all = build(&estate(), &Filter::default(), Options { enable_keys: true, allow_blue_green: true }, &table, today());
        let of = |id: &str| all.iter().find(|i| i.finding.resource.id == id).unwrap();
        assert_eq!(of("k1").steps(), [CANCEL_KEY_DELETION, ENABLE_KEY]);
        assert_eq!(of("os-plain").steps(), [UPDATE_DOMAIN_CONFIG]);
        assert!(of("es-old").steps().is_empty(), "Elasticsearch 5.6 cannot be encrypted in place");
        let Remedy::Manual { commands, .. } = &of("fn-old").remedy else { panic!() };
        assert!(commands.iter().any(|c| c.contains("--function-name fn-old --runtime python3.14")), "{commands:?}");
        let Remedy::Manual { commands, .. } = &of("nb-open").remedy else { panic!() };
        assert!(commands.iter().any(|c| c.contains("--subnet-id subnet-1") && c.contains("--direct-internet-access Disabled")));
        let text = render(&all, "r.json", &|a| format!("role of {a}"));
        assert!(text.contains("7 FAIL(s) selected from r.json: 4 to change (5 API call(s)), 3 manual"), "{text}");
        assert!(text.contains("Account 111111111111 (role of 111111111111)") && text.contains("adds cost"), "{text}");
        assert!(
            text.contains("change: CancelKeyDeletion, then EnableKey (notes ")
                && text.contains(". after CancelKeyDeletion a key is Disabled"),
            "{text}"
        );
        assert_eq!(text.matches("adds cost").count(), 1, "each note once: {text}");
    }

    #[test]
    fn a_plan_s_identity_is_its_source_and_its_items() {
        let table = settings();
        let items = build(&estate(), &Filter::default(), Options::default(), &table, today());
        let keys = build(&estate(), &Filter::default(), Options { enable_keys: true, allow_blue_green: false }, &table, today());
        let id = identity("report 2026-11-28T00:00:00Z", &items);
        assert_eq!(id, identity("report 2026-11-28T00:00:00Z", &items.clone()), "the same report and plan: a resume");
        assert_eq!(id.len(), 64);
        assert_ne!(id, identity("report 2026-12-28T00:00:00Z", &items), "another report: another plan");
        assert_ne!(id, identity("report 2026-11-28T00:00:00Z", &keys), "other steps: another plan");
        assert_ne!(id, identity("report 2026-11-28T00:00:00Z", &items[1..]), "another selection: another plan");
    }

    #[test]
    fn hostile_text_in_the_plan_reaches_the_terminal_escaped() {
        let table = settings();
        let t = crate::model::Target::new("111111111111".parse().unwrap(), "eu-west-1".parse().unwrap());
        let hostile = "k\u{1b}[1A\u{1b}[2K\u{1b}]0;title\u{7}\u{9b}2J\u{202e}txt.exe\nfake line <b>x</b> **y**";
        let f = Finding::builder(kms::INFO, &t)
            .resource("AwsKmsKey", hostile, format!("arn:aws:kms:eu-west-1:111111111111:key/{hostile}"))
            .fail(format!("msg {hostile}"))
            .build()
            .unwrap();
        let n = Finding::builder(sagemaker::INFO, &t)
            .resource("AwsSageMakerNotebookInstance", hostile, "arn:aws:sagemaker:eu-west-1:111111111111:notebook-instance/x")
            .fail("open")
            .evidence("subnet_id", hostile)
            .build()
            .unwrap();
        let items = build(&[f, n], &Filter::default(), Options::default(), &table, today());
        let text = render(&items, &format!("r{hostile}.json"), &|a| format!("role of {a}\u{1b}[0m"));
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\r'] {
            assert!(!text.contains(bad), "{bad:?} in {text}");
        }
        assert!(!text.lines().any(|l| l.starts_with("fake line")), "a value cannot add a line: {text}");
        assert!(
            text.contains("k\\u{1b}[1A\\u{1b}[2K\\u{1b}]0;title\\u{7}\\u{9b}2J\\u{202e}txt.exe\\u{a}fake line <b>x</b> **y**: msg k"),
            "{text}"
        );
        assert!(text.contains("role of 111111111111\\u{1b}[0m") && text.contains("selected from rk\\u{1b}"), "{text}");
    }

    #[test]
    fn the_filter_narrows_and_names_unmatched_fingerprints() {
        let table = settings();
        let findings = estate();
        let only = Filter { checks: vec![kms::INFO.id, guardduty::INFO.id], ..Filter::default() };
        assert_eq!(build(&findings, &only, Options::default(), &table, today()).len(), 3);
        let fp = findings[0].fingerprint();
        let one = Filter { only: BTreeSet::from([fp, "0".repeat(64).parse().unwrap()]), ..Filter::default() };
        let items = build(&findings, &one, Options::default(), &table, today());
        assert_eq!(items.len(), 1);
        assert_eq!(one.unmatched(&findings), [format!("--only {}: no finding of the selection has this fingerprint", "0".repeat(64))]);
        let elsewhere = Filter { regions: vec!["us-east-1".parse().unwrap()], ..Filter::default() };
        assert!(build(&findings, &elsewhere, Options::default(), &table, today()).is_empty());
    }
}
