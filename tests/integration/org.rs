//! Organization scans end to end against moto: discovery, OU selection, assumed roles, full coverage.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::estate::{Mix, Moto, create_grouped_org, create_org, seed_org};
use crate::support::{assert_valid, expected_rows, orgscan, quick_factory, read_json, report_rows, scan_with, stderr, stdout, tempdir};

fn accounts_in(report: &Value) -> BTreeSet<String> {
    report["coverage"].as_array().unwrap().iter().map(|c| c["account_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_of_21_accounts_in_4_regions_reports_exactly_the_seeded_estate() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 20).await.unwrap();
    let regions = ["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2"];
    // GuardDuty varies with account and region, so every branch appears in every region; the management
    // account gets every branch of every check.
    let (expected, _) =
        seed_org(&moto, &org, &regions, |a, r| if a == 0 { Mix::full(((a + r) % 3) as u8) } else { Mix::light(((a + r) % 3) as u8) })
            .await
            .unwrap();

    let dir = tempdir();
    let out = dir.path().join("org.json");
    let o = orgscan(&moto, &org.management_creds, &["scan", "--regions", &regions.join(","), "--json", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let report = read_json(&out);
    assert_valid("report.schema.json", &report);
    assert_eq!(report_rows(&report), expected_rows(&expected));

    // Full coverage: 21 accounts x 4 regions x 5 checks, all evaluated.
    let coverage = report["coverage"].as_array().unwrap();
    assert_eq!(coverage.len(), 21 * 4 * orgscan::check::ALL.len());
    assert!(coverage.iter().all(|c| c["status"] == "evaluated"), "not all evaluated");
    assert_eq!(accounts_in(&report), org.all_accounts().into_iter().collect());
    assert_eq!(report["errors"], Value::Array(vec![]));
    assert_eq!(report["scope"]["kind"], "organization");
    assert_eq!(report["scope"]["organization_id"], org.id.as_str());
    let stats = &report["stats"];
    assert_eq!(
        (stats["accounts"].as_u64(), stats["accounts_scanned"].as_u64(), stats["accounts_failed"].as_u64()),
        (Some(21), Some(21), Some(0))
    );
    assert_eq!(stats["regions"], 4);
    // One AssumeRole per member account, reused by every client of that account.
    assert_eq!(stats["api_calls_by_operation"]["STS:AssumeRole"]["calls"], 20);
    // Minimal calls by construction: one ListDetectors per target, one GetDetector per region with a detector.
    assert_eq!(stats["api_calls_by_operation"]["GuardDuty:ListDetectors"]["calls"], 21 * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ou_and_account_filters_select_exactly_the_right_accounts_and_suspended_ones_are_skipped() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 8).await.unwrap();
    let m: Vec<String> = org.members.iter().map(|m| m.0.clone()).collect();
    let all: BTreeSet<String> = org.all_accounts().into_iter().collect();
    let set = |v: &[&String]| v.iter().map(|s| (*s).clone()).collect::<BTreeSet<_>>();
    let dir = tempdir();

    let run = |extra: &[&str]| {
        let out = dir.path().join("sel.json");
        let mut args = vec!["scan", "--regions", "eu-west-3", "--checks", "guardduty-enabled", "--json", out.to_str().unwrap(), "--quiet"];
        args.extend_from_slice(extra);
        let o = orgscan(&moto, &org.management_creds, &args);
        assert!(matches!(o.status.code(), Some(1)), "{extra:?}: {}", stderr(&o));
        read_json(&out)
    };

    // Tree: prod {m0, m1, prod-eu {m2, m3}}, dev {m4, m5}, root {m6, m7, management}.
    assert_eq!(accounts_in(&run(&[])), all);
    assert_eq!(accounts_in(&run(&["--ou", org.ou("prod")])), set(&[&m[0], &m[1], &m[2], &m[3]]));
    assert_eq!(accounts_in(&run(&["--ou", org.ou("prod-eu")])), set(&[&m[2], &m[3]]));
    assert_eq!(accounts_in(&run(&["--ou", org.ou("prod-eu"), "--ou", org.ou("dev")])), set(&[&m[2], &m[3], &m[4], &m[5]]));
    assert_eq!(accounts_in(&run(&["--ou", org.ou("prod"), "--exclude-ou", org.ou("prod-eu")])), set(&[&m[0], &m[1]]));
    let not_prod: BTreeSet<String> = all.iter().filter(|a| !m[..4].contains(a)).cloned().collect();
    assert_eq!(accounts_in(&run(&["--exclude-ou", org.ou("prod")])), not_prod);
    let two = format!("{},{}", m[4], m[7]);
    assert_eq!(accounts_in(&run(&["--accounts", &two])), set(&[&m[4], &m[7]]));
    let without = format!("{},{}", m[0], org.management);
    assert_eq!(
        accounts_in(&run(&["--exclude-accounts", &without])),
        all.iter().filter(|a| **a != m[0] && **a != org.management).cloned().collect()
    );
    assert_eq!(accounts_in(&run(&["--ou", org.ou("dev"), "--exclude-accounts", &m[4]])), set(&[&m[5]]));

    // A closed (suspended) account is skipped with its state, never scanned, never an error.
    let orgs = aws_sdk_organizations::Client::new(&moto.sdk_config(&org.management_creds, "us-east-1"));
    orgs.close_account().account_id(&m[6]).send().await.unwrap();
    let report = run(&[]);
    let closed: Vec<&Value> = report["coverage"].as_array().unwrap().iter().filter(|c| c["account_id"] == m[6].as_str()).collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["status"], "skipped");
    assert!(closed[0]["detail"].as_str().unwrap().contains("SUSPENDED"), "{:?}", closed[0]);
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["account_id"] != m[6].as_str()));
    assert_eq!(report["errors"], Value::Array(vec![]));
    assert_eq!(report["stats"]["accounts_scanned"], 8);
}

/// Records the operations of every request, in the order they are made.
#[derive(Debug, Clone, Default)]
struct CallOrder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for CallOrder {
    fn name(&self) -> &'static str {
        "test::CallOrder"
    }

    fn read_before_serialization(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let op = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>().map_or("unknown", |m| m.name()).to_owned();
        self.0.lock().unwrap().push(op);
        Ok(())
    }
}

/// The scan does not wait for the OU tree: with 24 OUs (50 tree listings at the Organizations budget of
/// 5 requests a second), the first check's call is made before the tree's last listing, and the tree still
/// gives every finding's account its OU path. Counted in requests, not seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_starts_before_the_ou_tree_is_read_and_the_tree_still_names_every_account() {
    let moto = Moto::from_env();
    let org = create_grouped_org(&moto, &[1; 24]).await.unwrap();
    let calls = CallOrder::default();
    let factory = quick_factory(&moto, &org.management_creds, 3).with_interceptor(calls.clone());
    let report = scan_with(factory, &["--regions", "eu-west-1"]).await;
    let order = calls.0.lock().unwrap().clone();

    let tree_ops = ["ListAccountsForParent", "ListOrganizationalUnitsForParent"];
    // One listing of each kind per parent (the root and 24 OUs); moto pages the root's 24 child OUs.
    let count = |name: &str| order.iter().filter(|op| *op == name).count();
    assert_eq!(count("ListAccountsForParent"), 25, "{order:?}");
    assert!(count("ListOrganizationalUnitsForParent") >= 25, "{order:?}");
    let last_tree = order.iter().rposition(|op| tree_ops.contains(&op.as_str())).unwrap();
    let check_ops = ["ListDomainNames", "ListNotebookInstances", "ListFunctions", "ListKeys", "ListDetectors"];
    let first_check = order.iter().position(|op| check_ops.contains(&op.as_str())).expect("no check call");
    assert!(first_check < last_tree, "the first check call ({first_check}) waited for the tree's last listing ({last_tree}): {order:?}");
    // Everything before the first check call: the identity, the organization, and the roles it needed.
    let before: BTreeSet<&str> = order[..first_check].iter().map(String::as_str).collect();
    assert!(before.contains("ListAccounts") && before.contains("DescribeOrganization"), "{before:?}");

    assert!(!report.incomplete);
    assert_eq!(report.coverage.len(), 25 * orgscan::check::ALL.len());
    let names: std::collections::BTreeMap<&str, &str> = org.ous.iter().map(|(id, name, _)| (id.as_str(), name.as_str())).collect();
    for (account, ou) in &org.members {
        let info = &report.accounts[&account.parse().unwrap()];
        assert_eq!(info.ou_path.as_deref(), Some(format!("Root/{}", names[ou.as_str()]).as_str()), "{account}");
        assert_eq!(info.ous, vec![ou.clone()], "{account}");
    }
    // The report counts every call of the run, the tree's made after the last scope included.
    let listed = report.stats.api.get(&("Organizations".to_owned(), "ListAccountsForParent".to_owned())).map(|c| c.calls);
    assert_eq!(listed, Some(25), "{:?}", report.stats.api);
    assert_eq!(report.stats.api_calls(), order.len() as u64, "every request made is counted: {order:?}");
    let walk = report.stats.walk_ms.expect("the walk's share is measured");
    assert!(walk <= report.stats.duration_ms, "walk {walk} ms within the run's {} ms", report.stats.duration_ms);
    assert!(report.notes.iter().all(|n| !n.text.contains("OU")), "{:?}", report.notes);
}
