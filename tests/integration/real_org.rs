//! Real organizations, which moto does not model, through the AWS-realism proxy (tests/support/realism.rs):
//! AWS Control Tower's Region deny SCP (with `kms:*` exempt), a deny in an identity-based policy, and KMS key
//! policies that lock the reader out, each answered with the error AWS returns for it.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::estate::{Expected, Mix, Moto, create_org, seed_account, seed_org};
use crate::support::realism::{Realism, region_deny_exempts};
use crate::support::{assert_valid, expected_rows, orgscan_env, read_json, report_rows, scan_with, stdout, tempdir};

const GOVERNED: &str = "eu-west-1";
const DENIED: &str = "ap-southeast-2";

/// Whether the Region deny closes `check` in a region it does not govern: a check whose reads are all
/// exempted (KMS's) is still evaluated there.
fn closed_by_region_deny(check: &str) -> bool {
    orgscan::check::by_id(check).is_some_and(|c| c.info().iam_actions.iter().any(|a| !region_deny_exempts(a)))
}

async fn proxy(moto: &Moto) -> Realism {
    Realism::start(&moto.endpoint).await.unwrap_or_else(|e| panic!("cannot start the realism proxy: {e}"))
}

/// (check, account, region, status, skip_cause, denied_action) of every coverage entry.
fn coverage(report: &Value) -> Vec<(String, String, String, String, Value, Value)> {
    report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("check_id"), s("account_id"), s("region"), s("status"), c["skip_cause"].clone(), c["denied_action"].clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_tower_region_deny_closes_scopes_without_errors_and_kms_is_still_evaluated_there() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 3).await.unwrap();
    let regions = [GOVERNED, DENIED];
    let (expected, _) = seed_org(&moto, &org, &regions, |i, r| if i == 0 && r == 0 { Mix::full(1) } else { Mix::light(2) }).await.unwrap();
    let p = proxy(&moto).await;
    p.register_key(org.management_creds.access_key_id(), &org.management);
    // Two members sit under the landing zone's Region deny: only eu-west-1 and us-east-1 are governed.
    let denied: Vec<String> = org.members.iter().take(2).map(|m| m.0.clone()).collect();
    for a in &denied {
        p.region_deny(a, &[GOVERNED, "us-east-1"]);
    }

    let dir = tempdir();
    let json = dir.path().join("r.json");
    let sarif = dir.path().join("r.sarif");
    let args = ["scan", "--regions", "eu-west-1,ap-southeast-2", "--json", json.to_str().unwrap(), "--sarif", sarif.to_str().unwrap()];
    let o = orgscan_env(&p.endpoint, &org.management_creds, &args, &[]);
    let report = read_json(&json);
    assert_valid("report.schema.json", &report);

    // Zero errors; exit code as for a failing scan (the estate has FAILs), not incomplete.
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{:#}", report["errors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let cov = coverage(&report);
    for (check, account, region, status, cause, action) in &cov {
        let closed = denied.contains(account) && region == DENIED && closed_by_region_deny(check);
        if closed {
            assert_eq!((status.as_str(), cause.as_str()), ("skipped", Some("service_control_policy")), "{check} {account} {region}");
            assert!(action.as_str().is_some_and(|a| a.starts_with(&format!("{}:", service_prefix(check)))), "{check}: {action}");
        } else {
            assert_eq!(status, "evaluated", "{check} {account} {region}");
            assert!(cause.is_null());
        }
    }
    let closed_checks = orgscan::check::ids().filter(|c| closed_by_region_deny(c)).count();
    assert!(closed_checks >= 4 && !closed_by_region_deny("kms-key-not-pending-deletion"), "{closed_checks}");
    assert_eq!(cov.iter().filter(|c| c.3 == "skipped").count(), 2 * closed_checks, "every closed check in one region of 2 accounts");
    // Findings exactly those of the evaluated scopes: KMS in the denied region included.
    let open = |e: &Expected| !(denied.contains(&e.account) && e.region == DENIED && closed_by_region_deny(e.check_id));
    let want: Vec<Expected> = expected.iter().filter(|e| open(e)).cloned().collect();
    assert_eq!(report_rows(&report), expected_rows(&want));
    assert!(want.iter().any(|e| e.region == DENIED && denied.contains(&e.account)), "KMS is evaluated in the denied region");
    // Every denial the proxy made is one the report shows as closed, and none was an error.
    let denials = p.denials();
    assert_eq!(denials.iter().map(|d| (&d.0, &d.1)).collect::<BTreeSet<_>>().len(), 2);
    assert!(denials.iter().all(|d| d.1 == DENIED && !d.2.starts_with("kms:")), "{denials:?}");

    // Account names and OU paths on findings and coverage.
    let f = report["findings"].as_array().unwrap().iter().find(|f| f["account_id"] == denied[0].as_str()).unwrap();
    assert_eq!(f["account_name"], "member-0");
    assert_eq!(f["ou_path"], "Root/prod");
    // The summary groups the closed regions; SARIF says it in a note and the run is still successful.
    let text = stdout(&o);
    assert!(text.contains("2 region(s) closed by SCP in 2 account(s)"), "{text}");
    let log = read_json(&sarif);
    assert_valid("sarif-2.1.0.schema.json", &log);
    let inv = &log["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], true);
    let notes: Vec<&Value> = inv["toolExecutionNotifications"].as_array().unwrap().iter().filter(|n| n["level"] == "note").collect();
    assert_eq!(notes.len(), 2, "one note per account closed by SCP: {notes:?}");
    assert!(notes[0]["message"]["text"].as_str().unwrap().contains("Closed by a service control policy"));
    let result = &log["runs"][0]["results"][0];
    assert!(result["properties"]["account_name"].is_string() && result["properties"]["ou_path"].is_string(), "{result}");

    // --scp-denied error: the same denies count as incomplete.
    orgscan_env(&p.endpoint, &org.management_creds, &[&args[..], &["--scp-denied", "error"]].concat(), &[]);
    let report = read_json(&json);
    assert_eq!(report["errors"].as_array().unwrap().len(), 2 * closed_checks);
    assert!(coverage(&report).iter().all(|c| c.4.is_null()), "no scope is skipped by policy");
}

fn service_prefix(check: &str) -> &'static str {
    orgscan::check::ALL.iter().find(|c| c.info().id == check).map(|c| c.info().service.iam_prefix()).unwrap_or("?")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_that_is_not_an_scp_is_an_error_of_that_check_only() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let regions = [GOVERNED, "eu-west-2"];
    seed_account(&moto, &creds, &account, &regions, |_| Mix::light(0)).await.unwrap();
    let p = proxy(&moto).await;
    p.register_key(creds.access_key_id(), &account);
    p.identity_deny(&account, GOVERNED, "lambda:ListFunctions");
    let report =
        scan_with(Moto { endpoint: p.endpoint.clone() }.factory(&creds), &["--this-account", "--regions", "eu-west-1,eu-west-2"]).await;
    let errored: Vec<_> = report.coverage.iter().filter(|c| c.status.as_str() == "error").collect();
    assert_eq!(errored.len(), 1, "{:?}", report.coverage);
    assert_eq!((errored[0].check_id, errored[0].region.as_ref().map(|r| r.as_str())), ("lambda-supported-runtime", Some(GOVERNED)));
    assert!(matches!(&errored[0].status, orgscan::model::CoverageStatus::Error(e)
        if e.code == "AccessDeniedException" && e.message.contains("identity-based policy")));
    assert_eq!(report.coverage.iter().filter(|c| c.status.as_str() == "evaluated").count(), 2 * orgscan::check::ALL.len() - 1);
    assert_eq!(report.exit_code(), orgscan::model::exit::FAILED_INCOMPLETE, "a pending key fails, and one scope is an error");
    assert!(report.has_errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_whose_key_policy_locks_the_reader_out_are_not_evaluable_and_the_others_are_exact() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let mut expected = seed_account(&moto, &creds, &account, &[GOVERNED], |_| Mix::guardduty_only(0)).await.unwrap();
    // Two rounds of the KMS estate, two of its keys (one pending deletion) locked by their key policy.
    let mut per_round = Vec::new();
    for _ in 0..2 {
        let round: Vec<Expected> = seed_account(&moto, &creds, &account, &[GOVERNED], |_| Mix { kms: true, ..Mix::guardduty_only(9) })
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.check_id == "kms-key-not-pending-deletion")
            .collect();
        per_round.push(round.len());
        expected.extend(round);
    }
    let keys: Vec<&Expected> = expected.iter().filter(|e| e.check_id == "kms-key-not-pending-deletion").collect();
    assert!(per_round[0] >= 3 && per_round[0] == per_round[1], "{per_round:?}");
    assert_eq!(keys.len(), 2 * per_round[0]);
    let locked = [keys[0].clone(), keys.iter().find(|k| k.status == "FAIL").copied().unwrap().clone()];
    let p = proxy(&moto).await;
    p.register_key(creds.access_key_id(), &account);
    for k in &locked {
        p.key_policy_deny(&account, GOVERNED, &k.resource_id);
    }

    let dir = tempdir();
    let json = dir.path().join("r.json");
    let sarif = dir.path().join("r.sarif");
    // The check of the keys' deletion, and GuardDuty's: every other check that reads these keys would count
    // them again.
    let checks = "kms-key-not-pending-deletion,guardduty-enabled";
    let (json_path, sarif_path) = (json.to_str().unwrap(), sarif.to_str().unwrap());
    let args = ["scan", "--this-account", "--regions", GOVERNED, "--checks", checks, "--json", json_path, "--sarif", sarif_path];
    let o = orgscan_env(&p.endpoint, &creds, &args, &[]);
    let report = read_json(&json);
    assert_valid("report.schema.json", &report);
    let want: Vec<Expected> = expected.iter().filter(|e| !locked.iter().any(|l| l.resource_id == e.resource_id)).cloned().collect();
    assert_eq!(report_rows(&report), expected_rows(&want), "the other keys' findings are exact");
    let ne = report["not_evaluable"].as_array().unwrap();
    let got: BTreeSet<(&str, &str)> = ne.iter().map(|n| (n["resource_arn"].as_str().unwrap(), n["code"].as_str().unwrap())).collect();
    let want_ne: BTreeSet<(&str, &str)> = locked.iter().map(|k| (k.resource_arn.as_str(), "AccessDeniedException")).collect();
    assert_eq!(got, want_ne);
    assert!(
        ne.iter().all(|n| n["message"].as_str().unwrap().contains("because no resource-based policy allows the kms:DescribeKey action"))
    );
    let kms_cov = report["coverage"].as_array().unwrap().iter().find(|c| c["check_id"] == "kms-key-not-pending-deletion").unwrap();
    assert_eq!(kms_cov["status"], "evaluated");
    assert_eq!(report["errors"].as_array().unwrap().len(), 0);
    // A locked key is never a PASS: the scan is incomplete where it would otherwise have been clean.
    assert_eq!(o.status.code(), Some(4), "the other pending key still fails, and two keys went unread");
    assert!(stdout(&o).contains("Not evaluable (2;"), "{}", stdout(&o));
    let log = read_json(&sarif);
    assert_valid("sarif-2.1.0.schema.json", &log);
    let inv = &log["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false, "a run that could not read everything is not successful");
    let warnings = inv["toolExecutionNotifications"].as_array().unwrap().iter().filter(|n| n["level"] == "warning").count();
    assert_eq!(warnings, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_hub_imports_and_resolves_the_evaluated_checks_where_another_check_errored_and_keeps_locked_keys() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let expected = seed_account(&moto, &creds, &account, &[GOVERNED], |_| Mix::light(2)).await.unwrap();
    let p = proxy(&moto).await;
    p.register_key(creds.access_key_id(), &account);
    let through = Moto { endpoint: p.endpoint.clone() };
    let args = ["--this-account", "--regions", GOVERNED, "--security-hub"];
    let first = crate::securityhub::scan_import(through.factory(&creds), &args).await;
    assert!(!first.stats.security_hub.as_ref().unwrap().has_problems());
    let before = crate::securityhub::findings_by_resource(&moto, &creds, GOVERNED).await;
    let pending = expected.iter().find(|e| e.check_id == "kms-key-not-pending-deletion" && e.status == "FAIL").unwrap();
    assert_eq!(before[&pending.resource_arn], ("FAILED".to_owned(), "ACTIVE".to_owned()));

    // Between runs: GuardDuty is enabled (its account FAIL is fixed), Lambda's listing is denied by an
    // identity policy (an error of that check), and the pending key's key policy locks orgscan out.
    aws_sdk_guardduty::Client::new(&moto.sdk_config(&creds, GOVERNED)).create_detector().enable(true).send().await.unwrap();
    p.identity_deny(&account, GOVERNED, "lambda:ListFunctions");
    p.key_policy_deny(&account, GOVERNED, &pending.resource_id);
    let second = crate::securityhub::scan_import(through.factory(&creds), &args).await;
    let sh = second.stats.security_hub.as_ref().unwrap();
    assert_eq!(sh.scopes.len(), 1);
    assert_eq!(sh.scopes[0].untouched.iter().map(|u| u.0.as_str()).collect::<Vec<_>>(), ["lambda-supported-runtime"]);
    assert!(sh.scopes[0].counts.resolved >= 1, "{:?}", sh.scopes[0].counts);
    let after = crate::securityhub::findings_by_resource(&moto, &creds, GOVERNED).await;
    // GuardDuty's account-level FAIL is resolved; the locked key's live FAIL and every Lambda finding stay.
    assert_eq!(after[&format!("AWS::::Account:{account}")], ("FAILED".to_owned(), "ARCHIVED".to_owned()));
    assert_eq!(after[&pending.resource_arn], before[&pending.resource_arn], "never resolved or archived while unreadable");
    for e in expected.iter().filter(|e| e.check_id == "lambda-supported-runtime") {
        assert_eq!(after[&e.resource_arn], before[&e.resource_arn], "{}", e.resource_id);
    }
    // The locked key is not evaluable (to every check that reads keys), and nothing else is.
    assert!(second.not_evaluable.iter().all(|n| n.resource.arn == pending.resource_arn), "{:?}", second.not_evaluable);
    assert_eq!(second.not_evaluable.iter().filter(|n| n.check_id == pending.check_id).count(), 1);
}
