//! The IAM policies shipped in deploy/ grant exactly what orgscan calls: every operation recorded by the
//! SDK interceptor during end-to-end scans maps to a granted action, and nothing granted goes unused.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::estate::{Mix, Moto, create_org, seed_region};
use crate::support::{orgscan, read_json, root, run_with_sinks, sink_args, stderr, tempdir};

/// IAM service prefixes of the SDK service ids orgscan's interceptor records (from the service catalogue).
fn iam_prefix(sdk_service: &str) -> String {
    orgscan::model::Service::ALL
        .iter()
        .find(|s| s.sdk_id() == sdk_service)
        .map(|s| s.iam_prefix().to_owned())
        .unwrap_or_else(|| panic!("service {sdk_service} is not in the catalogue"))
}

/// The actions in the permission policies of deploy/audit-role.yaml (not its trust policy).
fn audit_role_actions() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("deploy/audit-role.yaml")).unwrap();
    let policies = text.split("Policies:").nth(1).expect("the template has a Policies section");
    policies
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .filter(|a| a.contains(':') && !a.contains(' '))
        .map(str::to_owned)
        .collect()
}

fn policy_actions(path: &str) -> BTreeSet<String> {
    let policy = read_json(&root().join(path));
    let mut out = BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        match &st["Action"] {
            Value::String(a) => {
                out.insert(a.clone());
            }
            Value::Array(v) => out.extend(v.iter().map(|a| a.as_str().unwrap().to_owned())),
            other => panic!("unexpected Action {other}"),
        }
    }
    out
}

/// The IAM action of an operation of the sinks outside the service catalogue: S3's and SNS's. ListObjectsV2
/// is authorized as `s3:ListBucket` ("Actions, resources, and condition keys for Amazon S3", Service
/// Authorization Reference).
fn sink_action(service: &str, op: &str) -> Option<String> {
    match (service, op) {
        ("S3", "ListObjectsV2") => Some("s3:ListBucket".to_owned()),
        ("S3", op) => Some(format!("s3:{op}")),
        ("SNS", op) => Some(format!("sns:{op}")),
        _ => None,
    }
}

fn called_actions(report: &Value, into: &mut BTreeSet<String>) {
    for key in report["stats"]["api_calls_by_operation"].as_object().unwrap().keys() {
        let (service, op) = key.split_once(':').unwrap();
        into.insert(format!("{}:{op}", iam_prefix(service)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_grants_exactly_the_actions_orgscan_calls() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 3).await.unwrap();
    let (m0, prod) = (org.members[0].0.clone(), org.ou("prod").to_owned());
    let creds = moto.assume(&m0).await.unwrap();
    let role = crate::support::estate::ensure_lambda_role(&moto, &creds).await.unwrap();
    // Resources of every check, so every describe call happens; m0 is GuardDuty's delegated administrator,
    // so the organization scan asks it for the auto-enable setting (DescribeOrganizationConfiguration).
    seed_region(&moto, &creds, &m0, "eu-west-1", Mix::full(1), &role).await.unwrap();
    crate::support::estate::register_guardduty_admin(&moto, &org.management_creds, &m0).await.unwrap();
    let dir = tempdir();

    // An OU-scoped organization scan with explicit regions and the Security Hub import.
    let a = dir.path().join("a.json");
    let o = orgscan(
        &moto,
        &org.management_creds,
        &["scan", "--ou", &prod, "--regions", "eu-west-1", "--security-hub", "--json", a.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // A scan that discovers each account's regions (Account ListRegions).
    let b = dir.path().join("b.json");
    let o =
        orgscan(&moto, &org.management_creds, &["scan", "--accounts", &m0, "--checks", "guardduty-enabled", "--json", b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    let mut called = BTreeSet::new();
    called_actions(&read_json(&a), &mut called);
    called_actions(&read_json(&b), &mut called);
    // Tags are read only when suppression rules match on them (`read_tags`), and only for FAILs: the same
    // account scanned in-process with it on records every check's tag read.
    let mut tagged = crate::support::plan(&["--accounts", &m0, "--regions", "eu-west-1"]);
    tagged.settings.read_tags = true;
    let r = orgscan::run_scan(&tagged, moto.factory(&org.management_creds), std::future::pending(), &mut orgscan::scan::Silent)
        .await
        .unwrap_or_else(|e| panic!("scan did not start: {e}"));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let untagged: Vec<_> = r.failures().filter(|f| f.tags.is_none()).map(|f| &f.resource.arn).collect();
    assert!(untagged.is_empty(), "every FAIL of the estate has readable tags: {untagged:?}");
    called.extend(r.stats.api.keys().map(|(service, op)| format!("{}:{op}", iam_prefix(service))));
    // The Security Hub workflow of suppressed FAILs (BatchUpdateFindings): moto does not serve it, so
    // aws-smithy-mocks answers that one call of an in-process import with a suppression rule.
    let rules = dir.path().join("s.toml");
    std::fs::write(&rules, "[[suppression]]\ncheck = \"*\"\nregions = [\"eu-west-1\"]\nreason = \"test\"\nowner = \"test\"\n").unwrap();
    let update = aws_smithy_mocks::mock!(aws_sdk_securityhub::Client::batch_update_findings).then_compute_output(|req| {
        aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput::builder()
            .set_processed_findings(Some(req.finding_identifiers().to_vec()))
            .build()
    });
    let factory = moto.factory(&org.management_creds).with_interceptor(crate::support::passthrough(&[&update]));
    let args = ["--accounts", &m0, "--regions", "eu-west-1", "--security-hub", "--suppressions", rules.to_str().unwrap()];
    let r = crate::securityhub::scan_import(factory, &args).await;
    let sh = r.stats.security_hub.as_ref().unwrap();
    assert!(!sh.has_problems() && sh.totals().suppressed > 0, "{sh:?}");
    called.extend(r.stats.api.keys().map(|(service, op)| format!("{}:{op}", iam_prefix(service))));
    // The S3 side and the SNS notification: two in-process runs with --history, an S3 output and --notify-sns
    // (the second reads the pointer and its baseline); the factory's statistics hold the calls made after the
    // report too.
    let s3 = aws_sdk_s3::Client::new(&moto.sdk_config(&org.management_creds, "us-east-1"));
    let bucket = format!("orgscan-lp-{m0}");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config(&org.management_creds, "us-east-1"));
    let topic = sns.create_topic().name(format!("orgscan-lp-{m0}")).send().await.unwrap().topic_arn().unwrap().to_owned();
    let sink_args = sink_args(&bucket, &topic);
    let args: Vec<&str> = ["--accounts", &m0, "--regions", "eu-west-1"].into_iter().chain(sink_args.iter().map(String::as_str)).collect();
    let mut sinks = BTreeSet::new();
    for run in 0..2 {
        let factory = moto.factory(&org.management_creds);
        let r = run_with_sinks(&args, &factory).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.baseline_read, run == 1, "the second run reads the first as its baseline");
        assert!(r.local_errors.is_empty() && r.publish_errors.is_empty(), "{:?} {:?}", r.local_errors, r.publish_errors);
        for (service, op) in factory.stats().snapshot().keys() {
            match sink_action(service, op) {
                Some(a) => sinks.insert(a),
                None => called.insert(format!("{}:{op}", iam_prefix(service))),
            };
        }
    }
    let declared_sinks: BTreeSet<String> =
        orgscan::store::IAM_ACTIONS.iter().chain(orgscan::notify::IAM_ACTIONS).map(|a| (*a).to_owned()).collect();
    assert_eq!(sinks, declared_sinks, "the S3 and SNS actions declared in the code and the operations recorded differ");
    // deploy/history-policy.json grants exactly them, and the KMS actions S3 calls on the caller's behalf for
    // --s3-kms-key (not SDK calls of orgscan's: "Specifying server-side encryption with AWS KMS", S3 User Guide).
    let kms_via_s3: BTreeSet<String> = ["kms:GenerateDataKey", "kms:Decrypt"].iter().map(|a| (*a).to_owned()).collect();
    assert_eq!(
        policy_actions("deploy/history-policy.json"),
        declared_sinks.union(&kms_via_s3).cloned().collect(),
        "deploy/history-policy.json"
    );
    let history_policy = std::fs::read_to_string(root().join("deploy/history-policy.json")).unwrap();
    assert!(!history_policy.contains("arn:aws:") && !history_policy.contains("\"Resource\": \"*\""), "scoped, partition-neutral");

    // GetCallerIdentity needs no permission ("No permissions are required to perform this operation",
    // STS API reference) and cannot be denied.
    called.remove("sts:GetCallerIdentity");

    // What the code declares (each check's `iam_actions`, the walker's, region discovery's, the sink's) is
    // exactly what it calls: the registry is the source the policies are checked against.
    let mut declared: BTreeSet<String> = orgscan::check::iam_actions().into_iter().map(str::to_owned).collect();
    for a in orgscan::org::IAM_ACTIONS
        .iter()
        .chain(orgscan::org::tree::IAM_ACTIONS)
        .chain(orgscan::org::delegated::IAM_ACTIONS)
        .chain(orgscan::scan::regions::IAM_ACTIONS)
        .chain(orgscan::securityhub::IAM_ACTIONS)
    {
        declared.insert((*a).to_owned());
    }
    assert_eq!(called, declared, "the IAM actions declared in the code and the operations recorded differ");
    // Per IAM service: the checks on it declare, together, exactly what the scan calls of it (with one check
    // per service, each check its own calls; a second check on a service shares its prefix).
    let mut by_prefix: BTreeMap<&str, (BTreeSet<&str>, Vec<&str>)> = BTreeMap::new();
    for c in orgscan::check::ALL {
        let e = by_prefix.entry(c.info().service.iam_prefix()).or_default();
        e.0.extend(c.info().iam_actions.iter().copied());
        e.1.push(c.info().id);
    }
    for (prefix, (declared, checks)) in &by_prefix {
        let prefix = format!("{prefix}:");
        let of_service: BTreeSet<&str> = called.iter().map(String::as_str).filter(|a| a.starts_with(&prefix)).collect();
        assert_eq!(declared, &of_service, "checks {checks:?} declare other actions than the scan calls of {prefix}");
    }

    // Per principal: the audit role is read-only (the checks and region discovery); the scanning principal
    // reads the organization, assumes the audit role, and scans its own account with its own credentials;
    // the Security Hub import is a policy of its own, for both.
    let set = |actions: &[&[&str]]| -> BTreeSet<String> { actions.iter().flat_map(|a| a.iter().map(|x| (*x).to_owned())).collect() };
    let checks = orgscan::check::iam_actions();
    let member = set(&[&checks, orgscan::scan::regions::IAM_ACTIONS]);
    assert_eq!(audit_role_actions(), member, "deploy/audit-role.yaml");
    let scanner = set(&[
        &checks,
        orgscan::scan::regions::IAM_ACTIONS,
        orgscan::org::IAM_ACTIONS,
        orgscan::org::tree::IAM_ACTIONS,
        orgscan::org::delegated::IAM_ACTIONS,
    ]);
    assert_eq!(policy_actions("deploy/scanner-policy.json"), scanner, "deploy/scanner-policy.json");
    assert_eq!(policy_actions("deploy/securityhub-import-policy.json"), set(&[orgscan::securityhub::IAM_ACTIONS]));
    // And together they grant exactly what the scans called.
    let granted: BTreeSet<String> =
        member.iter().chain(&scanner).chain(&policy_actions("deploy/securityhub-import-policy.json")).cloned().collect();
    assert_eq!(granted, called, "deploy/ grants other actions than orgscan calls");
    // Partition-neutral: no resource names the commercial partition.
    let text = std::fs::read_to_string(root().join("deploy/scanner-policy.json")).unwrap();
    assert!(!text.contains("arn:aws:"), "deploy/scanner-policy.json names a partition");
}
