//! The configuration file: its schema and its type stay in step, it merges under the command line, and a
//! bad file is refused with line and column before any AWS call.

use std::collections::BTreeSet;
use std::path::PathBuf;

use orgscan::config::{FileConfig, FileNotify, FileOutputs, FileSecurityHub};
use serde_json::Value;

use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::{assert_valid, orgscan, orgscan_env, read_json, report_rows, root, stderr, tempdir};

fn full_config() -> FileConfig {
    let s = |v: &str| Some(vec![v.to_owned()]);
    FileConfig {
        this_account: Some(false),
        accounts: s("111111111111"),
        exclude_accounts: s("222222222222"),
        ous: s("ou-ab12-cdef3456"),
        exclude_ous: s("ou-ab12-fedc6543"),
        regions: s("eu-west-1"),
        exclude_regions: s("us-east-1"),
        scp_denied: Some(orgscan::cli::ScpDeniedArg::Error),
        checks: s("guardduty-enabled"),
        lambda_runtimes: Some(PathBuf::from("runtimes.toml")),
        lambda_warn_days: Some(30),
        shallow: Some(true),
        role_name: Some("OrgScanAudit".into()),
        role_arn_template: Some("arn:{partition}:iam::{account}:role/OrgScanAudit".into()),
        external_id: Some("external-id".into()),
        session_duration: Some(3600),
        concurrency: Some(64),
        per_account_concurrency: Some(16),
        max_attempts: Some(5),
        call_timeout: Some(20),
        outputs: Some(FileOutputs {
            json: Some("r.json".into()),
            sarif: Some("r.sarif".into()),
            sarif_dir: Some("sarif".into()),
            sarif_category: Some("orgscan/prod/".into()),
            sarif_suppressed: Some(orgscan::cli::SarifSuppressedArg::Omit),
            html: Some("r.html".into()),
            asff_dir: Some("asff".into()),
            ocsf: Some("r.ocsf.jsonl".into()),
            ocsf_dir: Some("security-lake".into()),
            s3_kms_key: Some("alias/orgscan".into()),
            s3_bucket_owner: Some("111111111111".into()),
            s3_region: Some("eu-west-1".into()),
        }),
        security_hub: Some(FileSecurityHub { import: Some(true), only_failed: Some(false), dry_run: Some(false) }),
        baseline: Some("previous.json".into()),
        history: Some("s3://audit-bucket/orgscan/".into()),
        suppressions: Some("suppressions.toml".into()),
        fail_on: Some(orgscan::cli::FailOnArg::New),
        fail_severity: Some(orgscan::cli::SeverityArg::High),
        fail_on_warning: Some(true),
        notify: Some(FileNotify {
            sns_topic: Some("arn:aws:sns:eu-west-1:111111111111:orgscan".into()),
            webhook: Some(true),
            webhook_file: Some("webhook-url".into()),
            only_new: Some(true),
            severity: Some(orgscan::cli::SeverityArg::High),
        }),
    }
}

/// Every key path of a JSON value ("outputs.json", ...).
fn instance_keys(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let path = format!("{prefix}{k}");
            out.insert(path.clone());
            instance_keys(child, &format!("{path}."), out);
        }
    }
}

/// Every property path a schema declares.
fn schema_keys(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(props) = schema["properties"].as_object() {
        for (k, child) in props {
            let path = format!("{prefix}{k}");
            out.insert(path.clone());
            schema_keys(child, &format!("{path}."), out);
        }
    }
}

#[test]
fn the_config_schema_and_the_config_type_describe_the_same_keys() {
    let instance = serde_json::to_value(full_config()).unwrap();
    assert_valid("config.schema.json", &instance);
    let mut have = BTreeSet::new();
    instance_keys(&instance, "", &mut have);
    let schema = read_json(&root().join("schemas/config.schema.json"));
    let mut declared = BTreeSet::new();
    schema_keys(&schema, "", &mut declared);
    assert_eq!(have, declared, "schemas/config.schema.json and FileConfig have drifted apart");
    // The schema is strict where the type is: an unknown key does not validate.
    let mut extra = instance.clone();
    extra["outptus"] = Value::Bool(true);
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(!validator.is_valid(&extra));
}

#[test]
fn the_example_config_parses_and_validates() {
    let cfg = FileConfig::load(&root().join("examples/orgscan.toml")).unwrap();
    let mut v = serde_json::to_value(&cfg).unwrap();
    strip_nulls(&mut v);
    assert_valid("config.schema.json", &v);
    // Relative paths are taken from the file's directory.
    assert_eq!(cfg.outputs.and_then(|o| o.json), Some(root().join("examples/../orgscan-out/report.json")));
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, c| !c.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

#[test]
fn bad_config_files_exit_2_with_the_key_line_and_column() {
    let dir = tempdir();
    let creds = Moto::root_credentials();
    let cases: &[(&str, &[&str])] = &[
        ("regions = [\"eu-west-1\"]\nconcurrancy = 8\n", &["unknown field `concurrancy`", "line 2, column 1", "concurrency"]),
        ("regions = \"eu-west-1\"\n", &["invalid type", "line 1, column 11", "sequence"]),
        ("[outputs]\njson = 3\n", &["invalid type", "line 2, column 8"]),
        ("regions = [\"moon-1\"]\n", &["'moon-1'"]),
        ("accounts = [\"12\"]\n", &["'12'", "12 digits"]),
        ("this_account = true\naccounts = [\"111111111111\"]\n", &["--this-account", "--accounts"]),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = orgscan_env("http://127.0.0.1:9", &creds, &["scan", "--config", path.to_str().unwrap()], &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{text}: expected {n:?} in {err}");
        }
        assert!(!err.contains("GetCallerIdentity"), "{text}: reached AWS: {err}");
    }
    let o = orgscan_env("http://127.0.0.1:9", &creds, &["scan", "--config", "/nonexistent/orgscan.toml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read config file '/nonexistent/orgscan.toml'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_takes_its_options_from_the_file_and_the_command_line_wins() {
    let moto = Moto::from_env();
    let (_, creds) = seeded_account(&moto, &["eu-west-1", "eu-west-2"], |_| Mix::light(2)).await.unwrap();
    let dir = tempdir();
    let cfg = dir.path().join("orgscan.toml");
    std::fs::write(
        &cfg,
        "this_account = true\nregions = [\"eu-west-1\", \"eu-west-2\"]\nchecks = [\"guardduty-enabled\"]\n[outputs]\njson = \"out/report.json\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let o = orgscan(&moto, &creds, &["scan", "--config", cfg.to_str().unwrap(), "--regions", "eu-west-2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&dir.path().join("out/report.json"));
    let rows = report_rows(&report);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].2.as_str()), ("guardduty-enabled", "eu-west-2"), "the command line's region wins");
}

#[test]
fn every_registered_check_is_in_the_readme_and_fits_the_schemas_check_id() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = readme.split("## Checks").nth(1).and_then(|t| t.split("\n## ").next()).expect("README has a Checks section");
    // Both schemas describe a check id by the same pattern (no list to keep in step with the registry).
    let pattern = |schema: &str| read_json(&root().join("schemas").join(schema))["$defs"]["check_id"]["pattern"].clone();
    assert!(pattern("report.schema.json").is_string());
    assert_eq!(pattern("report.schema.json"), pattern("config.schema.json"));
    for c in orgscan::check::ALL {
        let i = c.info();
        assert!(table.contains(&format!("| `{}` |", i.id)), "README's checks table has no row for {}", i.id);
        for control in i.security_hub_controls {
            assert!(table.contains(control), "README's row of {} does not name {control}", i.id);
        }
        // A config naming the check validates against the config schema's check_id.
        assert_valid("config.schema.json", &serde_json::json!({ "checks": [i.id] }));
    }
    // And the pattern still refuses what is not an id.
    let schema = read_json(&root().join("schemas/config.schema.json"));
    let v = jsonschema::validator_for(&schema).unwrap();
    assert!(!v.is_valid(&serde_json::json!({ "checks": ["Not An Id"] })));
}
