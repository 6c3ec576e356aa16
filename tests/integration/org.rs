//! Organization scans end to end against moto: discovery, OU selection, assumed roles, full coverage.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::{assert_valid, expected_rows, orgscan, read_json, report_rows, stderr, stdout, tempdir};

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
