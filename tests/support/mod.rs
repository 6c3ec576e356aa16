//! Support code of the integration tests: the moto estate, running the CLI, schema validation.

#![allow(dead_code)]

pub mod alloc;
pub mod estate;
pub mod hold;
pub mod realism;
pub mod synthetic;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_credential_types::Credentials;
use serde_json::Value;

use self::estate::{Expected, Moto};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the orgscan binary against moto with these credentials, in a clean AWS environment.
pub fn orgscan(moto: &Moto, creds: &Credentials, args: &[&str]) -> Output {
    orgscan_env(&moto.endpoint, creds, args, &[])
}

pub fn orgscan_env(endpoint: &str, creds: &Credentials, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = aws_command(env!("CARGO_BIN_EXE_orgscan"), endpoint, creds);
    cmd.args(args);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run orgscan: {e}"),
    }
}

/// `program` in a clean AWS environment pointing at `endpoint` with these credentials (nothing of the
/// developer's AWS or orgscan configuration leaks in).
pub fn aws_command(program: impl AsRef<std::ffi::OsStr>, endpoint: &str, creds: &Credentials) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k == "RUST_LOG" || k.starts_with("ORGSCAN_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/orgscan-test-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/orgscan-test-credentials")
        .env("AWS_MAX_ATTEMPTS", "2");
    if let Some(t) = creds.session_token() {
        cmd.env("AWS_SESSION_TOKEN", t);
    }
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Validates `instance` against a schema under `schemas/`, listing every violation on failure.
pub fn assert_valid(schema_file: &str, instance: &Value) {
    let schema = read_json(&root().join("schemas").join(schema_file));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema {schema_file} does not compile: {e}"));
    let errors: Vec<String> = validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).take(20).collect();
    assert!(errors.is_empty(), "output does not validate against {schema_file}:\n{}", errors.join("\n"));
}

/// (check, account, region, resource id, resource type, ARN, status) of every finding in a JSON report.
pub type Row = (String, String, String, String, String, String, String);

pub fn report_rows(report: &Value) -> Vec<Row> {
    let mut rows: Vec<Row> = report["findings"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("check_id"), s("account_id"), s("region"), s("resource_id"), s("resource_type"), s("resource_arn"), s("status"))
        })
        .collect();
    rows.sort();
    rows
}

pub fn expected_rows(expected: &[Expected]) -> Vec<Row> {
    let mut rows: Vec<Row> = expected
        .iter()
        .map(|e| {
            (
                e.check_id.to_owned(),
                e.account.clone(),
                e.region.clone(),
                e.resource_id.clone(),
                e.resource_type.to_owned(),
                e.resource_arn.clone(),
                e.status.to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Every file below `dir`, at any depth (directories themselves are not listed), in no particular order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display())) {
            let p = e.unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display())).path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

/// A fresh temporary directory for one test's outputs.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// A validated plan from command-line arguments (after `orgscan scan`).
pub fn plan(args: &[&str]) -> orgscan::config::ScanPlan {
    use clap::Parser;
    let argv = ["orgscan", "scan"].iter().chain(args.iter());
    let cli = orgscan::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("bad test arguments {args:?}: {e}"));
    match cli.command {
        orgscan::cli::Command::Scan(a) => orgscan::config::ScanPlan::from_args(&a).unwrap_or_else(|e| panic!("bad plan {args:?}: {e}")),
        orgscan::cli::Command::Checks { .. } | orgscan::cli::Command::Fix(_) | orgscan::cli::Command::Merge(_) => panic!("not a scan"),
    }
}

/// Runs a scan in-process through the library API.
pub async fn scan_with(factory: orgscan::aws::ClientFactory, args: &[&str]) -> orgscan::model::ScanReport {
    let plan = plan(args);
    match orgscan::run_scan(&plan, factory, std::future::pending(), &mut orgscan::scan::Silent).await {
        Ok(r) => r,
        Err(e) => panic!("scan did not start: {e}"),
    }
}

/// The options of a run with every remote sink: the S3 history and an HTML output under `s3://BUCKET/orgscan/`,
/// and the SNS notification to `topic`, over GuardDuty alone (the sinks are what such a run is about).
pub fn sink_args(bucket: &str, topic: &str) -> Vec<String> {
    let (history, html) = (format!("s3://{bucket}/orgscan/"), format!("s3://{bucket}/orgscan/latest.html"));
    ["--checks", "guardduty-enabled", "--history", &history, "--html", &html, "--notify-sns", topic].map(str::to_owned).to_vec()
}

/// What one run with the remote sinks did: whether it read a baseline back from the history, the errors of its
/// local outputs, and the errors of the S3 outputs, history and notification.
pub struct SinkRun {
    pub baseline_read: bool,
    pub local_errors: Vec<String>,
    pub publish_errors: Vec<String>,
}

/// One in-process run of the plan of `args` (after `orgscan scan`) as the binary runs it: the remote state read
/// first (the baseline), the scan, the local outputs, then the S3 outputs, the history and the notification.
/// A remote state that cannot be read, or a scan that does not start, is the error.
pub async fn run_with_sinks(args: &[&str], factory: &orgscan::aws::ClientFactory) -> Result<SinkRun, String> {
    let mut plan = plan(args);
    let remote = orgscan::prepare_remote(&plan.store, factory).await.map_err(|e| e.to_string())?;
    plan.baseline = remote.baseline.clone();
    let r =
        orgscan::run_scan(&plan, factory.clone(), std::future::pending(), &mut orgscan::scan::Silent).await.map_err(|e| e.to_string())?;
    let local_errors = orgscan::write_outputs(&r, &plan.outputs);
    let published = orgscan::publish(&r, &mut plan.store, &plan.notify, &remote, Some(factory), &local_errors).await;
    Ok(SinkRun { baseline_read: remote.baseline.is_some(), local_errors, publish_errors: published.errors })
}

/// A factory for moto with quick SDK retries (the default backoff would make fault tests slow).
pub fn quick_factory(moto: &Moto, creds: &Credentials, max_attempts: u32) -> orgscan::aws::ClientFactory {
    let cfg = moto
        .sdk_config(creds, "us-east-1")
        .into_builder()
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_max_attempts(max_attempts)
                .with_initial_backoff(std::time::Duration::from_millis(2)),
        )
        .build();
    orgscan::aws::ClientFactory::from_sdk_config(cfg)
}

/// aws-smithy-mocks rules that answer the calls they match; every other call passes through to moto.
pub fn passthrough(rules: &[&aws_smithy_mocks::Rule]) -> aws_smithy_mocks::MockResponseInterceptor {
    let mut i = aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::MatchAny).allow_passthrough();
    for r in rules {
        i = i.with_rule(r);
    }
    i
}

/// The metadata of a modeled AWS error.
pub fn err_meta(code: &str, message: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder().code(code).message(message).build()
}

/// Each case (arguments after `prefix`, expected fragments of the message) exits 2 with a message holding
/// every fragment, before any AWS call: the endpoint refuses connections, and no AWS error appears.
pub fn assert_refused_before_any_aws_call(prefix: &[&str], cases: &[(&[&str], &[&str])]) {
    let creds = Moto::root_credentials();
    for (args, needles) in cases {
        let mut full = prefix.to_vec();
        full.extend_from_slice(args);
        let o = orgscan_env("http://127.0.0.1:9", &creds, &full, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: expected {n:?} in: {err}");
        }
        assert!(!err.contains("GetCallerIdentity") && !err.contains("dispatch"), "{args:?} reached AWS: {err}");
    }
}

/// STS credentials (as an AssumeRole answer carries them) of `c`, expiring `ttl` from now.
pub fn sts_credentials(c: &Credentials, ttl: std::time::Duration) -> aws_sdk_sts::types::Credentials {
    aws_sdk_sts::types::Credentials::builder()
        .access_key_id(c.access_key_id())
        .secret_access_key(c.secret_access_key())
        .session_token(c.session_token().unwrap_or_default())
        .expiration(aws_smithy_types::DateTime::from(std::time::SystemTime::now() + ttl))
        .build()
        .unwrap_or_else(|e| panic!("STS credentials: {e}"))
}
