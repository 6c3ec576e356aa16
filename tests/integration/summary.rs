//! The terminal summary scales: bounded, grouped and worst first, with the same totals as the report.

use std::collections::{BTreeMap, BTreeSet};

use orgscan::check;
use orgscan::model::import::{Counts, FailedImport, ImportReport, ImportStatus, TargetImport};
use orgscan::model::{
    AccountId, AccountInfo, CheckInfo, Coverage, CoverageStatus, ErrorEntry, Finding, NotEvaluable, Note, Region, Resource, ScanReport,
    ScopeError, Service, Subject, Target, exit,
};
use orgscan::report::text::render;

use crate::support::estate::{Mix, Moto, create_grouped_org, seed_org};
use crate::support::{orgscan_env, read_json, stderr, stdout, tempdir};

const REGIONS: [&str; 4] = ["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2"];

fn account(i: usize) -> AccountId {
    format!("{:012}", 100_000_000_000 + i).parse().unwrap()
}

fn region(r: &str) -> Region {
    r.parse().unwrap()
}

fn infos() -> Vec<&'static CheckInfo> {
    check::ALL.iter().map(|c| c.info()).collect()
}

fn finding(info: &'static CheckInfo, target: &Target, id: &str, fail: bool) -> Finding {
    let arn = format!("arn:aws:{}:{}:{}:thing/{id}", info.service.iam_prefix(), target.region, target.account);
    let b = Finding::builder(info, target).resource(info.resource_types[0], id, arn);
    // A long message: the summary cuts it to fit the terminal.
    let b = if fail { b.fail(format!("{id} fails {}", "because of a long explanation ".repeat(10))) } else { b.pass("fine") };
    b.build().unwrap()
}

fn evaluated(resources: usize) -> CoverageStatus {
    CoverageStatus::Evaluated { resources, not_applicable: 0, not_evaluable: 0 }
}

/// Which accounts fail which check (a different share per check, so the FAIL counts differ), and how many
/// failing resources each such target holds.
fn fails(check_id: &str, i: usize) -> usize {
    match check_id {
        "kms-key-not-pending-deletion" => usize::from(i.is_multiple_of(7)),
        "guardduty-enabled" => usize::from(i.is_multiple_of(2)),
        "sagemaker-notebook-no-direct-internet" => usize::from(i.is_multiple_of(3)),
        "lambda-supported-runtime" => 2 * usize::from(i.is_multiple_of(5)),
        _ => usize::from(i.is_multiple_of(11)),
    }
}

/// 500 accounts x 4 regions x 5 checks with thousands of FAILs, and errors of three codes: the role of ten
/// accounts cannot be assumed, Lambda is denied in 32 accounts, OpenSearch throttled in one region of 20.
fn big_report() -> ScanReport {
    let mut r = ScanReport::new(Subject::Organization { id: "o-synthetic1".into(), caller: account(0) }, infos());
    for i in 0..500 {
        r.accounts.insert(account(i), AccountInfo { name: format!("acct-{i}"), ou_path: Some("Root/g".into()), ous: Vec::new() });
        if i >= 490 {
            let e = ScopeError::new("AccessDenied", format!("AssumeRole: not authorized to assume role in {}", account(i)));
            r.errors.push(ErrorEntry { account: account(i), region: None, check_id: None, error: e.clone() });
            for info in &r.checks {
                let c = Coverage { check_id: info.id, account: account(i), region: None, status: CoverageStatus::Error(e.clone()) };
                r.coverage.push(c);
            }
            continue;
        }
        for reg in REGIONS {
            let target = Target::new(account(i), region(reg));
            for info in r.checks.clone() {
                let error = match info.id {
                    "lambda-supported-runtime" if (1..=40).contains(&i) && !i.is_multiple_of(5) => Some(ScopeError::new(
                        "AccessDeniedException",
                        "ListFunctions: User: x is not authorized to perform: lambda:ListFunctions",
                    )),
                    "opensearch-encryption-at-rest" if (100..120).contains(&i) && reg == "us-east-1" => {
                        Some(ScopeError::new("ThrottlingException", "ListDomainNames: Rate exceeded"))
                    }
                    _ => None,
                };
                if let Some(e) = error {
                    r.errors.push(ErrorEntry { account: account(i), region: Some(region(reg)), check_id: Some(info.id), error: e.clone() });
                    r.coverage.push(Coverage {
                        check_id: info.id,
                        account: account(i),
                        region: Some(region(reg)),
                        status: CoverageStatus::Error(e),
                    });
                    continue;
                }
                let n = fails(info.id, i);
                for k in 0..n {
                    r.findings.push(finding(info, &target, &format!("res-{k}"), true));
                }
                r.findings.push(finding(info, &target, "res-ok", false));
                r.coverage.push(Coverage { check_id: info.id, account: account(i), region: Some(region(reg)), status: evaluated(n + 1) });
            }
        }
    }
    r.stats.accounts = 500;
    r.stats.regions = 4;
    r.sort();
    r
}

/// The failing-resources section: (check header, resource lines, the "and N more" count) in order.
fn failing_section(text: &str) -> Vec<(String, Vec<String>, usize)> {
    let mut out: Vec<(String, Vec<String>, usize)> = Vec::new();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("Failing resources (")).skip(1);
    for l in lines.by_ref().take_while(|l| !l.is_empty()) {
        if let Some(more) = l.strip_prefix("    ... and ") {
            let n = more.split(' ').next().unwrap().parse().unwrap();
            out.last_mut().unwrap().2 = n;
        } else if let Some(resource) = l.strip_prefix("    ") {
            out.last_mut().unwrap().1.push(resource.to_owned());
        } else {
            out.push((l.trim().split(' ').next().unwrap().to_owned(), Vec::new(), 0));
        }
    }
    out
}

#[test]
fn five_hundred_accounts_fit_in_sixty_lines_worst_first_with_the_report_s_totals() {
    let r = big_report();
    let fails_total = r.failures().count();
    assert!(fails_total > 2000, "thousands of FAILs: {fails_total}");
    let text = render(&r);
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 60, "{} lines:\n{text}", lines.len());

    // The table: one row per check in registry order with its counts, then the totals of the report.
    let table: Vec<&str> = lines.iter().skip_while(|l| !l.starts_with("CHECK ")).skip(1).take(r.checks.len() + 1).copied().collect();
    for (row, info) in table.iter().zip(&r.checks) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let fail = r.failures().filter(|f| f.check.id == info.id).count();
        let pass = r.findings.iter().filter(|f| f.check.id == info.id).count() - fail;
        let cov = |s: &str| r.coverage.iter().filter(|c| c.check_id == info.id && c.status.as_str() == s).count();
        let want = [pass, fail, cov("evaluated"), cov("skipped"), cov("error"), 0].map(|n| n.to_string());
        let got: Vec<String> = cols[2..].iter().map(|c| c.to_string()).collect();
        assert_eq!((cols[0], cols[1], &got[..]), (info.id, info.severity.as_str(), &want[..]), "{row}");
    }
    let total: Vec<&str> = table[r.checks.len()].split_whitespace().collect();
    assert_eq!(total[0], "TOTAL");
    assert_eq!(total[2], fails_total.to_string(), "{}", table[r.checks.len()]);
    assert_eq!(total[5], r.coverage.iter().filter(|c| c.status.as_str() == "error").count().to_string());

    // Worst first: the critical check leads, then by severity and number of FAILs; at most 5 each, and 25 in
    // all (more than five failing checks list fewer each).
    let section = failing_section(&text);
    assert_eq!(section.len(), r.checks.len(), "every check fails somewhere: {section:?}");
    let shown: usize = text.split("worst first, at most ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!(shown <= 5 && shown * section.len() <= 25 && (section.len() > 5 || shown == 5), "{shown} each of {}", section.len());
    assert_eq!(section[0].0, check::kms::INFO.id);
    let key = |id: &str| {
        let info = r.checks.iter().find(|c| c.id == id).unwrap();
        (info.severity, r.failures().filter(|f| f.check.id == id).count())
    };
    assert!(section.windows(2).all(|w| key(&w[0].0) >= key(&w[1].0)), "{section:?}");
    for (check_id, listed, more) in &section {
        let mut fs: Vec<&Finding> = r.failures().filter(|f| f.check.id == check_id).collect();
        fs.sort_by_key(|f| (f.target.account.clone(), f.target.region.clone(), f.resource.id.clone()));
        assert_eq!(listed.len(), shown, "{check_id}");
        assert_eq!(*more, fs.len() - shown, "{check_id}");
        assert!(text.contains(&format!("  {check_id} [{}] ({} failing)", fs[0].severity(), fs.len())));
        for (line, f) in listed.iter().zip(&fs) {
            let head = format!("{} ({}) {}: ", f.target, r.account_name(&f.target.account).unwrap(), f.resource.arn);
            assert!(line.starts_with(&head), "{line}");
            assert!(line.len() + 4 <= 160 && line.ends_with("..."), "cut to fit: {line}");
        }
    }

    // One line per cause, with its count, accounts and regions.
    type Cause<'a> = (usize, BTreeSet<&'a AccountId>, BTreeSet<Option<&'a Region>>);
    let mut causes: BTreeMap<(&str, &str), Cause> = BTreeMap::new();
    for e in &r.errors {
        let c = causes.entry((e.error.code.as_str(), e.check_id.unwrap_or("account"))).or_default();
        c.0 += 1;
        c.1.insert(&e.account);
        c.2.insert(e.region.as_ref());
    }
    assert_eq!(causes.len(), 3);
    assert!(text.contains(&format!("Errors ({}; 3 cause(s);", r.errors.len())), "{text}");
    for ((code, check_id), (n, accounts, regions)) in &causes {
        let line = lines.iter().find(|l| l.contains(&format!(" x {code} in {check_id}: "))).unwrap();
        assert!(line.starts_with(&format!("  {n} x {code} in {check_id}: {} account(s), ", accounts.len())), "{line}");
        let first = accounts.iter().next().unwrap();
        assert!(line.contains(&format!("e.g. {first} ({})", r.account_name(first).unwrap())), "{line}");
        if regions.iter().all(|r| r.is_some()) {
            assert!(line.contains(&format!(", {} region(s)", regions.len())), "{line}");
        } else {
            assert!(line.contains("whole account"), "{line}");
        }
    }
    let last = lines.last().unwrap();
    assert_eq!(
        *last,
        format!("FAIL and INCOMPLETE: {fails_total} failing resource(s), and some scopes could not be evaluated (exit code 4)")
    );
}

fn small_report() -> ScanReport {
    let mut r = ScanReport::new(Subject::Accounts { caller: account(0) }, infos());
    for i in 0..3 {
        for info in r.checks.clone() {
            let target = Target::new(account(i), region("eu-west-1"));
            r.findings.push(finding(info, &target, "ok", false));
            r.coverage.push(Coverage { check_id: info.id, account: account(i), region: Some(region("eu-west-1")), status: evaluated(1) });
        }
    }
    r.sort();
    r
}

#[test]
fn the_verdict_says_what_the_exit_code_means() {
    let last = |r: &ScanReport| render(r).lines().last().unwrap().to_owned();
    let mut r = small_report();
    assert_eq!(last(&r), "OK: every scope evaluated, nothing failed (exit code 0)");

    let mut failing = r.clone();
    let target = Target::new(account(1), region("eu-west-1"));
    failing.findings.push(finding(check::kms::INFO, &target, "bad", true));
    assert_eq!(last(&failing), "FAIL: 1 failing resource(s) (exit code 1)");
    failing.incomplete = true;
    let text = render(&failing);
    assert!(text.lines().next().unwrap().ends_with("(INCOMPLETE: interrupted)"), "{text}");
    assert_eq!(last(&failing), "FAIL and INCOMPLETE: 1 failing resource(s), and some scopes could not be evaluated (exit code 4)");

    let mut unreadable = r.clone();
    let resource = Resource { resource_type: "AwsKmsKey", id: "k".into(), arn: "arn:aws:kms:eu-west-1:100000000001:key/k".into() };
    let e = ScopeError::new("AccessDeniedException", "DescribeKey: no resource-based policy allows the kms:DescribeKey action");
    unreadable.not_evaluable.push(NotEvaluable { check_id: check::kms::INFO.id, target, resource, error: e });
    assert_eq!(last(&unreadable), "INCOMPLETE: nothing failed, but some resources could not be read (exit code 3)");

    let mut import = r.clone();
    let sh = ImportReport { failures: vec![failed_import(1)], ..ImportReport::default() };
    import.stats.security_hub = Some(sh);
    assert_eq!(last(&import), "INCOMPLETE: nothing failed, but the Security Hub import did not complete (exit code 3)");

    let e = ScopeError::new("TimeoutError", "ListKeys: timed out");
    r.coverage[0].status = CoverageStatus::Error(e.clone());
    r.errors.push(ErrorEntry {
        account: r.coverage[0].account.clone(),
        region: r.coverage[0].region.clone(),
        check_id: Some("x"),
        error: e,
    });
    assert_eq!(last(&r), "INCOMPLETE: nothing failed, but some scopes could not be evaluated (exit code 3)");
    for c in &mut r.coverage {
        c.status = CoverageStatus::Skipped { reason: "region not enabled".into() };
    }
    r.errors.clear();
    assert!(last(&r).starts_with("NOTHING EVALUATED"), "{}", last(&r));
    assert_eq!(r.exit_code(), exit::INCOMPLETE);
}

fn failed_import(i: usize) -> FailedImport {
    FailedImport {
        account: account(i),
        region: region("eu-west-1"),
        finding_id: format!("finding-{i}"),
        code: "InvalidInput".into(),
        message: "Finding does not adhere to Amazon Finding Format. ".repeat(10),
    }
}

#[test]
fn coverage_gaps_notes_and_the_security_hub_import_are_grouped_and_bounded() {
    let mut r = small_report();
    // 200 accounts: two opt-in regions not enabled, one region closed by Control Tower's SCP.
    for i in 100..300 {
        for info in r.checks.clone() {
            for reg in ["af-south-1", "me-south-1"] {
                let status = CoverageStatus::Skipped { reason: "region not enabled for this account (OptInRequired)".into() };
                r.coverage.push(Coverage { check_id: info.id, account: account(i), region: Some(region(reg)), status });
            }
            // Control Tower's Region deny exempts KMS (`kms:*`): its checks are evaluated there.
            let status = if info.service == Service::Kms {
                evaluated(0)
            } else {
                let action = format!("{}:List", info.service.iam_prefix());
                let error = ScopeError::new("AccessDeniedException", "with an explicit deny in a service control policy");
                CoverageStatus::ClosedByPolicy { action, error }
            };
            r.coverage.push(Coverage { check_id: info.id, account: account(i), region: Some(region("eu-central-2")), status });
        }
        // 200 locked keys, and 100 that failed to read.
        let target = Target::new(account(i), region("eu-west-1"));
        let code = if i.is_multiple_of(2) { "AccessDeniedException" } else { "KMSInternalException" };
        let copies = if i.is_multiple_of(2) { 2 } else { 1 };
        for k in 0..copies {
            let resource =
                Resource { resource_type: "AwsKmsKey", id: format!("k{k}"), arn: format!("arn:aws:kms:eu-west-1:{}:key/k{k}", account(i)) };
            let error = ScopeError::new(code, "DescribeKey: denied\nwith a second line");
            r.not_evaluable.push(NotEvaluable { check_id: check::kms::INFO.id, target: target.clone(), resource, error });
        }
        r.notes.push(Note { account: Some(account(i)), text: "the bundled region list stood in for the Account API".into() });
        r.notes.push(Note { account: Some(account(i)), text: format!("note number {i}") });
    }
    let scopes = (0..30)
        .map(|i| TargetImport {
            account: account(i),
            region: Some(region("eu-west-1")),
            status: if i == 29 {
                ImportStatus::Error(ScopeError::new("InvalidAccessException", "run aws securityhub enable-security-hub"))
            } else {
                ImportStatus::Imported
            },
            counts: Counts { new: 2, updated: 1, archived: 3, resolved: 1, failed: 0, ..Counts::default() },
            untouched: vec![("kms-key-not-pending-deletion".into(), "not evaluated (AccessDeniedException)".into())],
        })
        .chain((30..35).map(|i| TargetImport {
            account: account(i),
            region: None,
            status: ImportStatus::Skipped("the account was not scanned".into()),
            counts: Counts::default(),
            untouched: Vec::new(),
        }))
        .collect();
    r.stats.security_hub = Some(ImportReport { scopes, failures: (0..25).map(failed_import).collect(), ..ImportReport::default() });
    r.sort();

    let text = render(&r);
    println!("{text}");
    assert!(text.lines().count() <= 90, "{} lines:\n{text}", text.lines().count());
    assert!(text.lines().all(|l| l.chars().count() <= 200 || l.contains("Import errors") || l.contains("enable-security-hub")), "{text}");
    let has = |needle: &str| assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    has(&format!("  {} scope(s) skipped in 200 account(s): region not enabled for this account (OptInRequired)", 200 * 2 * r.checks.len()));
    has("  200 region(s) closed by SCP in 200 account(s): skipped, not incomplete; denied: ");
    has("guardduty:List (200), lambda:List (200)");
    has("Not evaluable (300; listed but not readable, neither passed nor failed):");
    has("    200 x kms-key-not-pending-deletion AccessDeniedException: 100 account(s)");
    has("    100 x kms-key-not-pending-deletion KMSInternalException: 100 account(s)");
    assert_eq!(text.lines().filter(|l| l.starts_with("    e.g. ")).count(), 2, "one example per group, at most 3:\n{text}");
    has("AccessDeniedException: DescribeKey: denied with");
    has("  200 accounts: the bundled region list stood in for the Account API");
    has("  ... and 191 more notes (see the JSON report)");
    // Security Hub: the account with a problem comes first, then 19 more, the rest counted; the totals.
    let table: Vec<&str> = text.lines().skip_while(|l| !l.contains("ACCOUNT ") || !l.contains("IMPORTED")).skip(1).take(22).collect();
    assert!(table[0].starts_with(&format!("  {} ", account(29))), "{table:?}");
    assert!(table[1].starts_with(&format!("  {} ", account(0))), "{table:?}");
    assert_eq!(table[20], "  ... and 10 more accounts (see the JSON report)");
    assert_eq!(table[21].split_whitespace().collect::<Vec<_>>(), ["TOTAL", "90", "60", "30", "90", "30", "0"]);
    has("  Not touched (a partial scope never resolves a live finding):\n    5 scope(s): the account was not scanned");
    has("    kms-key-not-pending-deletion in 29 region(s): not evaluated (AccessDeniedException)");
    has("  Import errors (1; these scopes were not, or only partly, imported):");
    has("enable-security-hub");
    has("  Findings Security Hub refused (25):");
    has(&format!("{}/eu-west-1 finding-0 InvalidInput: Finding does not adhere", account(0)));
    has("    ... and 5 more (see the JSON report)");
    assert_eq!(text.lines().last().unwrap(), "INCOMPLETE: nothing failed, but some resources could not be read (exit code 3)");
}

/// A 201-account organization end to end: every account fails GuardDuty in the scanned region, five also
/// hold a deprecated Lambda function and a key pending deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_200_account_organization_s_summary_is_bounded_and_counts_every_fail() {
    let moto = Moto::from_env();
    let org = create_grouped_org(&moto, &[50, 50, 50, 50]).await.unwrap();
    let (expected, _) =
        seed_org(&moto, &org, &["eu-west-1"], |a, _| if a % 40 == 1 { Mix::light(2) } else { Mix::guardduty_only(2) }).await.unwrap();
    let expected_fails = expected.iter().filter(|e| e.status == "FAIL").count();
    let light_fails = expected.iter().filter(|e| e.status == "FAIL" && e.check_id != "guardduty-enabled").count();
    assert_eq!(expected_fails, 201 + light_fails, "every account fails GuardDuty");
    assert!(light_fails >= 5 * 2, "a deprecated function and a pending key in each of five accounts: {light_fails}");

    let dir = tempdir();
    let json = dir.path().join("report.json");
    let o = orgscan_env(&moto.endpoint, &org.management_creds, &["scan", "--regions", "eu-west-1", "--json", json.to_str().unwrap()], &[]);
    let summary = stdout(&o);
    println!("{summary}");
    assert_eq!(o.status.code(), Some(1), "stdout:\n{summary}\nstderr:\n{}", stderr(&o));
    let report = read_json(&json);
    let fails = report["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "FAIL").count();
    assert_eq!(fails, expected_fails);

    let lines: Vec<&str> = summary.lines().collect();
    assert!(lines.len() <= 60, "{} lines", lines.len());
    assert!(lines[0].contains("201 account(s), 1 region(s)"), "{}", lines[0]);
    let total = lines.iter().find(|l| l.starts_with("TOTAL ")).unwrap();
    assert_eq!(total.split_whitespace().nth(2), Some(fails.to_string().as_str()), "{total}");
    assert!(summary.contains(&format!("Failing resources ({fails};")), "{summary}");
    assert!(summary.contains("  guardduty-enabled [high] (201 failing)\n"), "{summary}");
    assert!(summary.contains("    ... and 196 more (see the JSON report)"), "{summary}");
    assert_eq!(*lines.last().unwrap(), format!("FAIL: {fails} failing resource(s) (exit code 1)"));
}

/// The names, ids and messages an attacker in a member account controls (or anyone who edits a report that
/// `merge` reads back): ANSI and OSC escapes, C1 controls, bidi overrides, a carriage return; and HTML and
/// markdown, which a terminal shows as text.
const HOSTILE: &str = "n\u{1b}[2J\u{1b}[1A\u{1b}]8;;http://evil.example\u{7}click\u{1b}]8;;\u{7}\u{9b}31m\u{202e}gnp.exe\u{2066}\rOK <b>x</b> **y** [z](http://e)";

/// The bytes that must never reach a terminal from a value: ESC, BEL, CR, CSI and OSC (C1), and the bidi
/// overrides and isolates.
fn assert_terminal_safe(text: &str) {
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{9d}', '\u{202e}', '\u{2066}'] {
        assert!(!text.contains(bad), "{:?} reached the terminal:\n{text}", bad);
    }
}

#[test]
fn hostile_names_ids_and_messages_reach_the_terminal_escaped() {
    let mut r = ScanReport::new(Subject::Organization { id: format!("o-{HOSTILE}"), caller: account(0) }, infos());
    r.accounts.insert(account(1), AccountInfo { name: format!("acct {HOSTILE}"), ou_path: None, ous: Vec::new() });
    let target = Target::new(account(1), region("eu-west-1"));
    let info = infos()[0];
    let f = Finding::builder(info, &target)
        .resource(info.resource_types[0], format!("id-{HOSTILE}"), format!("arn:aws:kms:eu-west-1:{}:key/{HOSTILE}", account(1)))
        .fail(format!("message {HOSTILE}"))
        .build()
        .unwrap();
    r.findings.push(f);
    r.coverage.push(Coverage { check_id: info.id, account: account(1), region: Some(region("eu-west-1")), status: evaluated(1) });
    let e = ScopeError::new("Code\u{1b}[31m", format!("error {HOSTILE}"));
    r.errors.push(ErrorEntry { account: account(2), region: None, check_id: None, error: e.clone() });
    r.coverage.push(Coverage { check_id: info.id, account: account(2), region: None, status: CoverageStatus::Error(e) });
    r.notes.push(Note { account: None, text: format!("note {HOSTILE}") });
    r.sort();
    let text = render(&r);
    assert_terminal_safe(&text);
    // Each value is shown, escaped, on its own line (a line break in a value is a space): the organization id
    // in the header, the name, ARN and message on the finding's line.
    assert!(
        text.lines().next().unwrap().contains("organization o-n\\u{1b}[2J\\u{1b}[1A\\u{1b}]8;;http://evil.example\\u{7}click"),
        "{text}"
    );
    let line = text.lines().find(|l| l.contains(":key/")).unwrap_or_else(|| panic!("no finding line:\n{text}"));
    for shown in ["(acct n\\u{1b}[2J", "\\u{9b}31m\\u{202e}gnp.exe\\u{2066} OK <b>x</b> **y** [z](http://e)", ": message n\\u{1b}"] {
        assert!(line.contains(shown), "{shown:?} in {line}\n{text}");
    }
    assert!(text.contains("error n\\u{1b}[2J") || text.contains("Code\\u{1b}[31m"), "the error is shown escaped:\n{text}");
    assert!(text.contains("note n\\u{1b}[2J"), "{text}");
}
