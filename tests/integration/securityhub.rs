//! ASFF batches and the Security Hub import: end to end against moto (which keeps Security Hub findings per
//! account and region, updates them in place by `Id`, and ignores `GetFindings` filters), and with
//! aws-smithy-mocks for what moto cannot express (`FailedFindings`, throttling, `InvalidAccessException`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_sdk_kms::operation::list_keys::ListKeysError;
use aws_sdk_securityhub::operation::batch_import_findings::{BatchImportFindingsError, BatchImportFindingsOutput};
use aws_sdk_securityhub::operation::get_findings::GetFindingsError;
use aws_sdk_securityhub::types::{AwsSecurityFinding, ImportFindingsError};
use aws_smithy_mocks::mock;
use futures::{StreamExt, TryStreamExt, stream};
use orgscan::aws::ClientFactory;
use orgscan::model::import::{ImportReport, ImportStatus};
use orgscan::model::{ScanReport, exit};
use orgscan::securityhub::asff::{self, AsffFinding};
use serde_json::Value;

use crate::support::estate::{Expected, Mix, Moto, create_org, seed_account, seed_org, seeded_account};
use crate::support::{
    assert_valid, err_meta, orgscan, passthrough as interceptor, plan, quick_factory as factory, read_json, stderr, stdout, tempdir,
};

// ---------------------------------------------------------------------------------------------------------
// Helpers

/// Scans in-process, then writes `--asff-dir` and imports with `--security-hub` as `orgscan scan` does.
pub(crate) async fn scan_import(factory: ClientFactory, args: &[&str]) -> ScanReport {
    let plan = plan(args);
    let mut outcome =
        match orgscan::run_scan_with_accounts(&plan, factory.clone(), std::future::pending(), &mut orgscan::scan::Silent).await {
            Ok(o) => o,
            Err(e) => panic!("scan did not start: {e}"),
        };
    if let Some(dir) = &plan.security_hub.asff_dir {
        let errors = orgscan::securityhub::batch::write_dir(&outcome.report, dir, outcome.report.finished_at);
        assert!(errors.is_empty(), "{errors:?}");
    }
    if plan.security_hub.import {
        orgscan::import_security_hub(&mut outcome, &plan, &factory, std::future::pending()).await;
    }
    outcome.report
}

fn import_of(report: &ScanReport) -> &ImportReport {
    report.stats.security_hub.as_ref().expect("the import ran")
}

fn calls(report: &ScanReport, op: &str) -> (u64, u64) {
    report.stats.api.get(&("SecurityHub".to_owned(), op.to_owned())).map(|c| (c.calls, c.attempts)).unwrap_or((0, 0))
}

/// orgscan's findings in one account and region, read with that account's credentials.
async fn read_back(moto: &Moto, creds: &Credentials, region: &str) -> Vec<AwsSecurityFinding> {
    let sh = aws_sdk_securityhub::Client::new(&moto.sdk_config(creds, region));
    let pages: Vec<_> = sh.get_findings().max_results(100).into_paginator().send().try_collect().await.unwrap();
    pages
        .iter()
        .flat_map(|p| p.findings().iter().cloned())
        .filter(|f| f.generator_id().is_some_and(|g| g.starts_with("orgscan/")))
        .collect()
}

/// Resources[0].Id -> (Compliance.Status, RecordState) of orgscan's findings in one account and region.
pub(crate) async fn findings_by_resource(moto: &Moto, creds: &Credentials, region: &str) -> BTreeMap<String, (String, String)> {
    rows(&read_back(moto, creds, region).await).into_iter().map(|r| (r.2, (r.3, r.4))).collect()
}

/// (Id, AwsAccountId, Resources[0].Id, Compliance.Status, RecordState).
type Row = (String, String, String, String, String);

fn rows(findings: &[AwsSecurityFinding]) -> Vec<Row> {
    let mut v: Vec<Row> = findings
        .iter()
        .map(|f| {
            (
                f.id().unwrap_or_default().to_owned(),
                f.aws_account_id().unwrap_or_default().to_owned(),
                f.resources().first().and_then(|r| r.id()).unwrap_or_default().to_owned(),
                f.compliance().and_then(|c| c.status()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                f.record_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

/// (AwsAccountId, Resources[0].Id, Compliance.Status, RecordState) the seeded estate must leave in one scope.
fn expected_rows(expected: &[Expected], account: &str, region: &str) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = expected
        .iter()
        .filter(|e| e.account == account && e.region == region)
        .map(|e| {
            let rid = if e.resource_type == "AwsAccount" { format!("AWS::::Account:{}", e.account) } else { e.resource_arn.clone() };
            let (c, s) = if e.status == "FAIL" { ("FAILED", "ACTIVE") } else { ("PASSED", "ARCHIVED") };
            (e.account.clone(), rid, c.to_owned(), s.to_owned())
        })
        .collect();
    v.sort();
    v
}

fn without_id(rows: &[Row]) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = rows.iter().map(|r| (r.1.clone(), r.2.clone(), r.3.clone(), r.4.clone())).collect();
    v.sort();
    v
}

/// Every ASFF batch file under `dir`: each validates against the schema, holds at most 100 findings and
/// converts into the SDK's `AwsSecurityFinding` with every required field. Returns the findings by scope.
pub(crate) fn check_asff_dir(dir: &Path) -> BTreeMap<(String, String), Vec<Vec<AsffFinding>>> {
    let mut out: BTreeMap<(String, String), Vec<Vec<AsffFinding>>> = BTreeMap::new();
    for account in std::fs::read_dir(dir).unwrap() {
        let account = account.unwrap();
        for region in std::fs::read_dir(account.path()).unwrap() {
            let region = region.unwrap();
            let mut files: Vec<_> = std::fs::read_dir(region.path()).unwrap().map(|f| f.unwrap().path()).collect();
            files.sort();
            for file in files {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                assert!(name.starts_with("batch-") && name.ends_with(".json"), "unexpected file {}", file.display());
                assert!(std::fs::metadata(&file).unwrap().len() < 6_000_000);
                let batch = read_json(&file);
                let items = batch.as_array().unwrap_or_else(|| panic!("{} is not a JSON array", file.display()));
                assert!(!items.is_empty() && items.len() <= 100, "{} holds {} findings", file.display(), items.len());
                for item in items {
                    assert_valid("asff-finding.schema.json", item);
                }
                let findings: Vec<AsffFinding> = serde_json::from_value(batch.clone()).unwrap();
                for f in &findings {
                    let missing = asff::missing_required(&f.to_sdk());
                    assert!(missing.is_empty(), "{} lacks {missing:?}", f.id);
                    assert_eq!(
                        (f.aws_account_id.as_str(), f.resources[0].region.as_str()),
                        (account.file_name().to_str().unwrap(), region.file_name().to_str().unwrap())
                    );
                }
                let key = (account.file_name().to_string_lossy().into_owned(), region.file_name().to_string_lossy().into_owned());
                out.entry(key).or_default().push(findings);
            }
        }
    }
    out
}

fn totals(report: &Value) -> (u64, u64, u64, u64, u64) {
    let t = &report["security_hub"]["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    (n("new"), n("updated"), n("archived"), n("resolved"), n("failed"))
}

// ---------------------------------------------------------------------------------------------------------
// moto, end to end

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_import_leaves_one_finding_per_resource_and_a_rerun_resolves_the_fixed_key_without_duplicates() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 2).await.unwrap();
    let regions = ["eu-west-1", "ap-northeast-1"];
    let (mut expected, creds) = seed_org(&moto, &org, &regions, |a, r| Mix::light(((a + r) % 3) as u8)).await.unwrap();
    assert_eq!(creds.len(), 3);

    let dir = tempdir();
    let asff_dir = dir.path().join("asff");
    let json = dir.path().join("report.json");
    let args = ["scan", "--regions", "eu-west-1,ap-northeast-1", "--asff-dir", asff_dir.to_str().unwrap(), "--security-hub"];
    let run = |out: &Path| {
        let mut a = args.to_vec();
        a.extend(["--json", out.to_str().unwrap()]);
        let o = orgscan(&moto, &org.management_creds, &a);
        assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("Security Hub import"), "{}", stdout(&o));
        let report = read_json(out);
        assert_valid("report.schema.json", &report);
        report
    };
    let report = run(&json);
    let fails = expected.iter().filter(|e| e.status == "FAIL").count() as u64;
    let passes = expected.len() as u64 - fails;
    assert_eq!(totals(&report), (fails, 0, passes, 0, 0));
    let scopes = report["security_hub"]["scopes"].as_array().unwrap();
    assert_eq!(scopes.len(), 6);
    assert!(scopes.iter().all(|s| s["status"] == "imported"), "{scopes:?}");

    // The ids Security Hub holds are the report's fingerprints.
    let ids: BTreeSet<String> = report["findings"].as_array().unwrap().iter().map(asff_id).collect();
    assert_eq!(ids.len(), expected.len());

    // Each account reads back exactly its seeded findings, in each region, with its own credentials.
    let mut first: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for (account, c) in &creds {
        for region in regions {
            let got = rows(&read_back(&moto, c, region).await);
            assert_eq!(without_id(&got), expected_rows(&expected, account, region), "{account}/{region}");
            assert!(got.iter().all(|r| ids.contains(&r.0)), "{account}/{region}: unexpected ids");
            first.insert((account.clone(), region.to_owned()), got);
        }
    }
    // The batch files hold the same findings.
    let files = check_asff_dir(&asff_dir);
    assert_eq!(files.len(), 6);
    for ((account, region), batches) in &files {
        let n: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(n, first[&(account.clone(), region.clone())].len(), "{account}/{region}");
    }

    // Fix one resource: cancel the deletion of the management account's pending key in eu-west-1.
    let pending = expected
        .iter_mut()
        .find(|e| {
            e.account == org.management && e.region == "eu-west-1" && e.check_id == "kms-key-not-pending-deletion" && e.status == "FAIL"
        })
        .unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&org.management_creds, "eu-west-1"));
    kms.cancel_key_deletion().key_id(&pending.resource_id).send().await.unwrap();
    pending.status = "PASS";
    let fixed_arn = pending.resource_arn.clone();

    let json2 = dir.path().join("report2.json");
    let report2 = run(&json2);
    assert_eq!(totals(&report2), (0, fails - 1, passes + 1, 1, 0));
    for (account, c) in &creds {
        for region in regions {
            let got = rows(&read_back(&moto, c, region).await);
            assert_eq!(without_id(&got), expected_rows(&expected, account, region), "{account}/{region} after the fix");
            // The same ids, updated in place: no duplicate.
            let before: Vec<&String> = first[&(account.clone(), region.to_owned())].iter().map(|r| &r.0).collect();
            let after: Vec<&String> = got.iter().map(|r| &r.0).collect();
            assert_eq!(before, after, "{account}/{region}");
        }
    }
    let fixed = rows(&read_back(&moto, &org.management_creds, "eu-west-1").await).into_iter().find(|r| r.2 == fixed_arn).unwrap();
    assert_eq!((fixed.3.as_str(), fixed.4.as_str()), ("PASSED", "ARCHIVED"));
    check_asff_dir(&asff_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_failed_imports_fails_only_and_archives_what_a_later_run_no_longer_reports() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let region = "eu-north-1";
    // The checks of a deprecated Lambda runtime and a key pending deletion: another check's FAILs on the same
    // resources would be findings of their own in every count below.
    let mine = "lambda-supported-runtime,kms-key-not-pending-deletion";
    let expected: Vec<Expected> = seed_account(&moto, &creds, &account, &[region], |_| Mix::light(0))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| mine.split(',').any(|c| c == e.check_id))
        .collect();
    let f = || factory(&moto, &creds, 2);
    let base = ["--this-account", "--regions", region, "--security-hub", "--security-hub-only-failed", "--checks", mine];

    let report = scan_import(f(), &base).await;
    let fails: Vec<&Expected> = expected.iter().filter(|e| e.status == "FAIL").collect();
    assert_eq!(fails.len(), 2, "a deprecated Lambda runtime and a pending key");
    let got = rows(&read_back(&moto, &creds, region).await);
    let only_fails: Vec<_> = expected_rows(&expected, &account, region).into_iter().filter(|r| r.2 == "FAILED").collect();
    assert_eq!(without_id(&got), only_fails, "no finding is created for a passing resource");
    assert_eq!(import_of(&report).totals().new, 2);

    // A run of another check leaves these findings alone.
    let other = base.map(|a| if a == mine { "guardduty-enabled" } else { a });
    let report = scan_import(f(), &other).await;
    assert_eq!(import_of(&report).totals(), Default::default());
    assert_eq!(rows(&read_back(&moto, &creds, region).await), got);

    // Fix the key and delete the deprecated function: its finding can no longer be reported.
    let key = fails.iter().find(|e| e.check_id == "kms-key-not-pending-deletion").unwrap();
    let function = fails.iter().find(|e| e.check_id == "lambda-supported-runtime").unwrap();
    let cfg = moto.sdk_config(&creds, region);
    aws_sdk_kms::Client::new(&cfg).cancel_key_deletion().key_id(&key.resource_id).send().await.unwrap();
    aws_sdk_lambda::Client::new(&cfg).delete_function().function_name(&function.resource_id).send().await.unwrap();

    // A dry run reads and counts, and changes nothing.
    let dry = scan_import(f(), &[&base[..], &["--dry-run"]].concat()).await;
    let sh = import_of(&dry);
    assert!(sh.dry_run && sh.scopes.iter().all(|s| s.status == ImportStatus::DryRun));
    let t = sh.totals();
    assert_eq!((t.new, t.updated, t.archived, t.resolved), (0, 0, 2, 2));
    assert_eq!(calls(&dry, "BatchImportFindings").0, 0);
    assert!(calls(&dry, "GetFindings").0 >= 1);
    assert_eq!(rows(&read_back(&moto, &creds, region).await), got, "a dry run sends nothing");
    let text = orgscan::report::text::render(&dry);
    assert!(text.contains("DRY RUN") && text.contains(region), "{text}");

    let report = scan_import(f(), &base).await;
    let t = import_of(&report).totals();
    assert_eq!((t.new, t.updated, t.archived, t.resolved, t.failed), (0, 0, 2, 2, 0));
    let after = rows(&read_back(&moto, &creds, region).await);
    assert_eq!(after.iter().map(|r| &r.0).collect::<Vec<_>>(), got.iter().map(|r| &r.0).collect::<Vec<_>>(), "same ids, no new finding");
    let state = |arn: &str| after.iter().find(|r| r.2 == arn).map(|r| (r.3.clone(), r.4.clone())).unwrap();
    assert_eq!(state(&key.resource_arn), ("PASSED".to_owned(), "ARCHIVED".to_owned()), "the fixed key is resolved");
    assert_eq!(state(&function.resource_arn).1, "ARCHIVED", "the deleted function's finding is archived");
    assert_eq!(report.exit_code(), exit::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_with_more_than_100_findings_is_sent_in_calls_of_at_most_100() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let region = "sa-east-1";
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, region));
    let keys: Vec<String> =
        stream::iter(0..120)
            .map(|i| {
                let kms = kms.clone();
                async move {
                    kms.create_key().description(format!("bulk {i}")).send().await.map(|k| k.key_metadata().unwrap().key_id().to_owned())
                }
            })
            .buffer_unordered(8)
            .try_collect()
            .await
            .unwrap();
    assert_eq!(keys.len(), 120);

    // Records the number of findings in every BatchImportFindings request (never matches: all go to moto).
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let s = sizes.clone();
    let record = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .match_requests(move |r| {
            s.lock().unwrap().push(r.findings().len());
            false
        })
        .then_output(|| BatchImportFindingsOutput::builder().build());
    let dir = tempdir();
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&record]));
    let report = scan_import(
        f,
        &[
            "--this-account",
            "--regions",
            region,
            "--checks",
            "kms-key-not-pending-deletion",
            "--security-hub",
            "--asff-dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(report.findings.len(), 120);
    assert_eq!(calls(&report, "BatchImportFindings"), (2, 2));
    assert_eq!(*sizes.lock().unwrap(), vec![100, 20]);
    assert_eq!(import_of(&report).totals().archived, 120);
    let back = read_back(&moto, &creds, region).await;
    assert_eq!(back.len(), 120);
    assert_eq!(back.iter().map(|f| f.id().unwrap()).collect::<BTreeSet<_>>().len(), 120);
    let files = check_asff_dir(dir.path());
    let batches = &files[&(account.clone(), region.to_owned())];
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 20]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_errored_is_left_as_it_is_while_the_others_are_imported_and_resolved() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let region = "ca-central-1";
    // GuardDuty: no detector (a FAIL on the account); KMS: one key pending deletion among others.
    let expected = seed_account(&moto, &creds, &account, &[region], |_| Mix::light(2)).await.unwrap();
    let checks = ["--this-account", "--regions", region, "--checks", "kms-key-not-pending-deletion,guardduty-enabled", "--security-hub"];
    let report = scan_import(factory(&moto, &creds, 2), &checks).await;
    assert!(!import_of(&report).has_problems());
    let before = rows(&read_back(&moto, &creds, region).await);
    let selected = |e: &&Expected| matches!(e.check_id, "kms-key-not-pending-deletion" | "guardduty-enabled");
    assert_eq!(before.len(), expected.iter().filter(selected).count());
    let kms_rows = |rows: &[Row]| rows.iter().filter(|r| r.2.contains(":key/")).cloned().collect::<Vec<_>>();

    // GuardDuty is fixed, and KMS is denied (not by an SCP): an error for KMS only. GuardDuty is still imported
    // in this region and its old finding resolved; KMS's findings, the pending key's live one among them,
    // stay exactly as they were (an unread check never reads as "no longer reported").
    aws_sdk_guardduty::Client::new(&moto.sdk_config(&creds, region)).create_detector().enable(true).send().await.unwrap();
    let deny = mock!(aws_sdk_kms::Client::list_keys).then_error(|| ListKeysError::generic(err_meta("AccessDeniedException", "denied")));
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&deny]));
    let report = scan_import(f, &checks).await;
    let sh = import_of(&report);
    assert_eq!(sh.scopes.len(), 1);
    let t = &sh.scopes[0];
    assert_eq!(t.status, ImportStatus::Imported, "{:?}", sh.scopes);
    assert_eq!(t.untouched, vec![("kms-key-not-pending-deletion".to_owned(), "not evaluated (AccessDeniedException)".to_owned())]);
    assert_eq!((t.counts.resolved, t.counts.new, t.counts.failed), (1, 0, 0), "the account's GuardDuty FAIL is resolved: {:?}", t.counts);
    let after = rows(&read_back(&moto, &creds, region).await);
    assert_eq!(kms_rows(&after), kms_rows(&before), "KMS findings untouched");
    let account_finding = after.iter().find(|r| r.2 == format!("AWS::::Account:{account}")).unwrap();
    assert_eq!((account_finding.3.as_str(), account_finding.4.as_str()), ("FAILED", "ARCHIVED"), "resolved: {account_finding:?}");
    assert!(
        orgscan::report::text::render(&report)
            .contains("kms-key-not-pending-deletion in 1 region(s): not evaluated (AccessDeniedException)")
    );
}

// ---------------------------------------------------------------------------------------------------------
// aws-smithy-mocks: what moto cannot express

/// A GuardDuty-only estate that passes everywhere: the exit code then shows the import's own problems.
async fn passing_account(moto: &Moto, regions: &[&str]) -> (String, Credentials) {
    let (account, creds) = seeded_account(moto, regions, |_| Mix::guardduty_only(0)).await.unwrap();
    (account, creds)
}

/// The Security Hub id of a finding (or of a related finding) of the JSON report: `orgscan/CHECK/FINGERPRINT`.
pub(crate) fn asff_id(f: &Value) -> String {
    format!("orgscan/{}/{}", f["check_id"].as_str().unwrap(), f["fingerprint"].as_str().unwrap())
}

fn failed(id: &str, code: &str, message: &str) -> ImportFindingsError {
    ImportFindingsError::builder().id(id).error_code(code).error_message(message).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_findings_are_re_sent_only_when_retryable_and_every_permanent_one_is_reported() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let region = "eu-west-3";
    let expected = seed_account(&moto, &creds, &account, &[region], |_| Mix::light(0)).await.unwrap();

    // First call: one finding fails with a transient code, one with a permanent code (HTTP 200 all the same).
    // Later calls go to moto. Every request's ids are recorded.
    let requests: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let (r, n) = (requests.clone(), Arc::new(Mutex::new(0)));
    let first = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .match_requests(move |req| {
            r.lock().unwrap().push(req.findings().iter().map(|f| f.id().unwrap().to_owned()).collect());
            let mut n = n.lock().unwrap();
            *n += 1;
            *n == 1
        })
        .then_compute_output(|req| {
            let ids: Vec<&str> = req.findings().iter().map(|f| f.id().unwrap()).collect();
            BatchImportFindingsOutput::builder()
                .failed_count(2)
                .success_count(ids.len() as i32 - 2)
                .failed_findings(failed(ids[0], "InternalFailure", "Internal service failure"))
                .failed_findings(failed(ids[1], "InvalidInput", "Finding does not adhere to Amazon Finding Format"))
                .build()
        });
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&first]));
    let dir = tempdir();
    let json = dir.path().join("r.json");
    let report = scan_import(f, &["--this-account", "--regions", region, "--security-hub"]).await;
    let sent = requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].len(), expected.len(), "a finding of every resource of the estate, in one batch");
    assert_eq!(sent[1], vec![sent[0][0].clone()], "only the retryable failure is re-sent");
    assert_eq!(calls(&report, "BatchImportFindings").0, 2);

    let sh = import_of(&report);
    assert_eq!(sh.failures.len(), 1);
    let fail = &sh.failures[0];
    assert_eq!((fail.finding_id.as_str(), fail.code.as_str()), (sent[0][1].as_str(), "InvalidInput"));
    assert!(fail.message.contains("Amazon Finding Format"));
    let t = sh.totals();
    assert_eq!((t.new + t.updated + t.archived, t.failed), (expected.len() - 1, 1));
    assert_eq!(sh.scopes[0].status, ImportStatus::Imported);
    assert_eq!(report.exit_code(), exit::FAILED_INCOMPLETE, "the estate has FAILs, and the import did not complete");
    // The failure is in the summary and the JSON report.
    assert!(orgscan::report::text::render(&report).contains(&format!("{} InvalidInput", sent[0][1])));
    orgscan::files::write_atomic(&json, |w| orgscan::json::to_writer(&report, w)).unwrap();
    let j = read_json(&json);
    assert_valid("report.schema.json", &j);
    assert_eq!(j["security_hub"]["failed_findings"][0]["code"], "InvalidInput");
    assert_eq!(j["security_hub"]["failed_findings"][0]["finding_id"], sent[0][1].as_str());

    // A transient failure that never clears: re-sent up to --max-attempts, then reported; exit code 3 when
    // nothing else is wrong.
    let (_, creds) = passing_account(&moto, &[region]).await;
    let always = mock!(aws_sdk_securityhub::Client::batch_import_findings).then_compute_output(|req| {
        let mut out = BatchImportFindingsOutput::builder().failed_count(req.findings().len() as i32).success_count(0);
        for f in req.findings() {
            out = out.failed_findings(failed(f.id().unwrap(), "InternalFailure", "Internal service failure"));
        }
        out.build()
    });
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&always]));
    let report = scan_import(f, &["--this-account", "--regions", region, "--security-hub", "--max-attempts", "3"]).await;
    assert_eq!(calls(&report, "BatchImportFindings").0, 3);
    let sh = import_of(&report);
    assert_eq!(sh.failures.len(), 1);
    assert_eq!(sh.failures[0].code, "InternalFailure");
    assert!(sh.failures[0].message.contains("after 3 attempts"), "{}", sh.failures[0].message);
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
    assert!(orgscan::report::text::render(&report).contains("the Security Hub import did not complete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_imports_are_retried_and_past_max_attempts_are_a_scope_error() {
    let moto = Moto::from_env();
    let region = "us-west-1";
    let (_, creds) = passing_account(&moto, &[region]).await;
    let throttle = || BatchImportFindingsError::generic(err_meta("TooManyRequestsException", "Rate exceeded"));
    let twice = mock!(aws_sdk_securityhub::Client::batch_import_findings).sequence().error(throttle).times(2).build();
    let f = factory(&moto, &creds, 3).with_interceptor(interceptor(&[&twice]));
    let report = scan_import(f, &["--this-account", "--regions", region, "--security-hub"]).await;
    assert_eq!(calls(&report, "BatchImportFindings"), (1, 3), "one call, two retries");
    let sh = import_of(&report);
    assert!(!sh.has_problems(), "{sh:?}");
    assert_eq!(sh.totals().archived, 1);
    assert_eq!(read_back(&moto, &creds, region).await.len(), 1);
    assert_eq!(report.exit_code(), exit::OK);

    let always = mock!(aws_sdk_securityhub::Client::batch_import_findings).then_error(throttle);
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&always]));
    let report = scan_import(f, &["--this-account", "--regions", region, "--security-hub"]).await;
    assert_eq!(calls(&report, "BatchImportFindings"), (1, 2));
    let sh = import_of(&report);
    assert!(matches!(&sh.scopes[0].status, ImportStatus::Error(e) if e.code == "TooManyRequestsException"), "{:?}", sh.scopes);
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_without_security_hub_is_a_scope_error_with_the_fix_and_the_others_still_import() {
    let moto = Moto::from_env();
    let regions = ["eu-central-1", "eu-west-2"];
    let (account, creds) = passing_account(&moto, &regions).await;
    const MSG: &str = "Account is not subscribed to AWS Security Hub";
    // Both calls carry the scope's product ARN, which names the region.
    let in_eu_west_2 = |arn: Option<&str>| arn.is_some_and(|a| a.contains(":eu-west-2:"));
    let get = mock!(aws_sdk_securityhub::Client::get_findings)
        .match_requests(move |r| in_eu_west_2(r.filters().and_then(|f| f.product_arn().first()).and_then(|s| s.value())))
        .then_error(|| GetFindingsError::generic(err_meta("InvalidAccessException", MSG)));
    let import = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .match_requests(move |r| r.findings().iter().any(|f| in_eu_west_2(f.product_arn())))
        .then_error(|| BatchImportFindingsError::generic(err_meta("InvalidAccessException", MSG)));
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&get, &import]));
    let report = scan_import(f, &["--this-account", "--regions", &regions.join(","), "--security-hub"]).await;

    let sh = import_of(&report);
    let by_region: BTreeMap<&str, &ImportStatus> = sh.scopes.iter().map(|s| (s.region.as_ref().unwrap().as_str(), &s.status)).collect();
    assert_eq!(by_region["eu-central-1"], &ImportStatus::Imported);
    let ImportStatus::Error(e) = by_region["eu-west-2"] else { panic!("{by_region:?}") };
    assert_eq!(e.code, "InvalidAccessException");
    assert!(e.message.contains("aws securityhub enable-security-hub --region eu-west-2") && e.message.contains(&account), "{}", e.message);
    assert_eq!(read_back(&moto, &creds, "eu-central-1").await.len(), 1);
    assert_eq!(read_back(&moto, &creds, "eu-west-2").await.len(), 0);
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
    let text = orgscan::report::text::render(&report);
    assert!(text.contains("Import errors (1") && text.contains("enable-security-hub"), "{text}");
}

#[test]
fn security_hub_flags_are_validated_before_any_aws_call() {
    let o = crate::support::orgscan_env("http://127.0.0.1:9", &Moto::root_credentials(), &["scan", "--dry-run"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--dry-run needs --security-hub"), "{}", stderr(&o));
    let o = crate::support::orgscan_env("http://127.0.0.1:9", &Moto::root_credentials(), &["scan", "--security-hub-only-failed"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let help = crate::support::orgscan_env("http://127.0.0.1:9", &Moto::root_credentials(), &["scan", "--help"], &[]);
    let help = stdout(&help);
    assert!(help.contains("Security Hub:") && help.contains("--asff-dir <DIR>") && help.contains("--security-hub-only-failed"), "{help}");
}
