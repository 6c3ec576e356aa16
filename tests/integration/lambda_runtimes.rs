//! Lambda as it is at the end of 2026 (issue 25), end to end against moto: a runtime newer than the bundled
//! table, and a customer-managed runtime (`Runtime = custom`), whose lifecycle the AWS SDK for Rust cannot
//! read yet. moto accepts any runtime string ("Lambda: any runtime string is accepted").

use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use orgscan::model::Status;

use crate::support::estate::{Moto, fresh_lambda_account, zip_function};
use crate::support::{assert_valid, orgscan, read_json, stderr, stdout, tempdir};

const REGION: &str = "eu-west-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_runtime_passes_with_a_note_and_a_custom_runtime_is_not_evaluable() {
    let moto = Moto::from_env();
    let (account, creds, role) = fresh_lambda_account(&moto).await.unwrap();
    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config(&creds, REGION));
    for (name, runtime) in [("fn-newer", "python3.15"), ("fn-node26", "nodejs26.x"), ("fn-current", "python3.13"), ("fn-custom", "custom")]
    {
        zip_function(&lambda, name, &role, runtime).send().await.unwrap();
    }

    let dir = tempdir();
    let out = dir.path().join("out.json");
    let args = ["scan", "--this-account", "--regions", REGION, "--checks", "lambda-supported-runtime", "--json", out.to_str().unwrap()];
    let o = orgscan(&moto, &creds, &args);
    // No FAIL, one resource not evaluable: incomplete (3), never clean (0) nor failing as unknown (1).
    assert_eq!(o.status.code(), Some(3), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));
    let report = read_json(&out);
    assert_valid("report.schema.json", &report);

    let findings = report["findings"].as_array().unwrap();
    let status = |id: &str| findings.iter().find(|f| f["resource_id"] == id).map(|f| (f["status"].clone(), f["message"].clone()));
    for (id, runtime, newest) in [("fn-newer", "python3.15", "python3.14"), ("fn-node26", "nodejs26.x", "nodejs24.x")] {
        let (s, m) = status(id).unwrap();
        assert_eq!(s, "PASS", "{m}");
        let m = m.as_str().unwrap();
        assert!(m.contains(&format!("uses runtime {runtime}, newer than every runtime of its family")) && m.contains(newest), "{m}");
    }
    assert_eq!(status("fn-current").unwrap().0, "PASS");
    assert!(status("fn-custom").is_none(), "a custom runtime is neither passed nor failed: {findings:?}");

    let ne = report["not_evaluable"].as_array().unwrap();
    assert_eq!(ne.len(), 1, "{ne:?}");
    assert_eq!((ne[0]["resource_id"].as_str(), ne[0]["account_id"].as_str()), (Some("fn-custom"), Some(account.as_str())));
    assert_eq!(ne[0]["code"], orgscan::check::lambda::CUSTOM_RUNTIME_CODE);
    let why = ne[0]["message"].as_str().unwrap();
    assert!(why.contains("runtime 'custom'") && why.contains("GetRuntimeAlias"), "{why}");

    // The notes (and so the summary) say the table is older than the runtimes in use, naming them.
    let notes: Vec<&str> = report["notes"].as_array().unwrap().iter().filter_map(|n| n["text"].as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("is older than runtimes in use: nodejs26.x, python3.15;")), "{notes:?}");
    assert!(stdout(&o).contains("older than runtimes in use: nodejs26.x, python3.15"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("unknown to the runtime table"), "{}", stdout(&o));
}

/// One `ListFunctions` page in the wire shape of the Lambda API Reference ("ListFunctions", response syntax;
/// `RuntimeConfig` as "Using a customer-managed runtime" describes it), answered to the real SDK.
fn page(functions: &[(&str, &str)], next: Option<&str>) -> impl Fn() -> Response + Send + Sync + 'static {
    let fns: Vec<serde_json::Value> = functions
        .iter()
        .map(|(name, runtime)| {
            let mut f = serde_json::json!({
                "FunctionName": name,
                "FunctionArn": format!("arn:aws:lambda:eu-west-1:111122223333:function:{name}:$LATEST"),
                "Version": "$LATEST",
                "Runtime": runtime,
                "PackageType": "Zip",
            });
            if *runtime == "custom" {
                f["RuntimeConfig"] = serde_json::json!({
                    "RuntimeArn": "arn:aws:lambda:eu-west-1:444455556666:runtime/acme-node",
                    "RuntimeAlias": "prod",
                });
            }
            f
        })
        .collect();
    let mut body = serde_json::json!({ "Functions": fns });
    if let Some(n) = next {
        body["NextMarker"] = n.into();
    }
    let body = body.to_string();
    move || {
        let mut r = Response::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body.clone()));
        r.headers_mut().insert("Content-Type", "application/json");
        r
    }
}

#[tokio::test]
async fn a_custom_runtime_on_a_later_page_costs_no_extra_call_and_is_not_evaluable() {
    let first = mock!(aws_sdk_lambda::Client::list_functions)
        .match_requests(|r| r.marker().is_none())
        .then_http_response(page(&[("fn-newer", "python3.15"), ("fn-old", "python3.8")], Some("m2")));
    let second = mock!(aws_sdk_lambda::Client::list_functions)
        .match_requests(|r| r.marker() == Some("m2"))
        .then_http_response(page(&[("fn-custom", "custom"), ("fn-current", "python3.13")], None));
    let (cx, factory) = crate::tags::mocked(&[&first, &second], false);

    let e = orgscan::check::lambda::CHECK.run(&cx).await.unwrap();
    let status = |id: &str| e.findings.iter().find(|f| f.resource.id == id).map(|f| f.status);
    assert_eq!(
        [status("fn-newer"), status("fn-old"), status("fn-current"), status("fn-custom")],
        [Some(Status::Pass), Some(Status::Fail), Some(Status::Pass), None]
    );
    assert_eq!(e.not_evaluable.len(), 1);
    let n = &e.not_evaluable[0];
    assert_eq!(
        (n.resource.id.as_str(), n.resource.arn.as_str()),
        ("fn-custom", "arn:aws:lambda:eu-west-1:111122223333:function:fn-custom")
    );
    assert_eq!(n.error.code, orgscan::check::lambda::CUSTOM_RUNTIME_CODE);
    // Both pages read, and the (empty) Web Function listing, nothing else: a customer-managed runtime costs no
    // call (its lifecycle cannot be read).
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    let ops: Vec<(String, u64)> = factory.stats().snapshot().into_iter().map(|((s, o), c)| (format!("{s}:{o}"), c.calls)).collect();
    assert_eq!(ops, [("Lambda:ListFunctions".to_owned(), 2), ("Lambda Web:ListWebFunctions".to_owned(), 1)]);
}
