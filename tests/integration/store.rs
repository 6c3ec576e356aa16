//! Reports and the run history in S3, against moto's S3 (through the realism proxy where moto does not
//! model S3's answer: a bucket policy's deny, the bucket owner condition): the first run, a second run with
//! one new and one fixed FAIL read from the history, a stopped run that leaves the pointer where it was; a
//! bucket that denies the write, a missing bucket and a bucket of another owner, each named, exit 5, the
//! local JSON report intact.

use std::io::Read;
use std::process::Stdio;

use aws_credential_types::Credentials;
use serde_json::Value;

use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::realism::Realism;
use crate::support::{assert_valid, aws_command, orgscan, orgscan_env, read_json, stderr, tempdir};

const REGION: &str = "eu-west-1";
/// The checks the history runs are about (GuardDuty and keys): another check that reads the same keys would
/// have findings of its own in the baseline's counts.
const CHECKS: &str = crate::history::CHECKS;

async fn key(kms: &aws_sdk_kms::Client, pending: bool) -> String {
    let id = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    if pending {
        kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    }
    id
}

/// A fresh account with GuardDuty on in REGION (so the FAILs are the keys), and a bucket of its own.
async fn account_with_bucket(moto: &Moto) -> (String, Credentials, aws_sdk_s3::Client, String) {
    let (account, creds) = seeded_account(moto, &[REGION], |_| Mix::guardduty_only(0)).await.unwrap();
    let s3 = aws_sdk_s3::Client::new(&moto.sdk_config(&creds, "us-east-1"));
    let bucket = format!("orgscan-{account}");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    (account, creds, s3, bucket)
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
        Err(e) => panic!("GetObject s3://{bucket}/{key}: {e:?}"),
    }
}

async fn get_json(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Value {
    let bytes = get(s3, bucket, key).await.unwrap_or_else(|| panic!("no object s3://{bucket}/{key}"));
    serde_json::from_slice(&bytes).unwrap()
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut k: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
    k.sort();
    k
}

/// The KMS rows of a JSON report's findings: resource id → (status, baseline_state).
fn kms_rows(report: &Value) -> std::collections::BTreeMap<String, (String, Value)> {
    crate::history::kms_rows(report, "findings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_keeps_every_run_and_compares_with_the_latest_complete_one() {
    let moto = Moto::from_env();
    let (_account, creds, s3, bucket) = account_with_bucket(&moto).await;
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, REGION));
    let k1 = key(&kms, false).await; // scheduled for deletion after the first run: new
    let k2 = key(&kms, true).await; // cancelled after the first run: fixed
    let sse_key = key(&aws_sdk_kms::Client::new(&moto.sdk_config(&creds, "us-east-1")), false).await;
    let history = format!("s3://{bucket}/audits/");
    let html = format!("s3://{bucket}/latest/orgscan.html");
    let dir = tempdir();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();

    // First run: no baseline yet; the run is stored and becomes the latest.
    let r1 = path("r1.json");
    let o = orgscan(
        &moto,
        &creds,
        &["scan", "--this-account", "--checks", CHECKS, "--regions", REGION, "--history", &history, "--json", &r1, "--html", &html],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{history}latest.json now points to this run")), "{err}");
    let pointer = get_json(&s3, &bucket, "audits/latest.json").await;
    let run1 = pointer["run"].as_str().unwrap().to_owned();
    assert!(run1.starts_with("runs/20") && run1.ends_with("Z/"), "a dated key: {pointer:#}");
    let local1 = read_json(std::path::Path::new(&r1));
    assert_eq!(get_json(&s3, &bucket, &format!("audits/{run1}orgscan.json")).await, local1, "the stored report is the run's");
    assert!(local1.get("baseline").is_none_or(Value::is_null), "no baseline on the first run");
    let page = get(&s3, &bucket, "latest/orgscan.html").await.expect("--html s3://... written");
    assert!(String::from_utf8_lossy(&page).contains("<html"), "an HTML page");
    assert!(get(&s3, &bucket, &format!("audits/{run1}orgscan.html")).await.is_some(), "the run's other outputs are kept with it");

    // Second run, encrypted with a KMS key: the baseline is the first run, read from the history.
    kms.schedule_key_deletion().key_id(&k1).pending_window_in_days(7).send().await.unwrap();
    kms.cancel_key_deletion().key_id(&k2).send().await.unwrap();
    let r2 = path("r2.json");
    let args =
        ["scan", "--this-account", "--checks", CHECKS, "--regions", REGION, "--history", &history, "--s3-kms-key", &sse_key, "--json", &r2];
    let o = orgscan(&moto, &creds, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let second = read_json(std::path::Path::new(&r2));
    assert_valid("report.schema.json", &second);
    let b = &second["baseline"];
    assert_eq!((b["new"].as_u64(), b["fixed"].as_u64(), b["unchanged"].as_u64()), (Some(1), Some(1), Some(0)), "{b:#}");
    assert_eq!(b["started_at"], local1["started_at"], "the baseline is the first run");
    assert_eq!(b["fixed_findings"][0]["resource_id"].as_str(), Some(k2.as_str()));
    assert_eq!(kms_rows(&second)[&k1], ("FAIL".to_owned(), Value::from("new")));
    let pointer = get_json(&s3, &bucket, "audits/latest.json").await;
    let run2 = pointer["run"].as_str().unwrap().to_owned();
    assert_ne!(run2, run1);
    assert_eq!(pointer["exit_code"], 1);
    let head = s3.head_object().bucket(&bucket).key(format!("audits/{run2}orgscan.json")).send().await.unwrap();
    assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"));
    assert!(head.ssekms_key_id().is_some_and(|k| k.contains(&sse_key)), "{:?}", head.ssekms_key_id());

    // A third run, stopped by SIGTERM while GuardDuty hangs: stored for inspection, never the baseline.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let r3 = path("r3.json");
    let mut cmd = aws_command(env!("CARGO_BIN_EXE_orgscan"), &moto.endpoint, &creds);
    let mut child = cmd
        .args([
            "scan",
            "--this-account",
            "--checks",
            CHECKS,
            "--regions",
            REGION,
            "--call-timeout",
            "600",
            "--history",
            &history,
            "--json",
            &r3,
        ])
        .env("AWS_ENDPOINT_URL_GUARDDUTY", format!("http://{}", hung.local_addr().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The scan is under way (the baseline was read) once it connects to the hung endpoint.
    let (_conn, _) = hung.accept().unwrap();
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(4), "stopped, with FAILs: {err}");
    assert!(err.contains("SIGTERM received") && err.contains("latest.json not moved: the scan was stopped"), "{err}");
    let pointer = get_json(&s3, &bucket, "audits/latest.json").await;
    assert_eq!(pointer["run"].as_str(), Some(run2.as_str()), "the pointer stays at the last complete run");
    let reports: Vec<String> = keys(&s3, &bucket, "audits/runs/").await.into_iter().filter(|k| k.ends_with("/orgscan.json")).collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    let stopped = get_json(&s3, &bucket, &reports[2]).await;
    assert_eq!(stopped["incomplete"], true);
    assert_eq!(stopped, read_json(std::path::Path::new(&r3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_that_denies_is_missing_or_belongs_to_another_account_is_named_exit_5_and_nothing_local_is_lost() {
    let moto = Moto::from_env();
    let (account, creds, _s3, bucket) = account_with_bucket(&moto).await;
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, REGION));
    key(&kms, true).await;
    let proxy = Realism::start(&moto.endpoint).await.unwrap();
    proxy.register_key(creds.access_key_id(), &account);
    proxy.bucket_deny(&bucket, "s3:PutObject");
    let foreign = format!("orgscan-foreign-{account}");
    aws_sdk_s3::Client::new(&moto.sdk_config(&creds, "us-east-1")).create_bucket().bucket(&foreign).send().await.unwrap();
    proxy.bucket_owner(&foreign, "999999999999");
    let missing = format!("orgscan-missing-{account}");
    let dir = tempdir();

    let cases: [(&str, &str, String, &[&str]); 3] = [
        ("denied", proxy.endpoint.as_str(), bucket.clone(), &["AccessDenied", "explicit deny in a resource-based policy"]),
        ("missing", moto.endpoint.as_str(), missing.clone(), &["NoSuchBucket", "does not exist"]),
        // The caller's account is the expected owner by default: S3 answers AccessDenied.
        ("foreign", proxy.endpoint.as_str(), foreign.clone(), &["AccessDenied", &format!("account {account} does not own")]),
    ];
    for (case, endpoint, b, needles) in cases {
        let json = dir.path().join(format!("{case}.json"));
        let sarif = format!("s3://{b}/reports/orgscan.sarif");
        let args = ["scan", "--this-account", "--regions", REGION, "--json", json.to_str().unwrap(), "--sarif", &sarif, "--quiet"];
        let o = orgscan_env(endpoint, &creds, &args, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{case}: {err}");
        assert!(err.contains(&format!("--sarif not written: cannot write {sarif} in bucket '{b}'")), "{case}: {err}");
        for n in needles {
            assert!(err.contains(n), "{case}: expected {n:?} in {err}");
        }
        // The local report is whole, and the SARIF bound for S3 is kept where the error says.
        let report = read_json(&json);
        assert_valid("report.schema.json", &report);
        assert_eq!(kms_rows(&report).len(), 1, "{case}");
        let kept =
            err.lines().find_map(|l| l.split("the outputs bound for S3 are kept in ").nth(1)).unwrap_or_else(|| panic!("{case}: {err}"));
        let kept = std::path::Path::new(kept.trim());
        assert!(kept.join("orgscan.sarif").is_file(), "{case}: {}", kept.display());
        std::fs::remove_dir_all(kept).unwrap();
    }
    assert_eq!(proxy.denials().len(), 2, "the proxy answered the denied and the foreign bucket: {:?}", proxy.denials());

    // A history in a missing bucket stops the run before the scan (its baseline cannot be read): exit 2.
    let json = dir.path().join("history.json");
    let history = format!("s3://{missing}/audits/");
    let o =
        orgscan(&moto, &creds, &["scan", "--this-account", "--regions", REGION, "--history", &history, "--json", json.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read the baseline (--history)") && err.contains(&format!("bucket '{missing}'")), "{err}");
    assert!(!json.exists(), "nothing was scanned");
}

#[test]
fn s3_options_are_checked_before_any_aws_call() {
    crate::support::assert_refused_before_any_aws_call(
        &["scan", "--this-account"],
        &[
            (&["--json", "s3://Bad_Bucket/r.json"], &["invalid --json 's3://Bad_Bucket/r.json'", "bucket name 'Bad_Bucket'"]),
            (&["--sarif-dir", "s3://ab/x/"], &["invalid --sarif-dir", "bucket name 'ab'"]),
            (&["--html", "s3://bucket-1/"], &["invalid --html", "the key is missing"]),
            (&["--history", "audits/"], &["invalid --history 'audits/'", "s3://BUCKET/PREFIX/"]),
            (&["--history", "s3://bucket-1/a/", "--baseline", "b.json"], &["--baseline"]),
            (&["--s3-kms-key", "alias/k", "--json", "r.json"], &["--s3-kms-key needs something in S3"]),
            (&["--json", "s3://bucket-1/r.json", "--s3-bucket-owner", "12"], &["invalid --s3-bucket-owner"]),
        ],
    );
}

/// The Batch recipe's path: each shard writes its report to S3 (`--json s3://.../shard-{shard}.json`), and
/// `orgscan merge s3://BUCKET/PREFIX/` reads every shard report under the prefix, with no shell to copy them,
/// keeps the history and gives the same findings as one scan. A prefix that holds no report is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_reports_written_to_s3_are_merged_from_their_prefix_into_the_history() {
    let moto = Moto::from_env();
    let org = crate::support::estate::create_org(&moto, 3).await.unwrap();
    let (_, _) = crate::support::estate::seed_org(&moto, &org, &[REGION], |_, _| Mix::guardduty_only(1)).await.unwrap();
    let creds = &org.management_creds;
    let s3 = aws_sdk_s3::Client::new(&moto.sdk_config(creds, "us-east-1"));
    let bucket = format!("orgscan-{}", org.management);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let dir = tempdir();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();

    let shard_json = format!("s3://{bucket}/run/shards/shard-{{shard}}.json");
    for i in 0..2 {
        let shard = format!("{i}/2");
        let o = orgscan(&moto, creds, &["scan", "--regions", REGION, "--shard", &shard, "--json", &shard_json, "--quiet"]);
        // Account ids are new in every run, so a shard may hold no account: it evaluates nothing (exit 3).
        assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "shard {shard}: {}", stderr(&o));
        assert!(stderr(&o).contains(&format!("s3://{bucket}/run/shards/shard-{i}.json")), "shard {shard}: {}", stderr(&o));
    }
    assert_eq!(keys(&s3, &bucket, "run/shards/").await, ["run/shards/shard-0.json", "run/shards/shard-1.json"]);

    let merged = path("merged.json");
    let history = format!("s3://{bucket}/audits/");
    let prefix = format!("s3://{bucket}/run/shards/");
    let o = orgscan(&moto, creds, &["merge", &prefix, "--json", &merged, "--history", &history, "--quiet"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let report = read_json(std::path::Path::new(&merged));
    assert_valid("report.schema.json", &report);
    let accounts: std::collections::BTreeSet<&str> =
        report["coverage"].as_array().unwrap().iter().map(|c| c["account_id"].as_str().unwrap()).collect();
    let all = org.all_accounts();
    assert_eq!(accounts, all.iter().map(String::as_str).collect(), "every shard's accounts, none missing");
    assert_eq!(report["incomplete"], false);
    assert!(report["notes"].as_array().unwrap().iter().all(|n| !n["text"].as_str().unwrap().contains("missing")), "{report:#}");
    let pointer = get_json(&s3, &bucket, "audits/latest.json").await;
    let run = pointer["run"].as_str().unwrap().to_owned();
    assert_eq!(get_json(&s3, &bucket, &format!("audits/{run}orgscan.json")).await, report, "the merged run is the history's latest");

    // A prefix without a report: refused before anything is merged, naming the prefix.
    let empty = format!("s3://{bucket}/nothing/");
    let o = orgscan(&moto, creds, &["merge", &empty, "--json", &path("none.json")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&empty) && err.contains("no shard report"), "{err}");
}
