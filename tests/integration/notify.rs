//! Word of what is new: the digest published to SNS and delivered to an SQS subscription (moto serves both),
//! and posted to a Slack-compatible incoming webhook (a loopback HTTP server this test starts). The webhook
//! URL is a secret: it appears in no log line, at any verbosity, and in no output.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::{assert_refused_before_any_aws_call, orgscan, orgscan_env, read_json, stderr, stdout, tempdir};

const REGION: &str = "eu-west-1";

/// A fresh account whose only FAIL is one KMS key pending deletion (critical).
async fn one_critical_fail(moto: &Moto) -> (String, aws_credential_types::Credentials) {
    let (account, creds) = seeded_account(moto, &[REGION], |_| Mix::guardduty_only(0)).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, REGION));
    let id = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    (account, creds)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_is_published_to_sns_and_reaches_an_sqs_subscription() {
    let moto = Moto::from_env();
    let (account, creds) = one_critical_fail(&moto).await;
    let cfg = moto.sdk_config(&creds, "us-east-1");
    let sns = aws_sdk_sns::Client::new(&cfg);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let topic = sns.create_topic().name("orgscan-digest").send().await.unwrap().topic_arn().unwrap().to_owned();
    let queue = sqs.create_queue().queue_name("orgscan-digest").send().await.unwrap().queue_url().unwrap().to_owned();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();

    let dir = tempdir();
    let json = dir.path().join("r.json");
    let args = [
        "scan",
        "--this-account",
        "--regions",
        REGION,
        "--json",
        json.to_str().unwrap(),
        "--notify-sns",
        &topic,
        "--notify-severity",
        "high",
    ];
    let o = orgscan(&moto, &creds, &args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("notification: published to {topic}")), "{err}");
    assert_eq!(read_json(&json)["findings"].as_array().map(|f| f.iter().filter(|f| f["status"] == "FAIL").count()), Some(1));

    // moto delivers on Publish: the message is in the queue when orgscan has exited.
    let got = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let messages = got.messages();
    assert_eq!(messages.len(), 1, "one digest per run");
    let envelope: serde_json::Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(envelope["TopicArn"], topic.as_str());
    assert_eq!(envelope["Subject"], "orgscan: 1 new FAIL(s), exit 1");
    let text = envelope["Message"].as_str().unwrap();
    for needle in [
        format!("orgscan scan of account {account}"),
        "FAILs (high and above): 1 (critical 1) (no baseline: every FAIL counts as new)".to_owned(),
        "Verdict: FAIL: 1 failing resource(s) (exit code 1)".to_owned(),
        format!("Reports: {}", json.display()),
    ] {
        assert!(text.contains(&needle), "expected {needle:?} in:\n{text}");
    }
    assert!(!text.contains("Coverage lost"), "every scope was read:\n{text}");
}

/// A loopback HTTP server that answers one request with `status` and hands back (request head, body).
async fn one_request_server(status: &'static str) -> (String, tokio::task::JoinHandle<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let n = conn.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the client closed before the request ended");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .expect("a Content-Length");
        while buf.len() < head_end + length {
            let n = conn.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the body ended early");
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        let answer = format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        conn.write_all(answer.as_bytes()).await.unwrap();
        conn.shutdown().await.unwrap();
        (head, body)
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_is_posted_to_the_webhook_whose_url_reaches_no_log_and_no_output() {
    let moto = Moto::from_env();
    let (account, creds) = one_critical_fail(&moto).await;
    let token = "T0RGSCAN/B0RGSCAN/w3bh00kS3cr3tT0k3n";
    let (base, server) = one_request_server("200 OK").await;
    let url = format!("{base}/services/{token}");
    let dir = tempdir();
    let out = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let (json, html, sarif, ocsf) = (out("r.json"), out("r.html"), out("r.sarif"), out("r.ocsf.jsonl"));
    let args: Vec<String> = [
        "scan",
        "--this-account",
        "--regions",
        REGION,
        "-vvv",
        "--json",
        &json,
        "--html",
        &html,
        "--sarif",
        &sarif,
        "--ocsf",
        &ocsf,
        "--notify-webhook",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let (endpoint, c) = (moto.endpoint.clone(), creds.clone());
    let env_url = url.clone();
    // The binary runs on a blocking thread: the loopback server answers on this runtime meanwhile.
    let o = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        orgscan_env(&endpoint, &c, &args, &[("ORGSCAN_WEBHOOK_URL", &env_url), ("RUST_LOG", "trace")])
    })
    .await
    .unwrap();
    let (err, summary) = (stderr(&o), stdout(&o));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("notification: posted to the webhook"), "{err}");

    let (head, body) = server.await.unwrap();
    assert!(head.starts_with(&format!("POST /services/{token} HTTP/1.1")), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let posted: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = posted["text"].as_str().unwrap();
    assert!(text.starts_with("*orgscan: 1 new FAIL(s), exit 1*\n"), "{text}");
    for needle in [
        format!("orgscan scan of account {account}"),
        "FAILs: 1 (critical 1)".to_owned(),
        "(exit code 1)".to_owned(),
        format!("Reports: {json}"),
    ] {
        assert!(text.contains(&needle), "expected {needle:?} in:\n{text}");
    }

    // The secret is nowhere: not in the logs (trace level), the summary, or any output.
    let secret = "w3bh00kS3cr3tT0k3n";
    assert!(err.contains("scope evaluated") && err.contains("posting the digest to the webhook"), "debug logs were written:\n{err}");
    for (name, text) in [("stderr", err.clone()), ("stdout", summary)] {
        assert!(!text.contains(secret) && !text.contains("/services/T0RGSCAN"), "the webhook URL leaked into {name}");
    }
    for file in [&json, &html, &sarif, &ocsf] {
        let content = std::fs::read_to_string(file).unwrap();
        assert!(!content.contains(secret), "the webhook URL leaked into {file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_notification_is_exit_5_and_the_reports_are_written() {
    let moto = Moto::from_env();
    let (_account, creds) = one_critical_fail(&moto).await;
    let (base, server) = one_request_server("500 Internal Server Error").await;
    let dir = tempdir();
    let secret_file = dir.path().join("webhook-url");
    std::fs::write(&secret_file, format!("{base}/services/T0/B0/an0therS3cr3t\n")).unwrap();
    let json = dir.path().join("r.json");
    let (endpoint, c) = (moto.endpoint.clone(), creds.clone());
    let (j, f) = (json.to_str().unwrap().to_owned(), secret_file.to_str().unwrap().to_owned());
    let o = tokio::task::spawn_blocking(move || {
        orgscan_env(&endpoint, &c, &["scan", "--this-account", "--regions", REGION, "--json", &j, "--notify-webhook-file", &f], &[])
    })
    .await
    .unwrap();
    let err = stderr(&o);
    server.await.unwrap();
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("cannot post the notification to the webhook: HTTP 500"), "{err}");
    assert!(!err.contains("an0therS3cr3t"), "{err}");
    assert_eq!(read_json(&json)["tool"]["name"], "orgscan", "the report is written");

    // With --notify-only-new and --notify-severity above every FAIL, nothing is new: nothing is sent.
    let o = orgscan(
        &moto,
        &creds,
        &[
            "scan",
            "--this-account",
            "--regions",
            REGION,
            "--notify-webhook-file",
            secret_file.to_str().unwrap(),
            "--notify-only-new",
            "--notify-severity",
            "critical",
            "--checks",
            "guardduty-enabled",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing new, none sent"), "{}", stderr(&o));
}

#[test]
fn notification_options_are_checked_before_any_aws_call() {
    assert_refused_before_any_aws_call(
        &["scan", "--this-account"],
        &[
            (&["--notify-sns", "arn:aws:sqs:us-east-1:123456789012:q"], &["invalid --notify-sns", "expected a topic ARN"]),
            (&["--notify-only-new"], &["--notify-only-new needs a notification"]),
            (&["--notify-webhook-file", "/no/such/file"], &["cannot read --notify-webhook-file '/no/such/file'"]),
            (&["--notify-webhook"], &["ORGSCAN_WEBHOOK_URL, which is not set"]),
        ],
    );
}
