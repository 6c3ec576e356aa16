//! SARIF 2.1.0 for GitHub code scanning (issue 4): the OASIS schema, GitHub's ingestion rules and limits,
//! a snapshot of a fixed report, and end to end against moto.
//!
//! GitHub's rules checked here come from "SARIF support for code scanning" and "SARIF results exceed one or
//! more limits" (docs.github.com), and the 2024-05-06 changelog "Code scanning will stop combining runs from
//! a single upload" (several runs in one file need distinct categories).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use orgscan::check;
use orgscan::model::CheckInfo;
use orgscan::model::ScopeError;
use orgscan::model::{AccountId, Target};
use orgscan::model::{Coverage, CoverageStatus, ErrorEntry, ScanReport, Subject};
use orgscan::model::{Finding, Status};
use orgscan::report::Outputs;
use orgscan::report::sarif::{self, Limits, SarifError, SarifOptions};
use serde_json::Value;

use crate::support::estate::{Expected, Mix, Moto, seed_account};
use crate::support::{orgscan, read_json, root, stderr, stdout, tempdir};

// ---------------------------------------------------------------------------------------------------------
// Validation helpers

/// Validates against the official OASIS schema (draft-07) with `format` checked: `uri` for `$schema`,
/// `helpUri` and `informationUri`, `uri-reference` for artifact URIs, `date-time` for times.
fn schema_errors(log: &Value) -> Vec<String> {
    let schema = read_json(&root().join("schemas/sarif-2.1.0.schema.json"));
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the SARIF schema does not compile: {e}"));
    validator.iter_errors(log).map(|e| format!("{e} at {}", e.instance_path)).take(20).collect()
}

pub(crate) fn assert_schema_valid(log: &Value) {
    let errors = schema_errors(log);
    assert!(errors.is_empty(), "SARIF does not validate against schemas/sarif-2.1.0.schema.json:\n{}", errors.join("\n"));
}

/// A scheme is `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"` before any `/`, `?` or `#` (RFC 3986 §3.1).
fn has_scheme(uri: &str) -> bool {
    let head = uri.split(['/', '?', '#']).next().unwrap_or_default();
    match head.split_once(':') {
        Some((scheme, _)) => {
            scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// GitHub's ingestion rules and hard limits on one SARIF file (`bytes` as written).
pub(crate) fn assert_github_ingestion_rules(bytes: &[u8]) -> Value {
    let limits = Limits::GITHUB;
    let gz = sarif::gzip_len(bytes).unwrap();
    assert!(gz <= limits.gzip_bytes, "{gz} bytes gzipped > {}", limits.gzip_bytes);
    let log: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().is_some_and(|s| s.starts_with("https://")), "{}", log["$schema"]);
    let runs = log["runs"].as_array().unwrap();
    assert!(!runs.is_empty() && runs.len() <= limits.runs_per_file, "{} runs", runs.len());
    let mut categories = BTreeSet::new();
    for run in runs {
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "orgscan");
        assert!(driver["version"].as_str().is_some_and(|v| !v.is_empty()));
        assert!(driver["informationUri"].as_str().is_some_and(|u| u.starts_with("https://")));
        let category = run["automationDetails"]["id"].as_str().unwrap();
        assert!(category.ends_with('/'), "{category}");
        assert!(categories.insert((driver["name"].to_string(), category.to_owned())), "two runs of category {category} in one file");
        let rules = driver["rules"].as_array().unwrap();
        assert!(!rules.is_empty() && rules.len() <= 25_000);
        for rule in rules {
            let id = rule["id"].as_str().unwrap();
            for field in ["shortDescription", "fullDescription", "help"] {
                assert!(rule[field]["text"].as_str().is_some_and(|t| !t.trim().is_empty()), "{id}: {field}.text");
            }
            assert!(rule["help"]["markdown"].as_str().is_some_and(|t| t.contains("```sh\naws ")), "{id}: help.markdown");
            assert!(rule["helpUri"].as_str().is_some_and(|u| u.starts_with("https://")), "{id}");
            let severity: f64 = rule["properties"]["security-severity"].as_str().unwrap().parse().unwrap();
            assert!(severity > 0.0 && severity <= 10.0, "{id}: security-severity {severity}");
            let tags = rule["properties"]["tags"].as_array().unwrap();
            assert!(tags.len() <= 20 && tags.contains(&"security".into()) && tags.contains(&"aws".into()), "{id}: {tags:?}");
            assert!(["very-high", "high", "medium", "low"].contains(&rule["properties"]["precision"].as_str().unwrap()));
            assert!(["error", "warning", "note"].contains(&rule["defaultConfiguration"]["level"].as_str().unwrap()));
        }
        let results = run["results"].as_array().expect("results present, even when empty");
        assert!(results.len() <= limits.results_per_run, "{} results in one run", results.len());
        for r in results {
            let rule_id = r["ruleId"].as_str().unwrap();
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], rule_id, "ruleIndex points at another rule");
            assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
            assert!(r["message"]["text"].as_str().is_some_and(|t| !t.trim().is_empty()));
            let locations = r["locations"].as_array().unwrap();
            assert_eq!(locations.len(), 1, "exactly one location: {r}");
            let uri = locations[0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap();
            assert!(!uri.is_empty() && !uri.starts_with('/') && !has_scheme(uri), "not a relative URI without a scheme: {uri}");
            assert!(uri.starts_with("aws/"), "{uri}");
            assert_eq!(locations[0]["physicalLocation"]["region"]["startLine"], 1);
            let logical = &locations[0]["logicalLocations"][0];
            assert!(logical["fullyQualifiedName"].as_str().is_some_and(|a| a.starts_with("arn:")), "{logical}");
            assert_eq!(logical["kind"], "resource");
            let fp = r["partialFingerprints"]["primaryLocationLineHash"].as_str().unwrap();
            assert_eq!(fp.len(), 64, "{fp}");
            for p in ["account_id", "region", "resource_arn", "resource_type"] {
                assert!(r["properties"][p].as_str().is_some_and(|v| !v.is_empty()), "{p}: {r}");
            }
        }
    }
    log
}

/// Microsoft's SARIF multitool with GitHub's (`Ghas`; `Gh` is its deprecated alias) and the SARIF spec's
/// (`Sarif`) rules, which scripts/test.sh installs (ORGSCAN_SARIF_MULTITOOL; without it the test fails, never
/// skips). Fails on any error- or
/// warning-level result (SARIF's default `level` is warning). Its notes (no code snippets, no
/// version control provenance, rule ids not of the form AB1234) do not apply to cloud resources. Version
/// 5.7.0's `Ghas` rules do not include the older GH1005 (relative URIs): the Rust checks above cover it.
pub(crate) fn multitool_validate(path: &Path) {
    let Some(tool) = std::env::var_os("ORGSCAN_SARIF_MULTITOOL").filter(|v| !v.is_empty()) else {
        panic!("ORGSCAN_SARIF_MULTITOOL is not set: run the tests with scripts/test.sh, which installs the SARIF multitool");
    };
    let dir = tempdir();
    let out = dir.path().join("validation.sarif");
    let o = Command::new(&tool)
        .args(["validate", "--rule-kind", "Ghas;Sarif", "--log", "ForceOverwrite", "--output"])
        .arg(&out)
        .arg(path)
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        // The .NET binary needs ICU otherwise; message texts are all it would localize.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the SARIF multitool {}: {e}", Path::new(&tool).display()));
    assert!(out.exists(), "the multitool wrote no output: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let validation = read_json(&out);
    assert_eq!(validation["runs"][0]["invocations"][0]["executionSuccessful"], true, "{}", String::from_utf8_lossy(&o.stdout));
    let problems: Vec<String> = validation["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["level"].as_str(), Some("error") | Some("warning") | None))
        .map(|r| format!("{} {}: {}", r["level"], r["ruleId"], r["message"]))
        .collect();
    assert!(problems.is_empty(), "multitool on {}:\n{}\n{}", path.display(), problems.join("\n"), String::from_utf8_lossy(&o.stdout));
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic reports (no AWS)

const A1: &str = "111111111111";
const A2: &str = "222222222222";

fn account(id: &str) -> AccountId {
    id.parse().unwrap()
}

fn target(account_id: &str, region: &str) -> Target {
    Target::new(account(account_id), region.parse().unwrap())
}

fn finding(info: &'static CheckInfo, t: &Target, rtype: &'static str, id: &str, arn: &str, status: Status, msg: &str) -> Finding {
    Finding::builder(info, t).resource(rtype, id, arn).status(status).message(msg).build().unwrap()
}

fn time(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_323_045 + s, 0).unwrap()
}

fn report(subject: Subject, findings: Vec<Finding>, coverage: Vec<Coverage>, errors: Vec<ErrorEntry>) -> ScanReport {
    let mut r = ScanReport {
        started_at: time(0),
        finished_at: time(42),
        findings,
        coverage,
        errors,
        ..ScanReport::new(subject, check::ALL.iter().map(|c| c.info()).collect())
    };
    r.sort();
    r
}

fn evaluated(check_id: &'static str, account_id: &str, region: &str) -> Coverage {
    Coverage {
        check_id,
        account: account(account_id),
        region: Some(region.parse().unwrap()),
        status: CoverageStatus::Evaluated { resources: 1, not_applicable: 0, not_evaluable: 0 },
    }
}

/// Two accounts, two regions, every check failing somewhere, passes that must not appear, and one error.
fn fixed_report() -> ScanReport {
    let (a1e, a1u, a2e, a2u) = (target(A1, "eu-west-1"), target(A1, "us-east-1"), target(A2, "eu-west-1"), target(A2, "us-east-1"));
    let findings = vec![
        finding(
            check::opensearch::INFO,
            &a1e,
            "AwsOpenSearchServiceDomain",
            "os-plain",
            "arn:aws:es:eu-west-1:111111111111:domain/os-plain",
            Status::Fail,
            "Domain os-plain (OpenSearch_2.11) does not encrypt data at rest",
        ),
        finding(
            check::opensearch::INFO,
            &a1e,
            "AwsOpenSearchServiceDomain",
            "os-enc",
            "arn:aws:es:eu-west-1:111111111111:domain/os-enc",
            Status::Pass,
            "Domain os-enc (OpenSearch_2.11) encrypts data at rest",
        ),
        finding(
            check::sagemaker::INFO,
            &a2u,
            "AwsSageMakerNotebookInstance",
            "nb-open",
            "arn:aws:sagemaker:us-east-1:222222222222:notebook-instance/nb-open",
            Status::Fail,
            "Notebook instance nb-open: direct internet access is enabled",
        ),
        finding(
            check::lambda::INFO,
            &a1u,
            "AwsLambdaFunction",
            "fn-deprecated",
            "arn:aws:lambda:us-east-1:111111111111:function:fn-deprecated",
            Status::Fail,
            "Lambda function fn-deprecated uses runtime python3.8, deprecated since 2024-10-14: it no longer receives security updates",
        ),
        finding(
            check::kms::INFO,
            &a2e,
            "AwsKmsKey",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            Status::Fail,
            "KMS key 1234abcd-12ab-34cd-56ef-1234567890ab is PendingDeletion and will be deleted on 2026-01-09 (7 days left); \
             cancel with `aws kms cancel-key-deletion --key-id 1234abcd-12ab-34cd-56ef-1234567890ab` if this was not intended",
        ),
        finding(
            check::guardduty::INFO,
            &a1u,
            "AwsAccount",
            A1,
            "arn:aws:iam::111111111111:root",
            Status::Fail,
            "GuardDuty has no detector in us-east-1 of account 111111111111",
        ),
        finding(
            check::guardduty::INFO,
            &a2e,
            "AwsGuardDutyDetector",
            "12abc34d567e8fa901bc2d34e56789f0",
            "arn:aws:guardduty:eu-west-1:222222222222:detector/12abc34d567e8fa901bc2d34e56789f0",
            Status::Fail,
            "GuardDuty detector 12abc34d567e8fa901bc2d34e56789f0 in eu-west-1 is DISABLED, not ENABLED",
        ),
    ];
    let mut coverage = Vec::new();
    for c in FIXED_CHECKS {
        for (a, r) in [(A1, "eu-west-1"), (A1, "us-east-1"), (A2, "eu-west-1"), (A2, "us-east-1")] {
            coverage.push(evaluated(c.id, a, r));
        }
    }
    let denied = ScopeError::new("AccessDeniedException", "ListFunctions: User is not authorized to perform: lambda:ListFunctions");
    for c in coverage.iter_mut() {
        if c.check_id == "lambda-supported-runtime"
            && c.account.as_str() == A2
            && c.region.as_ref().is_some_and(|r| r.as_str() == "us-east-1")
        {
            c.status = CoverageStatus::Error(denied.clone());
        }
    }
    let errors = vec![ErrorEntry {
        account: account(A2),
        region: Some("us-east-1".parse().unwrap()),
        check_id: Some("lambda-supported-runtime"),
        error: denied,
    }];
    let mut r = report(Subject::Organization { id: "o-exampleorg1".into(), caller: account(A1) }, findings, coverage, errors);
    r.checks = FIXED_CHECKS.to_vec();
    r
}

/// The checks of the fixed report, not the registry's: a new check must not change its snapshot.
const FIXED_CHECKS: [&CheckInfo; 5] =
    [check::opensearch::INFO, check::sagemaker::INFO, check::lambda::INFO, check::kms::INFO, check::guardduty::INFO];

/// `n` Lambda FAILs spread round-robin over `accounts` accounts (ids 3000000000xx), all in eu-west-1.
fn big_report(n: usize, accounts: usize) -> ScanReport {
    let ids: Vec<String> = (0..accounts).map(|i| format!("3000000000{i:02}")).collect();
    let targets: Vec<Target> = ids.iter().map(|a| target(a, "eu-west-1")).collect();
    let findings = (0..n)
        .map(|i| {
            let t = &targets[i % accounts];
            let name = format!("fn-{i:06}");
            let arn = format!("arn:aws:lambda:eu-west-1:{}:function:{name}", t.account);
            finding(check::lambda::INFO, t, "AwsLambdaFunction", &name, &arn, Status::Fail, "uses runtime python3.8, deprecated")
        })
        .collect();
    let coverage = ids.iter().map(|a| evaluated("lambda-supported-runtime", a, "eu-west-1")).collect();
    report(Subject::Organization { id: "o-bigorg".into(), caller: account(&ids[0]) }, findings, coverage, Vec::new())
}

fn opts(category: &str) -> SarifOptions {
    SarifOptions { category: Some(category.to_owned()), ..SarifOptions::default() }
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn results(run: &Value) -> &Vec<Value> {
    run["results"].as_array().unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Renderer tests

#[test]
fn sarif_of_a_fixed_report_matches_the_snapshot() {
    let file = sarif::render_file(&fixed_report(), &SarifOptions::default(), &Limits::GITHUB).unwrap();
    let log = parse(&file.bytes);
    assert_schema_valid(&log);
    insta::assert_json_snapshot!("fixed_report", log, {
        ".runs[].tool.driver.version" => "[version]",
        ".runs[].tool.driver.semanticVersion" => "[version]",
        ".runs[].invocations[].startTimeUtc" => "[time]",
        ".runs[].invocations[].endTimeUtc" => "[time]",
    });
}

#[test]
fn fixed_report_follows_github_ingestion_rules_and_passes_the_multitool() {
    let r = fixed_report();
    let file = sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap();
    let log = assert_github_ingestion_rules(&file.bytes);
    let run = &log["runs"][0];
    assert_eq!(log["runs"].as_array().unwrap().len(), 1);
    assert_eq!(run["automationDetails"]["id"], "orgscan/o-exampleorg1/");

    // One rule per check that ran, in registry order, with the metadata of its CheckInfo.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.iter().map(|r| r["id"].as_str().unwrap()).collect::<Vec<_>>(), r.checks.iter().map(|c| c.id).collect::<Vec<_>>());
    for (rule, info) in rules.iter().zip(&r.checks) {
        assert_eq!(rule["shortDescription"]["text"], info.title);
        assert_eq!(rule["fullDescription"]["text"], info.description);
        assert_eq!(rule["helpUri"], info.docs_url);
        let help = rule["help"]["text"].as_str().unwrap();
        assert!(help.contains(info.remediation) && help.contains(info.remediation_cli), "{help}");
        assert_eq!(rule["properties"]["tags"], serde_json::json!(["security", "aws", info.service.as_str()]));
        let expected = match info.severity.as_str() {
            "critical" => ("9.5", "error"),
            "high" => ("8.0", "error"),
            "medium" => ("5.5", "warning"),
            _ => ("2.0", "note"),
        };
        assert_eq!(
            (rule["properties"]["security-severity"].as_str().unwrap(), rule["defaultConfiguration"]["level"].as_str().unwrap()),
            expected
        );
    }

    // One result per FAIL, none for the PASS, sorted by (rule, account, region, resource).
    let rs = results(run);
    assert_eq!(rs.len(), r.failures().count());
    let keys: Vec<(String, String, String, String)> = rs
        .iter()
        .map(|x| {
            let p = &x["properties"];
            let s = |v: &Value| v.as_str().unwrap().to_owned();
            (s(&x["ruleId"]), s(&p["account_id"]), s(&p["region"]), s(&x["locations"][0]["logicalLocations"][0]["name"]))
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(!rs.iter().any(|x| x["locations"][0]["logicalLocations"][0]["name"] == "os-enc"));
    let by_name = |n: &str| rs.iter().find(|x| x["locations"][0]["logicalLocations"][0]["name"] == n).unwrap();
    let gd = by_name(A1);
    assert_eq!(gd["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "aws/111111111111/us-east-1/guardduty");
    assert_eq!(gd["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], "arn:aws:iam::111111111111:root");
    let kms = by_name("1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_eq!(
        kms["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "aws/222222222222/eu-west-1/kms/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert_eq!(kms["level"], "error");
    let msg = kms["message"]["text"].as_str().unwrap();
    assert!(msg.contains("PendingDeletion") && msg.contains("account 222222222222") && msg.contains("region eu-west-1"), "{msg}");
    let fp = r.findings.iter().find(|f| f.resource.id.starts_with("1234abcd")).unwrap().fingerprint();
    assert_eq!(kms["partialFingerprints"]["primaryLocationLineHash"], fp.to_string());
    assert_eq!(by_name("fn-deprecated")["level"], "warning");

    // The errored scope makes the run unsuccessful, with one notification naming it.
    let inv = &run["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), r.errors.len());
    let p = &notes[0]["properties"];
    assert_eq!(
        (&p["account_id"], &p["region"], &p["check_id"], &p["error_code"]),
        (&Value::from(A2), &Value::from("us-east-1"), &Value::from("lambda-supported-runtime"), &Value::from("AccessDeniedException"))
    );
    assert!(notes[0]["message"]["text"].as_str().unwrap().contains("AccessDeniedException"));
    assert_eq!(notes[0]["associatedRule"]["id"], "lambda-supported-runtime");

    let dir = tempdir();
    let path = dir.path().join("fixed.sarif");
    std::fs::write(&path, &file.bytes).unwrap();
    multitool_validate(&path);
}

/// The checkers themselves catch what GitHub and the schema reject, so a regression cannot pass unseen.
#[test]
fn the_checkers_reject_broken_sarif() {
    let good = parse(&sarif::render_file(&fixed_report(), &SarifOptions::default(), &Limits::GITHUB).unwrap().bytes);
    type Mutation = fn(&mut Value);
    let ingestion: &[(&str, Mutation)] = &[
        ("arn: URI", |v| {
            v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "arn:aws:iam::1:root".into()
        }),
        ("absolute path", |v| v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "/aws/x".into()),
        ("empty URI", |v| v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "".into()),
        ("two locations", |v| {
            let l = v["runs"][0]["results"][0]["locations"][0].clone();
            v["runs"][0]["results"][0]["locations"].as_array_mut().unwrap().push(l);
        }),
        ("no shortDescription", |v| {
            v["runs"][0]["tool"]["driver"]["rules"][0].as_object_mut().unwrap().remove("shortDescription");
        }),
        ("no help.text", |v| {
            v["runs"][0]["tool"]["driver"]["rules"][1]["help"].as_object_mut().unwrap().remove("text");
        }),
        ("severity 11", |v| v["runs"][0]["tool"]["driver"]["rules"][2]["properties"]["security-severity"] = "11".into()),
        ("severity 0", |v| v["runs"][0]["tool"]["driver"]["rules"][2]["properties"]["security-severity"] = "0".into()),
        ("wrong ruleIndex", |v| v["runs"][0]["results"][0]["ruleIndex"] = 0.into()),
        ("two runs, one category", |v| {
            let r = v["runs"][0].clone();
            v["runs"].as_array_mut().unwrap().push(r);
        }),
    ];
    for (what, mutate) in ingestion {
        let mut bad = good.clone();
        mutate(&mut bad);
        let bytes = serde_json::to_vec(&bad).unwrap();
        let caught = std::panic::catch_unwind(|| assert_github_ingestion_rules(&bytes)).is_err();
        assert!(caught, "the ingestion-rule check let through: {what}");
    }
    let schema: &[(&str, Mutation)] = &[
        ("level fatal", |v| v["runs"][0]["results"][0]["level"] = "fatal".into()),
        ("no message", |v| {
            v["runs"][0]["results"][0].as_object_mut().unwrap().remove("message");
        }),
        ("informationUri not a URI", |v| v["runs"][0]["tool"]["driver"]["informationUri"] = "not a uri".into()),
        ("startTimeUtc not a date-time", |v| v["runs"][0]["invocations"][0]["startTimeUtc"] = "yesterday".into()),
        ("startLine 0", |v| v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into()),
        ("version 2.0.0", |v| v["version"] = "2.0.0".into()),
    ];
    for (what, mutate) in schema {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(!schema_errors(&bad).is_empty(), "the schema check let through: {what}");
    }
    assert!(schema_errors(&good).is_empty());
}

#[test]
fn a_clean_scan_is_one_successful_run_with_empty_results_and_a_category_of_its_own() {
    let scope = Subject::Account(account(A1));
    let ok = finding(
        check::kms::INFO,
        &target(A1, "eu-west-1"),
        "AwsKmsKey",
        "k1",
        "arn:aws:kms:eu-west-1:111111111111:key/k1",
        Status::Pass,
        "fine",
    );
    let r = report(scope, vec![ok], vec![evaluated("kms-key-not-pending-deletion", A1, "eu-west-1")], Vec::new());
    let file = sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap();
    let log = assert_github_ingestion_rules(&file.bytes);
    assert_schema_valid(&log);
    let run = &log["runs"][0];
    // An empty results array (not a missing one) is what closes the alerts of fixed resources.
    assert_eq!(run["results"], Value::Array(Vec::new()));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert!(run["invocations"][0].get("toolExecutionNotifications").is_none());
    assert_eq!(run["automationDetails"]["id"], "orgscan/111111111111/");
    let custom = sarif::render_file(&r, &opts("cloud/prod"), &Limits::GITHUB).unwrap();
    assert_eq!(parse(&custom.bytes)["runs"][0]["automationDetails"]["id"], "cloud/prod/");

    // An interrupted scan is not a successful run either.
    let mut interrupted = r.clone();
    interrupted.incomplete = true;
    let log = parse(&sarif::render_file(&interrupted, &SarifOptions::default(), &Limits::GITHUB).unwrap().bytes);
    assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], false);
    assert!(log["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].as_str().unwrap().contains("interrupted"));
}

#[test]
fn output_is_deterministic_and_time_appears_only_in_time_fields() {
    let a = fixed_report();
    let mut b = fixed_report();
    b.findings.reverse();
    b.errors.reverse();
    b.started_at = time(1000);
    b.finished_at = time(2000);
    let fa = sarif::render_file(&a, &SarifOptions::default(), &Limits::GITHUB).unwrap().bytes;
    let fb = sarif::render_file(&b, &SarifOptions::default(), &Limits::GITHUB).unwrap().bytes;
    let strip = |bytes: &[u8]| {
        let mut v = parse(bytes);
        for inv in v["runs"][0]["invocations"].as_array_mut().unwrap() {
            inv.as_object_mut().unwrap().remove("startTimeUtc");
            inv.as_object_mut().unwrap().remove("endTimeUtc");
        }
        v
    };
    assert_ne!(fa, fb, "the times differ");
    assert_eq!(strip(&fa), strip(&fb));
    assert_eq!(fa, sarif::render_file(&a, &SarifOptions::default(), &Limits::GITHUB).unwrap().bytes);
    // Each time appears once, in its time field.
    let text = String::from_utf8(fb).unwrap();
    for t in [b.started_at, b.finished_at] {
        let t = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert_eq!(text.matches(&t).count(), 1, "{t}");
    }
    let log = parse(text.as_bytes());
    assert_eq!(log["runs"][0]["invocations"][0]["startTimeUtc"], b.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
}

#[test]
fn exactly_5000_results_stay_in_one_run() {
    // GitHub keeps at most 5,000 results of a run (it accepts 25,000): orgscan never writes more.
    let r = big_report(5_000, 3);
    let file = sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap();
    assert_eq!((file.runs, file.results), (1, 5_000));
    let log = assert_github_ingestion_rules(&file.bytes);
    assert_eq!(log["runs"][0]["automationDetails"]["id"], "orgscan/o-bigorg/");
}

#[test]
fn past_5000_results_the_file_is_refused_naming_sarif_dir_whose_files_each_have_their_own_category() {
    // The split is decided by the option, never by the count: no silent switch of categories at 5,001.
    for (n, accounts) in [(5_001, 3), (25_001, 6), (5_001, 21)] {
        let r = big_report(n, accounts);
        let err = sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap_err();
        assert!(matches!(err, SarifError::TooManyResults { results, per_run: 5_000 } if results == n), "{err:?}");
        assert!(err.to_string().contains("--sarif-dir"), "{err}");
        let files = sarif::render_dir(&r, &opts("big"), &Limits::GITHUB).unwrap();
        assert_eq!(files.len(), accounts);
        let mut total = 0;
        let mut fps = BTreeSet::new();
        for f in &files {
            let log = assert_github_ingestion_rules(&f.bytes);
            let acct = f.file_name.trim_end_matches(".sarif");
            assert_eq!(log["runs"][0]["automationDetails"]["id"], format!("big/{acct}/"));
            assert_eq!(log["runs"][0]["properties"]["account_id"], acct);
            assert!(results(&log["runs"][0]).iter().all(|x| x["properties"]["account_id"] == acct));
            total += results(&log["runs"][0]).len();
            fps.extend(
                results(&log["runs"][0]).iter().map(|x| x["partialFingerprints"]["primaryLocationLineHash"].as_str().unwrap().to_owned()),
            );
        }
        assert_eq!((total, fps.len()), (n, n), "every result once, with its own fingerprint");
    }
    let default = sarif::render_dir(&big_report(30, 3), &SarifOptions::default(), &Limits::GITHUB).unwrap();
    let log = parse(&default[1].bytes);
    assert_eq!(log["runs"][0]["automationDetails"]["id"], "orgscan/o-bigorg/300000000001/");
}

#[test]
fn one_account_past_the_limit_is_refused_in_both_modes_naming_how_to_narrow_the_scan() {
    let r = big_report(5_001, 1);
    let err = sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap_err();
    assert!(matches!(err, SarifError::TooManyResults { results: 5_001, .. }), "{err:?}");
    let err = sarif::render_dir(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap_err();
    assert!(matches!(err, SarifError::AccountTooLarge { results: 5_001, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("300000000000") && msg.contains("--regions") && msg.contains("--sarif-category"), "{msg}");
}

#[test]
fn a_file_over_the_gzip_limit_is_refused_naming_the_option() {
    let r = fixed_report();
    let small = Limits { gzip_bytes: 2_000, ..Limits::GITHUB };
    let err = sarif::render_file(&r, &SarifOptions::default(), &small).unwrap_err();
    assert!(matches!(err, SarifError::TooLarge { max: 2_000, .. }), "{err:?}");
    assert!(err.to_string().contains("--sarif-dir"), "{err}");
    let err = sarif::render_dir(&r, &SarifOptions::default(), &small).unwrap_err();
    assert!(err.to_string().contains("--regions"), "{err}");
    // Under the real limit the same report fits.
    assert!(sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).is_ok());
}

#[test]
fn write_outputs_never_writes_a_file_github_would_reject() {
    let dir = tempdir();
    let path = dir.path().join("out.sarif");
    std::fs::write(&path, "earlier").unwrap();
    let outputs = Outputs { sarif: Some(path.clone()), ..Outputs::default() };
    let errors = orgscan::write_outputs(&big_report(25_001, 21), &outputs);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("--sarif-dir") && errors[0].contains("out.sarif"), "{errors:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier", "the earlier file is left as it was");

    // One account over the limit: no file of the directory is written, not even those that would fit.
    let mut r = big_report(25_001, 1);
    let other = target(A2, "eu-west-1");
    r.findings.push(finding(check::kms::INFO, &other, "AwsKmsKey", "k", "arn:aws:kms:eu-west-1:222222222222:key/k", Status::Fail, "x"));
    r.coverage.push(evaluated("kms-key-not-pending-deletion", A2, "eu-west-1"));
    r.sort();
    let out = dir.path().join("per-account");
    std::fs::create_dir(&out).unwrap();
    let errors = orgscan::write_outputs(&r, &Outputs { sarif_dir: Some(out.clone()), ..Outputs::default() });
    assert!(errors.len() == 1 && errors[0].contains("--regions"), "{errors:?}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);

    // And what fits is written, atomically, with no temporary file left behind.
    let errors = orgscan::write_outputs(&fixed_report(), &Outputs { sarif_dir: Some(out.clone()), ..Outputs::default() });
    assert!(errors.is_empty(), "{errors:?}");
    let mut names: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["111111111111.sarif", "222222222222.sarif"]);
    for n in &names {
        let bytes = std::fs::read(out.join(n)).unwrap();
        assert_schema_valid(&assert_github_ingestion_rules(&bytes));
        multitool_validate(&out.join(n));
    }
}

#[test]
fn sarif_flags_are_checked_before_any_aws_call() {
    let dir = tempdir();
    let file = dir.path().join("f.sarif");
    std::fs::write(&file, "").unwrap();
    let (f, d) = (file.to_str().unwrap(), dir.path().to_str().unwrap());
    let cases: &[(&[&str], &[&str])] = &[
        (&["--sarif", "x.sarif", "--sarif-dir", d], &["--sarif", "--sarif-dir", "conflict"]),
        (&["--sarif-category", "a/b/"], &["--sarif-category", "--sarif PATH", "--sarif-dir DIR"]),
        (&["--sarif", "x.sarif", "--sarif-category", " "], &["--sarif-category", "non-empty"]),
        (&["--sarif", "/nonexistent-dir/out.sarif"], &["'/nonexistent-dir/out.sarif'", "does not exist"]),
        (&["--sarif", d], &["is a directory"]),
        (&["--sarif-dir", f], &["--sarif-dir", "not a directory"]),
        (&["--json", f, "--sarif", f], &["--json", "--sarif", "own file"]),
    ];
    crate::support::assert_refused_before_any_aws_call(&["scan", "--this-account"], cases);
}

// ---------------------------------------------------------------------------------------------------------
// End to end against moto

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-2"];

/// (rule id, URI, ARN, fingerprint) of every result, in file order.
fn identities(log: &Value) -> Vec<(String, String, String, String)> {
    log["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(results)
        .map(|r| {
            let s = |v: &Value| v.as_str().unwrap().to_owned();
            let loc = &r["locations"][0];
            (
                s(&r["ruleId"]),
                s(&loc["physicalLocation"]["artifactLocation"]["uri"]),
                s(&loc["logicalLocations"][0]["fullyQualifiedName"]),
                s(&r["partialFingerprints"]["primaryLocationLineHash"]),
            )
        })
        .collect()
}

/// The URI each expected FAIL must have, built from the estate, not from orgscan's renderer.
fn expected_uri(e: &Expected) -> String {
    let service = check::ALL.iter().map(|c| c.info()).find(|i| i.id == e.check_id).unwrap().service.as_str();
    if e.resource_type == "AwsAccount" {
        format!("aws/{}/{}/{service}", e.account, e.region)
    } else {
        format!("aws/{}/{}/{service}/{}", e.account, e.region, e.resource_id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sarif_of_a_moto_scan_has_one_result_per_fail_and_stable_identities() {
    let moto = Moto::from_env();
    let (acct, creds) = moto.fresh_account().await.unwrap();
    // GuardDuty: disabled detector in eu-west-1, none in us-east-2 (account-level result).
    let expected = seed_account(&moto, &creds, &acct, &REGIONS, |i| Mix::full(i as u8 + 1)).await.unwrap();
    let fails: Vec<&Expected> = expected.iter().filter(|e| e.status == "FAIL").collect();
    assert!(fails.iter().any(|e| e.resource_type == "AwsAccount"), "the estate has an account-level GuardDuty FAIL");

    let dir = tempdir();
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--this-account", "--regions", "eu-west-1,us-east-2", "--quiet"];
        args.extend_from_slice(extra);
        let o = orgscan(&moto, &creds, &args);
        assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    };
    let first = dir.path().join("first.sarif");
    scan(&["--sarif", first.to_str().unwrap()]);
    let bytes = std::fs::read(&first).unwrap();
    let log = assert_github_ingestion_rules(&bytes);
    assert_schema_valid(&log);
    multitool_validate(&first);

    let run = &log["runs"][0];
    assert_eq!(log["runs"].as_array().unwrap().len(), 1);
    // --regions narrows the scan: its category says so, and never replaces the full scan's alerts.
    assert_eq!(run["automationDetails"]["id"], format!("orgscan/{acct}/regions=eu-west-1,us-east-2/"));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true, "{}", run["invocations"]);
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), check::ALL.len());

    // One result per expected FAIL, with its ARN in logicalLocations and the URI built from the estate.
    let got: BTreeSet<(String, String, String)> = identities(&log).into_iter().map(|(rule, uri, arn, _)| (rule, uri, arn)).collect();
    let want: BTreeSet<(String, String, String)> =
        fails.iter().map(|e| (e.check_id.to_owned(), expected_uri(e), e.resource_arn.clone())).collect();
    assert_eq!(results(run).len(), fails.len());
    assert_eq!(got, want);

    // The second scan of the unchanged estate: the same fingerprints and URIs, in the same order.
    let second = dir.path().join("second.sarif");
    scan(&["--sarif", second.to_str().unwrap()]);
    let log2 = read_json(&second);
    assert_eq!(identities(&log), identities(&log2));
    let fps: BTreeSet<String> = identities(&log).into_iter().map(|i| i.3).collect();
    assert_eq!(fps.len(), fails.len(), "fingerprints are unique");

    // --sarif-dir: one file for the account, category <category><account>/, the same identities.
    let per_account = dir.path().join("per-account");
    scan(&["--sarif-dir", per_account.to_str().unwrap(), "--sarif-category", "cloud/test"]);
    let names: Vec<String> = std::fs::read_dir(&per_account).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, [format!("{acct}.sarif")]);
    let one_path = per_account.join(&names[0]);
    let one = assert_github_ingestion_rules(&std::fs::read(&one_path).unwrap());
    assert_schema_valid(&one);
    assert_eq!(one["runs"][0]["automationDetails"]["id"], format!("cloud/test/{acct}/"));
    assert_eq!(identities(&one), identities(&log));
    let by_rule: BTreeMap<String, usize> = identities(&one).into_iter().fold(BTreeMap::new(), |mut m, i| {
        *m.entry(i.0).or_default() += 1;
        m
    });
    assert_eq!(by_rule.len(), check::ALL.len(), "every check fails somewhere in the estate: {by_rule:?}");
}

#[test]
fn an_account_skipped_or_unreachable_as_a_whole_gets_no_sarif_file_unless_fails_are_carried_forward() {
    use orgscan::model::{BaselineState, History, Stale};
    let (a1, a2, a3) = (A1, A2, "333333333333");
    let t1 = target(a1, "eu-west-1");
    let fail =
        finding(check::kms::INFO, &t1, "AwsKmsKey", "k1", "arn:aws:kms:eu-west-1:111111111111:key/k1", Status::Fail, "pending deletion");
    let whole = |account: &str, status: CoverageStatus| Coverage {
        check_id: check::kms::INFO.id,
        account: account.parse().unwrap(),
        region: None,
        status,
    };
    let coverage = vec![
        evaluated(check::kms::INFO.id, a1, "eu-west-1"),
        // A SUSPENDED account, and one whose audit role cannot be assumed.
        whole(a2, CoverageStatus::Skipped { reason: "account is SUSPENDED, not ACTIVE".into() }),
        whole(a3, CoverageStatus::Error(ScopeError::new("AccessDenied", "cannot assume the audit role"))),
    ];
    let errors = vec![ErrorEntry {
        account: account(a3),
        region: None,
        check_id: None,
        error: ScopeError::new("AccessDenied", "cannot assume the audit role"),
    }];
    let org = Subject::Organization { id: "o-abc123defg".into(), caller: account(a1) };
    let mut r = report(org, vec![fail], coverage, errors);
    let names = |r: &ScanReport| -> Vec<String> {
        sarif::render_dir(r, &SarifOptions::default(), &Limits::GITHUB).unwrap().into_iter().map(|f| f.file_name).collect()
    };
    assert_eq!(names(&r), ["111111111111.sarif"], "no file, so no empty run closing their alerts");
    // --sarif: one run, of the evaluated account's results only.
    let log = parse(&sarif::render_file(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap().bytes);
    assert_eq!(log["runs"].as_array().unwrap().len(), 1);
    assert!(results(&log["runs"][0]).iter().all(|x| x["properties"]["account_id"] == a1));

    // With a baseline FAIL of the unreachable account carried forward, that account's file holds it.
    let t3 = target(a3, "eu-west-1");
    let mut old =
        finding(check::kms::INFO, &t3, "AwsKmsKey", "k3", "arn:aws:kms:eu-west-1:333333333333:key/k3", Status::Fail, "pending deletion");
    old.triage.baseline = Some(BaselineState::Unchanged);
    r.history = Some(History {
        baseline_started_at: time(-86_400),
        fixed: Vec::new(),
        stale: vec![Stale { finding: old, last_seen: time(-86_400), reason: "not evaluated (AccessDenied)".into() }],
        out_of_selection: 0,
    });
    assert_eq!(names(&r), ["111111111111.sarif", "333333333333.sarif"]);
    let files = sarif::render_dir(&r, &SarifOptions::default(), &Limits::GITHUB).unwrap();
    let log = assert_github_ingestion_rules(&files[1].bytes);
    assert_schema_valid(&log);
    let run = &log["runs"][0];
    assert_eq!(run["automationDetails"]["id"], "orgscan/o-abc123defg/333333333333/");
    assert_eq!(results(run).len(), 1);
    assert_eq!(
        (results(run)[0]["baselineState"].as_str(), results(run)[0]["properties"]["stale"].as_bool()),
        (Some("unchanged"), Some(true))
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
}
