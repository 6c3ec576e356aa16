//! `orgscan fix` end to end against moto, through the CLI: scan, plan (a dry run changes nothing), apply,
//! rescan; a resource fixed between the plan and the apply is skipped; a run stopped by SIGTERM in the middle
//! resumes from its journal without repeating a change.
//!
//! What moto lacks, and what these tests therefore cannot show: it changes a domain's encryption at once (no
//! blue/green deployment, `Processing` stays false) and never refuses `UpdateDomainConfig` (engine version,
//! UltraWarm: orgscan decides those itself, so they are tested here through its own refusal); it ignores
//! CreateDetector's `clientToken` and accepts several detectors per region (so a repeated create would show,
//! which the resume test relies on); `CancelKeyDeletion` is accepted on a key in any state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use serde_json::Value;

use crate::support::estate::{Mix, Moto, org_with_one_member, seed_account, seeded_account};
use crate::support::hold::spawn;
use crate::support::{aws_command, orgscan, orgscan_env, read_json, stderr, stdout, tempdir};

const REGIONS: &str = "eu-west-1,us-east-1";

/// What the tests compare before and after: every resource of the five checks in an account, by
/// `region/kind/id`, with the state the checks read.
async fn state(moto: &Moto, creds: &Credentials, regions: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for region in regions {
        let cfg = moto.sdk_config(creds, region);
        let kms = aws_sdk_kms::Client::new(&cfg);
        for k in kms.list_keys().send().await.unwrap().keys() {
            let id = k.key_id().unwrap();
            let m = kms.describe_key().key_id(id).send().await.unwrap();
            out.insert(format!("{region}/kms/{id}"), format!("{:?}", m.key_metadata().unwrap().key_state()));
        }
        let gd = aws_sdk_guardduty::Client::new(&cfg);
        let ids = gd.list_detectors().send().await.unwrap().detector_ids().to_vec();
        out.insert(format!("{region}/guardduty/count"), ids.len().to_string());
        for id in ids {
            let d = gd.get_detector().detector_id(&id).send().await.unwrap();
            out.insert(format!("{region}/guardduty/{id}"), format!("{:?}", d.status()));
        }
        let os = aws_sdk_opensearch::Client::new(&cfg);
        for d in os.list_domain_names().send().await.unwrap().domain_names() {
            let name = d.domain_name().unwrap();
            let s = os.describe_domain().domain_name(name).send().await.unwrap();
            out.insert(format!("{region}/opensearch/{name}"), format!("{:?}", s.domain_status().unwrap().encryption_at_rest_options()));
        }
        let sm = aws_sdk_sagemaker::Client::new(&cfg);
        for n in sm.list_notebook_instances().send().await.unwrap().notebook_instances() {
            let name = n.notebook_instance_name().unwrap();
            let d = sm.describe_notebook_instance().notebook_instance_name(name).send().await.unwrap();
            out.insert(format!("{region}/sagemaker/{name}"), format!("{:?} {:?}", d.direct_internet_access(), d.subnet_id()));
        }
        let lambda = aws_sdk_lambda::Client::new(&cfg);
        for f in lambda.list_functions().send().await.unwrap().functions() {
            out.insert(format!("{region}/lambda/{}", f.function_name().unwrap()), format!("{:?}", f.runtime()));
        }
    }
    out
}

/// The journal's entries.
fn journal(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line {l:?}: {e}")))
        .collect()
}

fn applied<'a>(entries: &'a [Value], action: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["action"] == action && e["result"] == "applied").collect()
}

/// (status, check, region, resource) of every finding of a report.
fn statuses(report: &Value) -> BTreeMap<(String, String, String), String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_owned();
            ((s("check_id"), s("region"), s("resource_id")), s("status"))
        })
        .collect()
}

/// A domain with UltraWarm: AWS refuses to enable encryption at rest on it, so orgscan must not try.
async fn ultrawarm_domain(moto: &Moto, creds: &Credentials, region: &str) {
    use aws_sdk_opensearch::types::ClusterConfig;
    let os = aws_sdk_opensearch::Client::new(&moto.sdk_config(creds, region));
    let warm = ClusterConfig::builder().warm_enabled(true).warm_count(2).build();
    os.create_domain().domain_name("os-warm").engine_version("OpenSearch_2.11").cluster_config(warm).send().await.unwrap();
    os.create_domain().domain_name("es-old").engine_version("Elasticsearch_6.5").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_plan_apply_rescan_fixes_every_fixable_fail_and_leaves_the_rest_as_manual() {
    let moto = Moto::from_env();
    let (org, member, creds) = org_with_one_member(&moto).await.unwrap();
    let regions: Vec<&str> = REGIONS.split(',').collect();
    // eu-west-1: every branch and no detector; us-east-1: a disabled detector.
    seed_account(&moto, &creds, &member, &regions, |r| if r == 0 { Mix::full(2) } else { Mix::guardduty_only(1) }).await.unwrap();
    ultrawarm_domain(&moto, &creds, "eu-west-1").await;
    let dir = tempdir();
    let (report, report2, journal_path) = (dir.path().join("r.json"), dir.path().join("r2.json"), dir.path().join("fix.jsonl"));
    let m = &org.management_creds;
    let o = orgscan(&moto, m, &["scan", "--accounts", &member, "--regions", REGIONS, "--json", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // The plan changes nothing (no journal either), and says what it would do and with which role.
    let before = state(&moto, &creds, &regions).await;
    let fix = |extra: &[&str]| {
        let mut args = vec!["fix", "--from", report.to_str().unwrap(), "--journal", journal_path.to_str().unwrap()];
        args.extend_from_slice(&["--remediation-role-name", "OrgScanRemediation", "--enable-keys", "--allow-blue-green"]);
        args.extend_from_slice(extra);
        orgscan(&moto, m, &args)
    };
    let dry = fix(&[]);
    let plan = stdout(&dry);
    assert_eq!(dry.status.code(), Some(1), "something to fix: {}\n{plan}", stderr(&dry));
    assert_eq!(state(&moto, &creds, &regions).await, before, "a dry run changes nothing");
    assert!(!journal_path.exists(), "a dry run writes no journal");
    for needle in [
        &format!("Account {member} (arn:aws:iam::{member}:role/OrgScanRemediation)") as &str,
        "change: CancelKeyDeletion, then EnableKey",
        "change: CreateDetector",
        "change: UpdateDetector",
        "change: UpdateDomainConfig",
        "adds cost",
        "update-organization-configuration",
        "MANUAL: a new runtime can break the function",
        "aws lambda update-function-configuration --region eu-west-1 --function-name fn-deprecated --runtime python3.14",
        "aws sagemaker create-notebook-instance --region eu-west-1 --notebook-instance-name nb-open-vpc",
        "--direct-internet-access Disabled",
        "Elasticsearch_6.5 cannot enable encryption at rest on an existing domain",
        "aws es create-elasticsearch-domain --region eu-west-1 --domain-name es-old-enc --elasticsearch-version 6.5",
        "aws es delete-elasticsearch-domain --region eu-west-1 --domain-name es-old",
        "Nothing was changed: --apply makes the",
    ] {
        assert!(plan.contains(needle), "the plan lacks {needle:?}:\n{plan}");
    }
    // Without --allow-blue-green, the domains are manual steps too.
    let no_bg = orgscan(&moto, m, &["fix", "--from", report.to_str().unwrap(), "--journal", journal_path.to_str().unwrap()]);
    assert!(stdout(&no_bg).contains("orgscan does it only with --allow-blue-green"), "{}", stdout(&no_bg));

    let o = fix(&["--apply", "--yes"]);
    let (out, err) = (stdout(&o), stderr(&o));
    // Manual FAILs remain (and the UltraWarm domain was refused), so the verdict is 1.
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("skipped: UltraWarm or cold storage is enabled"), "{out}");
    assert!(out.contains("Rescan with the audit role") && out.contains("changed FAIL(s) pass now"), "{out}");
    let entries = journal(&journal_path);
    for (action, n) in [("CancelKeyDeletion", 1), ("EnableKey", 1), ("CreateDetector", 1), ("UpdateDetector", 1), ("UpdateDomainConfig", 2)]
    {
        assert_eq!(applied(&entries, action).len(), n, "{action}: {entries:#?}");
    }
    for e in &entries {
        for field in ["time", "run", "account", "region", "check", "fingerprint", "resource", "action", "result", "credentials"] {
            assert!(e[field].is_string(), "{field} in {e}");
        }
        assert_eq!(e["account"], member.as_str());
        assert!(e["credentials"].as_str().unwrap().ends_with(":role/OrgScanRemediation"), "{e}");
        if e["result"] == "applied" {
            assert!(e["state_before"].is_object() && e["state_after"].is_object(), "{e}");
        }
    }
    let cancel = applied(&entries, "CancelKeyDeletion")[0];
    assert_eq!(cancel["state_before"]["key_state"], "PendingDeletion");
    assert_eq!(cancel["state_after"]["key_state"], "Disabled", "CancelKeyDeletion leaves the key Disabled");
    let text = std::fs::read_to_string(&journal_path).unwrap();
    for secret in [m.secret_access_key(), m.session_token().unwrap_or("no-token"), "orgscan-leak-canary"] {
        assert!(!text.contains(secret) && !out.contains(secret) && !err.contains(secret), "a secret leaked");
    }

    // The rescan: every fixable FAIL passes; the manual ones, and the refused domain, fail as before.
    let o = orgscan(&moto, m, &["scan", "--accounts", &member, "--regions", REGIONS, "--json", report2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let (old, new) = (statuses(&read_json(&report)), statuses(&read_json(&report2)));
    let after = state(&moto, &creds, &regions).await;
    for ((check, region, id), status) in old.iter().filter(|(_, s)| *s == "FAIL") {
        // A check that declares no change of its own is fixed by hand, whatever it is.
        let manual = matches!(check.as_str(), "sagemaker-notebook-no-direct-internet" | "lambda-supported-runtime")
            || matches!(id.as_str(), "os-warm" | "es-old")
            || orgscan::check::by_id(check).is_some_and(|c| c.changes.is_none());
        if check == "guardduty-enabled" {
            let region_status: Vec<&String> = new.iter().filter(|((c, r, _), _)| c == check && r == region).map(|(_, s)| s).collect();
            assert_eq!(region_status, ["PASS"], "GuardDuty in {region}");
        } else if manual {
            assert_eq!(new.get(&(check.clone(), region.clone(), id.clone())), Some(status), "{check} {id} is left as it was");
            let key = format!("{region}/{}/{id}", check.split('-').next().unwrap());
            assert_eq!(after.get(&key), before.get(&key), "{key} untouched");
        } else {
            assert_eq!(new.get(&(check.clone(), region.clone(), id.clone())).map(String::as_str), Some("PASS"), "{check} {id}");
        }
    }
    assert!(after.iter().any(|(k, v)| k.contains("/kms/") && v.contains("Enabled")), "--enable-keys enabled the cancelled key");
    assert_eq!(after["eu-west-1/guardduty/count"], "1", "one detector created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_fixed_between_the_plan_and_the_apply_is_skipped() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let mix = Mix { kms: true, ..Mix::guardduty_only(0) };
    seed_account(&moto, &creds, &account, &["eu-west-1"], |_| mix).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, "eu-west-1"));
    let other = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    kms.schedule_key_deletion().key_id(&other).pending_window_in_days(7).send().await.unwrap();
    let dir = tempdir();
    let (report, j) = (dir.path().join("r.json"), dir.path().join("j.jsonl"));
    let o = orgscan(&moto, &creds, &["scan", "--this-account", "--regions", "eu-west-1", "--json", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Someone cancels this key's deletion after the report was written.
    kms.cancel_key_deletion().key_id(&other).send().await.unwrap();

    let o = orgscan(
        &moto,
        &creds,
        // The FAILs of the check under test: another check's FAILs on these keys would be other items.
        &[
            "fix",
            "--from",
            report.to_str().unwrap(),
            "--checks",
            "kms-key-not-pending-deletion",
            "--apply",
            "--yes",
            "--enable-keys",
            "--journal",
            j.to_str().unwrap(),
        ],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "every selected FAIL passes now: {out}\n{}", stderr(&o));
    assert!(out.contains(&format!("{other} in {account}/eu-west-1: skipped: the key is Disabled, no longer pending deletion")), "{out}");
    assert!(out.contains(&format!("Account {account} (the caller's own credentials")), "{out}");
    let entries = journal(&j);
    let of_other: Vec<&Value> = entries.iter().filter(|e| e["resource"].as_str().unwrap().ends_with(&other)).collect();
    assert_eq!(of_other.len(), 1, "{of_other:#?}");
    assert_eq!((of_other[0]["result"].as_str(), of_other[0]["state_before"]["key_state"].as_str()), (Some("skipped"), Some("Disabled")));
    assert_eq!(applied(&entries, "CancelKeyDeletion").len(), 1, "only the other key was changed");
    let state = kms.describe_key().key_id(&other).send().await.unwrap();
    assert_eq!(
        state.key_metadata().unwrap().key_state().map(|s| s.as_str()),
        Some("Disabled"),
        "a key orgscan did not cancel is not enabled by it"
    );
}

/// A loopback proxy in front of moto that holds the `nth` KMS CancelKeyDeletion until released; every other
/// request passes as it is (moto closes each connection after its answer).
struct Hold {
    endpoint: String,
    reached: tokio::sync::mpsc::UnboundedReceiver<()>,
    release: Arc<tokio::sync::Notify>,
}

async fn hold(upstream: &str, nth: usize) -> Hold {
    use crate::support::hold::{Verdict, start};
    let release = Arc::new(tokio::sync::Notify::new());
    let (gate, seen) = (release.clone(), Arc::new(Mutex::new(0usize)));
    let p = start(upstream, move |head, _| {
        if !head.contains("x-amz-target: trentservice.cancelkeydeletion") {
            return Verdict::Pass;
        }
        let mut s = seen.lock().unwrap();
        *s += 1;
        if *s == nth { Verdict::HoldUntil(gate.clone()) } else { Verdict::Pass }
    })
    .await;
    Hold { endpoint: p.endpoint, reached: p.reached, release }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_sigterm_resumes_from_its_journal_without_repeating_a_change() {
    let moto = Moto::from_env();
    let (_, creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::guardduty_only(2)).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, "eu-west-1"));
    for _ in 0..3 {
        let id = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
        kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    }
    let dir = tempdir();
    let (report, j) = (dir.path().join("r.json"), dir.path().join("j.jsonl"));
    let o = orgscan(&moto, &creds, &["scan", "--this-account", "--regions", "eu-west-1", "--json", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let args = ["fix", "--from", report.to_str().unwrap(), "--apply", "--yes", "--journal", j.to_str().unwrap()];

    // The plan: CreateDetector, then the three keys. The second CancelKeyDeletion is held at the proxy until
    // the run has received SIGTERM (it says so on stderr), so the run is stopped in the middle of a change.
    let mut proxy = hold(&moto.endpoint, 2).await;
    let mut cmd = aws_command(env!("CARGO_BIN_EXE_orgscan"), &proxy.endpoint, &creds);
    cmd.args(args);
    let mut run = spawn(cmd);
    proxy.reached.recv().await.expect("the second CancelKeyDeletion reaches the proxy");
    run.sigterm().await;
    proxy.release.notify_one();
    let (code, out, err) = run.finish().await;
    assert_eq!(code, Some(4), "stopped with FAILs left: {out}\n{err}");
    assert!(out.contains("Stopped before every change was made") && out.contains("to resume"), "{out}");
    let first = journal(&j);
    assert_eq!(applied(&first, "CreateDetector").len(), 1, "{first:#?}");
    assert_eq!(applied(&first, "CancelKeyDeletion").len(), 2, "the change in flight was finished and journaled: {first:#?}");
    let done: Vec<String> = applied(&first, "CancelKeyDeletion").iter().map(|e| e["resource"].as_str().unwrap().to_owned()).collect();

    // A key the first run fixed is scheduled for deletion again: the resumed run must not repeat its change.
    let again = done[0].rsplit('/').next().unwrap().to_owned();
    kms.schedule_key_deletion().key_id(&again).pending_window_in_days(7).send().await.unwrap();
    let o = orgscan(&moto, &creds, &args);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "the re-scheduled key fails again: {out}\n{}", stderr(&o));
    assert!(out.contains("step(s) applied by earlier runs"), "{out}");
    assert!(out.contains("CancelKeyDeletion done by run orgscan-fix-") && out.contains("CreateDetector done by run"), "{out}");
    let all = journal(&j);
    assert_eq!(applied(&all, "CancelKeyDeletion").len(), 3, "each key's deletion cancelled once: {all:#?}");
    assert_eq!(applied(&all, "CreateDetector").len(), 1);
    let gd = aws_sdk_guardduty::Client::new(&moto.sdk_config(&creds, "eu-west-1"));
    assert_eq!(gd.list_detectors().send().await.unwrap().detector_ids().len(), 1, "no second detector");
    let k = kms.describe_key().key_id(&again).send().await.unwrap();
    assert_eq!(k.key_metadata().unwrap().key_state().map(|s| s.as_str()), Some("PendingDeletion"), "not cancelled twice");
}

#[test]
fn bad_input_is_refused_before_any_aws_call() {
    let dir = tempdir();
    let not_report = dir.path().join("x.json");
    std::fs::write(&not_report, "{}").unwrap();
    let bad_journal = dir.path().join("j.jsonl");
    std::fs::write(&bad_journal, "not a journal\n").unwrap();
    let report = not_report.to_str().unwrap();
    let journal_arg = bad_journal.to_str().unwrap();
    crate::support::assert_refused_before_any_aws_call(
        &["fix"],
        &[
            (&["--scan", "--accounts", "12345"], &["'12345'", "12 digits"]),
            (&["--scan", "--regions", "mars-1"], &["'mars-1'"]),
            (&["--scan", "--checks", "nope"], &["'nope'", "kms-key-not-pending-deletion"]),
            (&["--scan", "--only", "abc"], &["invalid --only 'abc'", "64 hexadecimal digits"]),
            (&["--scan", "--apply"], &["--apply needs --yes"]),
            (&["--scan", "--yes"], &["--yes needs --apply"]),
            (&["--scan", "--remediation-role-name", "bad name"], &["invalid --remediation-role-name 'bad name'"]),
            (&["--scan", "--remediation-role-arn-template", "arn:aws:iam::1:role/x"], &["--remediation-role-arn-template", "{account}"]),
            (&["--from", report], &["--from", "is not an orgscan JSON report"]),
            (&["--scan", "--journal", journal_arg], &["--journal", "line 1", "not an orgscan fix journal entry"]),
        ],
    );
    // Neither or both sources: clap refuses (exit 2).
    let creds = Moto::root_credentials();
    for args in [&["fix"][..], &["fix", "--scan", "--from", report]] {
        let o = orgscan_env("http://127.0.0.1:9", &creds, args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn fix_help_documents_the_exit_codes() {
    let o = orgscan_env("http://127.0.0.1:9", &Moto::root_credentials(), &["fix", "--help"], &[]);
    let help = stdout(&o);
    for n in
        ["0  nothing selected fails", "1  selected FAILs remain", "2  bad invocation", "3  ", "4  ", "5  the journal", "6  AWS could not"]
    {
        assert!(help.contains(n), "{n:?} in {help}");
    }
}

/// A key scheduled for deletion in the account of `creds`, in eu-west-1: its id.
async fn pending_key(moto: &Moto, creds: &Credentials) -> String {
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(creds, "eu-west-1"));
    let id = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    id
}

/// `orgscan scan` of the KMS check in eu-west-1 over `scope` (`--this-account` or `--accounts ID`) into the JSON
/// report `report`, which exits 1: a key pending deletion FAILs.
fn scan_kms_fails(moto: &Moto, creds: &Credentials, scope: &[&str], report: &std::path::Path) {
    let mut args = vec!["scan"];
    args.extend_from_slice(scope);
    args.extend(["--regions", "eu-west-1", "--checks", "kms-key-not-pending-deletion", "--json", report.to_str().unwrap()]);
    let o = orgscan(moto, creds, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

async fn key_state(moto: &Moto, creds: &Credentials, id: &str) -> String {
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(creds, "eu-west-1"));
    let k = kms.describe_key().key_id(id).send().await.unwrap();
    k.key_metadata().unwrap().key_state().map(|s| s.as_str().to_owned()).unwrap_or_default()
}

/// A copy of the report's KMS FAIL with another account, resource and message, its fingerprint recomputed
/// as anyone can (a plain SHA-256 of check, partition, account, region and resource id).
fn forged_kms_fail(report: &Value, account: &str, key_id: &str, message: &str) -> Value {
    let mut f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == "kms-key-not-pending-deletion" && f["status"] == "FAIL")
        .expect("a KMS FAIL in the report")
        .clone();
    let arn = format!("arn:aws:kms:eu-west-1:{account}:key/{key_id}");
    let target = orgscan::model::Target::new(account.parse().unwrap(), "eu-west-1".parse().unwrap());
    let forged = orgscan::model::Finding::builder(orgscan::check::kms::INFO, &target)
        .resource("AwsKmsKey", key_id, arn.clone())
        .fail(message)
        .build()
        .unwrap();
    f["account_id"] = account.into();
    f["resource_id"] = key_id.into();
    f["resource_arn"] = arn.into();
    f["message"] = message.into();
    f["fingerprint"] = forged.fingerprint().to_string().into();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_of_an_account_outside_the_organization_added_to_a_report_is_refused_and_never_acted_on() {
    let moto = Moto::from_env();
    let (org, member, creds) = org_with_one_member(&moto).await.unwrap();
    let ours = pending_key(&moto, &creds).await;
    // An account moto serves (so the role "assumes") that is not in the organization, with a key to save.
    let (outsider, outsider_creds) = moto.fresh_account().await.unwrap();
    let theirs = pending_key(&moto, &outsider_creds).await;
    let dir = tempdir();
    let (report, j) = (dir.path().join("r.json"), dir.path().join("j.jsonl"));
    let m = &org.management_creds;
    scan_kms_fails(&moto, m, &["--accounts", &member], &report);
    let mut v = read_json(&report);
    let forged = forged_kms_fail(&v, &outsider, &theirs, "pending deletion");
    v["findings"].as_array_mut().unwrap().push(forged);
    std::fs::write(&report, v.to_string()).unwrap();

    for extra in [&[][..], &["--apply", "--yes"][..]] {
        let mut args = vec!["fix", "--from", report.to_str().unwrap(), "--journal", j.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = orgscan(&moto, m, &args);
        let (out, err) = (stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(2), "{extra:?}: refused\n{out}\n{err}");
        assert!(
            err.contains(&format!("the report names account(s) {outsider}, which the caller's organization does not hold"))
                && err.contains("nothing was changed"),
            "{err}"
        );
        assert!(!out.contains("CancelKeyDeletion"), "no plan is shown for a report that cannot be trusted: {out}");
    }
    assert!(!j.exists(), "nothing was done, so nothing was journaled");
    assert_eq!(key_state(&moto, &outsider_creds, &theirs).await, "PendingDeletion", "the outsider's key was not touched");
    assert_eq!(key_state(&moto, &creds, &ours).await, "PendingDeletion", "a report that cannot be trusted changes nothing");

    // Narrowed to the organization's account, the same report fixes that account, and the journal records
    // the key as KMS answered for it (its ARN in the member account).
    let o = orgscan(
        &moto,
        m,
        &["fix", "--from", report.to_str().unwrap(), "--accounts", &member, "--apply", "--yes", "--journal", j.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let entries = journal(&j);
    let cancel = applied(&entries, "CancelKeyDeletion");
    assert_eq!(cancel.len(), 1, "{entries:#?}");
    assert_eq!(cancel[0]["resource"], format!("arn:aws:kms:eu-west-1:{member}:key/{ours}").as_str());
    assert_eq!(key_state(&moto, &outsider_creds, &theirs).await, "PendingDeletion");
}

/// A name, id or message an attacker controls: ANSI CSI (cursor up, erase line, clear screen), an OSC window
/// title and hyperlink, 8-bit CSI, a bidi override and isolate, a carriage return and a line break that would
/// fake a line of the plan; and HTML and markdown, which a terminal shows as text.
const HOSTILE: &str = "k\u{1b}[1A\u{1b}[2K\u{1b}[2J\u{1b}]0;title\u{7}\u{1b}]8;;http://evil.example\u{1b}\\\u{9b}31m\u{202e}gnp.exe\u{2066}\r\n    [2] fake line <script>x</script> **bold** [l](http://e)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_of_a_report_and_of_aws_reaches_the_terminal_escaped_in_the_plan_and_every_step() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    pending_key(&moto, &creds).await;
    let dir = tempdir();
    let (report, j) = (dir.path().join("r.json"), dir.path().join("j.jsonl"));
    scan_kms_fails(&moto, &creds, &["--this-account"], &report);
    let mut v = read_json(&report);
    let forged = forged_kms_fail(&v, &account, HOSTILE, &format!("message {HOSTILE}"));
    v["findings"].as_array_mut().unwrap().push(forged);
    std::fs::write(&report, v.to_string()).unwrap();

    for extra in [&[][..], &["--apply", "--yes"][..]] {
        let mut args = vec!["fix", "--from", report.to_str().unwrap(), "--journal", j.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = orgscan(&moto, &creds, &args);
        // The bytes that reach the terminal: no ESC, BEL, CR, 8-bit CSI, bidi override or isolate.
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}', '\u{2066}'] {
                assert!(!text.contains(bad), "{extra:?}: {bad:?} reached {stream}:\n{text}");
            }
            assert!(!text.lines().any(|l| l.starts_with("    [2] fake line")), "{extra:?}: a value added a line to {stream}:\n{text}");
        }
        let out = stdout(&o);
        assert!(
            out.contains("k\\u{1b}[1A\\u{1b}[2K\\u{1b}[2J\\u{1b}]0;title\\u{7}")
                && out.contains("\\u{9b}31m\\u{202e}gnp.exe\\u{2066}\\u{d}\\u{a}"),
            "{extra:?}: the hostile id is shown, escaped:\n{out}"
        );
        assert!(out.contains("<script>x</script> **bold** [l](http://e): message k\\u{1b}"), "{extra:?}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_remediation_s_journal_does_not_make_a_new_one_a_no_op() {
    let moto = Moto::from_env();
    let (_, creds) = moto.fresh_account().await.unwrap();
    let key = pending_key(&moto, &creds).await;
    let dir = tempdir();
    let j = dir.path().join("orgscan-fix-journal.jsonl");
    let remediate = |name: &str| {
        let report = dir.path().join(name);
        scan_kms_fails(&moto, &creds, &["--this-account"], &report);
        orgscan(&moto, &creds, &["fix", "--from", report.to_str().unwrap(), "--apply", "--yes", "--journal", j.to_str().unwrap()])
    };
    let first = remediate("r1.json");
    assert_eq!(first.status.code(), Some(0), "{}\n{}", stdout(&first), stderr(&first));
    assert_eq!(key_state(&moto, &creds, &key).await, "Disabled");

    // Weeks later the key is scheduled for deletion again; a new scan, a new remediation in the same directory.
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, "eu-west-1"));
    kms.schedule_key_deletion().key_id(&key).pending_window_in_days(7).send().await.unwrap();
    let second = remediate("r2.json");
    let out = stdout(&second);
    assert_eq!(second.status.code(), Some(0), "the key is fixed again, not skipped as done:\n{out}\n{}", stderr(&second));
    assert!(!out.contains("done by run"), "{out}");
    assert!(out.contains("1 step(s) applied by other remediations (another report or selection) are history only"), "{out}");
    assert_eq!(key_state(&moto, &creds, &key).await, "Disabled");
    let entries = journal(&j);
    let cancels = applied(&entries, "CancelKeyDeletion");
    assert_eq!(cancels.len(), 2, "{entries:#?}");
    assert_ne!(cancels[0]["plan"], cancels[1]["plan"], "each remediation is its own plan: {entries:#?}");
    assert!(cancels.iter().all(|e| e["plan"].as_str().is_some_and(|p| p.len() == 64)), "{entries:#?}");
}
