//! Sharded scans end to end against moto: the shards run as separate `orgscan` processes the way each job
//! engine starts them (Kubernetes Indexed Job, AWS Batch array job, GitHub Actions matrix), `orgscan merge`
//! joins them, and every output equals one unsharded scan's (timings, API statistics and the shard section
//! aside). A missing shard is named; reports of another scan are refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::estate::{Mix, Moto, Org, create_org, seed_org};
use crate::support::{assert_refused_before_any_aws_call, assert_valid, files_under, orgscan_env, read_json, stderr, stdout, tempdir};

/// Keys whose values are timings or API-call statistics (or the shard section): not compared.
const UNCOMPARED: &[&str] = &[
    "started_at",
    "finished_at",
    "duration_ms",
    "walk_ms",
    "api_calls",
    "api_calls_by_service",
    "api_calls_by_operation",
    "retries",
    "throttled",
    "shard",
];

/// Replaces every date-time (`2026-12-02T00:33:25.123Z`, `2026-12-02 00:33 UTC`) in `s` with `<time>`.
fn mask_times(s: &str) -> String {
    let b = s.as_bytes();
    let digits = |i: usize, n: usize| i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit);
    let (mut out, mut i) = (String::new(), 0);
    while i < b.len() {
        let stamp = digits(i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8, 2)
            && matches!(b.get(i + 10), Some(b'T' | b' '))
            && digits(i + 11, 2)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14, 2);
        if stamp {
            let mut j = i + 16;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b':' || b[j] == b'.') {
                j += 1;
            }
            for suffix in ["Z", "+00:00", " UTC"] {
                if s[j..].starts_with(suffix) {
                    j += suffix.len();
                    break;
                }
            }
            out.push_str("<time>");
            i = j;
        } else {
            let c = s[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A JSON value without timings and statistics, its date-times masked (OCSF's epoch-millisecond `*_time`
/// fields dropped).
pub(crate) fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !UNCOMPARED.contains(&k.as_str()) && k.as_str() != "time" && !k.ends_with("_time"))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::String(s) => Value::String(mask_times(s)),
        other => other.clone(),
    }
}

/// Every output file under `dir`, by relative path, normalized: JSON and JSON Lines as values, HTML as text.
fn outputs(dir: &Path) -> Vec<(String, Value)> {
    let mut files = Vec::new();
    for p in files_under(dir) {
        let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        let value = match p.extension().and_then(|x| x.to_str()) {
            Some("json" | "sarif") => normalized(&serde_json::from_str(&text).unwrap()),
            Some("jsonl") => Value::Array(text.lines().map(|l| normalized(&serde_json::from_str(l).unwrap())).collect()),
            _ => Value::String(mask_times(&text)),
        };
        files.push((name, value));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// Output options writing every output into `dir`.
fn output_args(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    [
        "--json",
        &p("report.json"),
        "--sarif",
        &p("report.sarif"),
        "--html",
        &p("report.html"),
        "--ocsf",
        &p("events.jsonl"),
        "--asff-dir",
        &p("asff"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

struct Estate {
    moto: Moto,
    org: Org,
    dir: tempfile::TempDir,
    /// The scan options every shard and the unsharded scan share, before the outputs.
    common: Vec<String>,
    /// --baseline and --suppressions: of the unsharded scan, and of the merge (the shards triage nothing).
    history: Vec<String>,
    /// After the baseline, the SageMaker endpoint refuses connections: every SageMaker scope is an error.
    env: Vec<(&'static str, &'static str)>,
    /// The member account closed before the scans (skipped by every scan).
    closed: String,
}

impl Estate {
    fn run(&self, args: &[String], extra_env: &[(&str, &str)]) -> std::process::Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut env = self.env.clone();
        env.extend_from_slice(extra_env);
        orgscan_env(&self.moto.endpoint, &self.org.management_creds, &args, &env)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `shards` shards side by side, as separate processes (`how` gives each one's extra arguments and
    /// environment), each writing its JSON report; returns the reports' paths.
    fn run_shards(&self, name: &str, shards: u32, how: impl Fn(u32) -> (Vec<String>, Vec<(&'static str, String)>) + Sync) -> Vec<PathBuf> {
        let paths: Vec<PathBuf> = (0..shards).map(|i| self.path(&format!("{name}-{i}.json"))).collect();
        std::thread::scope(|s| {
            let runs: Vec<_> = paths
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let how = &how;
                    s.spawn(move || {
                        let (extra, env) = how(i as u32);
                        let mut args = vec!["scan".to_owned()];
                        args.extend(self.common.iter().cloned());
                        args.extend(extra);
                        args.extend(["--json".to_owned(), p.to_string_lossy().into_owned()]);
                        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                        self.run(&args, &env)
                    })
                })
                .collect();
            for (i, r) in runs.into_iter().enumerate() {
                let o = r.join().unwrap();
                // A shard with an open account has FAILs (no baseline: every FAIL counts) and the SageMaker
                // errors: 4. The accounts' ids are new in every run, so a shard may hold none of them, or only
                // the closed one: nothing evaluated, 3.
                let open = self.org.all_accounts().into_iter().filter(|a| *a != self.closed);
                let holds_open = open.filter_map(|a| a.parse().ok()).any(|a| orgscan::model::shard::shard_of(&a, shards) == i as u32);
                let want = if holds_open { 4 } else { 3 };
                assert_eq!(o.status.code(), Some(want), "{name} shard {i}: {}", stderr(&o));
            }
        });
        paths
    }

    fn merge(&self, reports: &[PathBuf], extra: &[String]) -> std::process::Output {
        let mut args = vec!["merge".to_owned()];
        args.extend(reports.iter().map(|p| p.to_string_lossy().into_owned()));
        args.extend(self.history.iter().cloned());
        args.extend(extra.iter().cloned());
        self.run(&args, &[])
    }
}

/// 11 accounts (one closed, so skipped) in 2 regions, a baseline scan, then a change: a key scheduled for
/// deletion (new FAIL) and one whose deletion is cancelled (fixed); SageMaker unreachable from then on, so
/// the baseline's SageMaker FAILs are carried forward as stale.
async fn estate() -> Estate {
    let moto = Moto::from_env();
    let org = create_org(&moto, 10).await.unwrap();
    let regions = ["eu-west-1", "us-east-1"];
    let (_, creds) =
        seed_org(&moto, &org, &regions, |a, r| if a == 0 { Mix::full(((a + r) % 3) as u8) } else { Mix::light(((a + r) % 3) as u8) })
            .await
            .unwrap();
    let orgs = aws_sdk_organizations::Client::new(&moto.sdk_config(&org.management_creds, "us-east-1"));
    let closed = org.members[9].0.clone();
    orgs.close_account().account_id(&closed).send().await.unwrap();
    let dir = tempdir();
    let rules = dir.path().join("suppressions.toml");
    std::fs::write(
        &rules,
        format!(
            "[[suppression]]\ncheck = \"*\"\nous = [\"{}\"]\nreason = \"dev accounts are rebuilt weekly\"\nowner = \"dev@example.com\"\n\n\
             [[suppression]]\ncheck = \"opensearch-encryption-at-rest\"\naccounts = [\"{}\"]\nreason = \"unused\"\nowner = \"x@example.com\"\n",
            org.ou("dev"),
            org.members[0].0
        ),
    )
    .unwrap();
    let baseline = dir.path().join("baseline.json");
    let mut estate = Estate {
        moto,
        org,
        dir,
        common: vec!["--regions".into(), regions.join(","), "--quiet".into(), "--max-attempts".into(), "1".into()],
        env: vec![],
        history: vec![],
        closed: closed.clone(),
    };
    let mut args = vec!["scan".to_owned()];
    args.extend(estate.common.clone());
    args.extend(["--json".to_owned(), baseline.to_string_lossy().into_owned()]);
    let o = estate.run(&args, &[]);
    assert_eq!(o.status.code(), Some(1), "baseline scan: {}", stderr(&o));

    // The change since the baseline, in the second member's eu-west-1.
    let member = &estate.org.members[1].0;
    let kms = aws_sdk_kms::Client::new(&estate.moto.sdk_config(&creds[member], "eu-west-1"));
    let keys = kms.list_keys().send().await.unwrap();
    let mut cancelled = false;
    for k in keys.keys() {
        let id = k.key_id().unwrap_or_default();
        let m = kms.describe_key().key_id(id).send().await.unwrap();
        let state = m.key_metadata().and_then(|m| m.key_state()).map(|s| s.as_str().to_owned()).unwrap_or_default();
        if state == "PendingDeletion" && !cancelled {
            kms.cancel_key_deletion().key_id(id).send().await.unwrap();
            cancelled = true;
        } else if state == "Enabled" {
            kms.schedule_key_deletion().key_id(id).pending_window_in_days(7).send().await.unwrap();
        }
    }
    assert!(cancelled);
    estate.history.extend([
        "--baseline".to_owned(),
        baseline.to_string_lossy().into_owned(),
        "--suppressions".to_owned(),
        rules.to_string_lossy().into_owned(),
    ]);
    estate.env = vec![("AWS_ENDPOINT_URL_SAGEMAKER", "http://127.0.0.1:9")];
    estate
}

fn shard_env(pairs: &[(&'static str, u32)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_run_by_each_engine_merge_into_exactly_the_unsharded_scan() {
    let e = estate().await;
    // The unsharded scan, every output.
    let whole = e.path("whole");
    let mut args = vec!["scan".to_owned()];
    args.extend(e.common.clone());
    args.extend(e.history.clone());
    args.extend(output_args(&whole));
    let o = e.run(&args, &[]);
    assert_eq!(o.status.code(), Some(4), "FAILs and the SageMaker errors: {}", stderr(&o));
    let report = read_json(&whole.join("report.json"));
    assert_valid("report.schema.json", &report);
    assert!(report.get("shard").is_none());
    // The estate exercises what the merge must carry: errors, skips, triage, suppressions, stale FAILs.
    let baseline = &report["baseline"];
    assert!(
        baseline["new"].as_u64() > Some(0) && baseline["fixed"].as_u64() > Some(0) && baseline["stale"].as_u64() > Some(0),
        "{baseline}"
    );
    assert!(report["errors"].as_array().unwrap().len() > 10);
    assert!(report["coverage"].as_array().unwrap().iter().any(|c| c["status"] == "skipped"));
    assert!(report["findings"].as_array().unwrap().iter().any(|f| !f["suppressed"].is_null()));
    let expected = outputs(&whole);
    assert!(expected.iter().any(|(n, _)| n.starts_with("asff/")), "ASFF batches written");

    // Kubernetes Indexed Job: the pod's JOB_COMPLETION_INDEX, the count given (ORGSCAN_SHARD_COUNT).
    let k8s = e.run_shards("k8s", 3, |i| {
        (vec!["--shard".into(), "auto".into()], shard_env(&[("JOB_COMPLETION_INDEX", i), ("ORGSCAN_SHARD_COUNT", 3)]))
    });
    // AWS Batch array job: AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE, through ORGSCAN_SHARD=auto.
    let batch = e.run_shards("batch", 3, |i| {
        (
            vec![],
            shard_env(&[("AWS_BATCH_JOB_ARRAY_INDEX", i), ("AWS_BATCH_JOB_ARRAY_SIZE", 3)])
                .into_iter()
                .chain([("ORGSCAN_SHARD", "auto".to_owned())])
                .collect(),
        )
    });
    // GitHub Actions matrix: explicit values.
    let gha = e.run_shards("gha", 3, |i| (vec!["--shard".into(), format!("{i}/3")], vec![]));

    let all: BTreeSet<String> = e.org.all_accounts().into_iter().collect();
    for (engine, shards) in [("k8s", &k8s), ("batch", &batch), ("gha", &gha)] {
        let mut covered = BTreeSet::new();
        let mut digests = BTreeSet::new();
        for (i, p) in shards.iter().enumerate() {
            let r = read_json(p);
            assert_valid("report.schema.json", &r);
            assert_eq!((r["shard"]["index"].as_u64(), r["shard"]["count"].as_u64()), (Some(i as u64), Some(3)), "{engine}");
            digests.insert(r["shard"]["selection"]["digest"].as_str().unwrap().to_owned());
            let accounts: BTreeSet<String> =
                r["coverage"].as_array().unwrap().iter().map(|c| c["account_id"].as_str().unwrap().to_owned()).collect();
            assert!(covered.is_disjoint(&accounts), "{engine}: shards overlap");
            covered.extend(accounts);
            // Each shard pays the organization listing once and assumes roles only in its own accounts.
            let ops = &r["stats"]["api_calls_by_operation"];
            assert_eq!(ops["Organizations:ListAccounts"]["calls"], 1, "{engine} {i}");
            let members = r["shard"]["selection"]["accounts"].as_array().unwrap().len();
            assert_eq!(members, all.len());
        }
        assert_eq!(covered, all, "{engine}: every account in exactly one shard");
        assert_eq!(digests.len(), 1, "{engine}: one selection");

        let merged = e.path(&format!("{engine}-merged"));
        let o = e.merge(shards, &output_args(&merged));
        assert_eq!(o.status.code(), Some(4), "{engine} merge: {}\n{}", stderr(&o), stdout(&o));
        assert_valid("report.schema.json", &read_json(&merged.join("report.json")));
        let got = outputs(&merged);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            expected.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "{engine}: the same files"
        );
        for ((name, a), (_, b)) in got.iter().zip(&expected) {
            assert!(a == b, "{engine}: {name} differs from the unsharded scan's:\nmerged: {}\nwhole:  {}", short(a), short(b));
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(3000).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_shard_is_named_with_its_accounts_and_reports_of_another_scan_are_refused() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 7).await.unwrap();
    seed_org(&moto, &org, &["eu-west-1"], |_, _| Mix::guardduty_only(0)).await.unwrap();
    let dir = tempdir();
    let shard = |i: u32, n: u32| {
        let p = dir.path().join(format!("s{i}of{n}.json"));
        let args = [
            "scan",
            "--regions",
            "eu-west-1",
            "--checks",
            "guardduty-enabled",
            "--quiet",
            "--shard",
            &format!("{i}/{n}"),
            "--json",
            p.to_str().unwrap(),
        ];
        let o = orgscan_env(&moto.endpoint, &org.management_creds, &args, &[]);
        assert!(matches!(o.status.code(), Some(0 | 3)), "{i}/{n}: {}", stderr(&o));
        p
    };
    let parts: Vec<PathBuf> = (0..4).map(|i| shard(i, 4)).collect();
    let merge = |reports: &[&Path], extra: &[&str]| {
        let mut args = vec!["merge"];
        args.extend(reports.iter().map(|p| p.to_str().unwrap()));
        args.extend_from_slice(extra);
        orgscan_env("http://127.0.0.1:9", &Moto::root_credentials(), &args, &[])
    };
    let all = merge(&[&parts[0], &parts[1], &parts[2], &parts[3]], &[]);
    assert_eq!(all.status.code(), Some(0), "every detector enabled, every shard given: {}", stderr(&all));

    // A shard that holds accounts missing (account ids are fresh each run, so which one varies): its accounts
    // are named, have error coverage, and the result is incomplete.
    let ids: Vec<orgscan::model::AccountId> = org.all_accounts().iter().map(|a| a.parse().unwrap()).collect();
    let of =
        |i: u32| -> BTreeSet<String> { ids.iter().filter(|a| orgscan::model::shard::shard_of(a, 4) == i).map(|a| a.to_string()).collect() };
    let gone = (0..4u32).find(|&i| !of(i).is_empty()).unwrap();
    let named = of(gone);
    let out = dir.path().join("merged.json");
    let rest: Vec<&Path> = (0..4u32).rev().filter(|&i| i != gone).map(|i| parts[i as usize].as_path()).collect();
    let o = merge(&rest, &["--json", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = read_json(&out);
    assert_valid("report.schema.json", &r);
    let missing: BTreeSet<String> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == "ShardMissing")
        .map(|e| e["account_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(missing, named);
    let note = r["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|n| n["text"].as_str().filter(|t| t.starts_with(&format!("shard {gone}/4 is missing"))))
        .unwrap_or_default()
        .to_owned();
    assert!(named.iter().all(|a| note.contains(a.as_str())), "{note}");
    assert!(stdout(&o).contains(&format!("shard {gone}/4 is missing")), "the summary names it: {}", stdout(&o));

    // Reports that do not belong together are refused, naming the file and the difference. They are edited
    // copies of a shard other than 0 that holds accounts.
    let src = (1..4u32).find(|&i| !of(i).is_empty()).unwrap();
    let other = (1..4u32).find(|&i| i != src).unwrap();
    let edited = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut v = read_json(&parts[src as usize]);
        edit(&mut v);
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let other_org = edited("other-org.json", &|v| v["scope"]["organization_id"] = "o-zzzzzzzzzz".into());
    let old = edited("old.json", &|v| v["schema_version"] = "2".into());
    let count5 = edited("count5.json", &|v| v["shard"]["count"] = 5.into());
    let selection = edited("selection.json", &|v| {
        let accounts: Vec<orgscan::model::AccountId> =
            v["shard"]["selection"]["accounts"].as_array().unwrap().iter().skip(1).map(|a| a.as_str().unwrap().parse().unwrap()).collect();
        v["shard"]["selection"]["digest"] = orgscan::model::shard::selection_digest(&accounts).into();
        v["shard"]["selection"]["accounts"] = accounts.iter().map(|a| Value::from(a.as_str())).collect();
    });
    let tampered = edited("tampered.json", &|v| v["shard"]["selection"]["accounts"].as_array_mut().unwrap().truncate(1));
    let wrong_index = edited("wrong-index.json", &|v| v["shard"]["index"] = other.into());
    // A finding of an account outside the selection (its fingerprint recomputed, as anyone can), and one of
    // another shard's accounts, each without coverage: entries that are not the shard's own.
    let outsider = edited("outsider.json", &|v| {
        let mut f = v["findings"][0].clone();
        let info = orgscan::check::ALL.iter().map(|c| c.info()).find(|i| f["check_id"] == i.id).unwrap();
        let rtype = info.resource_types.iter().find(|t| f["resource_type"] == **t).unwrap();
        let target = orgscan::model::Target::new("999999999999".parse().unwrap(), f["region"].as_str().unwrap().parse().unwrap());
        let forged = orgscan::model::Finding::builder(info, &target).resource(
            rtype,
            "d-outside",
            "arn:aws:guardduty:eu-west-1:999999999999:detector/d-outside",
        );
        f["account_id"] = "999999999999".into();
        (f["resource_id"], f["resource_arn"]) = ("d-outside".into(), "arn:aws:guardduty:eu-west-1:999999999999:detector/d-outside".into());
        f["fingerprint"] = forged.pass("x").build().unwrap().fingerprint().to_string().into();
        v["findings"].as_array_mut().unwrap().push(f);
    });
    let theirs_index = (0..4u32).find(|&i| i != src && !of(i).is_empty()).unwrap();
    let theirs_finding = read_json(&parts[theirs_index as usize])["findings"][0].clone();
    let theirs_account = theirs_finding["account_id"].as_str().unwrap().to_owned();
    let theirs = edited("theirs.json", &|v| v["findings"].as_array_mut().unwrap().push(theirs_finding.clone()));
    let outsider_needle = ["outsider.json", "holds account 999999999999 (a finding), which is not in the selection"];
    let theirs_needle = format!("holds account {theirs_account} (a finding), which is shard {theirs_index}'s");
    let unsharded = dir.path().join("whole.json");
    let o = orgscan_env(
        &moto.endpoint,
        &org.management_creds,
        &["scan", "--regions", "eu-west-1", "--checks", "guardduty-enabled", "--quiet", "--json", unsharded.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p0 = parts[0].as_path();
    for (second, needles) in [
        (other_org.as_path(), &["other-org.json", "organization", "o-zzzzzzzzzz"][..]),
        (old.as_path(), &["old.json", "schema version 2", "schema version 3 only"][..]),
        (count5.as_path(), &["count5.json", "shard count is 5, not 4"][..]),
        (selection.as_path(), &["selection.json", "account selection"][..]),
        (tampered.as_path(), &["tampered.json", "does not match its own account list"][..]),
        (wrong_index.as_path(), &["wrong-index.json", "holds account"][..]),
        (outsider.as_path(), &outsider_needle[..]),
        (theirs.as_path(), &["theirs.json", theirs_needle.as_str()][..]),
        (unsharded.as_path(), &["whole.json", "no shard section"][..]),
        (p0, &["given twice"][..]),
    ] {
        let o = merge(&[p0, second], &[]);
        assert_eq!(o.status.code(), Some(2), "{second:?}: {}", stderr(&o));
        for n in needles {
            assert!(stderr(&o).contains(n), "{second:?}: expected {n:?} in {}", stderr(&o));
        }
    }
}

#[test]
fn bad_shard_options_are_refused_before_any_aws_call() {
    assert_refused_before_any_aws_call(
        &["scan"],
        &[
            (&["--shard", "4/4"], &["invalid --shard '4/4'", "allowed 0 to 3"]),
            (&["--shard", "two"], &["invalid --shard 'two'", "INDEX/COUNT"]),
            (&["--shard", "auto"], &["--shard auto", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "GitHub Actions"]),
            (&["--shard-count", "3"], &["--shard-count", "needs --shard auto"]),
            (&["--shard", "1/3", "--shard-count", "4"], &["disagree"]),
            (&["--shard", "0/2", "--this-account"], &["--shard conflicts with --this-account"]),
        ],
    );
    let creds = Moto::root_credentials();
    // Each engine's variables, inconsistent: refused (exit 2) naming the value, nothing scanned.
    for (env, needle) in [
        (&[("JOB_COMPLETION_INDEX", "3"), ("ORGSCAN_SHARD_COUNT", "3")][..], "INDEX 3 is not below COUNT 3"),
        (&[("JOB_COMPLETION_INDEX", "1")][..], "--shard-count N or ORGSCAN_SHARD_COUNT"),
        (&[("AWS_BATCH_JOB_ARRAY_INDEX", "1")][..], "AWS_BATCH_JOB_ARRAY_SIZE is not"),
        (
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "x"), ("AWS_BATCH_JOB_ARRAY_SIZE", "2")][..],
            "AWS_BATCH_JOB_ARRAY_INDEX=\"x\" is not a whole number",
        ),
        (
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), ("AWS_BATCH_JOB_ARRAY_SIZE", "2"), ("ORGSCAN_SHARD_COUNT", "3")][..],
            "disagrees with AWS_BATCH_JOB_ARRAY_SIZE=2",
        ),
        (&[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), ("JOB_COMPLETION_INDEX", "0"), ("ORGSCAN_SHARD_COUNT", "2")][..], "both"),
    ] {
        let o = orgscan_env("http://127.0.0.1:9", &creds, &["scan", "--shard", "auto"], env);
        assert_eq!(o.status.code(), Some(2), "{env:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{env:?}: expected {needle:?} in {}", stderr(&o));
    }
    // merge: no report, a missing file.
    let o = orgscan_env("http://127.0.0.1:9", &creds, &["merge", "/nonexistent/shard-0.json"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read shard report '/nonexistent/shard-0.json'"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_hub_import_runs_in_each_shard_and_the_merged_report_shows_all_of_it() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 5).await.unwrap();
    seed_org(&moto, &org, &["eu-west-1"], |a, _| Mix::guardduty_only((a % 3) as u8)).await.unwrap();
    let dir = tempdir();
    // A dry run reads Security Hub in every account and sends nothing, so the shards and the unsharded scan
    // see the same Security Hub and must plan the same imports.
    let scan = |name: &str, extra: &[&str]| {
        let p = dir.path().join(name);
        let mut args = vec!["scan", "--regions", "eu-west-1", "--quiet", "--security-hub", "--dry-run", "--json", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = orgscan_env(&moto.endpoint, &org.management_creds, &args, &[]);
        // A shard may hold only passing accounts (0), or none (3: it evaluated nothing); the whole scan fails (1).
        let allowed: &[i32] = if extra.is_empty() { &[1] } else { &[0, 1, 3] };
        assert!(o.status.code().is_some_and(|c| allowed.contains(&c)), "{name}: {:?} {}", o.status.code(), stderr(&o));
        p
    };
    let whole = read_json(&scan("whole.json", &[]));
    let parts: Vec<PathBuf> = (0..3).map(|i| scan(&format!("s{i}.json"), &["--shard", &format!("{i}/3")])).collect();
    let out = dir.path().join("merged.json");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--json", out.to_str().unwrap()]);
    let o = orgscan_env("http://127.0.0.1:9", &Moto::root_credentials(), &args, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let merged = read_json(&out);
    let scopes = whole["security_hub"]["scopes"].as_array().unwrap();
    assert_eq!(scopes.len(), org.all_accounts().len(), "one scope per account and region");
    assert!(whole["security_hub"]["totals"]["new"].as_u64() > Some(0));
    assert_eq!(normalized(&merged["security_hub"]), normalized(&whole["security_hub"]));
}
