//! OCSF end to end against moto: every event of an organization scan validates with py-ocsf-models (pinned,
//! installed by scripts/ocsf-env.sh), its counts and statuses match the JSON report, and the Parquet files
//! read back with pyarrow hold the same events in Security Lake's partition layout. A validator that is not
//! installed fails these tests: nothing is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::estate::{Mix, Moto, create_org, seed_org, seeded_account};
use crate::support::{assert_refused_before_any_aws_call, orgscan, read_json, root, stderr, stdout, tempdir};

/// The python of the project's .venv (scripts/test.sh exports it as ORGSCAN_OCSF_PYTHON).
fn python() -> PathBuf {
    std::env::var_os("ORGSCAN_OCSF_PYTHON").map_or_else(|| root().join(".venv/bin/python"), PathBuf::from)
}

/// Runs tests/support/ocsf_validate.py on the JSON Lines file (and the Parquet directory).
pub(crate) fn validate(events: &Path, parquet_dir: Option<&Path>) -> Value {
    let py = python();
    let mut cmd = Command::new(&py);
    cmd.arg(root().join("tests/support/ocsf_validate.py")).arg(events);
    if let Some(d) = parquet_dir {
        cmd.arg(d);
    }
    let o = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run the OCSF validator with {} ({e}): run scripts/ocsf-env.sh (scripts/test.sh does)", py.display())
    });
    assert!(
        o.status.success(),
        "the OCSF validator failed (py-ocsf-models and pyarrow are installed by scripts/ocsf-env.sh):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("validator output is not JSON ({e}): {}", stdout(&o)))
}

fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect()
}

/// fingerprint -> (compliance status, finding status, severity, account name, OU path) as the JSON report
/// says it, in OCSF's words (the mapping of `model::verdict`).
fn expected_from_report(report: &Value) -> BTreeMap<String, (String, String, String, String, Option<String>)> {
    let mut out = BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        let fail = f["status"] == "FAIL";
        let severity = if fail {
            let s = f["severity"].as_str().unwrap();
            let mut c = s.chars();
            c.next().map(|h| h.to_ascii_uppercase().to_string() + c.as_str()).unwrap()
        } else {
            "Informational".to_owned()
        };
        let status = match (fail, f.get("suppressed").is_some_and(|s| !s.is_null())) {
            (false, _) => "Resolved",
            (true, true) => "Suppressed",
            (true, false) => "New",
        };
        let account = f["account_name"].as_str().or(f["account_id"].as_str()).unwrap().to_owned();
        let row =
            (if fail { "Fail" } else { "Pass" }.to_owned(), status.to_owned(), severity, account, f["ou_path"].as_str().map(str::to_owned));
        out.insert(f["fingerprint"].as_str().unwrap().to_owned(), row);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_scan_in_ocsf_validates_and_matches_the_json_report_in_json_lines_and_parquet() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 3).await.unwrap();
    let regions = ["eu-west-1", "us-east-1"];
    // Every branch of every check in the management account; a few resources in each member.
    seed_org(&moto, &org, &regions, |a, r| if a == 0 { Mix::full(((a + r) % 3) as u8) } else { Mix::light(((a + r) % 3) as u8) })
        .await
        .unwrap();
    let dir = tempdir();
    let json = dir.path().join("report.json");
    let events = dir.path().join("orgscan.ocsf.jsonl");
    let lake = dir.path().join("lake");
    let p = |p: &Path| p.to_str().unwrap().to_owned();
    let args = ["scan", "--regions", &regions.join(","), "--json", &p(&json), "--ocsf", &p(&events), "--ocsf-dir", &p(&lake), "--quiet"];
    let o = orgscan(&moto, &org.management_creds, &args);
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let report = read_json(&json);

    let v = validate(&events, Some(&lake));
    assert_eq!(v["errors"], Value::Array(vec![]), "events that do not validate");
    assert_eq!(v["missing"], Value::Array(vec![]), "required attributes missing");
    assert_eq!(v["values"], Value::Array(vec![]));
    assert_eq!(v["ocsf_version"], orgscan::report::ocsf::OCSF_VERSION);
    // The attributes the models do not declare: the cloud profile's place for the organization is theirs
    // (`Cloud` validates it), and the OCSF 1.5.0 compliance object's `status`, which the model omits.
    assert_eq!(v["unknown"], serde_json::json!(["cloud", "compliance.status"]));

    // One event per finding of the JSON report, PASS included, with the same verdicts and owners.
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["status"] == "PASS") && findings.iter().any(|f| f["status"] == "FAIL"));
    assert_eq!(v["events"].as_u64(), Some(findings.len() as u64));
    let expected = expected_from_report(&report);
    let got: BTreeMap<String, (String, String, String, String, Option<String>)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |i: usize| r[i].as_str().unwrap().to_owned();
            (s(0), (s(1), s(2), s(3), s(4), r[5].as_str().map(str::to_owned)))
        })
        .collect();
    assert_eq!(got, expected);
    // Organization scans name every account and, for the members in OUs, their path.
    assert!(got.values().any(|r| r.4.as_deref() == Some("Root/prod/prod-eu")), "{got:?}");
    // Without a baseline, first seen is this scan.
    assert!(v["findings"].as_array().unwrap().iter().all(|r| r[6] == r[7]));

    // Parquet: the same events, one file per (region, account, event day), as Security Lake lays them out.
    let pq = &v["parquet"];
    assert_eq!(pq["rows"], v["events"]);
    assert_eq!(pq["mismatches"], Value::Array(vec![]), "Parquet rows that differ from their JSON event");
    assert_eq!(pq["inconsistent_partitions"], 0);
    let day = report["started_at"].as_str().unwrap()[..10].replace('-', "");
    let mut want: Vec<Value> = Vec::new();
    for account in org.all_accounts() {
        for r in regions {
            want.push(serde_json::json!([r, account, day]));
        }
    }
    want.sort_by_key(|a| a.to_string());
    let mut partitions = pq["partitions"].as_array().unwrap().clone();
    partitions.sort_by_key(|a| a.to_string());
    assert_eq!(partitions, want);
    for f in pq["files"].as_array().unwrap() {
        let f = f.as_str().unwrap();
        let parts: Vec<&str> = f.split('/').collect();
        assert!(
            parts.len() == 4
                && parts[0].starts_with("region=")
                && parts[1].starts_with("accountId=")
                && parts[2] == format!("eventDay={day}")
                && parts[3].starts_with("orgscan-")
                && parts[3].ends_with(".parquet"),
            "{f}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_baseline_first_seen_comes_from_it_and_triage_is_unmapped() {
    let moto = Moto::from_env();
    let (account, creds) = seeded_account(&moto, &["eu-west-2"], |_| Mix::guardduty_only(2)).await.unwrap();
    let dir = tempdir();
    let first = dir.path().join("first.json");
    let second = dir.path().join("second.json");
    let events = dir.path().join("events.jsonl");
    let base = ["scan", "--this-account", "--regions", "eu-west-2", "--checks", "guardduty-enabled", "--quiet"];
    let o = orgscan(&moto, &creds, &[&base[..], &["--json", first.to_str().unwrap()]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let more = ["--baseline", first.to_str().unwrap(), "--json", second.to_str().unwrap(), "--ocsf", events.to_str().unwrap()];
    let o = orgscan(&moto, &creds, &[&base[..], &more[..]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = validate(&events, None);
    assert_eq!((v["errors"].clone(), v["missing"].clone()), (Value::Array(vec![]), Value::Array(vec![])));
    let e = lines(&events);
    assert_eq!(e.len(), 1);
    // The JSON report's first sighting (the first scan's start), to the millisecond.
    let first_started = read_json(&first)["started_at"].as_str().unwrap().to_owned();
    assert_eq!(read_json(&second)["findings"][0]["first_seen"].as_str(), Some(first_started.as_str()));
    assert_eq!(e[0]["finding_info"]["first_seen_time_dt"].as_str(), Some(first_started.as_str()));
    let ms = chrono::DateTime::parse_from_rfc3339(&first_started).unwrap().timestamp_millis();
    assert_eq!(e[0]["finding_info"]["first_seen_time"].as_i64(), Some(ms));
    assert!(e[0]["time"].as_i64() > e[0]["finding_info"]["first_seen_time"].as_i64());
    assert_eq!(e[0]["unmapped"]["baseline_state"], "unchanged");
    assert_eq!((e[0]["status"].as_str(), e[0]["compliance"]["status"].as_str()), (Some("New"), Some("Fail")));
    // This account alone: named by its id, no organization.
    assert_eq!(e[0]["cloud"]["account"]["name"].as_str(), Some(account.as_str()));
    assert!(e[0]["cloud"].get("org").is_none());
}

#[test]
fn bad_ocsf_outputs_are_refused_before_any_aws_call() {
    let dir = tempdir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let same = dir.path().join("same.out");
    let (file, same) = (file.to_str().unwrap(), same.to_str().unwrap());
    assert_refused_before_any_aws_call(
        &["scan", "--this-account"],
        &[
            (&["--ocsf", "/no/such/dir/o.jsonl"], &["'/no/such/dir/o.jsonl'", "does not exist"]),
            (&["--ocsf", "-"], &["--ocsf '-'", "only --json"]),
            (&["--ocsf-dir", file], &["--ocsf-dir", "not a directory"]),
            (&["--json", same, "--ocsf", same], &["--json and --ocsf both name"]),
        ],
    );
}
