//! Least privilege of `orgscan fix`: the remediation role of deploy/remediation-role.yaml grants exactly what
//! the changes call, held three ways. Statically, its actions are `fix::iam_actions()` (the checks' declared ones, and the one
//! implied action, GuardDuty's service-linked role). Under moto's IAM enforcement (a moto server of its own, started
//! by scripts/test.sh), a fix whose member role holds exactly that policy changes every fixable FAIL and the
//! rescan (with the audit role of deploy/audit-role.yaml) shows them passing; the calls it made are exactly
//! those actions; and without any one of them, it does not complete.
//!
//! moto creates no service-linked role, so `iam:CreateServiceLinkedRole` is held by the static check only;
//! moto's denials are XML 403s the SDK cannot parse for JSON services, so a denied call is an error whatever
//! its code.

use std::collections::BTreeSet;

use aws_credential_types::Credentials;
use orgscan::fix::{iam_actions, implied_iam_actions, steps};
use orgscan::model::Service;
use serde_json::{Value, json};

use crate::iam_enforced::{ContentSha256, admin_policy, audit_policy, deploy_policy, enforce_iam, user_with_keys};
use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::{root, tempdir};

const REMEDIATION: &str = "OrgScanRemediation";
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];

fn fix_moto() -> Moto {
    let endpoint = std::env::var("ORGSCAN_TEST_IAM_FIX_ENDPOINT")
        .unwrap_or_else(|_| panic!("ORGSCAN_TEST_IAM_FIX_ENDPOINT is not set: run the tests with scripts/test.sh"));
    Moto { endpoint }
}

/// The actions of deploy/remediation-role.yaml's policy, by statement: (Sid, actions). Both the list and the
/// one-action forms of `Action:` are read.
fn template_statements() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("deploy/remediation-role.yaml")).unwrap();
    let policies = text.split("Policies:").nth(1).expect("the template has a Policies section");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_actions = false;
    for line in policies.lines() {
        let t = line.trim();
        if let Some(sid) = t.strip_prefix("- Sid: ") {
            out.push((sid.to_owned(), Vec::new()));
            in_actions = false;
        } else if let Some(a) = t.strip_prefix("Action: ") {
            out.last_mut().expect("a statement").1.push(a.to_owned());
        } else if t == "Action:" {
            in_actions = true;
        } else if in_actions && let Some(a) = t.strip_prefix("- ") {
            out.last_mut().expect("a statement").1.push(a.to_owned());
        } else {
            in_actions = false;
        }
    }
    out
}

/// The policy of the role's first statement (the calls), without one action, as JSON.
fn remediation_policy(without: Option<&str>) -> String {
    let calls = &template_statements()[0].1;
    let actions: Vec<&String> = calls.iter().filter(|a| Some(a.as_str()) != without).collect();
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}).to_string()
}

#[test]
fn the_template_grants_the_declared_actions_and_every_step_is_declared() {
    let statements = template_statements();
    assert_eq!(statements.len(), 2, "{statements:?}");
    let calls: BTreeSet<&str> = statements[0].1.iter().map(String::as_str).collect();
    assert_eq!(calls, iam_actions().into_iter().collect(), "deploy/remediation-role.yaml");
    assert_eq!(statements[1].1, implied_iam_actions(), "the service-linked role statement");
    let steps: BTreeSet<String> = steps().iter().map(|s| s.iam_action()).collect();
    assert!(steps.iter().all(|a| iam_actions().contains(&a.as_str())), "{steps:?}");
    let text = std::fs::read_to_string(root().join("deploy/remediation-role.yaml")).unwrap();
    assert!(text.contains("sts:ExternalId") && !text.contains("arn:aws:"), "trusts only with the external id, in any partition");
}

struct Ui(String);

impl orgscan::FixUi for Ui {
    fn say(&mut self, text: &str) {
        self.0.push_str(text);
    }
    fn confirm(&mut self, _: usize) -> bool {
        panic!("--yes: never asked")
    }
}

struct Estate {
    moto: Moto,
    member: String,
    scanner: Credentials,
    member_admin: Credentials,
    /// The member's key that was pending deletion.
    pending_key: String,
}

impl Estate {
    fn cfg(&self, region: &str) -> aws_types::SdkConfig {
        self.moto.sdk_config(&self.member_admin, region)
    }

    async fn set_remediation_policy(&self, policy: &str) {
        let cfg = self.cfg("us-east-1");
        let iam = aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(&cfg).interceptor(ContentSha256).build());
        iam.put_role_policy().role_name(REMEDIATION).policy_name("orgscan-fix").policy_document(policy).send().await.unwrap();
    }

    /// Every FAIL the fix changed, failing again (with the member's administrator).
    async fn break_again(&self) {
        let (eu, us) = (self.cfg("eu-west-1"), self.cfg("us-east-1"));
        let kms = aws_sdk_kms::Client::from_conf(aws_sdk_kms::config::Builder::from(&eu).interceptor(ContentSha256).build());
        let state = kms.describe_key().key_id(&self.pending_key).send().await.unwrap();
        if state.key_metadata().and_then(|m| m.key_state()).map(|s| s.as_str()) != Some("PendingDeletion") {
            kms.schedule_key_deletion().key_id(&self.pending_key).pending_window_in_days(7).send().await.unwrap();
        }
        let gd = |cfg: &aws_types::SdkConfig| {
            aws_sdk_guardduty::Client::from_conf(aws_sdk_guardduty::config::Builder::from(cfg).interceptor(ContentSha256).build())
        };
        for id in gd(&eu).list_detectors().send().await.unwrap().detector_ids() {
            gd(&eu).delete_detector().detector_id(id).send().await.unwrap();
        }
        for id in gd(&us).list_detectors().send().await.unwrap().detector_ids() {
            gd(&us).update_detector().detector_id(id).enable(false).send().await.unwrap();
        }
        let os = aws_sdk_opensearch::Client::from_conf(aws_sdk_opensearch::config::Builder::from(&eu).interceptor(ContentSha256).build());
        let off = aws_sdk_opensearch::types::EncryptionAtRestOptions::builder().enabled(false).build();
        for name in ["os-plain", "es-plain"] {
            os.update_domain_config().domain_name(name).encryption_at_rest_options(off.clone()).send().await.unwrap();
        }
    }

    async fn fix(&self) -> (orgscan::FixOutcome, String) {
        let dir = tempdir();
        let journal = dir.path().join("j.jsonl");
        let regions = REGIONS.join(",");
        // Every check that fixes something itself: the remediation policy is theirs (a check fixed by hand
        // has no action in it, and its FAILs would stay).
        let fixable: Vec<&str> = orgscan::check::ALL.iter().filter(|c| c.changes.is_some()).map(|c| c.info().id).collect();
        let checks = fixable.join(",");
        let argv = [
            "orgscan",
            "fix",
            "--scan",
            "--checks",
            &checks,
            "--accounts",
            &self.member,
            "--regions",
            &regions,
            "--role-name",
            "OrgScanAudit",
            "--remediation-role-name",
            REMEDIATION,
            "--apply",
            "--yes",
            "--enable-keys",
            "--allow-blue-green",
            "--journal",
            journal.to_str().unwrap(),
        ];
        let cli = <orgscan::cli::Cli as clap::Parser>::try_parse_from(argv).unwrap();
        let orgscan::cli::Command::Fix(args) = cli.command else { panic!("not a fix") };
        let mut plan = orgscan::config::fix::FixPlan::from_args(&args).unwrap();
        let factory = self.moto.factory(&self.scanner).with_interceptor(ContentSha256);
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let mut ui = Ui(String::new());
        let outcome = orgscan::run_fix(&mut plan, factory, stop, &mut ui).await.unwrap_or_else(|e| panic!("fix did not start: {e}"));
        (outcome, ui.0)
    }
}

async fn estate() -> Estate {
    let moto = fix_moto();
    let org = create_org(&moto, 1).await.unwrap();
    let member = org.members[0].0.clone();
    // The management account has nothing to fix: every change goes through the member's remediation role.
    let fixable = Mix { kms: true, opensearch: true, ..Mix::guardduty_only(2) };
    let (expected, creds) = seed_org(&moto, &org, &REGIONS, |a, r| match (a, r) {
        (0, _) => Mix::guardduty_only(0),
        (_, 0) => fixable,
        _ => Mix::guardduty_only(1),
    })
    .await
    .unwrap();
    let pending_key = expected
        .iter()
        .find(|e| e.check_id == "kms-key-not-pending-deletion" && e.status == "FAIL" && e.account == member)
        .map(|e| e.resource_id.clone())
        .unwrap();
    let m_iam = aws_sdk_iam::Client::new(&moto.sdk_config(&org.management_creds, "us-east-1"));
    let mut scanner_policy: Value = serde_json::from_str(&deploy_policy("deploy/scanner-policy.json", None)).unwrap();
    let assume = json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:*:iam::*:role/{REMEDIATION}")});
    scanner_policy["Statement"].as_array_mut().unwrap().push(assume);
    let scanner = user_with_keys(&m_iam, "orgscan-fixer", &scanner_policy.to_string()).await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", org.management)}, "Action": "sts:AssumeRole"}]});
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config(&creds[&member], "us-east-1"));
    for (role, name, policy) in
        [("OrgScanAudit", "orgscan-read", audit_policy(None)), (REMEDIATION, "orgscan-fix", remediation_policy(None))]
    {
        iam.create_role().role_name(role).assume_role_policy_document(trust.to_string()).send().await.unwrap();
        iam.put_role_policy().role_name(role).policy_name(name).policy_document(policy).send().await.unwrap();
    }
    let member_admin = user_with_keys(&iam, "orgscan-admin", &admin_policy()).await;
    enforce_iam(&moto);
    Estate { moto, member, scanner, member_admin, pending_key }
}

fn iam_prefix(sdk_service: &str) -> &'static str {
    Service::ALL.iter().find(|s| s.sdk_id() == sdk_service).map(|s| s.iam_prefix()).unwrap_or_else(|| panic!("{sdk_service}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_exactly_the_remediation_policy_every_fixable_fail_is_fixed_and_without_any_one_action_it_is_not() {
    let e = estate().await;
    let (outcome, text) = e.fix().await;
    assert_eq!(outcome.exit_code, 0, "every selected FAIL passes after the fix:\n{text}");
    assert_eq!(outcome.items.len(), 5, "a key, no detector, a disabled detector, two domains:\n{text}");
    let applied = outcome.applied.as_ref().unwrap();
    assert!(applied.outcomes.iter().all(|o| o.is_applied()), "{:?}\n{text}", applied.outcomes);
    assert!(outcome.after.iter().all(|a| *a == orgscan::AfterFix::Pass), "{:?}\n{text}", outcome.after);
    // The calls of the changes are exactly the role's actions (AssumeRole is the scanning principal's).
    let called: BTreeSet<String> =
        outcome.apply_calls.keys().map(|(s, op)| format!("{}:{op}", iam_prefix(s))).filter(|a| a != "sts:AssumeRole").collect();
    assert_eq!(called, iam_actions().iter().map(|a| (*a).to_owned()).collect::<BTreeSet<_>>(), "the calls of the changes");

    for action in iam_actions() {
        e.break_again().await;
        e.set_remediation_policy(&remediation_policy(Some(action))).await;
        let (outcome, text) = e.fix().await;
        let failed = outcome.applied.as_ref().is_some_and(|a| a.outcomes.iter().any(|o| matches!(o, orgscan::fix::Outcome::Failed(_))));
        assert!(failed && outcome.exit_code != 0, "without {action} the fix still completed (exit {}):\n{text}", outcome.exit_code);
    }
    e.break_again().await;
    e.set_remediation_policy(&remediation_policy(None)).await;
    assert_eq!(e.fix().await.0.exit_code, 0, "restored");
}
