//! Stops (SIGTERM) in every phase of a run, end to end through the binary: the organization walk, the scan,
//! the Security Hub import and `orgscan merge`. Each stop lands at a point chosen by what the process has
//! done, never by time: the nth request of a phase is held at a loopback proxy in front of moto (or, for
//! merge, the nth shard report is a FIFO the test has not written yet), SIGTERM is sent, and the held request
//! is never answered. Every run must end with exit code 3 or 4, its reports whole (or absent), and the JSON
//! report naming the phase and what was not reached.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use serde_json::Value;

use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::hold::spawn;
use crate::support::{assert_valid, aws_command, tempdir};

/// Which phase a request belongs to, from the service in its SigV4 credential scope
/// (`Credential=AKID/20261202/eu-west-1/kms/aws4_request`): Organizations is the walk (GetCallerIdentity, the
/// first STS call, opens it), Security Hub the import, every check service the scan. The OU tree's listings
/// (`X-Amz-Target`) are read beside the scan, so they are a kind of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Identity,
    Walk,
    Tree,
    Scan,
    Import,
    Other,
}

fn kind(head: &str, body: &str) -> Kind {
    let service = head.split("credential=").nth(1).and_then(|c| c.split('/').nth(3)).unwrap_or_default().to_owned();
    match service.as_str() {
        "sts" if body.contains("action=getcalleridentity") => Kind::Identity,
        "sts" => Kind::Other,
        "organizations" if ["listroots", "listorganizationalunitsforparent", "listaccountsforparent"].iter().any(|t| head.contains(t)) => {
            Kind::Tree
        }
        "organizations" => Kind::Walk,
        "securityhub" => Kind::Import,
        "" => Kind::Other,
        _ => Kind::Scan,
    }
}

/// A loopback proxy in front of moto: counts the requests of each kind and, when `hold` is `(kind, n)`,
/// never answers the nth request of that kind (it reports reaching it instead); every other request passes.
struct Proxy {
    endpoint: String,
    reached: tokio::sync::mpsc::UnboundedReceiver<()>,
    counts: Arc<Mutex<BTreeMap<Kind, usize>>>,
}

async fn proxy(upstream: &str, hold: Option<(Kind, usize)>) -> Proxy {
    use crate::support::hold::{Verdict, start};
    let counts: Arc<Mutex<BTreeMap<Kind, usize>>> = Arc::default();
    let seen = counts.clone();
    let p = start(upstream, move |head, body| {
        let k = kind(head, body);
        let n = {
            let mut c = seen.lock().unwrap();
            let n = c.entry(k).or_default();
            *n += 1;
            *n
        };
        // Never answered: the run must stop with this request in flight.
        if hold == Some((k, n)) { Verdict::HoldForever } else { Verdict::Pass }
    })
    .await;
    Proxy { endpoint: p.endpoint, reached: p.reached, counts }
}

/// Every file in `dir` is whole: no temporary file left, each JSON or SARIF file parses.
fn assert_whole(dir: &Path, what: &str) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with(".orgscan-"), "{what}: a temporary file is left: {name}");
        if name.ends_with(".json") || name.ends_with(".sarif") {
            let text = std::fs::read_to_string(&p).unwrap();
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{what}: {name} is not whole: {e}"));
        }
    }
}

/// The JSON report of a stopped run: valid, incomplete, naming `phase` and at least one thing not reached.
fn assert_stopped(report: &Path, phase: &str, code: Option<i32>, what: &str) -> Value {
    let text = std::fs::read_to_string(report).unwrap_or_else(|e| panic!("{what}: no report: {e}"));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_valid("report.schema.json", &r);
    // `incomplete` says the scan's findings are partial; a stopped import leaves them whole (its own scopes
    // say what was not imported), and the exit code says incomplete either way.
    assert_eq!(r["incomplete"], phase != "security_hub_import", "{what}: stopped {}, errors {}", r["stopped"], r["errors"]);
    assert_eq!(r["stopped"]["phase"], phase, "{what}: {}", r["stopped"]);
    let not_reached = r["stopped"]["not_reached"].as_array().unwrap();
    assert!(!not_reached.is_empty(), "{what}: the report names what was not reached");
    let fails = r["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "FAIL").count();
    assert_eq!(code, Some(if fails > 0 { 4 } else { 3 }), "{what}");
    r
}

fn scan_command(endpoint: &str, creds: &Credentials, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = aws_command(env!("CARGO_BIN_EXE_orgscan"), endpoint, creds);
    let json = out.join("r.json");
    let sarif = out.join("r.sarif");
    cmd.args(["scan", "--regions", "eu-west-1", "--max-attempts", "1", "--call-timeout", "600", "--json"])
        .arg(json)
        .arg("--sarif")
        .arg(sarif)
        .args(extra);
    cmd
}

/// Spread `runs` points over 1..=n (each at least once when there are fewer points than requests).
fn points(n: usize, runs: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..runs).map(|i| 1 + i * n.saturating_sub(1) / runs.saturating_sub(1).max(1)).collect();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_every_phase_exits_3_or_4_with_whole_reports_that_name_what_was_not_reached() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 2).await.unwrap();
    seed_org(&moto, &org, &["eu-west-1"], |_, _| Mix::light(1)).await.unwrap();
    let creds = &org.management_creds;
    let import = ["--security-hub"];

    // Calibration: an undisturbed run through the proxy, to know how many requests each phase makes.
    let p = proxy(&moto.endpoint, None).await;
    let dir = tempdir();
    let o = spawn(scan_command(&p.endpoint, creds, dir.path(), &import)).finish().await;
    assert!(matches!(o.0, Some(1) | Some(0)), "the undisturbed run completes: {}", o.2);
    let counts = p.counts.lock().unwrap().clone();
    let n = |k: Kind| counts.get(&k).copied().unwrap_or(0);
    assert!(n(Kind::Walk) >= 1 && n(Kind::Tree) >= 3 && n(Kind::Scan) >= 6 && n(Kind::Import) >= 2, "{counts:?}");

    let mut cases: Vec<(Kind, usize)> = vec![(Kind::Identity, 1)];
    cases.extend(points(n(Kind::Walk), 5).into_iter().map(|i| (Kind::Walk, i)));
    cases.extend(points(n(Kind::Tree), 3).into_iter().map(|i| (Kind::Tree, i)));
    cases.extend(points(n(Kind::Scan), 8).into_iter().map(|i| (Kind::Scan, i)));
    cases.extend(points(n(Kind::Import), 5).into_iter().map(|i| (Kind::Import, i)));
    let mut runs = 0;
    for (k, i) in cases {
        let what = format!("SIGTERM at {k:?} request {i} of {}", n(k));
        let mut p = proxy(&moto.endpoint, Some((k, i))).await;
        let dir = tempdir();
        let run = spawn(scan_command(&p.endpoint, creds, dir.path(), &import));
        tokio::time::timeout(Duration::from_secs(120), p.reached.recv()).await.expect("the held request is reached").unwrap();
        let (code, out, err) = run.terminate().await;
        assert_whole(dir.path(), &what);
        let report = dir.path().join("r.json");
        match k {
            Kind::Identity => {
                // Nothing is known of the caller yet: nothing written, still "incomplete", never killed.
                assert_eq!(code, Some(3), "{what}: {err}");
                assert!(err.contains("before the caller's identity was read"), "{what}: {err}");
                assert!(!report.exists(), "{what}");
            }
            Kind::Walk => {
                let r = assert_stopped(&report, "walk", code, &what);
                assert!(r["coverage"].as_array().unwrap().is_empty(), "{what}: no scope was reached");
                assert!(out.contains("INCOMPLETE"), "{what}: {out}");
            }
            Kind::Tree => {
                // The tree is read beside the scan: the stop lands in the scan, or after it while only the
                // tree is left. Either way the run is incomplete, and no finding claims an OU path.
                let text = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{what}: no report: {e}"));
                let r: Value = serde_json::from_str(&text).unwrap();
                assert_valid("report.schema.json", &r);
                let phase = r["stopped"]["phase"].as_str().unwrap_or_default().to_owned();
                assert!(phase == "scan" || phase == "walk", "{what}: {}", r["stopped"]);
                assert!(!r["stopped"]["not_reached"].as_array().unwrap().is_empty(), "{what}");
                let fails = r["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "FAIL").count();
                assert_eq!(code, Some(if fails > 0 { 4 } else { 3 }), "{what}");
                assert!(r["findings"].as_array().unwrap().iter().all(|f| f["ou_path"].is_null()), "{what}: an OU path without the tree");
                let notes: Vec<&str> = r["notes"].as_array().unwrap().iter().filter_map(|n| n["text"].as_str()).collect();
                assert!(notes.iter().any(|n| n.contains("OU tree")), "{what}: {notes:?}");
            }
            Kind::Scan => {
                let r = assert_stopped(&report, "scan", code, &what);
                let interrupted = r["coverage"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|c| c["detail"].as_str().unwrap_or_default().starts_with("Interrupted"));
                assert!(interrupted.count() >= 1, "{what}: the scope in flight is interrupted");
                // A partial scan imports nothing (the import would resolve what it did not read).
                let scopes = r["security_hub"]["scopes"].as_array().unwrap();
                assert!(scopes.iter().all(|s| s["status"] == "skipped"), "{what}: {scopes:?}");
            }
            Kind::Import => {
                let r = assert_stopped(&report, "security_hub_import", code, &what);
                assert!(r["stopped"]["not_reached"][0].as_str().unwrap().starts_with("Security Hub import of "), "{what}");
                assert!(r["coverage"].as_array().unwrap().iter().all(|c| c["status"] != "error"), "{what}: the scan itself completed");
            }
            Kind::Other => unreachable!(),
        }
        runs += 1;
    }

    // Merge: four shard reports, the nth of them a FIFO the test writes only after SIGTERM is acknowledged.
    let shards = tempdir();
    let mut reports: Vec<PathBuf> = Vec::new();
    for s in 0..4 {
        let out = shards.path().join(format!("shard-{s}"));
        std::fs::create_dir(&out).unwrap();
        let o = spawn(scan_command(&moto.endpoint, creds, &out, &["--shard", &format!("{s}/4")])).finish().await;
        assert!(matches!(o.0, Some(0 | 1 | 3)), "shard {s}: {}", o.2);
        reports.push(out.join("r.json"));
    }
    for (fifo_at, order) in [(0, [0, 1, 2, 3]), (1, [0, 1, 2, 3]), (2, [0, 1, 2, 3]), (0, [3, 2, 1, 0]), (1, [2, 3, 0, 1])] {
        let what = format!("SIGTERM while merge reads part {fifo_at} of {order:?}");
        let dir = tempdir();
        let fifo = dir.path().join("fifo.json");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let mut parts: Vec<PathBuf> = order.iter().map(|&i| reports[i].clone()).collect();
        let held = std::mem::replace(&mut parts[fifo_at], fifo.clone());
        let out = dir.path().join("merged");
        std::fs::create_dir(&out).unwrap();
        let mut cmd = aws_command(env!("CARGO_BIN_EXE_orgscan"), &moto.endpoint, creds);
        cmd.arg("merge").args(&parts).arg("--json").arg(out.join("r.json")).arg("--sarif").arg(out.join("r.sarif"));
        let mut run = spawn(cmd);
        // Opening a FIFO for writing returns once the reader has opened it: merge is reading part `fifo_at`.
        let fifo_w = fifo.clone();
        let mut writer = tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(fifo_w).unwrap()).await.unwrap();
        run.sigterm().await;
        writer.write_all(&std::fs::read(&held).unwrap()).unwrap();
        drop(writer);
        let (code, _, err) = run.finish().await;
        assert_whole(&out, &what);
        let r = assert_stopped(&out.join("r.json"), "merge", code, &format!("{what}: {err}"));
        let not_reached: Vec<&str> = r["stopped"]["not_reached"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let expected: Vec<String> = parts[fifo_at + 1..].iter().map(|p| format!("shard report {}", p.display())).collect();
        assert_eq!(not_reached, expected, "{what}");
        runs += 1;
    }
    assert!(runs >= 20, "at least 20 stops across walk, scan, import and merge: {runs}");
}
