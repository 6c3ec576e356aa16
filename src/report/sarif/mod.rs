//! SARIF 2.1.0 for GitHub code scanning (issue 4: "SARIF 2.1.0 that GitHub code scanning accepts").
//!
//! A pure renderer: `&ScanReport` in, bytes of one or more SARIF logs out. Cloud resources have no files or
//! lines, so every result gets a stable pseudo-path `aws/<account>/<region>/<service>/<resource-id>` as its
//! relative `artifactLocation.uri` (GitHub rejects results without one, and rejects URIs with a scheme such
//! as a raw `arn:`), the ARN goes in `logicalLocations`, and `partialFingerprints.primaryLocationLineHash`
//! is orgscan's own stable fingerprint so an alert stays the same alert across runs.
//!
//! Sources: OASIS SARIF 2.1.0 (objects and properties cited by name), GitHub "SARIF support for code scanning" and
//! "SARIF results exceed one or more limits" (docs.github.com/en/code-security/code-scanning/...), and the
//! GitHub changelog 2024-05-06 "Code scanning will stop combining runs from a single upload".

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use serde_sarif::sarif::{
    Invocation, Location, Notification, PropertyBag, ReportingDescriptorReference, Result as SarifResult, Run, RunAutomationDetails,
    Suppression, Tool, ToolComponent,
};

use crate::model::{AccountId, BaselineState, CheckInfo, CoverageStatus, ErrorEntry, Finding, NotEvaluable, ScanReport, Stale, Subject};

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The OASIS schema location of SARIF 2.1.0 (errata 01), the one the multitool's SARIF1011 rule accepts.
mod parts;

pub use self::parts::{artifact_uri, gzip_len, security_severity};
use self::parts::{encode, level, related_locations, resource_place, rule};

pub const SCHEMA_URI: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
pub const VERSION: &str = "2.1.0";
pub const TOOL_NAME: &str = "orgscan";
/// `toolComponent.informationUri` must be an absolute URI. Cargo.toml's `repository` wins once it is set.
const FALLBACK_INFORMATION_URI: &str = "https://github.com/orgscan/orgscan";

/// The options that name what to do when the output does not fit (they appear in error messages).
const OPT_DIR: &str = "--sarif-dir";
const OPT_NARROW: &str = "--regions or --checks (with a distinct --sarif-category for each part)";

/// GitHub's limits on one SARIF upload ("SARIF results exceed one or more limits", and "SARIF file is
/// too large": 10 MB gzip-compressed). Results per run: GitHub accepts up to 25,000 but stores only the
/// top 5,000 by severity (its "soft limit"), so a run of 5,001 to 25,000 results would be accepted and
/// silently lose alerts, which then read as fixed; orgscan never writes a run above 5,000. Rules per run
/// (25,000) and tags per rule (20) are far above what five checks produce, and locations per result is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub results_per_run: usize,
    pub runs_per_file: usize,
    /// Gzip-compressed size of one file, in bytes.
    pub gzip_bytes: usize,
}

impl Limits {
    /// 10 MB read as 10,000,000 bytes, the stricter of the two readings; 5,000 results per run, the most
    /// GitHub keeps (see above).
    pub const GITHUB: Limits = Limits { results_per_run: 5_000, runs_per_file: 20, gzip_bytes: 10_000_000 };
}

impl Default for Limits {
    fn default() -> Self {
        Self::GITHUB
    }
}

/// Why SARIF output was not produced. Every message names the option that makes it fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SarifError {
    #[error(
        "{results} results are more than GitHub keeps in one run ({per_run}); use {OPT_DIR} DIR to write one file per \
         account (each with its own category; decide it once and keep it, as a switch of category leaves the old alerts open)"
    )]
    TooManyResults { results: usize, per_run: usize },
    #[error(
        "account {account} alone has {results} failing results, more than GitHub accepts in one run ({per_run}); \
         scan it in parts with {OPT_NARROW}"
    )]
    AccountTooLarge { account: AccountId, results: usize, per_run: usize },
    #[error("{what} would be {gzip_bytes} bytes gzip-compressed, more than GitHub accepts ({max} bytes); use {hint}")]
    TooLarge { what: String, gzip_bytes: usize, max: usize, hint: &'static str },
    #[error("cannot serialize SARIF: {0}")]
    Serialize(String),
}

/// One SARIF log ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarifFile {
    /// The file name inside `--sarif-dir` (`<account-id>.sarif`); `orgscan.sarif` for a single file.
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub runs: usize,
    pub results: usize,
}

/// The code-scanning category of a scan: `runAutomationDetails.id` (GitHub reads everything up to its last
/// `/` as the category, the rest as the run's own id). Uploads with different categories do not replace each
/// other's alerts, so the default names what was scanned: the organization (or the account), followed by what
/// a partial selection narrowed (`orgscan/o-abc123/checks=kms-key-not-pending-deletion/regions=eu-west-1/`),
/// so a partial run never replaces, and closes, the alerts of the full scan.
pub fn category(subject: &Subject, partial: Option<&str>, user: Option<&str>) -> String {
    let mut c = match user {
        Some(u) => u.trim().to_owned(),
        None => {
            let base = match subject {
                Subject::Organization { id, .. } => format!("orgscan/{id}/"),
                Subject::Account(a) | Subject::Accounts { caller: a } => format!("orgscan/{a}/"),
            };
            match partial {
                Some(p) => format!("{base}{p}/"),
                None => base,
            }
        }
    };
    // github/codeql-action upload-sarif appends the same `/` to its `category` input.
    if !c.ends_with('/') {
        c.push('/');
    }
    c
}

/// The category of one account's run when the output is split by account: stable for that account, so its
/// alerts stay in one analysis whether it is a run of a split file or a file of `--sarif-dir`.
pub fn account_category(base: &str, account: &AccountId) -> String {
    format!("{base}{account}/")
}

/// `--sarif PATH`: one file, one run, in the scan's category. The split is decided by the option, never
/// by the result count: past GitHub's 5,000 results per run the file is refused (the error names
/// `--sarif-dir`), rather than switching to per-account categories behind the user's back.
pub fn render_file(report: &ScanReport, options: &SarifOptions, limits: &Limits) -> Result<SarifFile, SarifError> {
    let r = Renderer::new(report, options);
    let base = category(&report.subject, report.partial.as_deref(), options.category.as_deref());
    let results = r.results();
    if results.len() > limits.results_per_run {
        return Err(SarifError::TooManyResults { results: results.len(), per_run: limits.results_per_run });
    }
    encode("orgscan.sarif".to_owned(), vec![r.run(&base, &results, None)], limits, OPT_DIR)
}

/// `--sarif-dir DIR`: one file per account (`<account-id>.sarif`), each with its own category. An account
/// gets a file when at least one of its scopes was evaluated (an empty run closes its fixed alerts) or when
/// it has FAILs carried forward from the baseline; an account skipped or unreachable as a whole gets none,
/// so its alerts stay as they are. Either every file fits or none is returned.
pub fn render_dir(report: &ScanReport, options: &SarifOptions, limits: &Limits) -> Result<Vec<SarifFile>, SarifError> {
    let r = Renderer::new(report, options);
    let base = category(&report.subject, report.partial.as_deref(), options.category.as_deref());
    let results = r.results();
    let mut files = Vec::new();
    for account in &r.accounts() {
        let mine: Vec<Entry> = results.iter().filter(|e| &e.finding.target.account == account).cloned().collect();
        let evaluated = report.coverage.iter().any(|c| &c.account == account && matches!(c.status, CoverageStatus::Evaluated { .. }));
        if !evaluated && mine.is_empty() {
            continue;
        }
        if mine.len() > limits.results_per_run {
            return Err(SarifError::AccountTooLarge { account: account.clone(), results: mine.len(), per_run: limits.results_per_run });
        }
        let run = r.run(&account_category(&base, account), &mine, Some(account));
        files.push(encode(format!("{account}.sarif"), vec![run], limits, OPT_NARROW)?);
    }
    Ok(files)
}

/// How SARIF is written (from `--sarif-category` and `--sarif-suppressed`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SarifOptions {
    pub category: Option<String>,
    /// Leave suppressed FAILs out (GitHub code scanning does not honour `result.suppressions`).
    pub omit_suppressed: bool,
}

/// One result to write: a FAIL of this run, or one carried forward from the baseline.
#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    finding: &'a Finding,
    stale: Option<&'a Stale>,
}

struct Renderer<'a> {
    report: &'a ScanReport,
    options: &'a SarifOptions,
    /// The rules in `tool.driver.rules` order: the checks that were run, in registry order.
    rules: Vec<&'static CheckInfo>,
}

impl<'a> Renderer<'a> {
    fn new(report: &'a ScanReport, options: &'a SarifOptions) -> Self {
        let mut rules = report.checks.clone();
        // A finding of a check missing from `checks` would otherwise have no rule to point at.
        let mut extra: Vec<&'static CheckInfo> =
            report.findings.iter().map(|f| f.check).filter(|c| !rules.iter().any(|r| r.id == c.id)).collect();
        extra.sort_by_key(|c| c.id);
        extra.dedup_by_key(|c| c.id);
        rules.extend(extra);
        Self { report, options, rules }
    }

    fn rule_index(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
    }

    /// Only FAIL and WARNING become results (a PASS is not a problem to track), with the baseline FAILs carried
    /// forward as stale; suppressed ones unless they are omitted. Sorted by rule, account, region, resource
    /// so the same estate always gives the same bytes.
    fn results(&self) -> Vec<Entry<'a>> {
        let r = self.report;
        let keep = |f: &Finding| !(self.options.omit_suppressed && f.triage.suppressed.is_some());
        let mut v: Vec<Entry> = r.open().filter(|f| keep(f)).map(|f| Entry { finding: f, stale: None }).collect();
        v.extend(
            r.history.iter().flat_map(|h| &h.stale).filter(|s| keep(&s.finding)).map(|s| Entry { finding: &s.finding, stale: Some(s) }),
        );
        v.sort_by(|a, b| a.finding.sort_key().cmp(&b.finding.sort_key()));
        v
    }

    /// Every account the scan touched, whether or not it has failures or was readable at all.
    fn accounts(&self) -> BTreeSet<AccountId> {
        let r = self.report;
        let mut set: BTreeSet<AccountId> = r.coverage.iter().map(|c| c.account.clone()).collect();
        set.extend(r.errors.iter().map(|e| e.account.clone()));
        set.extend(r.findings.iter().map(|f| f.target.account.clone()));
        set.extend(r.history.iter().flat_map(|h| &h.stale).map(|s| s.finding.target.account.clone()));
        set
    }

    fn run(&self, category: &str, entries: &[Entry], account: Option<&AccountId>) -> Run {
        let results: Vec<SarifResult> = entries.iter().map(|e| self.result(e)).collect();
        let mut properties = PropertyBag::builder().build();
        if let Some(a) = account {
            properties.additional_properties.insert("account_id".into(), json!(a.as_str()));
        }
        let run = Run::builder()
            .tool(Tool::builder().driver(self.driver()).build())
            .automation_details(RunAutomationDetails::builder().id(category.to_owned()).build())
            .invocations(vec![self.invocation(account)])
            // `run.results` must be present, even empty, for a run that scanned: an empty run is how GitHub
            // learns that alerts were fixed (the multitool's GH1014 checks it).
            .results(results);
        if properties.additional_properties.is_empty() { run.build() } else { run.properties(properties).build() }
    }

    fn driver(&self) -> ToolComponent {
        let repository = env!("CARGO_PKG_REPOSITORY");
        let information_uri = if repository.is_empty() { FALLBACK_INFORMATION_URI } else { repository };
        ToolComponent::builder()
            .name(TOOL_NAME)
            .version(self.report.tool_version)
            .semantic_version(self.report.tool_version)
            .information_uri(information_uri)
            .rules(self.rules.iter().map(|c| rule(c)).collect::<Vec<_>>())
            .build()
    }

    fn result(&self, e: &Entry) -> SarifResult {
        let f = e.finding;
        let info = f.check;
        let account = f.target.account.as_str();
        let region = f.target.region.as_str();
        let stale = e.stale.map(|s| {
            format!(
                "Not read again in this scan ({}); last seen failing at {}: ",
                s.reason.trim_end_matches('.'),
                s.last_seen.format("%Y-%m-%d %H:%M UTC")
            )
        });
        let message = format!(
            "{}{} ({} {} in account {account}, region {region}).",
            stale.unwrap_or_default(),
            f.message.trim_end().trim_end_matches('.'),
            f.resource.resource_type,
            f.resource.id
        );
        let (physical, logical) = resource_place(artifact_uri(f), &f.resource.id, &f.resource.arn);
        let location = Location::builder().physical_location(physical).logical_locations(logical).build();
        let related = related_locations(f);
        let mut properties = BTreeMap::new();
        properties.insert("account_id".to_owned(), json!(account));
        if let Some(name) = self.report.account_name(&f.target.account) {
            properties.insert("account_name".to_owned(), json!(name));
        }
        if let Some(path) = self.report.ou_path(&f.target.account) {
            properties.insert("ou_path".to_owned(), json!(path));
        }
        properties.insert("region".to_owned(), json!(region));
        properties.insert("resource_arn".to_owned(), json!(f.resource.arn));
        properties.insert("resource_type".to_owned(), json!(f.resource.resource_type));
        if let Some(t) = &f.triage.first_seen {
            properties.insert("first_seen".to_owned(), json!(time(t)));
        }
        if let Some(s) = e.stale {
            properties.insert("stale".to_owned(), json!(true));
            properties.insert("last_seen".to_owned(), json!(time(&s.last_seen)));
            properties.insert("stale_reason".to_owned(), json!(s.reason));
        }
        let mut r = SarifResult::builder()
            .rule_id(info.id)
            .level(level(f))
            .message(parts::message(message))
            .locations(vec![location])
            // GitHub matches alerts across uploads by this key; orgscan's fingerprint hashes (check, partition,
            // account, region, resource id), so the alert survives message changes and re-scans.
            .partial_fingerprints(BTreeMap::from([("primaryLocationLineHash".to_owned(), f.fingerprint().to_string())]))
            .properties(PropertyBag::builder().additional_properties(properties).build())
            .build();
        r.rule_index = self.rule_index(info.id).and_then(|i| i64::try_from(i).ok());
        if !related.is_empty() {
            r.related_locations = Some(related);
        }
        // SARIF §3.27.24: when one result has a baselineState, every result must. A stale result is a FAIL
        // of the baseline that is still open as far as anyone knows: unchanged.
        if self.report.history.is_some() {
            let state = if e.stale.is_some() { BaselineState::Unchanged } else { f.triage.baseline.unwrap_or(BaselineState::New) };
            r.baseline_state = Some(json!(state.as_str()));
        }
        // SARIF §3.27.23 and §3.35: with suppressions in play, every result carries the array (empty when
        // not suppressed); `kind: external` (a rules file), `status: accepted`, the rule's justification.
        if self.report.suppressions.is_some() {
            r.suppressions = Some(
                f.triage
                    .suppressed
                    .iter()
                    .map(|rule| {
                        Suppression::builder().kind(json!("external")).status(json!("accepted")).justification(rule.justification()).build()
                    })
                    .collect(),
            );
        }
        r
    }

    /// `invocations[0]`: whether every scope of this run could be evaluated, and why not. A run
    /// that is not successful lacks the results of the scopes that errored.
    fn invocation(&self, account: Option<&AccountId>) -> Invocation {
        let r = self.report;
        let mine = |a: &AccountId| account.is_none_or(|want| want == a);
        let mut errors: Vec<&ErrorEntry> = r.errors.iter().filter(|e| mine(&e.account)).collect();
        errors.sort_by(|a, b| (&a.account, &a.region, a.check_id, &a.error.code).cmp(&(&b.account, &b.region, b.check_id, &b.error.code)));
        let coverage_errors = r.coverage.iter().any(|c| mine(&c.account) && matches!(c.status, CoverageStatus::Error(_)));
        let mut notes: Vec<Notification> = errors.iter().map(|e| self.notification(e)).collect();
        let unreadable: Vec<&NotEvaluable> = r.not_evaluable.iter().filter(|n| mine(&n.target.account)).collect();
        notes.extend(unreadable.iter().map(|n| self.not_evaluable(n)));
        notes.extend(self.closed_by_policy(&mine));
        if r.incomplete {
            notes.push(
                Notification::builder()
                    .message(parts::message("The scan was interrupted: scopes not visited are missing from these results."))
                    .level(json!("error"))
                    .build(),
            );
        }
        let successful = errors.is_empty() && !coverage_errors && unreadable.is_empty() && !r.incomplete;
        let inv =
            Invocation::builder().execution_successful(successful).start_time_utc(time(&r.started_at)).end_time_utc(time(&r.finished_at));
        if notes.is_empty() { inv.build() } else { inv.tool_execution_notifications(notes).build() }
    }

    /// One note per account with scopes closed by a service control policy: which regions, which actions.
    /// These scopes are skipped like regions that are not enabled, so the run stays successful.
    fn closed_by_policy(&self, mine: &dyn Fn(&AccountId) -> bool) -> Vec<Notification> {
        let mut by_account: BTreeMap<&AccountId, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
        for c in &self.report.coverage {
            if let (CoverageStatus::ClosedByPolicy { action, .. }, Some(region)) = (&c.status, &c.region)
                && mine(&c.account)
            {
                let e = by_account.entry(&c.account).or_default();
                e.0.insert(region.as_str());
                e.1.insert(action.as_str());
            }
        }
        by_account
            .into_iter()
            .map(|(account, (regions, actions))| {
                let list = |s: &BTreeSet<&str>| s.iter().copied().collect::<Vec<_>>().join(", ");
                let text = format!(
                    "Closed by a service control policy in account {account}: {} denied in {} region(s) ({}); those scopes are \
                     skipped, like regions that are not enabled.",
                    list(&actions),
                    regions.len(),
                    list(&regions)
                );
                let mut props = BTreeMap::new();
                props.insert("account_id".to_owned(), json!(account.as_str()));
                props.insert("regions".to_owned(), json!(regions));
                props.insert("denied_actions".to_owned(), json!(actions));
                Notification::builder()
                    .message(parts::message(text))
                    .level(json!("note"))
                    .properties(PropertyBag::builder().additional_properties(props).build())
                    .build()
            })
            .collect()
    }

    fn not_evaluable(&self, n: &NotEvaluable) -> Notification {
        let text = format!(
            "Not evaluable (account {}, region {}, check {}): {} {} could not be read: AWS error {}: {}. It is neither passed nor failed.",
            n.target.account,
            n.target.region,
            n.check_id,
            n.resource.resource_type,
            n.resource.arn,
            n.error.code,
            n.error.message.trim_end().trim_end_matches('.')
        );
        let mut props = BTreeMap::new();
        props.insert("account_id".to_owned(), json!(n.target.account.as_str()));
        props.insert("region".to_owned(), json!(n.target.region.as_str()));
        props.insert("check_id".to_owned(), json!(n.check_id));
        props.insert("resource_arn".to_owned(), json!(n.resource.arn));
        props.insert("error_code".to_owned(), json!(n.error.code));
        let b = Notification::builder()
            .message(parts::message(text))
            .level(json!("warning"))
            .properties(PropertyBag::builder().additional_properties(props).build());
        match self.rule_index(n.check_id) {
            Some(index) => b
                .associated_rule(
                    ReportingDescriptorReference::builder().id(n.check_id).index(i64::try_from(index).unwrap_or_default()).build(),
                )
                .build(),
            None => b.build(),
        }
    }

    fn notification(&self, e: &ErrorEntry) -> Notification {
        let region = e.region.as_ref().map(|r| r.as_str());
        let scope = format!("account {}, region {}, check {}", e.account, region.unwrap_or("(all)"), e.check_id.unwrap_or("(all)"));
        let text = format!(
            "Not evaluated ({scope}): AWS error {}: {}. Resources of this scope are missing from these results.",
            e.error.code,
            e.error.message.trim_end().trim_end_matches('.')
        );
        let mut props = BTreeMap::new();
        props.insert("account_id".to_owned(), json!(e.account.as_str()));
        props.insert("region".to_owned(), json!(region));
        props.insert("check_id".to_owned(), json!(e.check_id));
        props.insert("error_code".to_owned(), json!(e.error.code));
        let n = Notification::builder()
            .message(parts::message(text))
            .level(json!("error"))
            .properties(PropertyBag::builder().additional_properties(props).build());
        match e.check_id.and_then(|id| Some((id, self.rule_index(id)?))) {
            Some((id, index)) => n
                .associated_rule(ReportingDescriptorReference::builder().id(id).index(i64::try_from(index).unwrap_or_default()).build())
                .build(),
            None => n.build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_end_with_a_slash_and_name_the_scope() {
        let a: AccountId = "123456789012".parse().unwrap();
        assert_eq!(category(&Subject::Account(a.clone()), None, None), "orgscan/123456789012/");
        let org = Subject::Organization { id: "o-abc123defg".into(), caller: a.clone() };
        assert_eq!(category(&org, None, None), "orgscan/o-abc123defg/");
        assert_eq!(
            category(&org, Some("checks=kms-key-not-pending-deletion"), None),
            "orgscan/o-abc123defg/checks=kms-key-not-pending-deletion/"
        );
        assert_eq!(
            category(&Subject::Accounts { caller: a.clone() }, Some("accounts=111111111111"), None),
            "orgscan/123456789012/accounts=111111111111/"
        );
        assert_eq!(category(&org, Some("regions=eu-west-1"), Some("cloud/prod")), "cloud/prod/");
        assert_eq!(account_category("cloud/prod/", &a), "cloud/prod/123456789012/");
    }
}
