//! Runs over time against moto: `--baseline` (new, fixed, unchanged), FAILs carried forward as stale when
//! their region could not be read (through the realism proxy's identity-policy deny), dropped once it is read
//! again, `--fail-on`, and `--asff-dir` keeping `CreatedAt` from the first sighting. Also: baselines that are
//! not orgscan reports, and SARIF categories that follow the selection.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sarif::{assert_github_ingestion_rules, assert_schema_valid, multitool_validate};
use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::realism::Realism;
use crate::support::{assert_refused_before_any_aws_call, assert_valid, orgscan, orgscan_env, read_json, stderr, stdout, tempdir};

const READ: &str = "eu-west-1";
const LOST: &str = "eu-west-2";
const KMS: &str = "kms-key-not-pending-deletion";
/// The checks these runs are about (the estate is GuardDuty and keys): another check that reads the same keys
/// would have findings of its own in every count below.
pub(crate) const CHECKS: &str = "kms-key-not-pending-deletion,guardduty-enabled";

/// The list calls of every check: denied in one region, they make it unreadable.
const LIST_ACTIONS: [&str; 5] =
    ["kms:ListKeys", "guardduty:ListDetectors", "es:ListDomainNames", "sagemaker:ListNotebookInstances", "lambda:ListFunctions"];

async fn key(kms: &aws_sdk_kms::Client, pending: bool) -> String {
    let id = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    if pending {
        kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    }
    id
}

/// (resource_id, status, baseline_state) of the KMS findings.
pub(crate) fn kms_rows(report: &Value, list: &str) -> BTreeMap<String, (String, Value)> {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check_id"] == KMS)
        .map(|f| (f["resource_id"].as_str().unwrap().to_owned(), (f["status"].as_str().unwrap().to_owned(), f["baseline_state"].clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_scan_against_its_baseline_has_one_new_one_fixed_and_carries_the_unreadable_region_forward() {
    let moto = Moto::from_env();
    // GuardDuty enabled in both regions: the FAILs are the keys.
    let (account, creds) = seeded_account(&moto, &[READ, LOST], |_| Mix::guardduty_only(0)).await.unwrap();
    let kms_read = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, READ));
    let kms_lost = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, LOST));
    let k1 = key(&kms_read, false).await; // scheduled for deletion after the first scan: new
    let k2 = key(&kms_read, true).await; // cancelled after the first scan: fixed
    let k3 = key(&kms_lost, true).await; // in the region that becomes unreadable: carried forward

    let dir = tempdir();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let regions = format!("{READ},{LOST}");
    let (b1, r2, s2, r3, asff) = (path("b1.json"), path("r2.json"), path("r2.sarif"), path("r3.json"), path("asff"));
    let o = orgscan(&moto, &creds, &["scan", "--this-account", "--checks", CHECKS, "--regions", &regions, "--json", &b1, "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let first = read_json(std::path::Path::new(&b1));
    assert_eq!(kms_rows(&first, "findings").len(), 3);

    kms_read.schedule_key_deletion().key_id(&k1).pending_window_in_days(7).send().await.unwrap();
    kms_read.cancel_key_deletion().key_id(&k2).send().await.unwrap();
    let proxy = Realism::start(&moto.endpoint).await.unwrap();
    proxy.register_key(creds.access_key_id(), &account);
    for action in LIST_ACTIONS {
        proxy.identity_deny(&account, LOST, action);
    }
    let args = [
        "scan",
        "--this-account",
        "--checks",
        CHECKS,
        "--regions",
        &regions,
        "--baseline",
        &b1,
        "--json",
        &r2,
        "--sarif",
        &s2,
        "--asff-dir",
        &asff,
    ];
    let o = orgscan_env(&proxy.endpoint, &creds, &args, &[]);
    let summary = stdout(&o);
    assert_eq!(o.status.code(), Some(4), "FAILs, and a region unread:\n{summary}\n{}", stderr(&o));

    // JSON report: exactly one new, one fixed, none unchanged, and the unreadable region's FAIL stale.
    let second = read_json(std::path::Path::new(&r2));
    assert_valid("report.schema.json", &second);
    let b = &second["baseline"];
    assert_eq!(
        (b["new"].as_u64(), b["fixed"].as_u64(), b["unchanged"].as_u64(), b["stale"].as_u64()),
        (Some(1), Some(1), Some(0), Some(1)),
        "{b:#}"
    );
    assert_eq!(b["started_at"], first["started_at"]);
    let fixed = &b["fixed_findings"][0];
    assert_eq!((fixed["resource_id"].as_str(), fixed["gone"].as_bool()), (Some(k2.as_str()), Some(false)));
    let rows = kms_rows(&second, "findings");
    assert_eq!(rows[&k1], ("FAIL".to_owned(), Value::from("new")));
    assert_eq!(rows[&k2], ("PASS".to_owned(), Value::Null));
    assert!(!rows.contains_key(&k3), "nothing was read in {LOST}");
    let stale = second["stale"].as_array().unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(
        (stale[0]["resource_id"].as_str(), stale[0]["status"].as_str(), stale[0]["region"].as_str()),
        (Some(k3.as_str()), Some("FAIL"), Some(LOST))
    );
    assert_eq!(stale[0]["last_seen"], first["started_at"]);
    assert_eq!(stale[0]["first_seen"], first["started_at"]);
    assert!(stale[0]["reason"].as_str().unwrap().contains("AccessDenied"), "{}", stale[0]["reason"]);

    // The summary leads with the comparison, and lists the stale FAIL.
    let lines: Vec<&str> = summary.lines().collect();
    assert!(
        lines[1].starts_with("Since the baseline of ") && lines[1].contains(": 1 new, 1 fixed, 0 unchanged; 1 carried forward as stale"),
        "{summary}"
    );
    assert!(summary.contains("Carried forward from the baseline (1;") && summary.contains(&k3), "{summary}");
    assert!(summary.contains(&format!("NEW {account}/{READ}")), "{summary}");

    // SARIF: the new FAIL and the stale one, each with a baselineState; GitHub's rules, the schema and the
    // multitool accept it. The run is not successful (a region errored), and nothing was closed by that.
    let bytes = std::fs::read(&s2).unwrap();
    let log = assert_github_ingestion_rules(&bytes);
    assert_schema_valid(&log);
    multitool_validate(std::path::Path::new(&s2));
    let results = log["runs"][0]["results"].as_array().unwrap();
    let by_key: BTreeMap<&str, &Value> =
        results.iter().map(|r| (r["locations"][0]["logicalLocations"][0]["name"].as_str().unwrap(), r)).collect();
    assert_eq!(by_key.len(), 2, "{results:#?}");
    assert_eq!(by_key[k1.as_str()]["baselineState"], "new");
    assert_eq!(by_key[k3.as_str()]["baselineState"], "unchanged");
    assert_eq!(by_key[k3.as_str()]["properties"]["stale"], true);
    assert_eq!(by_key[k3.as_str()]["properties"]["last_seen"], first["started_at"]);
    assert!(by_key[k3.as_str()]["message"]["text"].as_str().unwrap().starts_with("Not read again in this scan"));
    assert_eq!(log["runs"][0]["invocations"][0]["executionSuccessful"], false);
    // The fingerprint of a stale result is the one its alert has: the first scan's.
    let first_fp = first["findings"].as_array().unwrap().iter().find(|f| f["resource_id"] == k3.as_str()).unwrap()["fingerprint"].clone();
    assert_eq!(by_key[k3.as_str()]["partialFingerprints"]["primaryLocationLineHash"], first_fp);

    // --asff-dir as the import would send it: CreatedAt from the first sighting for what was seen before.
    let batch: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join(format!("asff/{account}/{READ}/batch-0001.json"))).unwrap()).unwrap();
    let created = |id: &str| batch.iter().find(|f| f["Resources"][0]["Id"].as_str().unwrap().ends_with(id)).unwrap()["CreatedAt"].clone();
    let t = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!(t(&created(&k2)), t(&first["started_at"]), "seen in the first scan");
    assert_eq!(t(&created(&k1)), t(&first["started_at"]), "seen (passing) in the first scan");
    for f in &batch {
        assert_valid("asff-finding.schema.json", f);
    }

    // Third scan, the region readable again: the stale FAIL is read, unchanged, and no longer stale.
    let o = orgscan(
        &moto,
        &creds,
        &["scan", "--this-account", "--checks", CHECKS, "--regions", &regions, "--baseline", &r2, "--json", &r3, "--quiet"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let third = read_json(std::path::Path::new(&r3));
    assert_valid("report.schema.json", &third);
    assert_eq!(third["stale"].as_array().unwrap().len(), 0);
    let b = &third["baseline"];
    assert_eq!(
        (b["new"].as_u64(), b["fixed"].as_u64(), b["unchanged"].as_u64(), b["stale"].as_u64()),
        (Some(0), Some(0), Some(2), Some(0)),
        "{b:#}"
    );
    let rows = kms_rows(&third, "findings");
    assert_eq!(rows[&k3], ("FAIL".to_owned(), Value::from("unchanged")));
    let k3_now = third["findings"].as_array().unwrap().iter().find(|f| f["resource_id"] == k3.as_str()).unwrap().clone();
    assert_eq!(k3_now["first_seen"], first["started_at"], "the first sighting survives the run it was carried through");
    // --fail-on new: nothing new, so the scan passes; the default (any) fails.
    let o = orgscan(
        &moto,
        &creds,
        &["scan", "--this-account", "--checks", CHECKS, "--regions", &regions, "--baseline", &r2, "--fail-on", "new", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("2 other FAIL(s) do not fail the scan"), "{}", stdout(&o));
}

#[test]
fn a_baseline_that_is_not_an_orgscan_report_or_of_a_future_schema_is_refused() {
    let dir = tempdir();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let sarif = write("x.sarif", r#"{"version":"2.1.0","runs":[]}"#);
    let text = write("notes.txt", "not json");
    let future = write(
        "future.json",
        r#"{"schema_version":"4","tool":{"name":"orgscan","version":"9.0.0"},"started_at":"2026-01-01T00:00:00Z","findings":[]}"#,
    );
    let odd = write(
        "odd.json",
        r#"{"schema_version":"two","tool":{"name":"orgscan","version":"1"},"started_at":"2026-01-01T00:00:00Z","findings":[]}"#,
    );
    let broken =
        write("broken.json", r#"{"schema_version":"2","tool":{"name":"orgscan","version":"1"},"started_at":"2026-01-01T00:00:00Z"}"#);
    let missing = dir.path().join("missing.json").to_str().unwrap().to_owned();
    assert_refused_before_any_aws_call(
        &["scan", "--this-account", "--baseline"],
        &[
            (&[sarif.as_str()], &["is not an orgscan JSON report", "tool.name", "x.sarif"]),
            (&[text.as_str()], &["is not an orgscan JSON report", "not JSON"]),
            (&[future.as_str()], &["schema version 4", "newer orgscan", "reads schema versions 1, 2, 3"]),
            (&[odd.as_str()], &["schema version \"two\""]),
            (&[broken.as_str()], &["not a valid orgscan report", "findings"]),
            (&[missing.as_str()], &["cannot read --baseline", "missing.json"]),
        ],
    );
}

#[test]
fn a_partial_selection_names_its_own_sarif_category() {
    use crate::support::plan;
    let dir = tempdir();
    let sarif = dir.path().join("r.sarif");
    let s = sarif.to_str().unwrap();
    let full = plan(&["--sarif", s]);
    assert_eq!(full.partial, None);
    let cases: [(&[&str], &str); 6] = [
        (&["--checks", "kms-key-not-pending-deletion"], "checks=kms-key-not-pending-deletion"),
        (&["--regions", "eu-west-2,eu-west-1"], "regions=eu-west-1,eu-west-2"),
        (&["--exclude-regions", "us-east-1"], "exclude-regions=us-east-1"),
        (&["--ou", "ou-ab12-cdef3456"], "ou=ou-ab12-cdef3456"),
        (&["--accounts", "222222222222,111111111111"], "accounts=111111111111,222222222222"),
        (
            &["--exclude-accounts", "111111111111", "--checks", "guardduty-enabled,kms-key-not-pending-deletion"],
            "checks=kms-key-not-pending-deletion,guardduty-enabled/exclude-accounts=111111111111",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["--sarif", s];
        args.extend_from_slice(extra);
        let p = plan(&args);
        assert_eq!(p.partial.as_deref(), Some(want), "{extra:?}");
        let org = orgscan::model::Subject::Organization { id: "o-abc123defg".into(), caller: "111111111111".parse().unwrap() };
        let category = orgscan::report::sarif::category(&org, p.partial.as_deref(), None);
        assert_ne!(category, "orgscan/o-abc123defg/", "{extra:?}: a partial run never writes under the full scan's category");
        assert_eq!(category, format!("orgscan/o-abc123defg/{want}/"));
    }
    // A selection too long to name needs an explicit category.
    let many: Vec<String> = (0..20).map(|i| format!("{:012}", 100_000_000_000u64 + i)).collect();
    let many = many.join(",");
    assert_refused_before_any_aws_call(&["scan", "--sarif", s, "--accounts"], &[(&[many.as_str()], &["give --sarif-category"])]);
    let p = plan(&["--sarif", s, "--accounts", &many, "--sarif-category", "orgscan/big-selection/"]);
    assert!(p.partial.is_some());
}

/// A report of organization `org` with one KMS FAIL per key, as JSON text.
fn org_report(org: &str, keys: &[&str]) -> String {
    use orgscan::model::{Finding, ScanReport, Subject, Target};
    let t = Target::new("111111111111".parse().unwrap(), READ.parse().unwrap());
    let findings = keys
        .iter()
        .map(|k| {
            let arn = format!("arn:aws:kms:{READ}:111111111111:key/{k}");
            Finding::builder(orgscan::check::kms::INFO, &t).resource("AwsKmsKey", *k, arn).fail("pending deletion").build().unwrap()
        })
        .collect();
    let subject = Subject::Organization { id: org.into(), caller: "111111111111".parse().unwrap() };
    let r = ScanReport { findings, ..ScanReport::new(subject, vec![orgscan::check::kms::INFO]) };
    let mut out = Vec::new();
    orgscan::json::to_writer(&r, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_huge_baseline_of_bad_entries_gives_one_note_per_cause_with_its_count() {
    use std::path::Path;
    let text = org_report("o-aaaaaaaaaa", &["k-good"]);
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let good = v["findings"][0].clone();
    let findings = v["findings"].as_array_mut().unwrap();
    // 20,000 entries whose fingerprint was edited, and 30 more each with an account id of its own that is
    // not an account id: one cause for the first, at most MAX_CAUSES causes and a remainder for the others.
    for i in 0..20_000 {
        let mut e = good.clone();
        e["resource_id"] = Value::from(format!("k-{i}"));
        findings.push(e);
    }
    for i in 0..30 {
        let mut e = good.clone();
        e["account_id"] = Value::from(format!("bad-{i}"));
        findings.push(e);
    }
    let b = orgscan::triage::Baseline::parse(Path::new("big.json"), &v.to_string()).unwrap();
    assert_eq!(b.findings.len(), 1, "the good entry is read");
    let limit = orgscan::triage::baseline::MAX_CAUSES;
    assert!(b.warnings.len() <= limit + 1, "notes are bounded: {} of them", b.warnings.len());
    let fingerprints = b.warnings.iter().find(|w| w.contains("does not match its check")).expect("the edited fingerprints' note");
    assert!(fingerprints.contains("20000 entries ignored"), "{fingerprints}");
    let rest: usize = b
        .warnings
        .iter()
        .filter(|w| !w.contains("does not match its check"))
        .map(|w| w.split("': ").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0))
        .sum();
    assert_eq!(rest, 30, "every ignored entry is counted once: {:#?}", b.warnings);
}

#[test]
fn a_baseline_of_another_organization_gives_a_note() {
    use orgscan::model::{ScanReport, Subject};
    use std::path::Path;
    let theirs = orgscan::triage::Baseline::parse(Path::new("theirs.json"), &org_report("o-bbbbbbbbbb", &["k1"])).unwrap();
    let ours = orgscan::triage::Baseline::parse(Path::new("ours.json"), &org_report("o-aaaaaaaaaa", &["k1"])).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let scan = || {
        let subject = Subject::Organization { id: "o-aaaaaaaaaa".into(), caller: "111111111111".parse().unwrap() };
        ScanReport::new(subject, vec![orgscan::check::kms::INFO])
    };
    let mut r = scan();
    orgscan::triage::apply(&mut r, Some(&theirs), None, today);
    assert!(r.notes.iter().any(|n| n.text.contains("\"o-bbbbbbbbbb\"") && n.text.contains("not of o-aaaaaaaaaa")), "{:?}", r.notes);
    let mut r = scan();
    orgscan::triage::apply(&mut r, Some(&ours), None, today);
    assert!(r.notes.iter().all(|n| !n.text.contains("is a report of organization")), "{:?}", r.notes);
}

/// Writes a baseline of one good entry and `n` copies of it under other resource ids (so their fingerprints
/// do not match) to `path`, unless `valid`, in which case every entry is a finding of its own. Returns the size.
fn big_baseline(path: &std::path::Path, n: usize, valid: bool) -> u64 {
    let keys: Vec<String> = (0..n).map(|i| format!("k-{i}")).collect();
    let text = if valid {
        org_report("o-aaaaaaaaaa", &keys.iter().map(String::as_str).collect::<Vec<_>>())
    } else {
        let mut v: Value = serde_json::from_str(&org_report("o-aaaaaaaaaa", &["k-good"])).unwrap();
        let good = v["findings"][0].clone();
        let findings = v["findings"].as_array_mut().unwrap();
        for k in &keys {
            let mut e = good.clone();
            e["resource_id"] = Value::from(k.as_str());
            findings.push(e);
        }
        v.to_string()
    };
    std::fs::write(path, &text).unwrap();
    text.len() as u64
}

#[test]
fn reading_a_large_baseline_holds_neither_its_text_nor_the_entries_it_ignores() {
    use crate::support::alloc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let size = big_baseline(&path, 100_000, false);
    assert!(size > 30_000_000, "the file is large: {size} bytes");
    let before = alloc::reset_peak();
    let b = orgscan::triage::Baseline::load(&path).unwrap();
    let peak = alloc::peak() - before;
    assert_eq!(b.findings.len(), 1, "the good entry is read");
    assert!(b.warnings.iter().any(|w| w.contains("100000 entries ignored")), "{:?}", b.warnings);
    // A bound independent of the file: the reader's buffer, one entry, the notes. Holding the text alone
    // would be the file's size.
    assert!(peak < 4 << 20, "reading a {size}-byte baseline of ignored entries peaked at {peak} bytes");
}

#[test]
fn reading_a_baseline_holds_the_findings_it_keeps_and_not_the_file() {
    use crate::support::alloc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid.json");
    let size = big_baseline(&path, 20_000, true);
    let before = alloc::reset_peak();
    let b = orgscan::triage::Baseline::load(&path).unwrap();
    let (peak, kept) = (alloc::peak() - before, alloc::current() - before);
    assert_eq!(b.findings.len(), 20_000, "{:?}", b.warnings);
    // What is kept is the findings; the peak above it is the parse of one entry and the vector's growth
    // (at most the vector's size again), never the text of the file.
    let slack = kept / 2 + (4 << 20);
    assert!(peak <= kept + slack, "reading a {size}-byte baseline kept {kept} bytes and peaked at {peak}");
    assert!((size as usize) > slack, "the bound would not see the text: {size} bytes, slack {slack}");
}

#[test]
fn a_baseline_from_a_fifo_is_read_once_into_memory() {
    // `--baseline <(aws s3 cp s3://... -)`: a FIFO cannot be streamed twice as a regular file is.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("baseline.json");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let text = org_report("o-aaaaaaaaaa", &["k1", "k2"]);
    let path = fifo.clone();
    let writer = std::thread::spawn(move || std::fs::write(path, text));
    let b = orgscan::triage::Baseline::load(&fifo).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(b.findings.len(), 2, "{:?}", b.warnings);
}
