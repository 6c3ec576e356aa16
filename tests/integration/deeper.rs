//! The questions after each finding (issue "Deeper than any anchor"), end to end against moto: what breaks
//! if a key is deleted, whether production still runs an old runtime behind an alias, which runtime goes
//! stale next, and who runs GuardDuty.

use std::collections::BTreeSet;
use std::path::Path;

use aws_credential_types::Credentials;
use serde_json::Value;

use crate::support::estate::{Moto, ensure_lambda_role, fresh_lambda_account, zip_function};
use crate::support::{assert_valid, orgscan, read_json, stderr, stdout, tempdir};

const EU: &str = "eu-west-1";
const US: &str = "us-east-1";

async fn function(lambda: &aws_sdk_lambda::Client, name: &str, role: &str, runtime: &str, key: Option<&str>) {
    zip_function(lambda, name, role, runtime).set_kms_key_arn(key.map(str::to_owned)).send().await.unwrap();
}

/// A customer key: (key id, ARN).
async fn key(kms: &aws_sdk_kms::Client, multi_region: bool) -> (String, String) {
    let k = kms.create_key().multi_region(multi_region).send().await.unwrap();
    let m = k.key_metadata().unwrap();
    (m.key_id().to_owned(), m.arn().unwrap().to_owned())
}

/// `orgscan scan --this-account --regions eu-west-1 --checks CHECKS` and `extra`, as a process.
fn scan_eu(moto: &Moto, creds: &Credentials, checks: &str, extra: &[&str]) -> std::process::Output {
    orgscan(moto, creds, &[&["scan", "--this-account", "--regions", EU, "--checks", checks][..], extra].concat())
}

fn finding<'a>(report: &'a Value, check: &str, resource_id: &str) -> &'a Value {
    finding_in(report, check, resource_id, EU)
}

fn finding_in<'a>(report: &'a Value, check: &str, resource_id: &str, region: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check_id"] == check && f["resource_id"] == resource_id && f["region"] == region)
        .unwrap_or_else(|| panic!("no {check} finding for {resource_id} in {region}"))
}

fn related_ids(f: &Value) -> BTreeSet<String> {
    f["related"].as_array().unwrap().iter().map(|r| r["resource_id"].as_str().unwrap().to_owned()).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Seeds the key estate of one account: key K (alias `alias/orders`) used by a domain (by alias), a notebook
/// (by key id) and a function (by ARN), then scheduled for deletion; an enabled key used by another function;
/// and a multi-Region key whose primary (us-east-1) is scheduled for deletion while a function in eu-west-1
/// uses its replica. Returns K's id and the multi-Region key's id.
async fn seed_keys(moto: &Moto, creds: &Credentials) -> (String, String) {
    let eu = moto.sdk_config(creds, EU);
    let role = ensure_lambda_role(moto, creds).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&eu);
    let (k, k_arn) = key(&kms, false).await;
    kms.create_alias().alias_name("alias/orders").target_key_id(&k).send().await.unwrap();
    let (_, other_arn) = key(&kms, false).await;

    use aws_sdk_opensearch::types::EncryptionAtRestOptions;
    aws_sdk_opensearch::Client::new(&eu)
        .create_domain()
        .domain_name("orders")
        .engine_version("OpenSearch_2.11")
        .encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(true).kms_key_id("alias/orders").build())
        .send()
        .await
        .unwrap();
    use aws_sdk_sagemaker::types::{DirectInternetAccess, InstanceType};
    aws_sdk_sagemaker::Client::new(&eu)
        .create_notebook_instance()
        .notebook_instance_name("orders-nb")
        .instance_type(InstanceType::MlT2Medium)
        .role_arn(&role)
        .direct_internet_access(DirectInternetAccess::Disabled)
        .subnet_id("subnet-0a1b2c3d")
        .security_group_ids("sg-0a1b2c3d")
        .kms_key_id(&k)
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&eu);
    function(&lambda, "orders-api", &role, "python3.12", Some(&k_arn)).await;
    function(&lambda, "unrelated", &role, "python3.12", Some(&other_arn)).await;
    kms.schedule_key_deletion().key_id(&k).pending_window_in_days(7).send().await.unwrap();

    // Cross-region: one key material in two Regions (KMS multi-Region keys share their key id).
    let kms_us = aws_sdk_kms::Client::new(&moto.sdk_config(creds, US));
    let (mrk, _) = key(&kms_us, true).await;
    let replica = kms_us.replicate_key().key_id(&mrk).replica_region(EU).send().await.unwrap();
    let replica_arn = replica.replica_key_metadata().and_then(|m| m.arn()).unwrap().to_owned();
    assert!(replica_arn.contains(":eu-west-1:"), "{replica_arn}");
    function(&lambda, "billing", &role, "python3.12", Some(&replica_arn)).await;
    kms_us.schedule_key_deletion().key_id(&mrk).pending_window_in_days(7).send().await.unwrap();
    (k, mrk)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_pending_deletion_names_exactly_the_resources_that_use_it_in_every_output() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let (k, mrk) = seed_keys(&moto, &creds).await;
    let dir = tempdir();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (json, sarif, asff, html, ocsf) = (p("r.json"), p("r.sarif"), p("asff"), p("r.html"), p("r.ocsf.jsonl"));
    let regions = format!("{EU},{US}");
    let args = ["scan", "--this-account", "--regions", &regions, "--json", &json, "--sarif", &sarif, "--asff-dir", &asff];
    let o = orgscan(&moto, &creds, &[&args[..], &["--html", &html, "--ocsf", &ocsf]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // The JSON report: the links, each to the dependent's own finding.
    let report = read_json(Path::new(&json));
    assert_valid("report.schema.json", &report);
    let kf = finding(&report, "kms-key-not-pending-deletion", &k);
    assert_eq!(kf["status"], "FAIL");
    assert_eq!(related_ids(kf), set(&["orders", "orders-nb", "orders-api"]), "{kf}");
    for r in kf["related"].as_array().unwrap() {
        let own = finding(&report, r["check_id"].as_str().unwrap(), r["resource_id"].as_str().unwrap());
        assert_eq!(r["fingerprint"], own["fingerprint"]);
        assert_eq!(r["resource_arn"], own["resource_arn"]);
        assert_eq!((r["account_id"].as_str(), r["region"].as_str()), (Some(account.as_str()), Some(EU)));
    }
    let purposes: BTreeSet<&str> = kf["related"].as_array().unwrap().iter().map(|r| r["purpose"].as_str().unwrap()).collect();
    assert_eq!(purposes, ["encryption at rest", "environment variables", "storage volume encryption"].into());
    let msg = kf["message"].as_str().unwrap();
    assert!(msg.contains("Used by 3 resource(s) of this scan"), "{msg}");
    for name in ["OpenSearch domain orders", "SageMaker notebook instance orders-nb", "Lambda function orders-api"] {
        assert!(msg.contains(name), "{name} missing: {msg}");
    }
    assert!(!msg.contains("unrelated") && !msg.contains("billing"), "{msg}");
    assert_eq!(kf["evidence"]["aliases"], serde_json::json!(["alias/orders"]));
    assert_eq!(kf["evidence"]["dependents"].as_array().unwrap().len(), 3);
    // The multi-Region key: pending in us-east-1, its replica used in eu-west-1.
    let mf = finding_in(&report, "kms-key-not-pending-deletion", &mrk, US);
    assert_eq!(mf["status"], "FAIL");
    assert_eq!(related_ids(mf), set(&["billing"]), "{mf}");
    assert_eq!(mf["related"][0]["region"], EU);
    // Its replica in eu-west-1 is not pending deletion: a PASS, linking nothing.
    let replica = finding_in(&report, "kms-key-not-pending-deletion", &mrk, EU);
    assert_eq!((replica["status"].as_str(), &replica["related"]), (Some("PASS"), &serde_json::json!([])));
    // A key that is not pending deletion links nothing.
    let passes: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check_id"] == "kms-key-not-pending-deletion" && f["status"] == "PASS")
        .collect();
    assert!(!passes.is_empty() && passes.iter().all(|f| f["related"] == serde_json::json!([])));

    // Read back (as --baseline, fix --from and merge read a report), the links are the same.
    let back = orgscan::triage::Baseline::load(Path::new(&json)).unwrap();
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    let kb = back.findings.iter().find(|f| f.resource.id == k).unwrap();
    assert_eq!(kb.related.iter().map(|r| r.resource_id.as_str()).collect::<BTreeSet<_>>(), ["orders", "orders-nb", "orders-api"].into());
    assert_eq!(serde_json::to_value(&kb.related).unwrap(), kf["related"]);

    // SARIF: schema-valid, and the key's result carries the three as related locations.
    let log = read_json(Path::new(&sarif));
    crate::sarif::assert_schema_valid(&log);
    crate::sarif::multitool_validate(Path::new(&sarif));
    let result = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["locations"][0]["logicalLocations"][0]["name"] == k.as_str())
        .expect("the key's SARIF result");
    let related: BTreeSet<&str> =
        result["relatedLocations"].as_array().unwrap().iter().map(|l| l["logicalLocations"][0]["name"].as_str().unwrap()).collect();
    assert_eq!(related, ["orders", "orders-nb", "orders-api"].into());
    assert!(result["relatedLocations"].as_array().unwrap().iter().all(|l| l["message"]["text"].as_str().is_some_and(|t| !t.is_empty())));

    // ASFF: valid batches; RelatedFindings are the dependents' own findings, Resources their ARNs.
    let batches = crate::securityhub::check_asff_dir(Path::new(&asff));
    let all: Vec<&orgscan::securityhub::asff::AsffFinding> = batches.values().flatten().flatten().collect();
    let ak = all.iter().find(|f| f.id == format!("orgscan/kms-key-not-pending-deletion/{}", kf["fingerprint"].as_str().unwrap())).unwrap();
    let want: BTreeSet<String> = kf["related"].as_array().unwrap().iter().map(crate::securityhub::asff_id).collect();
    assert_eq!(ak.related_findings.iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>(), want);
    let arns: BTreeSet<String> = kf["related"].as_array().unwrap().iter().map(|r| r["resource_arn"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ak.resources[1..].iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>(), arns);
    assert!(ak.description.contains("Lambda function orders-api"));

    // HTML and OCSF carry the message.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("SageMaker notebook instance orders-nb"), "the HTML report names the dependents");
    crate::ocsf::validate(Path::new(&ocsf), None);
    let text = std::fs::read_to_string(&ocsf).unwrap();
    let event: Value =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|e| e["finding_info"]["uid"] == kf["fingerprint"]).unwrap();
    assert!(event["message"].as_str().unwrap().contains("OpenSearch domain orders"));
    // The summary's line per failing resource is cut to the terminal width: it names the key; the files name
    // the dependents.
    assert!(stdout(&o).contains(kf["resource_arn"].as_str().unwrap()), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_dependents_were_not_read_says_where() {
    let moto = Moto::from_env();
    let (_, creds) = moto.fresh_account().await.unwrap();
    let (k, _) = seed_keys(&moto, &creds).await;
    let dir = tempdir();
    let json = dir.path().join("r.json");
    let o = scan_eu(&moto, &creds, "kms-key-not-pending-deletion,lambda-supported-runtime", &["--json", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = read_json(&json);
    assert_valid("report.schema.json", &report);
    let kf = finding(&report, "kms-key-not-pending-deletion", &k);
    // What was read is linked; what was not is named, never read as "nothing uses it".
    assert_eq!(related_ids(kf), set(&["orders-api"]));
    let unread: Vec<&str> = kf["evidence"]["dependents_unread"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        unread,
        ["the opensearch-encryption-at-rest check was not run", "the sagemaker-notebook-no-direct-internet check was not run"]
    );
    let msg = kf["message"].as_str().unwrap();
    assert!(msg.contains("Resources that may use it could not be read") && !msg.contains("No OpenSearch domain"), "{msg}");
}

/// A runtime table like the bundled one, `updated` on `updated`, with python3.12 deprecated on `python312`.
fn table(dir: &Path, updated: chrono::NaiveDate, python312: chrono::NaiveDate) -> String {
    let bundled = orgscan::check::lambda::runtimes::BUNDLED_TABLE;
    let mut out = String::new();
    let mut in_312 = false;
    for line in bundled.lines() {
        if line.starts_with("updated = ") {
            out.push_str(&format!("updated = \"{updated}\"\n"));
            continue;
        }
        if line.starts_with("id = ") {
            in_312 = line == "id = \"python3.12\"";
        }
        if in_312 && line.starts_with("deprecation = ") {
            out.push_str(&format!("deprecation = \"{python312}\"\n"));
            continue;
        }
        if in_312 && line.starts_with("block_") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    let path = dir.join("runtimes.toml");
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_deprecating_in_30_days_is_a_warning_and_a_stale_table_is_announced() {
    let moto = Moto::from_env();
    let (_, creds, role) = fresh_lambda_account(&moto).await.unwrap();
    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config(&creds, EU));
    function(&lambda, "soon", &role, "python3.12", None).await;
    let today = chrono::Utc::now().date_naive();
    let dir = tempdir();
    let runtimes = table(dir.path(), today - chrono::Days::new(200), today + chrono::Days::new(30));
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (json, sarif, asff) = (p("r.json"), p("r.sarif"), p("asff"));
    let o = scan_eu(
        &moto,
        &creds,
        "lambda-supported-runtime",
        &["--lambda-runtimes", &runtimes, "--json", &json, "--sarif", &sarif, "--asff-dir", &asff],
    );
    // A warning does not fail the scan.
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report = read_json(Path::new(&json));
    assert_valid("report.schema.json", &report);
    let f = finding(&report, "lambda-supported-runtime", "soon");
    assert_eq!(f["status"], "WARNING");
    assert_eq!(f["evidence"]["runtime_status"], "deprecating");
    assert!(f["message"].as_str().unwrap().contains("(in 30 days)"), "{f}");
    let back = orgscan::triage::Baseline::load(Path::new(&json)).unwrap();
    assert_eq!(back.findings[0].status, orgscan::model::Status::Warn, "a WARNING reads back as one");
    // SARIF level warning; ASFF WARNING and active.
    let log = read_json(Path::new(&sarif));
    crate::sarif::assert_schema_valid(&log);
    assert_eq!(log["runs"][0]["results"][0]["level"], "warning");
    let batches = crate::securityhub::check_asff_dir(Path::new(&asff));
    let a = batches.values().flatten().flatten().find(|a| a.id.ends_with(f["fingerprint"].as_str().unwrap())).unwrap();
    assert_eq!((a.compliance.status.as_str(), a.record_state.as_str()), ("WARNING", "ACTIVE"));
    // Its own line in the summary, and the stale table announced there and in the report.
    let summary = stdout(&o);
    assert!(summary.contains("Warnings (1; not failing yet, they do not fail the scan"), "{summary}");
    assert!(summary.contains("200 days before this scan"), "{summary}");
    let notes: Vec<&str> = report["notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert!(notes.iter().any(|n| n.contains("Lambda runtime table was last updated") && n.contains("--lambda-runtimes")), "{notes:?}");

    // Asked to, warnings fail it; with a fresh table there is no note.
    let fresh = table(dir.path(), today, today + chrono::Days::new(30));
    let o = scan_eu(&moto, &creds, "lambda-supported-runtime", &["--lambda-runtimes", &fresh, "--fail-on-warning", "--json", &json]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("they fail the scan (--fail-on-warning)"));
    assert!(read_json(Path::new(&json))["notes"].as_array().unwrap().is_empty());
    // Out of range is refused, naming the value.
    let o = orgscan(&moto, &creds, &["scan", "--this-account", "--lambda-warn-days", "9999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid --lambda-warn-days 9999: allowed 0 to 3650"), "{}", stderr(&o));
}

/// An organization with a GuardDuty delegated administrator: the walker reads it from Organizations (moto
/// serves `ListDelegatedAdministrators`); each member's detector names its administrator, and the
/// administrator's own detector says whether new accounts are enabled automatically. moto answers
/// `GetAdministratorAccount` with PascalCase members (`Administrator`, `AccountId`) where the API has
/// camelCase ones (`administrator`, `accountId`, GuardDuty API Reference), so the SDK reads nothing from it;
/// and it does not serve `DescribeOrganizationConfiguration`. Those two answers come from aws-smithy-mocks
/// in the shapes of the API reference, everything else from moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_administrator_s_detectors_show_who_runs_guardduty() {
    use aws_sdk_guardduty::operation::describe_organization_configuration::DescribeOrganizationConfigurationOutput;
    use aws_sdk_guardduty::operation::get_administrator_account::GetAdministratorAccountOutput;
    use aws_sdk_guardduty::types::{Administrator, AutoEnableMembers};
    use aws_smithy_mocks::mock;
    let moto = Moto::from_env();
    let org = crate::support::estate::create_org(&moto, 2).await.unwrap();
    let (admin, member) = (org.members[0].0.clone(), org.members[1].0.clone());
    crate::support::estate::register_guardduty_admin(&moto, &org.management_creds, &admin).await.unwrap();
    let mut detectors = Vec::new();
    for account in [&admin, &member] {
        let creds = moto.assume(account).await.unwrap();
        let gd = aws_sdk_guardduty::Client::new(&moto.sdk_config(&creds, EU));
        detectors.push(gd.create_detector().enable(true).send().await.unwrap().detector_id().unwrap().to_owned());
    }
    let (admin_detector, member_detector) = (detectors[0].clone(), detectors[1].clone());
    let member_side = {
        let (admin, member_detector) = (admin.clone(), member_detector.clone());
        mock!(aws_sdk_guardduty::Client::get_administrator_account)
            .match_requests(move |r| r.detector_id() == Some(member_detector.as_str()))
            .then_output(move || {
                GetAdministratorAccountOutput::builder()
                    .administrator(Administrator::builder().account_id(&admin).relationship_status("Enabled").build())
                    .build()
            })
    };
    let none = mock!(aws_sdk_guardduty::Client::get_administrator_account).then_output(|| GetAdministratorAccountOutput::builder().build());
    let auto = {
        let admin_detector = admin_detector.clone();
        mock!(aws_sdk_guardduty::Client::describe_organization_configuration)
            .match_requests(move |r| r.detector_id() == Some(admin_detector.as_str()))
            .then_output(|| {
                DescribeOrganizationConfigurationOutput::builder()
                    .auto_enable_organization_members(AutoEnableMembers::All)
                    .member_account_limit_reached(false)
                    .build()
            })
    };
    let factory = moto.factory(&org.management_creds).with_interceptor(crate::support::passthrough(&[&member_side, &none, &auto]));
    let r = crate::support::scan_with(factory, &["--regions", EU, "--checks", "guardduty-enabled"]).await;
    let of = |id: &str| r.findings.iter().find(|f| f.resource.id == id).unwrap_or_else(|| panic!("no finding for {id}: {:?}", r.findings));
    let m = of(&member_detector);
    assert_eq!(m.target.account.as_str(), member);
    assert_eq!(m.evidence["administrator_account"], admin.as_str());
    assert_eq!(m.evidence["administrator_relationship"], "Enabled");
    assert!(m.message.ends_with(&format!("managed by the GuardDuty administrator account {admin}")), "{}", m.message);
    let a = of(&admin_detector);
    assert_eq!(a.evidence["delegated_administrator"], true);
    assert_eq!(a.evidence["auto_enable_organization_members"], "ALL");
    assert!(a.message.contains("every account of the organization is enabled automatically"), "{}", a.message);
    assert_eq!(auto.num_calls(), 1, "only the delegated administrator is asked for the organization configuration");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

/// The delegated administrator's own detector: moto does not serve `DescribeOrganizationConfiguration`, so
/// aws-smithy-mocks answers it with the API reference's shape (`AutoEnableOrganizationMembers`).
#[tokio::test]
async fn the_delegated_administrator_s_detector_says_whether_new_accounts_are_enabled() {
    use aws_sdk_guardduty::operation::describe_organization_configuration::{
        DescribeOrganizationConfigurationError, DescribeOrganizationConfigurationOutput,
    };
    use aws_sdk_guardduty::types::{AutoEnableMembers, DetectorStatus};
    use aws_smithy_mocks::mock;
    let list = mock!(aws_sdk_guardduty::Client::list_detectors)
        .then_output(|| aws_sdk_guardduty::operation::list_detectors::ListDetectorsOutput::builder().detector_ids("d-admin").build());
    let get = mock!(aws_sdk_guardduty::Client::get_detector).then_output(|| {
        aws_sdk_guardduty::operation::get_detector::GetDetectorOutput::builder().status(DetectorStatus::Enabled).service_role("r").build()
    });
    let no_admin = mock!(aws_sdk_guardduty::Client::get_administrator_account)
        .then_output(|| aws_sdk_guardduty::operation::get_administrator_account::GetAdministratorAccountOutput::builder().build());
    let org = mock!(aws_sdk_guardduty::Client::describe_organization_configuration).then_output(|| {
        DescribeOrganizationConfigurationOutput::builder()
            .auto_enable_organization_members(AutoEnableMembers::New)
            .member_account_limit_reached(false)
            .build()
    });

    // Organizations names this account GuardDuty's delegated administrator: it is asked.
    let (mut cx, _) = crate::tags::mocked(&[&list, &get, &no_admin, &org], false);
    cx.settings.delegated_admins = admins([cx.target.account.clone()].into());
    let e = orgscan::check::guardduty::CHECK.run(&cx).await.unwrap();
    let f = &e.findings[0];
    assert_eq!(f.status, orgscan::model::Status::Pass);
    assert_eq!(f.evidence["delegated_administrator"], true);
    assert_eq!(f.evidence["auto_enable_organization_members"], "NEW");
    assert!(f.message.contains("new accounts are enabled automatically, existing ones are not"), "{}", f.message);
    assert_eq!(org.num_calls(), 1);

    // Any other account without an administrator is standalone, and not asked.
    let (mut cx, _) = crate::tags::mocked(&[&list, &get, &no_admin, &org], false);
    cx.settings.delegated_admins = admins(BTreeSet::new());
    let e = orgscan::check::guardduty::CHECK.run(&cx).await.unwrap();
    assert_eq!(e.findings[0].evidence["administrator_account"], Value::Null);
    assert_eq!(org.num_calls(), 1, "only the delegated administrator is asked");

    // A refused read is a note of the account, never a change of verdict.
    let denied = mock!(aws_sdk_guardduty::Client::describe_organization_configuration).then_error(|| {
        DescribeOrganizationConfigurationError::generic(crate::support::err_meta("AccessDeniedException", "not authorized"))
    });
    let (mut cx, _) = crate::tags::mocked(&[&list, &get, &no_admin, &denied], false);
    cx.settings.delegated_admins = admins([cx.target.account.clone()].into());
    let e = orgscan::check::guardduty::CHECK.run(&cx).await.unwrap();
    assert_eq!(e.findings[0].status, orgscan::model::Status::Pass);
    assert_eq!(e.findings[0].evidence["administrator_not_read"], "AccessDeniedException");
    assert!(e.notes.iter().any(|n| n.contains("who administers GuardDuty detector d-admin was not read")), "{:?}", e.notes);
}

/// The delegated administrators of GuardDuty as the walker would hand them to the checks.
fn admins(
    accounts: BTreeSet<orgscan::model::AccountId>,
) -> std::sync::Arc<std::collections::BTreeMap<&'static str, BTreeSet<orgscan::model::AccountId>>> {
    std::sync::Arc::new([(orgscan::check::guardduty::SERVICE_PRINCIPAL, accounts)].into())
}
