//! `orgscan scan --this-account` end to end against moto, and the CLI contract around it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use aws_credential_types::Credentials;

use serde_json::Value;

use crate::support::estate::{Mix, Moto, seed_account};
use crate::support::{assert_valid, expected_rows, orgscan, orgscan_env, read_json, report_rows, stderr, stdout, tempdir};

const REGIONS: [&str; 3] = ["eu-west-1", "eu-west-2", "us-east-2"];

/// `orgscan scan --this-account ARGS --json OUT`, which exits 1: the account has a FAIL.
fn scan_with_a_fail(moto: &Moto, creds: &Credentials, args: &[&str], out: &Path) -> Output {
    let mut full = vec!["scan", "--this-account"];
    full.extend_from_slice(args);
    full.extend(["--json", out.to_str().unwrap()]);
    let o = orgscan(moto, creds, &full);
    assert_eq!(o.status.code(), Some(1), "{full:?}\nstdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_account_scan_reports_exactly_the_seeded_findings() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    // GuardDuty: enabled in eu-west-1, disabled in eu-west-2, absent in us-east-2.
    let expected = seed_account(&moto, &creds, &account, &REGIONS, |i| Mix::full(i as u8)).await.unwrap();

    let dir = tempdir();
    let out = dir.path().join("out.json");
    let o = scan_with_a_fail(&moto, &creds, &["--regions", &REGIONS.join(","), "--quiet"], &out);

    let report = read_json(&out);
    assert_valid("report.schema.json", &report);
    assert_eq!(report_rows(&report), expected_rows(&expected));
    assert_eq!(report["scope"]["kind"], "account");
    assert_eq!(report["scope"]["account_id"], account.as_str());

    // Full coverage: 5 checks x 3 regions, all evaluated, no errors.
    let coverage = report["coverage"].as_array().unwrap();
    assert_eq!(coverage.len(), 3 * orgscan::check::ALL.len());
    assert!(coverage.iter().all(|c| c["status"] == "evaluated" && c["account_id"] == account.as_str()), "{coverage:?}");
    assert_eq!(report["errors"], Value::Array(vec![]));
    // The image-packaged function is counted as not applicable, not reported; the two Web Functions are
    // evaluated beside the four Event Functions.
    let lambda: Vec<_> = coverage.iter().filter(|c| c["check_id"] == "lambda-supported-runtime").collect();
    assert!(lambda.iter().all(|c| c["detail"].as_str().unwrap().contains("6 resources evaluated, 1 not applicable")), "{lambda:?}");

    // Messages say what is wrong.
    let msg = |id: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["resource_id"] == id)
            .map(|f| f["message"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert!(msg("nb-novpc").contains("does not run in a VPC"));
    assert!(msg("nb-open").contains("direct internet access is enabled"));
    assert!(msg("fn-unknown").contains("unknown to orgscan's runtime table"));
    assert!(msg("fn-deprecated").contains("deprecated since 2024-10-14"));
    // $LATEST was upgraded; production (alias prod -> version 1) was not.
    let aliased = msg("fn-aliased");
    assert!(aliased.contains("uses runtime python3.12, supported until"), "{aliased}");
    assert!(aliased.contains("alias 'prod' still routes to version 1 on runtime python3.7, deprecated since"), "{aliased}");

    // The summary lists failing resources of all five checks and the exit code.
    let summary = stdout(&o);
    for check in [
        "opensearch-encryption-at-rest",
        "sagemaker-notebook-no-direct-internet",
        "lambda-supported-runtime",
        "kms-key-not-pending-deletion",
        "guardduty-enabled",
    ] {
        assert!(summary.contains(&format!("  {check} [")), "{check} missing from failing resources:\n{summary}");
    }
    assert!(summary.contains("(exit code 1)"));
    // The unknown runtime is listed apart from the deprecated ones: one function per region.
    assert!(
        summary.contains("Lambda runtimes unknown to the runtime table, failing as unknown (not as deprecated): cobol85 (3)"),
        "{summary}"
    );

    // Identity is stable: a second scan of the unchanged estate gives the same fingerprints.
    let out2 = dir.path().join("out2.json");
    scan_with_a_fail(&moto, &creds, &["--regions", &REGIONS.join(","), "--quiet"], &out2);
    let fp =
        |r: &Value| r["findings"].as_array().unwrap().iter().map(|f| f["fingerprint"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let second = read_json(&out2);
    assert_eq!(fp(&report), fp(&second));
    assert_eq!(fp(&report).iter().collect::<BTreeSet<_>>().len(), expected.len(), "fingerprints are unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_selection_runs_only_the_named_checks() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let expected = seed_account(&moto, &creds, &account, &["ap-south-1"], |_| Mix::light(2)).await.unwrap();
    let dir = tempdir();
    let out = dir.path().join("kms.json");
    scan_with_a_fail(&moto, &creds, &["--regions", "ap-south-1", "--checks", "kms-key-not-pending-deletion"], &out);
    let report = read_json(&out);
    let kms: Vec<_> = expected.into_iter().filter(|e| e.check_id == "kms-key-not-pending-deletion").collect();
    assert_eq!(report_rows(&report), expected_rows(&kms));
    assert_eq!(report["coverage"].as_array().unwrap().len(), 1);
    // Only KMS calls and the one identity call (STS GetCallerIdentity) were made.
    let by_service = report["stats"]["api_calls_by_service"].as_object().unwrap();
    assert_eq!(by_service.keys().cloned().collect::<Vec<_>>(), ["KMS", "STS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_regions_every_region_of_the_partition_is_visited_via_the_bundled_list() {
    // moto does not implement the Account API's ListRegions: orgscan falls back to its bundled list.
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let dir = tempdir();
    let out = dir.path().join("all.json");
    scan_with_a_fail(&moto, &creds, &["--checks", "guardduty-enabled", "--exclude-regions", "us-east-1"], &out);
    let report = read_json(&out);
    let regions: BTreeSet<String> =
        report["coverage"].as_array().unwrap().iter().map(|c| c["region"].as_str().unwrap().to_owned()).collect();
    let known: BTreeSet<String> =
        orgscan::model::Partition::Aws.known_regions().map(|r| r.name.to_owned()).filter(|r| r != "us-east-1").collect();
    assert_eq!(regions, known);
    // Every region has no detector: one FAIL on the account per region.
    assert_eq!(report["findings"].as_array().unwrap().len(), known.len());
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["resource_id"] == account.as_str() && f["status"] == "FAIL"));
}

#[test]
fn bad_input_exits_2_naming_the_value_before_any_aws_call() {
    // The endpoint refuses connections: had orgscan called AWS, the message would be about that.
    let cases: &[(&[&str], &[&str])] = &[
        (&["--regions", "not-a-region"], &["'not-a-region'", "eu-west-1"]),
        (&["--regions", "eu-west-1,eu-wst"], &["'eu-wst'"]),
        (&["--exclude-regions", "moon-1"], &["'moon-1'"]),
        (&["--checks", "no-such-check"], &["'no-such-check'", "guardduty-enabled", "kms-key-not-pending-deletion"]),
        (&["--json", "/nonexistent-dir/out.json"], &["'/nonexistent-dir/out.json'", "does not exist"]),
        (&["--accounts", "12345"], &["'12345'", "12 digits"]),
        (&["--ou", "ou-bad"], &["'ou-bad'", "ou-ab12-cdef3456"]),
        (&["--role-arn-template", "arn:aws:iam::123456789012:role/Audit"], &["{account}"]),
        (&["--concurrency", "0"], &["--concurrency 0", "1 to 1024"]),
        (&["--session-duration", "60"], &["60", "900 to 43200"]),
        (&["--lambda-runtimes", "/nonexistent/runtimes.toml"], &["'/nonexistent/runtimes.toml'"]),
        (&["--lambda-runtimes", "Cargo.toml"], &["Lambda runtime table 'Cargo.toml' does not parse", "unknown field"]),
        (
            &["--role-name", "Audit", "--role-arn-template", "arn:aws:iam::{account}:role/Audit"],
            &["--role-arn-template", "--role-name", "conflict"],
        ),
        (&["--this-account", "--accounts", "111111111111"], &["--this-account", "--accounts"]),
        (&["--accounts", "111111111111", "--ou", "ou-ab12-cdef3456"], &["--accounts", "--ou"]),
        (&["--max-attempts", "0"], &["--max-attempts 0", "1 to 20"]),
        (&["--external-id", "x"], &["--external-id", "2 to 1224"]),
        (&["--role-name", "bad name"], &["'bad name'"]),
        (&["--regions", "eu-west-1", "--exclude-regions", "eu-west-1"], &["--exclude-regions removes every region"]),
    ];
    crate::support::assert_refused_before_any_aws_call(&["scan"], cases);
}

#[test]
fn checks_lists_every_registered_check_as_table_and_json() {
    let creds = Moto::root_credentials();
    let o = orgscan_env("http://127.0.0.1:9", &creds, &["checks", "--format", "json"], &[]);
    assert_eq!(o.status.code(), Some(0));
    let list: Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), orgscan::check::ALL.len());
    for item in items {
        let keys: BTreeSet<_> = item.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "severity", "title", "security_hub_control", "resource_types", "remediation"]));
    }
    assert_eq!(items[3]["id"], "kms-key-not-pending-deletion");
    assert_eq!(items[3]["severity"], "critical");
    assert_eq!(items[3]["security_hub_control"], "KMS.3");
    assert!(items[3]["remediation"].as_str().unwrap().contains("aws kms cancel-key-deletion"));
    let table = orgscan_env("http://127.0.0.1:9", &creds, &["checks"], &[]);
    let text = stdout(&table);
    assert!(text.starts_with("ID ") && text.contains("guardduty-enabled") && text.contains("GuardDuty.1"), "{text}");
}

#[test]
fn an_unreachable_endpoint_is_a_clear_error_and_keeps_an_earlier_report() {
    let dir = tempdir();
    let out = dir.path().join("keep.json");
    std::fs::write(&out, "{\"earlier\": true}").unwrap();
    let creds = Moto::root_credentials();
    let o = orgscan_env(
        "http://127.0.0.1:9",
        &creds,
        &["scan", "--this-account", "--regions", "eu-west-1", "--json", out.to_str().unwrap(), "--max-attempts", "1"],
        &[],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("cannot reach AWS at http://127.0.0.1:9") && err.contains("Connection refused"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"earlier\": true}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_of_another_partition_are_refused_naming_them() {
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    let o = orgscan(&moto, &creds, &["scan", "--this-account", "--regions", "eu-west-1,cn-north-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--regions cn-north-1: not in partition aws"), "{}", stderr(&o));
}
