//! Long and large scans: session renewal that never waits on a permit its own call holds, role chaining,
//! clock skew, partitions and home regions, the exit-code table, and outputs for pipelines.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_kms::operation::list_keys::ListKeysError;
use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleOutput};
use aws_sdk_sts::operation::get_caller_identity::{GetCallerIdentityError, GetCallerIdentityOutput};
use aws_smithy_mocks::mock;
use orgscan::model::{CoverageStatus, exit};
use serde_json::Value;

use crate::mocks::InRegion;
use crate::support::estate::{Mix, Moto, create_org, org_with_one_member, seed_account, seed_org, seeded_account};
use crate::support::{
    err_meta, orgscan_env, passthrough as interceptor, quick_factory as factory, scan_with, stderr, stdout, sts_credentials, tempdir,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_renewed_mid_scan_never_wait_for_a_permit_their_own_call_holds() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 2).await.unwrap();
    let (_, creds) = seed_org(&moto, &org, &["eu-west-1"], |_, _| Mix::light(0)).await.unwrap();
    // Every session AssumeRole hands out expires in 90 seconds, inside the renewal margin: every call of the
    // scan renews its account's session, from inside the SDK call that already holds an in-flight permit.
    let rules: Vec<_> = org
        .members
        .iter()
        .map(|(member, _)| {
            let c = sts_credentials(&creds[member], Duration::from_secs(90));
            let arn = format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole");
            mock!(aws_sdk_sts::Client::assume_role)
                .match_requests(move |r| r.role_arn() == Some(arn.as_str()))
                .then_output(move || AssumeRoleOutput::builder().credentials(c.clone()).build())
        })
        .collect();
    let refs: Vec<_> = rules.iter().collect();
    for caps in [["--concurrency", "1", "--per-account-concurrency", "1"], ["--concurrency", "64", "--per-account-concurrency", "16"]] {
        let f = factory(&moto, &org.management_creds, 2).with_interceptor(interceptor(&refs));
        let mut args = vec!["--regions", "eu-west-1"];
        args.extend(caps);
        // The test's own timeout: a renewal that waits for a permit held by its caller never returns.
        let report = tokio::time::timeout(Duration::from_secs(120), scan_with(f, &args))
            .await
            .unwrap_or_else(|_| panic!("the scan hung with {caps:?}: a renewal waited for a permit"));
        assert!(report.errors.is_empty(), "{caps:?}: {:?}", report.errors);
        assert!(report.coverage.iter().all(|c| matches!(c.status, CoverageStatus::Evaluated { .. })), "{caps:?}");
        assert_eq!(report.coverage.len(), 3 * orgscan::check::ALL.len());
    }
    let renewals: usize = rules.iter().map(|r| r.num_calls()).sum();
    assert!(renewals > 2 * 2 * 2, "sessions were renewed mid-scan, not only primed: {renewals} AssumeRole calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_is_itself_an_assumed_role_asks_for_sessions_of_at_most_one_hour() {
    let moto = Moto::from_env();
    let (org, member, member_creds) = org_with_one_member(&moto).await.unwrap();
    seed_account(&moto, &member_creds, &member, &["eu-west-1"], |_| Mix::guardduty_only(0)).await.unwrap();
    let arn = format!("arn:aws:sts::{}:assumed-role/GitHubActions/run-42", org.management);
    let account = org.management.clone();
    let whoami = mock!(aws_sdk_sts::Client::get_caller_identity)
        .then_output(move || GetCallerIdentityOutput::builder().account(account.clone()).arn(arn.clone()).build());
    let c = sts_credentials(&member_creds, Duration::from_secs(3600));
    // As STS answers a chained AssumeRole (ValidationError, 400) above one hour.
    let within_an_hour = mock!(aws_sdk_sts::Client::assume_role)
        .match_requests(|r| r.duration_seconds().is_some_and(|d| d <= 3600))
        .then_output(move || AssumeRoleOutput::builder().credentials(c.clone()).build());
    let above = mock!(aws_sdk_sts::Client::assume_role).then_error(|| {
        AssumeRoleError::generic(err_meta(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ))
    });
    let f = factory(&moto, &org.management_creds, 2).with_interceptor(interceptor(&[&whoami, &within_an_hour, &above]));
    let report = scan_with(f, &["--accounts", &member, "--regions", "eu-west-1", "--session-duration", "7200"]).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((within_an_hour.num_calls(), above.num_calls()), (1, 0));
    assert!(report.notes.iter().any(|n| n.text.contains("role chaining") && n.text.contains("lowered to 3600")), "{:?}", report.notes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_skew_error_is_an_error_never_a_skipped_region() {
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    // AWS's wording for a request signed outside the allowed time window (JSON protocols).
    const SKEW: &str = "Signature expired: 20261201T100000Z is now earlier than 20261201T101500Z (20261201T103000Z - 15 min.)";
    let skewed = {
        let kms = mock!(aws_sdk_kms::Client::list_keys).then_error(|| ListKeysError::generic(err_meta("InvalidSignatureException", SKEW)));
        interceptor(&[&kms])
    };
    let f = factory(&moto, &creds, 2).with_interceptor(InRegion { region: "af-south-1", inner: skewed });
    let report = scan_with(f, &["--this-account", "--regions", "af-south-1", "--checks", "kms-key-not-pending-deletion"]).await;
    assert!(
        matches!(&report.coverage[0].status, CoverageStatus::Error(e) if e.code == "InvalidSignatureException"),
        "an opt-in region with a skewed clock is an error, not 'not enabled': {:?}",
        report.coverage
    );
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_govcloud_caller_without_a_configured_region_finds_its_home_region() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    // The other partitions (commercial us-east-1 first, then China) reject GovCloud keys; us-gov-west-1 knows them.
    let rejected = || {
        let r = mock!(aws_sdk_sts::Client::get_caller_identity).then_error(|| {
            GetCallerIdentityError::generic(err_meta("InvalidClientTokenId", "The security token included in the request is invalid."))
        });
        interceptor(&[&r])
    };
    let arn = format!("arn:aws-us-gov:iam::{account}:user/auditor");
    let a = account.clone();
    let known = {
        let r = mock!(aws_sdk_sts::Client::get_caller_identity)
            .then_output(move || GetCallerIdentityOutput::builder().account(a.clone()).arn(arn.clone()).build());
        interceptor(&[&r])
    };
    let cfg = moto.sdk_config(&creds, "us-east-1").into_builder().region(None).build();
    let f = orgscan::aws::ClientFactory::from_sdk_config(cfg)
        .with_interceptor(InRegion { region: "us-east-1", inner: rejected() })
        .with_interceptor(InRegion { region: "cn-northwest-1", inner: rejected() })
        .with_interceptor(InRegion { region: "us-gov-west-1", inner: known });
    let report = scan_with(f, &["--this-account", "--checks", "guardduty-enabled"]).await;
    let regions: std::collections::BTreeSet<&str> = report.coverage.iter().filter_map(|c| c.region.as_ref().map(|r| r.as_str())).collect();
    assert_eq!(regions, std::collections::BTreeSet::from(["us-gov-east-1", "us-gov-west-1"]), "the GovCloud partition's regions");
    assert!(report.findings.iter().all(|f| f.target.partition == orgscan::model::Partition::AwsUsGov));
    // Its regions came from the bundled table (moto serves no Account ListRegions): said per account.
    let note = report.notes.iter().find(|n| n.account.as_ref().map(|a| a.as_str()) == Some(account.as_str()));
    assert!(note.is_some_and(|n| n.text.contains("bundled region list") && n.text.contains("checked 2026-11-28")), "{:?}", report.notes);
}

#[test]
fn iso_partitions_and_their_regions_are_refused_clearly() {
    let err = "us-iso-east-1".parse::<orgscan::model::Region>().unwrap_err();
    assert!(err.contains("'us-iso-east-1'") && err.contains("aws-iso") && err.contains("does not support"), "{err}");
    let eusc: orgscan::model::Region = "eusc-de-east-1".parse().unwrap();
    assert_eq!(eusc.partition(), orgscan::model::Partition::AwsEusc);
    assert_eq!(orgscan::model::Partition::AwsEusc.home_region().as_str(), "eusc-de-east-1");
    assert_eq!(orgscan::model::Partition::AwsUsGov.home_region().as_str(), "us-gov-west-1");
}

/// The exit-code table (README, `orgscan scan --help`), each code from a real run of the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_code_of_the_table() {
    let moto = Moto::from_env();
    let refused = "http://127.0.0.1:9";
    let (clean, clean_creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::guardduty_only(0)).await.unwrap();
    let (_, failing_creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::light(1)).await.unwrap();
    let run = |creds: &Credentials, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["scan", "--this-account", "--regions", "eu-west-1", "--max-attempts", "1"];
        args.extend_from_slice(extra);
        orgscan_env(&moto.endpoint, creds, &args, env)
    };
    let code = |o: &std::process::Output| o.status.code();
    let gd = ["--checks", "guardduty-enabled"];

    assert_eq!(code(&run(&clean_creds, &gd, &[])), Some(exit::OK.into()), "0: clean");
    assert_eq!(code(&run(&failing_creds, &[], &[])), Some(exit::FAILED.into()), "1: FAILs, complete");
    assert_eq!(code(&run(&clean_creds, &["--regions", "mars-north-1"], &[])), Some(exit::USAGE.into()), "2: bad invocation");
    let o = run(&clean_creds, &gd, &[("AWS_ENDPOINT_URL_GUARDDUTY", refused)]);
    assert_eq!(code(&o), Some(exit::INCOMPLETE.into()), "3: incomplete, no FAIL: {}", stdout(&o));
    let o = run(&failing_creds, &[], &[("AWS_ENDPOINT_URL_LAMBDA", refused)]);
    assert_eq!(code(&o), Some(exit::FAILED_INCOMPLETE.into()), "4: FAILs and incomplete: {}", stdout(&o));
    // 5: an output that cannot be written (the ASFF directory of the account is taken by a file).
    let dir = tempdir();
    std::fs::write(dir.path().join(&clean), b"not a directory").unwrap();
    let o = run(&clean_creds, &[&gd[..], &["--asff-dir", dir.path().to_str().unwrap()]].concat(), &[]);
    assert_eq!(code(&o), Some(exit::OUTPUT.into()), "5: an output was not written: {}", stderr(&o));
    assert!(stderr(&o).contains("cannot create ASFF directory"), "{}", stderr(&o));
    // 6: AWS cannot be reached: nothing scanned, retry later.
    let o = orgscan_env(refused, &clean_creds, &["scan", "--this-account", "--regions", "eu-west-1", "--max-attempts", "1"], &[]);
    assert_eq!(code(&o), Some(exit::UNAVAILABLE.into()), "6: unreachable: {}", stderr(&o));
    let help = stdout(&orgscan_env(refused, &clean_creds, &["scan", "--help"], &[]));
    for n in 0..=6 {
        assert!(help.contains(&format!("\n  {n}  ")), "--help documents exit code {n}: {help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_at_start_up_is_retried_then_exit_code_6_not_a_bad_invocation() {
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    let throttled = mock!(aws_sdk_sts::Client::get_caller_identity)
        .then_error(|| GetCallerIdentityError::generic(err_meta("Throttling", "Rate exceeded")));
    let f = factory(&moto, &creds, 3).with_interceptor(interceptor(&[&throttled]));
    let plan = crate::support::plan(&["--this-account", "--regions", "eu-west-1"]);
    let err = match orgscan::run_scan(&plan, f, std::future::pending(), &mut orgscan::scan::Silent).await {
        Ok(_) => panic!("a throttled GetCallerIdentity cannot start the scan"),
        Err(e) => e,
    };
    assert_eq!(err.exit_code(), exit::UNAVAILABLE, "{err}");
    let text = err.to_string();
    assert!(text.contains("Throttling") && text.contains("retry later") && !text.contains("credentials"), "said as what it is: {text}");
    assert_eq!(throttled.num_calls(), 3, "retried up to --max-attempts like every other call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_on_stdout_pipes_into_jq_and_logs_can_be_json_lines() {
    let moto = Moto::from_env();
    let (_, creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::light(1)).await.unwrap();
    let o = orgscan_env(
        &moto.endpoint,
        &creds,
        &["scan", "--this-account", "--regions", "eu-west-1", "--json", "-", "--log-format", "json", "-v"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // jq reads stdout as the report (scripts/test.sh installs jq; without it this test fails).
    let mut jq = Command::new("jq")
        .args(["-e", "[.findings[] | select(.status == \"FAIL\")] | length"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("jq is needed (scripts/test.sh installs it): {e}"));
    std::io::Write::write_all(jq.stdin.as_mut().unwrap(), &o.stdout).unwrap();
    drop(jq.stdin.take());
    let mut n = String::new();
    jq.stdout.take().unwrap().read_to_string(&mut n).unwrap();
    assert!(jq.wait().unwrap().success(), "jq could not read the report");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fails = report["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "FAIL").count();
    assert_eq!(n.trim(), fails.to_string());
    // The summary went to stderr, and every log line there is one JSON object.
    let err = stderr(&o);
    assert!(err.contains("FAIL: ") && err.contains("(exit code 1)"), "{err}");
    let logs: Vec<&str> = err.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!logs.is_empty(), "-v logs at INFO: {err}");
    for l in logs {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
}
