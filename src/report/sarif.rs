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
use std::io::Write;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString, Notification, PhysicalLocation,
    PropertyBag, Region as SarifRegion, ReportingConfiguration, ReportingDescriptor, ReportingDescriptorReference, Result as SarifResult,
    ResultLevel, Run, RunAutomationDetails, Sarif, Tool, ToolComponent,
};

use crate::model::{AccountId, CheckInfo, CoverageStatus, ErrorEntry, Finding, ScanReport, Severity, Subject};

/// The OASIS schema location of SARIF 2.1.0 (errata 01), the one the multitool's SARIF1011 rule accepts.
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
        "{results} failing results need more than one run ({per_run} results per run at most), and splitting them by account \
         needs {accounts} runs, more than GitHub accepts in one file ({max_runs}); use {OPT_DIR} DIR to write one file per account"
    )]
    TooManyAccounts { results: usize, accounts: usize, per_run: usize, max_runs: usize },
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

/// The code-scanning category of a scan: `runAutomationDetails.id` (SARIF reads everything up to its last
/// `/` as the category, the rest as the run's own id). Uploads with different categories do not replace each other's alerts, so the
/// default names the organization (or the account) that was scanned.
pub fn category(subject: &Subject, user: Option<&str>) -> String {
    let mut c = match user {
        Some(u) => u.trim().to_owned(),
        None => match subject {
            Subject::Organization { id, .. } => format!("orgscan/{id}/"),
            Subject::Account(a) | Subject::Accounts { caller: a } => format!("orgscan/{a}/"),
        },
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

/// `--sarif PATH`: one file, one run; past the per-run result limit, one run per account, each with the
/// category of [`account_category`] (GitHub refuses several runs of the same tool and category in one file).
pub fn render_file(report: &ScanReport, user_category: Option<&str>, limits: &Limits) -> Result<SarifFile, SarifError> {
    let r = Renderer::new(report);
    let base = category(&report.subject, user_category);
    let failures = r.failures();
    let runs = if failures.len() <= limits.results_per_run {
        vec![r.run(&base, &failures, None)]
    } else {
        let accounts = r.accounts();
        if accounts.len() > limits.runs_per_file {
            return Err(SarifError::TooManyAccounts {
                results: failures.len(),
                accounts: accounts.len(),
                per_run: limits.results_per_run,
                max_runs: limits.runs_per_file,
            });
        }
        let mut runs = Vec::with_capacity(accounts.len());
        for account in &accounts {
            let mine = r.of_account(&failures, account, limits)?;
            runs.push(r.run(&account_category(&base, account), &mine, Some(account)));
        }
        runs
    };
    encode("orgscan.sarif".to_owned(), runs, limits, OPT_DIR)
}

/// `--sarif-dir DIR`: one file per account of the scan (`<account-id>.sarif`), each with its own category,
/// including accounts without a failure, whose empty run closes their fixed alerts. Either every file fits
/// or none is returned.
pub fn render_dir(report: &ScanReport, user_category: Option<&str>, limits: &Limits) -> Result<Vec<SarifFile>, SarifError> {
    let r = Renderer::new(report);
    let base = category(&report.subject, user_category);
    let failures = r.failures();
    let mut files = Vec::new();
    for account in &r.accounts() {
        let mine = r.of_account(&failures, account, limits)?;
        let run = r.run(&account_category(&base, account), &mine, Some(account));
        files.push(encode(format!("{account}.sarif"), vec![run], limits, OPT_NARROW)?);
    }
    Ok(files)
}

struct Renderer<'a> {
    report: &'a ScanReport,
    /// The rules in `tool.driver.rules` order: the checks that were run, in registry order.
    rules: Vec<&'static CheckInfo>,
}

impl<'a> Renderer<'a> {
    fn new(report: &'a ScanReport) -> Self {
        let mut rules = report.checks.clone();
        // A finding of a check missing from `checks` would otherwise have no rule to point at.
        let mut extra: Vec<&'static CheckInfo> =
            report.findings.iter().map(|f| f.check).filter(|c| !rules.iter().any(|r| r.id == c.id)).collect();
        extra.sort_by_key(|c| c.id);
        extra.dedup_by_key(|c| c.id);
        rules.extend(extra);
        Self { report, rules }
    }

    fn rule_index(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
    }

    /// Only FAIL becomes a result (a PASS is not a problem to track); sorted by rule, account, region,
    /// resource so the same estate always gives the same bytes.
    fn failures(&self) -> Vec<&'a Finding> {
        let mut v: Vec<&Finding> = self.report.failures().collect();
        v.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        v
    }

    /// Every account the scan touched, whether or not it has failures or was readable at all.
    fn accounts(&self) -> BTreeSet<AccountId> {
        let r = self.report;
        let mut set: BTreeSet<AccountId> = r.coverage.iter().map(|c| c.account.clone()).collect();
        set.extend(r.errors.iter().map(|e| e.account.clone()));
        set.extend(r.findings.iter().map(|f| f.target.account.clone()));
        set
    }

    fn of_account(&self, failures: &[&'a Finding], account: &AccountId, limits: &Limits) -> Result<Vec<&'a Finding>, SarifError> {
        let mine: Vec<&Finding> = failures.iter().copied().filter(|f| &f.target.account == account).collect();
        if mine.len() > limits.results_per_run {
            return Err(SarifError::AccountTooLarge { account: account.clone(), results: mine.len(), per_run: limits.results_per_run });
        }
        Ok(mine)
    }

    fn run(&self, category: &str, failures: &[&Finding], account: Option<&AccountId>) -> Run {
        let results: Vec<SarifResult> = failures.iter().map(|f| self.result(f)).collect();
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

    fn result(&self, f: &Finding) -> SarifResult {
        let info = f.check;
        let account = f.target.account.as_str();
        let region = f.target.region.as_str();
        let message = format!(
            "{} ({} {} in account {account}, region {region}).",
            f.message.trim_end().trim_end_matches('.'),
            f.resource.resource_type,
            f.resource.id
        );
        let location = Location::builder()
            .physical_location(
                PhysicalLocation::builder()
                    .artifact_location(ArtifactLocation::builder().uri(artifact_uri(f)).build())
                    // GitHub needs a line to anchor an alert; a resource is one "line" of its pseudo-file.
                    .region(SarifRegion::builder().start_line(1).build())
                    .build(),
            )
            .logical_locations(vec![
                LogicalLocation::builder()
                    .name(f.resource.id.clone())
                    .fully_qualified_name(f.resource.arn.clone())
                    // "resource" is one of the well-known values of `logicalLocation.kind`.
                    .kind("resource")
                    .build(),
            ])
            .build();
        let mut properties = BTreeMap::new();
        properties.insert("account_id".to_owned(), json!(account));
        properties.insert("region".to_owned(), json!(region));
        properties.insert("resource_arn".to_owned(), json!(f.resource.arn));
        properties.insert("resource_type".to_owned(), json!(f.resource.resource_type));
        let mut r = SarifResult::builder()
            .rule_id(info.id)
            .level(level(info.severity))
            .message(Message::builder().text(message).build())
            .locations(vec![location])
            // GitHub matches alerts across uploads by this key; orgscan's fingerprint hashes (check, partition,
            // account, region, resource id), so the alert survives message changes and re-scans.
            .partial_fingerprints(BTreeMap::from([("primaryLocationLineHash".to_owned(), f.fingerprint())]))
            .properties(PropertyBag::builder().additional_properties(properties).build())
            .build();
        r.rule_index = self.rule_index(info.id).and_then(|i| i64::try_from(i).ok());
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
        if r.incomplete {
            notes.push(
                Notification::builder()
                    .message(
                        Message::builder().text("The scan was interrupted: scopes not visited are missing from these results.").build(),
                    )
                    .level(json!("error"))
                    .build(),
            );
        }
        let successful = errors.is_empty() && !coverage_errors && !r.incomplete;
        let time = |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let inv =
            Invocation::builder().execution_successful(successful).start_time_utc(time(&r.started_at)).end_time_utc(time(&r.finished_at));
        if notes.is_empty() { inv.build() } else { inv.tool_execution_notifications(notes).build() }
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
            .message(Message::builder().text(text).build())
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

/// One `reportingDescriptor` per check, all from its static metadata.
fn rule(c: &CheckInfo) -> ReportingDescriptor {
    let controls = c.security_hub_controls.join(", ");
    let help_text = format!(
        "{}\n\nRemediation: {}\n\n{}\n\nSecurity Hub control: {controls}. Documentation: {}",
        c.description, c.remediation, c.remediation_cli, c.docs_url
    );
    let help_markdown = format!(
        "{}\n\n**Remediation.** {}\n\n```sh\n{}\n```\n\nSecurity Hub control: {}. See the [AWS documentation]({}).",
        c.description,
        c.remediation,
        c.remediation_cli,
        c.security_hub_controls.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
        c.docs_url
    );
    let mut props = BTreeMap::new();
    // GitHub reads `security-severity` (a number in a string, 0.0 to 10.0) to rank security alerts:
    // over 9.0 critical, 7.0 to 8.9 high, 4.0 to 6.9 medium, 0.1 to 3.9 low.
    props.insert("security-severity".to_owned(), json!(security_severity(c.severity)));
    // The checks read the resource's own configuration: no heuristics, so a FAIL is a fact.
    props.insert("precision".to_owned(), json!("very-high"));
    props.insert("security_hub_controls".to_owned(), json!(c.security_hub_controls));
    ReportingDescriptor::builder()
        .id(c.id)
        .name(pascal_case(c.id))
        .short_description(text(c.title))
        .full_description(text(c.description))
        .help(MultiformatMessageString::builder().text(help_text).markdown(help_markdown).build())
        .help_uri(c.docs_url)
        .default_configuration(ReportingConfiguration::builder().level(json!(level_str(c.severity))).build())
        .properties(
            PropertyBag::builder()
                .tags(vec!["security".to_owned(), "aws".to_owned(), c.service.as_str().to_owned()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

fn text(s: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s).build()
}

/// `reportingDescriptor.name` is a readable identifier without spaces, conventionally Pascal case.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut cs = w.chars();
            cs.next().map(|c| c.to_ascii_uppercase().to_string() + cs.as_str()).unwrap_or_default()
        })
        .collect()
}

pub fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low => ResultLevel::Note,
    }
}

fn level_str(s: Severity) -> &'static str {
    match level(s) {
        ResultLevel::Error => "error",
        ResultLevel::Warning => "warning",
        ResultLevel::Note => "note",
        ResultLevel::None => "none",
    }
}

/// Everything but RFC 3986 "unreserved" characters is percent-encoded, so a resource id can never add a
/// path segment (`/`), a query (`?`), a fragment (`#`) or a scheme (`:`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn segment(s: &str) -> String {
    match s {
        // Dot segments would be removed by URI normalisation (RFC 3986 §5.2.4) and merge two locations.
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => utf8_percent_encode(s, SEGMENT).to_string(),
    }
}

/// The stable relative pseudo-path of a finding: `aws/<account>/<region>/<service>/<resource-id>`; an
/// account-level finding (resource type `AwsAccount`, e.g. GuardDuty without a detector) stops at the
/// service. Relative, without a scheme: GitHub rejects absolute URIs that do not match the checkout.
pub fn artifact_uri(f: &Finding) -> String {
    let mut uri =
        format!("aws/{}/{}/{}", segment(f.target.account.as_str()), segment(f.target.region.as_str()), segment(f.check.service.as_str()));
    if f.resource.resource_type != "AwsAccount" {
        uri.push('/');
        uri.push_str(&segment(&f.resource.id));
    }
    uri
}

fn encode(file_name: String, runs: Vec<Run>, limits: &Limits, hint: &'static str) -> Result<SarifFile, SarifError> {
    let results = runs.iter().map(|r| r.results.as_ref().map_or(0, Vec::len)).sum();
    let run_count = runs.len();
    let log = Sarif::builder().schema(SCHEMA_URI).version(Value::from(VERSION)).runs(runs).build();
    let mut bytes = serde_json::to_vec_pretty(&log).map_err(|e| SarifError::Serialize(e.to_string()))?;
    bytes.push(b'\n');
    // Deflate grows incompressible input by at most 5 bytes per 64 KiB block plus an 18-byte gzip frame,
    // so a file 1% under the limit fits without compressing it (compressing tens of MB takes a while).
    if bytes.len() + bytes.len() / 100 + 64 > limits.gzip_bytes {
        let gz = gzip_len(&bytes).map_err(|e| SarifError::Serialize(e.to_string()))?;
        if gz > limits.gzip_bytes {
            return Err(SarifError::TooLarge {
                what: format!("SARIF {file_name} ({results} results in {run_count} run(s))"),
                gzip_bytes: gz,
                max: limits.gzip_bytes,
                hint,
            });
        }
    }
    Ok(SarifFile { file_name, bytes, runs: run_count, results })
}

/// The size of `bytes` gzip-compressed at the default level, as the upload-sarif action compresses.
pub fn gzip_len(bytes: &[u8]) -> std::io::Result<usize> {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Count(0), flate2::Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::model::Target;

    fn finding(info: &'static CheckInfo, rtype: &'static str, id: &str) -> Finding {
        let t = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        Finding::builder(info, &t).resource(rtype, id, format!("arn:aws:x:eu-west-1:123456789012:{id}")).fail("bad").build().unwrap()
    }

    #[test]
    fn uris_are_relative_and_encode_every_reserved_character() {
        let f = finding(check::lambda::INFO, "AwsLambdaFunction", "fn-1_a.b~c");
        assert_eq!(artifact_uri(&f), "aws/123456789012/eu-west-1/lambda/fn-1_a.b~c");
        let f = finding(check::lambda::INFO, "AwsLambdaFunction", "a b/c?d#e:f%g\u{e9}");
        assert_eq!(artifact_uri(&f), "aws/123456789012/eu-west-1/lambda/a%20b%2Fc%3Fd%23e%3Af%25g%C3%A9");
        assert_eq!(artifact_uri(&finding(check::kms::INFO, "AwsKmsKey", "..")), "aws/123456789012/eu-west-1/kms/%2E%2E");
        let gd = finding(check::guardduty::INFO, "AwsAccount", "123456789012");
        assert_eq!(artifact_uri(&gd), "aws/123456789012/eu-west-1/guardduty");
    }

    #[test]
    fn categories_end_with_a_slash_and_name_the_scope() {
        let a: AccountId = "123456789012".parse().unwrap();
        assert_eq!(category(&Subject::Account(a.clone()), None), "orgscan/123456789012/");
        let org = Subject::Organization { id: "o-abc123defg".into(), caller: a.clone() };
        assert_eq!(category(&org, None), "orgscan/o-abc123defg/");
        assert_eq!(category(&Subject::Accounts { caller: a.clone() }, None), "orgscan/123456789012/");
        assert_eq!(category(&org, Some("cloud/prod")), "cloud/prod/");
        assert_eq!(account_category("cloud/prod/", &a), "cloud/prod/123456789012/");
    }

    #[test]
    fn severities_map_to_github_bands() {
        assert_eq!(pascal_case("kms-key-not-pending-deletion"), "KmsKeyNotPendingDeletion");
        let bands = [(Severity::Critical, 9.0, 10.0), (Severity::High, 7.0, 8.9), (Severity::Medium, 4.0, 6.9), (Severity::Low, 0.1, 3.9)];
        for (s, lo, hi) in bands {
            let v: f64 = security_severity(s).parse().unwrap();
            assert!(v >= lo && v <= hi, "{s}: {v}");
        }
        assert_eq!(level_str(Severity::Critical), "error");
        assert_eq!(level_str(Severity::Medium), "warning");
        assert_eq!(level_str(Severity::Low), "note");
    }

    #[test]
    fn gzip_len_measures_compressed_size() {
        let zeros = vec![b'0'; 1_000_000];
        let n = gzip_len(&zeros).unwrap();
        assert!(n > 18 && n < 10_000, "{n}");
    }
}
