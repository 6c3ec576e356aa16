//! Least privilege per principal, enforced: a moto server of its own (scripts/test.sh starts it; IAM
//! enforcement is global to a server) checks every request against the caller's IAM policies once seeding is
//! done (`POST /moto-api/reset-auth`, docs/emulator.md). The scanning principal holds exactly
//! `deploy/scanner-policy.json`, every member's `OrgScanAudit` role exactly the policy of
//! `deploy/audit-role.yaml`, and the Security Hub import `deploy/securityhub-import-policy.json`. A scan
//! evaluates every scope, the scanning (management) account's own included; without any one action it does
//! not. The scans read the tags of their FAILs (as suppression rules on tags ask): without a tag action, that
//! check's FAILs are still reported, without tags.
//!
//! moto enforces identity policies only (no SCPs, trust policies or external ids), and answers a denial with
//! an XML `403 AccessDenied` for every service, which the SDK cannot parse for JSON-protocol services: a
//! denied scope therefore shows up as an error whatever its code. moto does not implement Account
//! `ListRegions`, so `account:ListRegions` cannot be exercised here (the scans name their region), nor
//! GuardDuty `DescribeOrganizationConfiguration` (called only in GuardDuty's delegated administrator); the
//! static test in least_privilege.rs holds the policies to every action, those included. The S3 outputs, the
//! run history and the SNS notification are held to `deploy/history-policy.json` the same way (its KMS actions,
//! which S3 itself calls for SSE-KMS, only by the static test). moto does not serve the Lambda Web API either:
//! the project's moto layer (scripts/moto_lambda_web.py) answers it and holds it to the same identity policies
//! with moto's own evaluator, so `lambda:ListWebFunctions`, `lambda:ListWebFunctionEndpoints` and
//! `lambda:GetWebFunctionRevision` are enforced here like every other action.

use std::collections::BTreeSet;
use std::io::{Read, Write};

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use orgscan::model::{CoverageStatus, ScanReport};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::{read_json, root, run_with_sinks, sink_args};

const REGION: &str = "eu-west-1";
const ROLE: &str = "OrgScanAudit";

/// moto 5.2.5 re-checks the signature of a request without body or query string against a payload hash it
/// computes wrongly (docs/emulator.md), unless the request carries `X-Amz-Content-SHA256`: this adds the real hash
/// of the body before signing, so the header is signed like any other. Test-only: AWS needs no such header.
#[derive(Debug)]
pub(crate) struct ContentSha256;

impl Intercept for ContentSha256 {
    fn name(&self) -> &'static str {
        "test::ContentSha256"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request_mut();
        let body = req.body().bytes().unwrap_or_default();
        let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        req.headers_mut().insert("x-amz-content-sha256", hash);
        Ok(())
    }
}

fn iam_moto() -> Moto {
    let endpoint = std::env::var("ORGSCAN_TEST_IAM_ENDPOINT")
        .unwrap_or_else(|_| panic!("ORGSCAN_TEST_IAM_ENDPOINT is not set: run the tests with scripts/test.sh"));
    Moto { endpoint }
}

/// `POST /moto-api/reset-auth` with body `0` as text/plain: enforcement from the next request on.
pub(crate) fn enforce_iam(moto: &Moto) {
    let addr = moto.endpoint.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\n0"
    );
    conn.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "reset-auth: {answer}");
}

/// The actions of the permission policy in deploy/audit-role.yaml, as the JSON policy CloudFormation makes.
pub(crate) fn audit_policy(without: Option<&str>) -> String {
    let text = std::fs::read_to_string(root().join("deploy/audit-role.yaml")).unwrap();
    let policies = text.split("Policies:").nth(1).expect("the template has a Policies section");
    let actions: Vec<&str> =
        policies.lines().filter_map(|l| l.trim().strip_prefix("- ")).filter(|a| a.contains(':') && !a.contains(' ')).collect();
    assert!(!actions.is_empty());
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": remove(&actions, without), "Resource": "*"}]}).to_string()
}

/// A JSON policy from deploy/, without one action.
pub(crate) fn deploy_policy(file: &str, without: Option<&str>) -> String {
    let mut p: Value = read_json(&root().join(file));
    for st in p["Statement"].as_array_mut().unwrap() {
        let actions: Vec<String> = match &st["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(v) => v.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
            other => panic!("unexpected Action {other}"),
        };
        let refs: Vec<&str> = actions.iter().map(String::as_str).collect();
        st["Action"] = json!(remove(&refs, without));
    }
    // A statement left without actions is dropped (IAM refuses empty ones).
    let sts: Vec<Value> =
        p["Statement"].as_array().unwrap().iter().filter(|s| !s["Action"].as_array().unwrap().is_empty()).cloned().collect();
    p["Statement"] = json!(sts);
    p.to_string()
}

fn remove<'a>(actions: &[&'a str], without: Option<&str>) -> Vec<&'a str> {
    actions.iter().copied().filter(|a| Some(*a) != without).collect()
}

pub(crate) fn actions_of(policy: &str) -> Vec<String> {
    let p: Value = serde_json::from_str(policy).unwrap();
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()))
        .collect()
}

pub(crate) fn admin_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string()
}

pub(crate) async fn user_with_keys(iam: &aws_sdk_iam::Client, name: &str, policy: &str) -> Credentials {
    iam.create_user().user_name(name).send().await.unwrap();
    iam.put_user_policy().user_name(name).policy_name("orgscan").policy_document(policy).send().await.unwrap();
    let k = iam.create_access_key().user_name(name).send().await.unwrap();
    let k = k.access_key().unwrap();
    Credentials::new(k.access_key_id(), k.secret_access_key(), None, None, "moto-iam-user")
}

struct Estate {
    moto: Moto,
    management: String,
    scanner: Credentials,
    /// The management account's administrator, to change the scanner's policy while enforcement is on.
    admin: Credentials,
    /// (member account, its administrator)
    members: Vec<(String, Credentials)>,
}

impl Estate {
    fn iam(&self, creds: &Credentials) -> aws_sdk_iam::Client {
        let cfg = self.moto.sdk_config(creds, "us-east-1");
        let conf = aws_sdk_iam::config::Builder::from(&cfg).interceptor(ContentSha256).build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    async fn set_scanner_policy(&self, policy: &str) {
        let iam = self.iam(&self.admin);
        iam.put_user_policy().user_name("orgscan-scanner").policy_name("orgscan").policy_document(policy).send().await.unwrap();
    }

    async fn set_audit_policy(&self, policy: &str) {
        for (_, admin) in &self.members {
            let iam = self.iam(admin);
            iam.put_role_policy().role_name(ROLE).policy_name("orgscan-read").policy_document(policy).send().await.unwrap();
        }
    }

    /// A scan that reads the tags of its FAILs (as suppression rules on tags ask), so the tag reads are held to
    /// the policies too.
    async fn scan_tagged(&self) -> ScanReport {
        let factory = self.moto.factory(&self.scanner).with_interceptor(ContentSha256);
        match orgscan::run_scan(&tagged_plan(), factory, std::future::pending(), &mut orgscan::scan::Silent).await {
            Ok(r) => r,
            Err(e) => panic!("scan did not start: {e}"),
        }
    }

    async fn scan(&self, extra: &[&str]) -> ScanReport {
        let factory = self.moto.factory(&self.scanner).with_interceptor(ContentSha256);
        let mut args = vec!["--role-name", ROLE, "--regions", REGION];
        args.extend_from_slice(extra);
        // The library's run: the scan, then the Security Hub import when --security-hub asks for it.
        crate::securityhub::scan_import(factory, &args).await
    }
}

/// The plan of every enforced scan but the Security Hub ones: tags read, as suppression rules on tags ask.
fn tagged_plan() -> orgscan::config::ScanPlan {
    let mut plan = crate::support::plan(&["--role-name", ROLE, "--regions", REGION]);
    plan.settings.read_tags = true;
    plan
}

async fn estate() -> Estate {
    let moto = iam_moto();
    let org = create_org(&moto, 2).await.unwrap();
    let (_, creds) = seed_org(&moto, &org, &[REGION], |_, _| Mix::full(1)).await.unwrap();
    let m_iam = aws_sdk_iam::Client::new(&moto.sdk_config(&org.management_creds, "us-east-1"));
    let scanner = user_with_keys(&m_iam, "orgscan-scanner", &deploy_policy("deploy/scanner-policy.json", None)).await;
    let admin = user_with_keys(&m_iam, "orgscan-admin", &admin_policy()).await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", org.management)}, "Action": "sts:AssumeRole"}]});
    let mut members = Vec::new();
    for (member, _) in &org.members {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config(&creds[member], "us-east-1"));
        iam.create_role().role_name(ROLE).assume_role_policy_document(trust.to_string()).send().await.unwrap();
        iam.put_role_policy().role_name(ROLE).policy_name("orgscan-read").policy_document(audit_policy(None)).send().await.unwrap();
        members.push((member.clone(), user_with_keys(&iam, "orgscan-admin", &admin_policy()).await));
    }
    enforce_iam(&moto);
    Estate { moto, management: org.management, scanner, admin, members }
}

/// Whether every (check, account, region) scope of the scan was evaluated, nothing went unread (the tags of
/// every FAIL included: the estate's FAILs are all taggable), and every account carries its name and OU path.
fn complete(r: &ScanReport) -> bool {
    r.errors.is_empty()
        && untagged(r).next().is_none()
        && r.not_evaluable.is_empty()
        && r.notes.is_empty()
        && r.coverage.iter().all(|c| matches!(c.status, CoverageStatus::Evaluated { .. }))
        && r.accounts.len() == 3
        && r.accounts.values().all(|a| a.ou_path.is_some())
}

/// The FAILs whose tags were not read (a denied tag read keeps the FAIL, without tags).
fn untagged(r: &ScanReport) -> impl Iterator<Item = &orgscan::model::Finding> {
    r.failures().filter(|f| f.tags.is_none())
}

fn describe(r: &ScanReport) -> String {
    let bad: Vec<String> = r
        .coverage
        .iter()
        .filter(|c| !matches!(c.status, CoverageStatus::Evaluated { .. }))
        .map(|c| format!("{} {} {:?}", c.check_id, c.account, c.status))
        .chain(r.not_evaluable.iter().map(|n| format!("not evaluable {} {}", n.resource.arn, n.error)))
        .chain(r.errors.iter().map(|e| format!("error {} {}", e.account, e.error)))
        .chain(r.notes.iter().map(|n| format!("note {:?} {}", n.account, n.text)))
        .chain(untagged(r).map(|f| format!("FAIL without tags {}", f.resource.arn)))
        .collect();
    bad.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_exactly_the_shipped_policies_every_scope_is_evaluated_and_without_any_one_action_it_is_not() {
    let e = estate().await;

    let r = e.scan_tagged().await;
    assert!(complete(&r), "the shipped policies must be enough:\n{}", describe(&r));
    let accounts: BTreeSet<&str> = r.coverage.iter().map(|c| c.account.as_str()).collect();
    assert_eq!(accounts.len(), 3, "the management account and both members");
    assert!(accounts.contains(e.management.as_str()), "the scanning account scans itself");
    assert_eq!(r.coverage.len(), 3 * orgscan::check::ALL.len());
    assert!(r.failures().count() > 0, "the estate's FAILs are found under enforcement too");

    // The Security Hub import needs its own policy, in every account: without it the import fails; with it
    // (on the scanning principal and the audit roles) it succeeds.
    let r = e.scan(&["--security-hub"]).await;
    assert!(
        r.stats.security_hub.as_ref().is_some_and(|s| s.has_problems()),
        "the read-only roles cannot import: {:?} {:?}",
        r.stats.security_hub,
        r.stats.api.iter().filter(|(k, _)| k.0 == "SecurityHub").collect::<Vec<_>>()
    );
    let import = deploy_policy("deploy/securityhub-import-policy.json", None);
    let with_import = |base: &str| {
        let mut p: Value = serde_json::from_str(base).unwrap();
        let extra: Value = serde_json::from_str(&import).unwrap();
        let mut sts = p["Statement"].as_array().unwrap().clone();
        sts.extend(extra["Statement"].as_array().unwrap().iter().cloned());
        p["Statement"] = json!(sts);
        p.to_string()
    };
    e.set_scanner_policy(&with_import(&deploy_policy("deploy/scanner-policy.json", None))).await;
    e.set_audit_policy(&with_import(&audit_policy(None))).await;
    let r = e.scan(&["--security-hub"]).await;
    let sh = r.stats.security_hub.as_ref().unwrap();
    assert!(!sh.has_problems(), "{:?}", sh.scopes);
    assert_eq!(sh.scopes.len(), 3);
    let scanner_policy = deploy_policy("deploy/scanner-policy.json", None);
    e.set_scanner_policy(&scanner_policy).await;
    e.set_audit_policy(&audit_policy(None)).await;

    // Without any one action of the scanning principal's policy, the scan no longer covers everything (or does
    // not start: the organization cannot be listed).
    let scanner_policy = deploy_policy("deploy/scanner-policy.json", None);
    for action in actions_of(&scanner_policy) {
        if NOT_SERVED.contains(&action.as_str()) {
            continue; // not served by moto (see the module comment)
        }
        e.set_scanner_policy(&deploy_policy("deploy/scanner-policy.json", Some(&action))).await;
        let factory = e.moto.factory(&e.scanner).with_interceptor(ContentSha256);
        match orgscan::run_scan(&tagged_plan(), factory, std::future::pending(), &mut orgscan::scan::Silent).await {
            Ok(r) => assert!(!complete(&r), "without {action} in deploy/scanner-policy.json the scan still covered everything"),
            Err(err) => assert!(action.starts_with("organizations:") || action == "sts:AssumeRole", "{action}: {err}"),
        }
    }
    e.set_scanner_policy(&scanner_policy).await;

    // Without any one action of the audit role, the members are no longer fully read.
    for action in actions_of(&audit_policy(None)) {
        if NOT_SERVED.contains(&action.as_str()) {
            continue;
        }
        e.set_audit_policy(&audit_policy(Some(&action))).await;
        let r = e.scan_tagged().await;
        assert!(!complete(&r), "without {action} in deploy/audit-role.yaml the scan still covered everything");
        // Only the checks of that action are hurt, and only in the members (the scanning account has its own policy).
        let hurt = r.coverage.iter().filter(|c| c.status.as_str() != "evaluated").map(|c| (c.check_id, c.account.as_str()));
        let unread = r.not_evaluable.iter().map(|n| (n.check_id, n.target.account.as_str()));
        let tagless = untagged(&r).map(|f| (f.check.id, f.target.account.as_str()));
        for (check, account) in hurt.chain(unread).chain(tagless) {
            let theirs = checks_of(&action).contains(&check);
            assert!(theirs && account != e.management, "without {action}: {check} in {account}\n{}", describe(&r));
        }
    }
    e.set_audit_policy(&audit_policy(None)).await;
    assert!(complete(&e.scan_tagged().await), "restored");

    // The S3 outputs, the history and the SNS notification need deploy/history-policy.json (its placeholders
    // filled in) on the scanning principal: with it, two runs store, read back and notify; without it, or
    // without any one of its actions, they do not.
    let bucket = format!("orgscan-iam-{}", e.management);
    let admin_cfg = e.moto.sdk_config(&e.admin, "us-east-1");
    aws_sdk_s3::Client::new(&admin_cfg).create_bucket().bucket(&bucket).send().await.unwrap();
    let topic =
        aws_sdk_sns::Client::new(&admin_cfg).create_topic().name("orgscan-iam").send().await.unwrap().topic_arn().unwrap().to_owned();
    let sinks = |without: Option<&str>| {
        let text =
            deploy_policy("deploy/history-policy.json", without).replace("ORGSCAN_BUCKET", &bucket).replace("ORGSCAN_TOPIC", "orgscan-iam");
        let mut p: Value = serde_json::from_str(&text).unwrap();
        // moto gives a policy's conditions no context but sts:ExternalId (moto/iam/utils.py), so the
        // `s3:prefix` condition of ListBucket would never match here; AWS evaluates it.
        // And moto authorizes every request of a service other than S3 against the resource "*"
        // (moto/core/authorization.py), so the topic's ARN would never match either.
        for st in p["Statement"].as_array_mut().unwrap() {
            st.as_object_mut().unwrap().remove("Condition");
            if st["Action"].as_array().unwrap().iter().all(|a| a.as_str().is_some_and(|a| a.starts_with("sns:"))) {
                st["Resource"] = json!("*");
            }
        }
        let mut all: Value = serde_json::from_str(&scanner_policy).unwrap();
        let mut sts = all["Statement"].as_array().unwrap().clone();
        sts.extend(p["Statement"].as_array().unwrap().iter().cloned());
        all["Statement"] = json!(sts);
        all.to_string()
    };
    let sink_args = sink_args(&bucket, &topic);
    let args: Vec<&str> = ["--role-name", ROLE, "--regions", REGION].into_iter().chain(sink_args.iter().map(String::as_str)).collect();
    assert_eq!(sink_run(&e, &sinks(None), &args).await, Ok(false), "the first run stores the history and notifies");
    assert_eq!(sink_run(&e, &sinks(None), &args).await, Ok(true), "the second reads it back");
    assert!(sink_run(&e, &scanner_policy, &args).await.is_err(), "the scanner policy alone cannot write the reports");
    for action in actions_of(&deploy_policy("deploy/history-policy.json", None)) {
        if action.starts_with("kms:") {
            continue; // S3's calls to KMS on the caller's behalf (SSE-KMS): moto's S3 does not make them
        }
        let r = sink_run(&e, &sinks(Some(&action)), &args).await;
        assert!(r.is_err(), "without {action} in deploy/history-policy.json the run still stored and notified: {r:?}");
    }
    e.set_scanner_policy(&scanner_policy).await;
}

/// One run with `policy` on the scanning principal, through the library as `orgscan scan` runs it: the S3
/// baseline, the scan, the outputs, the uploads, the notification. Whether it read a baseline, or what failed.
async fn sink_run(e: &Estate, policy: &str, args: &[&str]) -> Result<bool, String> {
    e.set_scanner_policy(policy).await;
    let run = run_with_sinks(args, &e.moto.factory(&e.scanner).with_interceptor(ContentSha256)).await?;
    if run.publish_errors.is_empty() { Ok(run.baseline_read) } else { Err(run.publish_errors.join("\n")) }
}

/// Actions whose operations moto does not serve (see the module comment).
const NOT_SERVED: &[&str] = &["account:ListRegions", "guardduty:DescribeOrganizationConfiguration"];

/// The check whose calls need `action` (none for the walker's own actions).
/// The checks that declare `action` (several checks on one service may share a read).
fn checks_of(action: &str) -> Vec<&'static str> {
    orgscan::check::ALL.iter().filter(|c| c.info().iam_actions.contains(&action)).map(|c| c.info().id).collect()
}
