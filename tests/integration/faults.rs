//! Faults at the network and process level, end to end through the binary: hung and refusing endpoints,
//! Ctrl-C, and secrets that must never reach an output or a log.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};

use orgscan::model::Service;
use serde_json::Value;

use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::{assert_valid, orgscan_env, read_json, stderr, stdout, tempdir};

fn coverage_of<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["coverage"].as_array().unwrap().iter().filter(|c| c["check_id"] == check).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_endpoint_times_out_and_a_refusing_one_is_named_while_the_rest_of_the_scan_completes() {
    let moto = Moto::from_env();
    let (_, creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::light(2)).await.unwrap();
    // Accepts connections (the kernel completes the handshake) and never answers.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_url = format!("http://{}", hung.local_addr().unwrap());
    let dir = tempdir();
    let out = dir.path().join("faults.json");
    let o = orgscan_env(
        &moto.endpoint,
        &creds,
        &this_account(&out, &["--call-timeout", "1", "--max-attempts", "2"]),
        &[("AWS_ENDPOINT_URL_KMS", &hung_url), ("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")],
    );
    assert_eq!(o.status.code(), Some(4), "GuardDuty still fails and the hung scopes are incomplete: {}", stderr(&o));
    let report = read_json(&out);
    assert_valid("report.schema.json", &report);
    // Every check on KMS times out on the hung endpoint, every check on Lambda is refused, every other check
    // is evaluated: whichever checks the registry holds.
    let mut errored = 0;
    for c in orgscan::check::ALL {
        let (id, cov) = (c.info().id, coverage_of(&report, c.info().id));
        let detail = cov[0]["detail"].as_str().unwrap_or_default();
        match c.info().service {
            Service::Kms => {
                assert_eq!(cov[0]["status"], "error", "{id}");
                assert!(detail.starts_with("TimeoutError"), "{id}: {cov:?}");
                assert!(detail.contains(&hung_url), "the endpoint is named: {cov:?}");
            }
            Service::Lambda => assert!(
                detail.starts_with("DispatchFailure") && detail.contains("Connection refused") && detail.contains("http://127.0.0.1:9"),
                "{id}: {detail}"
            ),
            _ => assert_eq!(cov[0]["status"], "evaluated", "{id}"),
        }
        errored += usize::from(cov[0]["status"] == "error");
    }
    assert!(errored >= 2, "a check of each service erred");
    assert_eq!(report["errors"].as_array().unwrap().len(), errored);
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty() && findings.iter().any(|f| f["check_id"] == "guardduty-enabled"), "GuardDuty still fails");
    assert!(
        findings.iter().all(|f| coverage_of(&report, f["check_id"].as_str().unwrap())[0]["status"] == "evaluated"),
        "no finding from an errored scope"
    );
    let summary = stdout(&o);
    assert!(summary.contains(&format!("Errors ({errored};")) && summary.contains("TimeoutError"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_write_what_was_gathered_marked_incomplete() {
    // Ctrl-C, and SIGTERM: how Kubernetes, ECS, AWS Batch and systemd stop a process.
    for signal in ["-INT", "-TERM"] {
        stopped_by(signal).await;
    }
}

async fn stopped_by(signal: &str) {
    let moto = Moto::from_env();
    let (_, creds) = seeded_account(&moto, &["eu-west-1", "eu-west-2"], |_| Mix::light(2)).await.unwrap();
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_url = format!("http://{}", hung.local_addr().unwrap());
    let dir = tempdir();
    let out = dir.path().join("partial.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgscan"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .args(["scan", "--this-account", "--regions", "eu-west-1,eu-west-2", "--call-timeout", "600", "--json", out.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_GUARDDUTY", &hung_url)
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env("AWS_SESSION_TOKEN", creds.session_token().unwrap())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The scan is under way once it connects to the hung GuardDuty endpoint.
    let (_conn, _) = hung.accept().unwrap();
    let kill = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut out_text = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out_text).unwrap();
    let mut err_text = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err_text).unwrap();
    let name = signal.trim_start_matches('-');
    assert!(err_text.contains(&format!("SIG{name} received")), "{signal}: {err_text}");

    let report = read_json(&out);
    assert_valid("report.schema.json", &report);
    assert_eq!(report["incomplete"], true);
    let fails = report["findings"].as_array().unwrap().iter().filter(|f| f["status"] == "FAIL").count();
    assert_eq!(status.code(), Some(if fails > 0 { 4 } else { 3 }), "{signal}: {out_text}");
    // The hung scopes are accounted for as interrupted errors, never as evaluated or missing.
    let gd = coverage_of(&report, "guardduty-enabled");
    assert_eq!(gd.len(), 2, "{gd:?}");
    assert!(gd.iter().all(|c| c["status"] == "error" && c["detail"].as_str().unwrap().starts_with("Interrupted")), "{gd:?}");
    assert_eq!(report["coverage"].as_array().unwrap().len(), 2 * orgscan::check::ALL.len(), "every planned scope is in the coverage");
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["check_id"] != "guardduty-enabled"));
    assert!(out_text.contains("INCOMPLETE"), "{out_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_or_log_at_any_verbosity() {
    let moto = Moto::from_env();
    // The estate's Lambda functions carry DB_PASSWORD=orgscan-leak-canary-7f3a9c in their environment.
    let (_, creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::full(1)).await.unwrap();
    let dir = tempdir();
    let out = dir.path().join("secrets.json");
    let o = orgscan_env(
        &moto.endpoint,
        &creds,
        &this_account(&out, &["-vvv", "--external-id", "orgscan-external-id-canary"]),
        &[("RUST_LOG", "trace")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let mut haystacks = vec![("stdout", stdout(&o)), ("stderr", stderr(&o))];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        haystacks.push((p.display().to_string().leak(), std::fs::read_to_string(&p).unwrap()));
    }
    // Logging is on at its most verbose: orgscan's own debug events are there (the SDK's stop at INFO).
    assert!(haystacks[1].1.contains("scope evaluated") && haystacks[1].1.contains("scanning as"), "{}", haystacks[1].1);
    let secrets = [
        ("access key id", creds.access_key_id().to_owned()),
        ("secret access key", creds.secret_access_key().to_owned()),
        ("session token", creds.session_token().unwrap().to_owned()),
        ("Lambda environment value", "orgscan-leak-canary-7f3a9c".to_owned()),
        ("external id", "orgscan-external-id-canary".to_owned()),
    ];
    for (name, text) in &haystacks {
        for (what, secret) in &secrets {
            assert!(!text.contains(secret.as_str()), "the {what} appears in {name}");
        }
    }
}

/// `scan --this-account --regions eu-west-1 --json OUT` and `extra`.
fn this_account<'a>(out: &'a std::path::Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["scan", "--this-account", "--regions", "eu-west-1", "--json", out.to_str().unwrap_or_default()];
    args.extend_from_slice(extra);
    args
}

/// An endpoint that answers every request with a body that never ends (200 OK, chunked): at most `cap` bytes
/// a connection, so a bound that fails shows as a failed assertion, not a hung test.
fn endless_endpoint(cap: usize) -> String {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let _ = conn.read(&mut buf);
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 65536, " ".repeat(65536));
                let mut sent = 0;
                while sent < cap && conn.write_all(chunk.as_bytes()).is_ok() {
                    sent += 65536;
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_response_body_is_cut_at_the_bound_and_is_an_error_naming_the_operation() {
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    let endless = endless_endpoint(256 * 1024 * 1024);
    let dir = tempdir();
    let out = dir.path().join("endless.json");
    let o = orgscan_env(
        &moto.endpoint,
        &creds,
        &this_account(&out, &["--checks", "kms-key-not-pending-deletion", "--max-attempts", "1"]),
        &[("AWS_ENDPOINT_URL_KMS", &endless)],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let report = read_json(&out);
    let kms = coverage_of(&report, "kms-key-not-pending-deletion");
    let detail = kms[0]["detail"].as_str().unwrap();
    assert!(detail.contains("ListKeys"), "the operation is named: {detail}");
    let bound = orgscan::aws::bounded::MAX_RESPONSE_BYTES.to_string();
    assert!(detail.contains(&format!("bound of {bound} bytes")), "{detail}");
}
