//! Suppressions: rules by each scope kind and by glob, expired against active, in every output (JSON report,
//! SARIF with `suppressions` or omitted, the summary), the exit policy (`--fail-on`, `--fail-severity`), a
//! moto scan with rules by ARN glob and by tag, and the Security Hub workflow (`BatchUpdateFindings`, which
//! moto does not serve: aws-smithy-mocks answers it, and a mocked `GetFindings` plays the earlier state).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput;
use aws_sdk_securityhub::operation::get_findings::GetFindingsOutput;
use aws_sdk_securityhub::types::{AwsSecurityFinding, Note, RecordState, Workflow, WorkflowStatus};
use aws_smithy_mocks::mock;
use chrono::NaiveDate;
use orgscan::check;
use orgscan::model::{
    AccountInfo, CheckInfo, Coverage, CoverageStatus, FailOn, FailPolicy, Finding, ScanReport, Severity, Subject, Target, exit,
};
use orgscan::report::sarif::{self, Limits, SarifOptions};
use orgscan::securityhub::asff;
use orgscan::triage::{self, RuleSet};
use serde_json::Value;

use crate::sarif::{assert_github_ingestion_rules, assert_schema_valid, multitool_validate};
use crate::securityhub::scan_import;
use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::{
    assert_refused_before_any_aws_call, assert_valid, orgscan, passthrough, quick_factory, read_json, stderr, stdout, tempdir,
};

const A1: &str = "111111111111";
const A2: &str = "222222222222";
const OU_PROD: &str = "ou-ab12-prod0001";
const OU_SANDBOX: &str = "ou-ab12-sandbox01";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
}

fn kms_fail(account: &str, region: &str, key: &str, tags: Option<&[(&str, &str)]>) -> Finding {
    let t = Target::new(account.parse().unwrap(), region.parse().unwrap());
    let arn = format!("arn:aws:kms:{region}:{account}:key/{key}");
    let tags = tags.map(|ts| ts.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>());
    Finding::builder(check::kms::INFO, &t).resource("AwsKmsKey", key, arn).fail("pending deletion").tags(tags).build().unwrap()
}

fn lambda_fail(account: &str, region: &str, name: &str) -> Finding {
    let t = Target::new(account.parse().unwrap(), region.parse().unwrap());
    let arn = format!("arn:aws:lambda:{region}:{account}:function:{name}");
    Finding::builder(check::lambda::INFO, &t).resource("AwsLambdaFunction", name, arn).fail("uses python3.7, deprecated").build().unwrap()
}

fn evaluated(info: &CheckInfo, account: &str, region: &str) -> Coverage {
    Coverage {
        check_id: info.id,
        account: account.parse().unwrap(),
        region: Some(region.parse().unwrap()),
        status: CoverageStatus::Evaluated { resources: 1, not_applicable: 0, not_evaluable: 0 },
    }
}

/// Two accounts (A1 under Prod, A2 under Sandbox), two regions, KMS and Lambda FAILs, a tagged key.
fn estate() -> ScanReport {
    let findings = vec![
        kms_fail(A1, "eu-west-1", "mrk-replica-1", None),
        kms_fail(A1, "eu-west-1", "key-prod", Some(&[("env", "prod")])),
        kms_fail(A1, "us-east-1", "key-east", None),
        kms_fail(A2, "eu-west-1", "key-sandbox", Some(&[("env", "sandbox-7"), ("team", "data")])),
        lambda_fail(A1, "eu-west-1", "legacy-fn"),
        lambda_fail(A2, "us-east-1", "old-fn"),
    ];
    let mut coverage = Vec::new();
    for a in [A1, A2] {
        for r in ["eu-west-1", "us-east-1"] {
            coverage.push(evaluated(check::kms::INFO, a, r));
            coverage.push(evaluated(check::lambda::INFO, a, r));
        }
    }
    let mut r = ScanReport {
        findings,
        coverage,
        ..ScanReport::new(
            Subject::Organization { id: "o-abc123defg".into(), caller: A1.parse().unwrap() },
            vec![check::lambda::INFO, check::kms::INFO],
        )
    };
    r.accounts
        .insert(A1.parse().unwrap(), AccountInfo { name: "prod".into(), ou_path: Some("Root/Prod".into()), ous: vec![OU_PROD.into()] });
    r.accounts.insert(
        A2.parse().unwrap(),
        AccountInfo { name: "sandbox".into(), ou_path: Some("Root/Sandbox".into()), ous: vec![OU_SANDBOX.into()] },
    );
    r.sort();
    r
}

fn rule(check: &str, criterion: &str, extra: &str) -> String {
    format!("[[suppression]]\ncheck = \"{check}\"\n{criterion}\nreason = \"accepted\"\nowner = \"team@example.com\"\n{extra}\n")
}

/// The (check, resource id) of every suppressed FAIL after applying `rules`.
fn suppressed_by(rules: &str) -> Vec<(String, String)> {
    let mut r = estate();
    let set = RuleSet::parse(Path::new("s.toml"), rules).unwrap_or_else(|e| panic!("{e}"));
    triage::apply(&mut r, None, Some(&set), today());
    r.findings.iter().filter(|f| f.triage.suppressed.is_some()).map(|f| (f.check.id.to_owned(), f.resource.id.clone())).collect()
}

fn ids(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(c, r)| ((*c).to_owned(), (*r).to_owned())).collect()
}

#[test]
fn rules_match_by_each_scope_kind_and_by_glob_and_expired_rules_match_nothing() {
    let (k, l) = (check::kms::INFO.id, check::lambda::INFO.id);
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        // By check alone.
        (rule(l, "", ""), vec![(l, "legacy-fn"), (l, "old-fn")]),
        // By account, any check.
        (rule("*", &format!("accounts = [\"{A2}\"]"), ""), vec![(k, "key-sandbox"), (l, "old-fn")]),
        // By OU (the accounts under it), one check.
        (rule(k, &format!("ous = [\"{OU_PROD}\"]"), ""), vec![(k, "key-east"), (k, "key-prod"), (k, "mrk-replica-1")]),
        // By region.
        (rule("*", "regions = [\"us-east-1\"]", ""), vec![(k, "key-east"), (l, "old-fn")]),
        // By ARN glob: `*` across segments, `?` one character.
        (rule(k, "resources = [\"arn:aws:kms:*:111111111111:key/mrk-*\"]", ""), vec![(k, "mrk-replica-1")]),
        (rule("*", "resources = [\"arn:aws:*:us-east-?:*\"]", ""), vec![(k, "key-east"), (l, "old-fn")]),
        // By tags: every tag must be present, values are globs; an untagged FAIL never matches.
        (rule(k, "tags = { env = \"sandbox-*\", team = \"data\" }", ""), vec![(k, "key-sandbox")]),
        (rule(k, "tags = { env = \"sandbox-*\", team = \"other\" }", ""), vec![]),
        // Criteria combine: account and region.
        (
            rule("*", &format!("accounts = [\"{A1}\"]\nregions = [\"eu-west-1\"]"), ""),
            vec![(k, "key-prod"), (k, "mrk-replica-1"), (l, "legacy-fn")],
        ),
        // Active until its expiry day included; expired the day after.
        (rule(l, "", "expires = 2026-12-01"), vec![(l, "legacy-fn"), (l, "old-fn")]),
        (rule(l, "", "expires = 2026-11-30"), vec![]),
    ];
    for (text, want) in cases {
        let mut want = ids(&want);
        want.sort();
        let mut got = suppressed_by(&text);
        got.sort();
        assert_eq!(got, want, "{text}");
    }
    // The first matching rule is the one reported, and each rule counts what it matched.
    let mut r = estate();
    let text = format!("{}\n{}\n{}", rule(l, "", "expires = 2026-01-01"), rule("*", "regions = [\"us-east-1\"]", ""), rule(k, "", ""));
    let set = RuleSet::parse(Path::new("s.toml"), &text).unwrap();
    triage::apply(&mut r, None, Some(&set), today());
    let s = r.suppressions.as_ref().unwrap();
    assert_eq!(
        s.rules.iter().map(|u| (u.rule.index, u.expired, u.matched)).collect::<Vec<_>>(),
        [(1, true, 0), (2, false, 2), (3, false, 3)]
    );
    let east = r.findings.iter().find(|f| f.resource.id == "key-east").unwrap();
    assert_eq!(east.triage.suppressed.as_ref().unwrap().index, 2);
    assert_eq!(s.rules[1].rule.line, 8, "the line of the rule's header");
}

/// The estate with: rule 1 (Lambda, by resource glob) active, rule 2 expired, rule 3 unused.
fn suppressed_report() -> ScanReport {
    let mut r = estate();
    let text = format!(
        "# accepted risks\n{}\n{}\n{}",
        rule(check::lambda::INFO.id, "resources = [\"arn:aws:lambda:*:*:function:legacy-*\"]", "expires = 2027-03-31"),
        rule(check::kms::INFO.id, "regions = [\"us-east-1\"]", "expires = 2026-11-01"),
        rule("*", "accounts = [\"333333333333\"]", ""),
    );
    let set = RuleSet::parse(Path::new("s.toml"), &text).unwrap();
    triage::apply(&mut r, None, Some(&set), today());
    r
}

#[test]
fn a_suppressed_fail_is_in_every_output_and_does_not_fail_the_scan() {
    let r = suppressed_report();
    let dir = tempdir();

    // JSON report: the FAIL stays, with its rule; every rule with its status.
    let json = dir.path().join("r.json");
    orgscan::files::write_atomic(&json, |w| orgscan::json::to_writer(&r, w)).unwrap();
    let j = read_json(&json);
    assert_valid("report.schema.json", &j);
    let legacy = j["findings"].as_array().unwrap().iter().find(|f| f["resource_id"] == "legacy-fn").unwrap();
    assert_eq!(legacy["status"], "FAIL");
    let s = &legacy["suppressed"];
    assert_eq!(
        (s["rule"].as_u64(), s["line"].as_u64(), s["owner"].as_str(), s["expires"].as_str()),
        (Some(1), Some(2), Some("team@example.com"), Some("2027-03-31"))
    );
    let statuses: Vec<(&str, u64)> = j["suppressions"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["status"].as_str().unwrap(), u["matched"].as_u64().unwrap()))
        .collect();
    assert_eq!(statuses, [("active", 1), ("expired", 0), ("unused", 0)]);
    assert_eq!(j["suppressions"]["complete"], true);

    // SARIF with suppressions (kind external, accepted, the justification), every result with the array.
    let include = sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap();
    let log = assert_github_ingestion_rules(&include.bytes);
    assert_schema_valid(&log);
    let path = dir.path().join("include.sarif");
    std::fs::write(&path, &include.bytes).unwrap();
    multitool_validate(&path);
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|x| x["suppressions"].is_array()), "every result carries suppressions when any does");
    let sup: Vec<&Value> = results.iter().filter(|x| !x["suppressions"].as_array().unwrap().is_empty()).collect();
    assert_eq!(sup.len(), 1);
    assert_eq!(sup[0]["locations"][0]["logicalLocations"][0]["name"], "legacy-fn");
    let one = &sup[0]["suppressions"][0];
    assert_eq!((one["kind"].as_str(), one["status"].as_str()), (Some("external"), Some("accepted")));
    let why = one["justification"].as_str().unwrap();
    assert!(
        why.contains("accepted")
            && why.contains("owner team@example.com")
            && why.contains("until 2027-03-31")
            && why.contains("rule 1 at line 2"),
        "{why}"
    );
    // SARIF for GitHub code scanning (which ignores `suppressions`): the suppressed FAIL is left out.
    let omit = sarif::render_file(&r, &SarifOptions { omit_suppressed: true, ..SarifOptions::default() }, &Limits::GITHUB).unwrap();
    let log = assert_github_ingestion_rules(&omit.bytes);
    assert_schema_valid(&log);
    let names: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["locations"][0]["logicalLocations"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5);
    assert!(!names.contains(&"legacy-fn"), "{names:?}");

    // The summary: per rule, expired rules with owner and date, unused rules; the suppressed FAIL is not
    // among the failing resources.
    let text = orgscan::report::text::render(&r);
    assert!(text.contains("Suppressed (1 FAIL(s) accepted by rules"), "{text}");
    assert!(text.contains("rule 1 (line 2, lambda-supported-runtime, owner team@example.com, until 2027-03-31): 1 FAIL(s)"), "{text}");
    assert!(
        text.contains("Expired suppression rules")
            && text.contains("rule 2 (line 9, kms-key-not-pending-deletion): owner team@example.com, expired 2026-11-01"),
        "{text}"
    );
    assert!(text.contains("Unused suppression rules") && text.contains("rule 3 (line 16, *): owner team@example.com"), "{text}");
    let failing = text.split("Failing resources").nth(1).unwrap().split("\n\n").next().unwrap();
    assert!(!failing.contains("legacy-fn") && failing.contains("old-fn"), "{failing}");

    // Everything suppressed: the scan passes, and says what it accepted.
    let mut all = estate();
    let set = RuleSet::parse(Path::new("s.toml"), &rule("*", &format!("accounts = [\"{A1}\", \"{A2}\"]"), "")).unwrap();
    triage::apply(&mut all, None, Some(&set), today());
    assert_eq!(all.exit_code(), exit::OK);
    assert!(orgscan::report::text::render(&all).contains("6 other FAIL(s) do not fail the scan"));
    assert_eq!(r.exit_code(), exit::FAILED);
}

#[test]
fn unused_rules_are_listed_only_after_a_complete_scan_of_the_full_selection() {
    let mut r = estate();
    r.partial = Some("regions=eu-west-1".into());
    let set = RuleSet::parse(Path::new("s.toml"), &rule("*", "accounts = [\"333333333333\"]", "")).unwrap();
    triage::apply(&mut r, None, Some(&set), today());
    assert_eq!(r.suppressions.as_ref().unwrap().unused().count(), 0);
    assert!(!orgscan::report::text::render(&r).contains("Unused suppression rules"));
}

#[test]
fn the_exit_code_follows_fail_on_and_fail_severity() {
    let with = |policy: FailPolicy| {
        let mut r = suppressed_report();
        r.fail_policy = policy;
        r.exit_code()
    };
    let any = FailPolicy::default();
    assert_eq!(with(any), exit::FAILED);
    // KMS FAILs are critical, Lambda's medium: above high only the KMS ones count.
    let sev = |s| FailPolicy { min_severity: Some(s), ..any };
    assert_eq!(check::kms::INFO.severity, Severity::Critical);
    assert!(check::lambda::INFO.severity < Severity::High);
    assert_eq!(with(sev(Severity::Critical)), exit::FAILED);
    // Only the Lambda FAILs left unsuppressed, all below high: the scan passes.
    let mut lambdas = suppressed_report();
    lambdas.findings.retain(|f| f.check.id == check::lambda::INFO.id);
    lambdas.fail_policy = sev(Severity::High);
    assert_eq!(lambdas.exit_code(), exit::OK);
    lambdas.fail_policy = sev(Severity::Medium);
    assert_eq!(lambdas.exit_code(), exit::FAILED);
    // --fail-on new without a baseline: every FAIL is new.
    assert_eq!(with(FailPolicy { fail_on: FailOn::New, ..any }), exit::FAILED);
    // With a baseline that had every FAIL already, none is new.
    let mut r = suppressed_report();
    let baseline_json = {
        let mut b = estate();
        b.started_at -= chrono::Duration::days(1);
        let mut out = Vec::new();
        orgscan::json::to_writer(&b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let baseline = orgscan::triage::Baseline::parse(Path::new("b.json"), &baseline_json).unwrap();
    triage::apply(&mut r, Some(&baseline), None, today());
    r.fail_policy = FailPolicy { fail_on: FailOn::New, ..any };
    assert_eq!(r.exit_code(), exit::OK);
    r.fail_policy = any;
    assert_eq!(r.exit_code(), exit::FAILED);
    // Bad values are refused before any AWS call.
    assert_refused_before_any_aws_call(
        &["scan", "--this-account"],
        &[(&["--fail-on", "some"], &["'some'", "new", "any"]), (&["--fail-severity", "extreme"], &["'extreme'", "critical"])],
    );
}

#[test]
fn a_bad_rule_is_refused_with_its_line_before_any_aws_call() {
    let dir = tempdir();
    let path = dir.path().join("s.toml");
    let good = rule("*", "regions = [\"eu-west-1\"]", "");
    std::fs::write(&path, format!("{good}\n{}", rule("no-such-check", "", ""))).unwrap();
    let p = path.to_str().unwrap();
    assert_refused_before_any_aws_call(
        &["scan", "--this-account", "--suppressions"],
        &[(&[p], &["rule 2 (line 8)", "unknown check 'no-such-check'"])],
    );
    std::fs::write(&path, format!("{good}\n[[suppression]]\ncheck = \"*\"\nregions = [\"eu-west-1\"]\nowner = \"o\"\n")).unwrap();
    assert_refused_before_any_aws_call(&["scan", "--this-account", "--suppressions"], &[(&[p], &["missing field `reason`", "line 8"])]);
}

#[test]
fn the_readme_example_suppressions_file_is_valid_against_its_schema_and_loads() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let start = readme.find("```toml\n[[suppression]]").expect("the README has an example suppressions file");
    let body = &readme[start + "```toml\n".len()..];
    let example = &body[..body.find("```").unwrap()];
    let set = RuleSet::parse(Path::new("README.md"), example).unwrap_or_else(|e| panic!("{e}"));
    assert!(set.matchers.len() >= 2);
    assert_valid("suppressions.schema.json", &to_json(toml::from_str::<toml::Value>(example).unwrap()));
}

/// TOML as the JSON the schema describes: a TOML date becomes its `YYYY-MM-DD` string.
fn to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::from(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::from(b),
        toml::Value::Datetime(d) => Value::from(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Against moto

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moto_scan_suppresses_by_arn_glob_and_by_tag_and_an_expired_rule_fails_the_scan_again() {
    let moto = Moto::from_env();
    let region = "ca-central-1";
    let (account, creds) = seeded_account(&moto, &[region], |_| Mix::guardduty_only(0)).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, region));
    let tagged = kms
        .create_key()
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("env").tag_value("sandbox").build().unwrap())
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    let plain = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    for k in [&tagged, &plain] {
        kms.schedule_key_deletion().key_id(k).pending_window_in_days(7).send().await.unwrap();
    }
    let dir = tempdir();
    let rules = dir.path().join("s.toml");
    let write = |expires: &str| {
        let by_arn =
            rule("kms-key-not-pending-deletion", &format!("resources = [\"arn:aws:kms:{region}:{account}:key/{plain}\"]"), expires);
        std::fs::write(&rules, format!("{}\n{by_arn}", rule("kms-key-not-pending-deletion", "tags = { env = \"sand*\" }", ""))).unwrap();
    };
    let json = dir.path().join("r.json");
    let args = [
        "scan",
        "--this-account",
        "--regions",
        region,
        "--suppressions",
        rules.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--quiet",
    ];
    write("expires = 2099-12-31");
    let o = orgscan(&moto, &creds, &args);
    assert_eq!(o.status.code(), Some(0), "both FAILs accepted:\n{}\n{}", stdout(&o), stderr(&o));
    let j = read_json(&json);
    assert_valid("report.schema.json", &j);
    let rule_of = |j: &Value, id: &str| {
        j["findings"].as_array().unwrap().iter().find(|f| f["resource_id"] == id).unwrap()["suppressed"]["rule"].clone()
    };
    assert_eq!((rule_of(&j, &tagged), rule_of(&j, &plain)), (Value::from(1), Value::from(2)));
    // The tag was read for the FAILs only: one ListResourceTags per failing key.
    assert_eq!(j["stats"]["api_calls_by_operation"]["KMS:ListResourceTags"]["calls"], 2, "{:#}", j["stats"]["api_calls_by_operation"]);

    write("expires = 2020-01-01");
    let o = orgscan(&moto, &creds, &args);
    assert_eq!(o.status.code(), Some(1), "the expired rule no longer accepts its FAIL:\n{}", stdout(&o));
    assert!(stdout(&o).contains("Expired suppression rules") && stdout(&o).contains("expired 2020-01-01"), "{}", stdout(&o));
    let j = read_json(&json);
    assert_eq!((rule_of(&j, &tagged), rule_of(&j, &plain)), (Value::from(1), Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_hub_sets_suppressed_with_the_reason_and_back_to_new_when_the_rule_is_gone() {
    let moto = Moto::from_env();
    let region = "eu-north-1";
    let (account, creds) = seeded_account(&moto, &[region], |_| Mix::guardduty_only(0)).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, region));
    let mut keys = Vec::new();
    for _ in 0..2 {
        let k = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
        kms.schedule_key_deletion().key_id(&k).pending_window_in_days(7).send().await.unwrap();
        keys.push(k);
    }
    let dir = tempdir();
    let rules = dir.path().join("s.toml");
    std::fs::write(&rules, rule("kms-key-not-pending-deletion", &format!("resources = [\"arn:aws:kms:*:*:key/{}\"]", keys[0]), ""))
        .unwrap();

    // BatchUpdateFindings (not served by moto) records every request and processes everything.
    type Call = (Vec<(String, String)>, String, String, String);
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let record = calls.clone();
    let update = mock!(aws_sdk_securityhub::Client::batch_update_findings)
        .match_requests(move |req| {
            let ids = req
                .finding_identifiers()
                .iter()
                .map(|i| (i.id().unwrap_or_default().to_owned(), i.product_arn().unwrap_or_default().to_owned()))
                .collect();
            let status = req.workflow().and_then(|w| w.status()).map(|s| s.as_str().to_owned()).unwrap_or_default();
            let note = req
                .note()
                .map(|n| (n.text().unwrap_or_default().to_owned(), n.updated_by().unwrap_or_default().to_owned()))
                .unwrap_or_default();
            record.lock().unwrap().push((ids, status, note.0, note.1));
            true
        })
        .then_compute_output(|req| {
            BatchUpdateFindingsOutput::builder().set_processed_findings(Some(req.finding_identifiers().to_vec())).build()
        });
    let f = quick_factory(&moto, &creds, 2).with_interceptor(passthrough(&[&update]));
    let report =
        scan_import(f, &["--this-account", "--regions", region, "--security-hub", "--suppressions", rules.to_str().unwrap()]).await;
    let sh = report.stats.security_hub.as_ref().unwrap();
    assert!(!sh.has_problems(), "{sh:?}");
    assert_eq!((sh.totals().new, sh.totals().suppressed, sh.totals().unsuppressed), (2, 1, 0));
    let got = calls.lock().unwrap().clone();
    let suppressed = report.findings.iter().find(|f| f.resource.id == keys[0]).unwrap();
    let id = asff::finding_id(suppressed);
    let product = asff::product_arn(&suppressed.target);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, vec![(id.clone(), product.clone())]);
    assert_eq!((got[0].1.as_str(), got[0].3.as_str()), ("SUPPRESSED", "orgscan"));
    assert!(
        got[0].2.contains("accepted") && got[0].2.contains("owner team@example.com") && got[0].2.chars().count() <= 512,
        "{}",
        got[0].2
    );
    assert_eq!(report.exit_code(), exit::FAILED, "the other key still fails");

    // Next run without the rule: Security Hub (mocked GetFindings) holds the finding as orgscan suppressed
    // it, and another one a person suppressed: only orgscan's goes back to NEW.
    let other = report.findings.iter().find(|f| f.resource.id == keys[1]).unwrap();
    let held = |finding: &Finding, by: &str| {
        AwsSecurityFinding::builder()
            .id(asff::finding_id(finding))
            .product_arn(asff::product_arn(&finding.target))
            .generator_id(asff::generator_id(finding.check))
            .aws_account_id(&account)
            .created_at("2026-11-30T00:00:00.000Z")
            .record_state(RecordState::Active)
            .workflow(Workflow::builder().status(WorkflowStatus::Suppressed).build())
            .note(Note::builder().text("accepted").updated_by(by).updated_at("2026-11-30T00:00:00.000Z").build())
            .build()
    };
    let held = vec![held(suppressed, "orgscan"), held(other, "alice@example.com")];
    let get = mock!(aws_sdk_securityhub::Client::get_findings)
        .then_compute_output(move |_| GetFindingsOutput::builder().set_findings(Some(held.clone())).build());
    calls.lock().unwrap().clear();
    let f = quick_factory(&moto, &creds, 2).with_interceptor(passthrough(&[&get, &update]));
    let report = scan_import(f, &["--this-account", "--regions", region, "--security-hub"]).await;
    let sh = report.stats.security_hub.as_ref().unwrap();
    assert!(!sh.has_problems(), "{sh:?}");
    assert_eq!((sh.totals().suppressed, sh.totals().unsuppressed), (0, 1));
    let got = calls.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, vec![(id, product)]);
    assert_eq!((got[0].1.as_str(), got[0].3.as_str()), ("NEW", "orgscan"));
    assert!(got[0].2.contains("expired or was removed"), "{}", got[0].2);
    assert!(orgscan::report::text::render(&report).contains("1 went back to NEW"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprocessed_workflow_update_is_reported_and_a_denied_one_is_a_scope_error_with_the_fix() {
    use aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsError;
    use aws_sdk_securityhub::types::BatchUpdateFindingsUnprocessedFinding;
    let moto = Moto::from_env();
    let region = "eu-south-1";
    let (account, creds) = seeded_account(&moto, &[region], |_| Mix::guardduty_only(2)).await.unwrap();
    let dir = tempdir();
    let rules = dir.path().join("s.toml");
    std::fs::write(&rules, rule("guardduty-enabled", &format!("accounts = [\"{account}\"]"), "")).unwrap();
    let args = ["--this-account", "--regions", region, "--security-hub", "--suppressions", rules.to_str().unwrap()];
    let refuse = mock!(aws_sdk_securityhub::Client::batch_update_findings).then_compute_output(|req| {
        let mut out = BatchUpdateFindingsOutput::builder();
        for i in req.finding_identifiers() {
            out = out.unprocessed_findings(
                BatchUpdateFindingsUnprocessedFinding::builder()
                    .finding_identifier(i.clone())
                    .error_code("InvalidInput")
                    .error_message("bad note")
                    .build(),
            );
        }
        out.build()
    });
    let report = scan_import(quick_factory(&moto, &creds, 2).with_interceptor(passthrough(&[&refuse])), &args).await;
    let sh = report.stats.security_hub.as_ref().unwrap();
    assert_eq!((sh.failures.len(), sh.totals().suppressed), (1, 0));
    assert_eq!(sh.failures[0].code, "InvalidInput");
    assert!(sh.failures[0].message.contains("BatchUpdateFindings (workflow SUPPRESSED)"), "{}", sh.failures[0].message);
    assert_eq!(report.exit_code(), exit::INCOMPLETE, "the FAIL is accepted, but the import did not complete");

    let deny = mock!(aws_sdk_securityhub::Client::batch_update_findings).then_error(|| {
        BatchUpdateFindingsError::generic(crate::support::err_meta(
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/OrgScanAudit/s is not authorized to perform: securityhub:BatchUpdateFindings",
        ))
    });
    let report = scan_import(quick_factory(&moto, &creds, 2).with_interceptor(passthrough(&[&deny])), &args).await;
    let sh = report.stats.security_hub.as_ref().unwrap();
    let orgscan::model::import::ImportStatus::Error(e) = &sh.scopes[0].status else { panic!("{:?}", sh.scopes) };
    assert_eq!(e.code, "AccessDeniedException");
    assert!(
        e.message.contains("securityhub:BatchUpdateFindings") && e.message.contains("deploy/securityhub-import-policy.json"),
        "{}",
        e.message
    );
}
