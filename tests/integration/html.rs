//! The HTML report in a real headless browser (Debian's chromium through chromium-driver and selenium,
//! installed by scripts/test.sh): the page of a moto organization scan shows the JSON report's totals, a
//! filter narrows the table to the expected rows, an errored scope is a gap in the heatmap, and the page logs
//! no console error and makes no network request. The screenshot is left in target/browser-test/.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::realism::Realism;
use crate::support::{orgscan_env, read_json, root, stderr, stdout, tempdir};

const DENIED_CHECK: &str = "lambda-supported-runtime";
const FILTER_CHECK: &str = "kms-key-not-pending-deletion";

/// The browser checker (tests/browser/check_report.py) with the project's Python; never skipped.
pub(crate) fn browser_check(args: &[&str]) -> std::process::Output {
    let Some(python) = std::env::var_os("ORGSCAN_BROWSER_PYTHON").filter(|v| !v.is_empty()) else {
        panic!("ORGSCAN_BROWSER_PYTHON is not set: run the tests with scripts/test.sh, which installs chromium and selenium");
    };
    Command::new(python)
        .arg(root().join("tests/browser/check_report.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the browser checker: {e}"))
}

/// What the page must show, from the JSON report.
fn expected(report: &Value, gap_account: &str) -> Value {
    let findings = report["findings"].as_array().unwrap();
    let count = |pred: &dyn Fn(&Value) -> bool| findings.iter().filter(|f| pred(f)).count();
    let coverage = report["coverage"].as_array().unwrap();
    let scopes = |status: &str| coverage.iter().filter(|c| c["status"] == status).count();
    let mut totals = json!({
        "findings": findings.len(),
        "fail": count(&|f| f["status"] == "FAIL"),
        "pass": count(&|f| f["status"] == "PASS"),
        "evaluated": scopes("evaluated"),
        "skipped": scopes("skipped"),
        "errors": scopes("error"),
        "not-evaluable": report["not_evaluable"].as_array().unwrap().len(),
    });
    for s in ["critical", "high", "medium", "low"] {
        totals[format!("severity-{s}")] = json!(count(&|f| f["status"] == "FAIL" && f["severity"] == s));
    }
    json!({
        "totals": totals,
        "filter": { "check": FILTER_CHECK, "status": "FAIL", "rows": count(&|f| f["status"] == "FAIL" && f["check_id"] == FILTER_CHECK) },
        "gap": { "account": gap_account, "check": DENIED_CHECK },
    })
}

fn out_dir() -> PathBuf {
    let d = root().join("target/browser-test");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_of_a_moto_scan_shows_the_json_totals_filters_and_marks_an_errored_scope_as_a_gap() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 3).await.unwrap();
    let regions = ["eu-west-1", "us-east-2"];
    seed_org(&moto, &org, &regions, |i, _| if i == 1 { Mix::full(1) } else { Mix::light(2) }).await.unwrap();
    // Lambda cannot be listed in one region of one member: that scope errors.
    let p = Realism::start(&moto.endpoint).await.unwrap();
    p.register_key(org.management_creds.access_key_id(), &org.management);
    let denied = org.members[0].0.clone();
    p.identity_deny(&denied, "us-east-2", "lambda:ListFunctions");

    let dir = tempdir();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let args = ["scan", "--regions", &regions.join(","), "--json", json.to_str().unwrap(), "--html", html.to_str().unwrap()];
    let o = orgscan_env(&p.endpoint, &org.management_creds, &args, &[]);
    assert_eq!(o.status.code(), Some(4), "FAILs and one errored scope:\n{}\n{}", stdout(&o), stderr(&o));
    let report = read_json(&json);
    assert!(report["coverage"].as_array().unwrap().iter().any(|c| c["status"] == "error" && c["account_id"] == denied.as_str()));

    let want = dir.path().join("expected.json");
    std::fs::write(&want, serde_json::to_vec(&expected(&report, &denied)).unwrap()).unwrap();
    let out = out_dir();
    let o = browser_check(&[html.to_str().unwrap(), want.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(o.status.success(), "browser check failed:\n{}\n{}", stdout(&o), stderr(&o));
    let png = std::fs::read(out.join("report.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot is written");
}

#[test]
fn the_browser_checker_fails_on_a_page_that_lies() {
    // The checker itself: a page whose total disagrees with the JSON report, and one that fetches a script.
    let dir = tempdir();
    let page = |body: &str| {
        let p = dir.path().join("bad.html");
        std::fs::write(
            &p,
            format!("<!DOCTYPE html><html><body>{body}<script>document.documentElement.dataset.rendered='true'</script></body></html>"),
        )
        .unwrap();
        p
    };
    let want = dir.path().join("expected.json");
    std::fs::write(&want, r#"{"totals":{"fail":3},"filter":{"check":"x","status":"FAIL","rows":0},"gap":null}"#).unwrap();
    let check = |p: &Path| browser_check(&[p.to_str().unwrap(), want.to_str().unwrap(), dir.path().to_str().unwrap()]);
    let o = check(&page(r#"<span data-total="fail">2</span>"#));
    assert!(!o.status.success() && stderr(&o).contains("total fail: page shows 2"), "{}", stderr(&o));
    let o = check(&page(r#"<span data-total="fail">3</span><img src="http://127.0.0.1:5999/pixel.png" alt="">"#));
    assert!(!o.status.success() && stderr(&o).contains("network requests") && stderr(&o).contains("127.0.0.1:5999"), "{}", stderr(&o));
    let o = check(&page(r#"<span data-total="fail">3</span><script>console.error("broken")</script>"#));
    assert!(!o.status.success() && stderr(&o).contains("console messages") && stderr(&o).contains("broken"), "{}", stderr(&o));
}
