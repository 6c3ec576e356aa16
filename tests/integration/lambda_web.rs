//! Lambda Web Functions (issue 25) end to end: moto does not serve the Lambda Web API, the project's moto
//! runs with the loopback layer that does (scripts/moto_lambda_web.py, docs/emulator.md), and the estate is
//! seeded through it with the real SDK (aws-sdk-lambdaweb). Every output carries the Web Functions, and so
//! does the Security Hub import.

use std::collections::BTreeMap;

use aws_sdk_lambdaweb::types::{AuthType, AutoDeploymentMode, EndpointType, RevisionWeight};
use serde_json::Value;

use crate::support::estate::{Moto, WEB_FUNCTIONS, fresh_lambda_account, seed_web_function};
use crate::support::{assert_valid, orgscan, read_json, stderr, stdout, tempdir};

const REGION: &str = "eu-west-1";
const TYPE: &str = "AwsLambdaWebFunction";

/// A canary: endpoint `live` routes 90 % to a revision on nodejs24.x and 10 % to one on nodejs20.x
/// (deprecated): the function fails, and the message names both revisions.
async fn seed_canary(web: &aws_sdk_lambdaweb::Client, role: &str) -> String {
    let arn = seed_web_function(web, "wf-canary", "nodejs24.x", role).await.unwrap();
    let first = web.list_web_function_revisions().function_name("wf-canary").send().await.unwrap().revisions()[0].revision_id().to_owned();
    use aws_sdk_lambdaweb::types::{BuildConfig, CodeConfig, RuntimeConfig, S3Object, ServiceConfig};
    let code = CodeConfig::builder().s3_object(S3Object::builder().bucket("orgscan-test-code").key("c.zip").build().unwrap()).build();
    let old = web
        .create_web_function_revision()
        .function_name("wf-canary")
        .build_config(
            BuildConfig::builder()
                .code_config(code)
                .runtime_config(RuntimeConfig::builder().runtime("nodejs20.x").build().unwrap())
                .build(),
        )
        .service_config(ServiceConfig::builder().execution_role_arn(role).build().unwrap())
        .send()
        .await
        .unwrap()
        .revision_id()
        .to_owned();
    let weight = |id: &str, w| RevisionWeight::builder().revision_id(id).weight(w).build().unwrap();
    web.create_web_function_endpoint()
        .function_name("wf-canary")
        .endpoint_name("live")
        .endpoint_type(EndpointType::HomeRegion)
        .auth_type(AuthType::IamAuth)
        .auto_deployment_mode(AutoDeploymentMode::Disabled)
        .revision_weights(weight(&first, 90))
        .revision_weights(weight(&old, 10))
        .send()
        .await
        .unwrap();
    arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_functions_on_a_deprecated_and_a_supported_runtime_fail_and_pass_in_every_output_and_the_import() {
    let moto = Moto::from_env();
    let (account, creds, role) = fresh_lambda_account(&moto).await.unwrap();
    let web = aws_sdk_lambdaweb::Client::new(&moto.sdk_config(&creds, REGION));
    let mut arns = BTreeMap::new();
    for (name, runtime, _) in WEB_FUNCTIONS {
        arns.insert(name, seed_web_function(&web, name, runtime, &role).await.unwrap());
    }
    arns.insert("wf-canary", seed_canary(&web, &role).await);
    // No endpoint: serves nothing, so it is not applicable.
    web.create_web_function().function_name("wf-idle").send().await.unwrap();

    let dir = tempdir();
    let p = |n: &str| dir.path().join(n);
    let (json, sarif, asff, ocsf, html) = (p("r.json"), p("r.sarif"), p("asff"), p("r.ocsf.jsonl"), p("r.html"));
    let args = [
        "scan",
        "--this-account",
        "--regions",
        REGION,
        "--checks",
        "lambda-supported-runtime",
        "--json",
        json.to_str().unwrap(),
        "--sarif",
        sarif.to_str().unwrap(),
        "--asff-dir",
        asff.to_str().unwrap(),
        "--ocsf",
        ocsf.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--security-hub",
    ];
    let o = orgscan(&moto, &creds, &args);
    assert_eq!(o.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o));

    // JSON: one finding per served Web Function, judged by the runtime table.
    let report = read_json(&json);
    assert_valid("report.schema.json", &report);
    let web_findings: BTreeMap<String, Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource_type"] == TYPE)
        .map(|f| (f["resource_id"].as_str().unwrap().to_owned(), f.clone()))
        .collect();
    let got: Vec<(&str, &str, &str)> =
        web_findings.iter().map(|(id, f)| (id.as_str(), f["status"].as_str().unwrap(), f["resource_arn"].as_str().unwrap())).collect();
    assert_eq!(
        got,
        [
            ("wf-canary", "FAIL", arns["wf-canary"].as_str()),
            ("wf-current", "PASS", arns["wf-current"].as_str()),
            ("wf-deprecated", "FAIL", arns["wf-deprecated"].as_str())
        ],
        "{web_findings:?}"
    );
    let canary = web_findings["wf-canary"]["message"].as_str().unwrap();
    assert!(
        canary.contains("'live'")
            && canary.contains("nodejs24.x, supported until")
            && canary.contains("nodejs20.x, deprecated since 2026-04-30"),
        "{canary}"
    );
    assert_eq!(web_findings["wf-deprecated"]["evidence"]["runtime_status"], "deprecated");
    assert!(web_findings.values().all(|f| f["account_id"] == account.as_str() && f["region"] == REGION), "{web_findings:?}");
    assert!(report["findings"].as_array().unwrap().iter().all(|f| f["resource_id"] != "wf-idle"), "an idle Web Function is not judged");
    assert!(report["not_evaluable"].as_array().is_none_or(|n| n.is_empty()), "{}", report["not_evaluable"]);

    // SARIF: valid, and the FAILs are results with the ARN as a logical location.
    let log: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    crate::sarif::assert_schema_valid(&log);
    crate::sarif::multitool_validate(&sarif);
    let results = log["runs"][0]["results"].as_array().unwrap();
    for name in ["wf-deprecated", "wf-canary"] {
        let arn = &arns[name];
        assert!(
            results.iter().any(|r| r["locations"][0]["logicalLocations"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x["fullyQualifiedName"] == arn.as_str()))),
            "{name} is not in the SARIF results"
        );
    }

    // ASFF: Type Other, the resource type named in Details.Other (valid against the schema, importable).
    let files = crate::securityhub::check_asff_dir(&asff);
    let resources: Vec<_> =
        files.values().flatten().flatten().flat_map(|f| f.resources.iter().cloned()).filter(|r| r.id.contains(":web-function/")).collect();
    assert_eq!(resources.len(), 3, "{resources:?}");
    for r in &resources {
        assert_eq!(r.resource_type, "Other");
        let details = serde_json::to_value(r.details.as_ref().unwrap()).unwrap();
        assert_eq!(details["Other"]["ResourceType"], TYPE, "{details}");
        assert!(details["Other"]["Runtime"].as_str().is_some_and(|x| x.starts_with("nodejs")), "{details}");
    }

    // OCSF: valid, one event per Web Function finding, the resource typed as in the report.
    let validated = crate::ocsf::validate(&ocsf, None);
    assert!(validated.is_object(), "{validated}");
    let events: Vec<Value> = std::fs::read_to_string(&ocsf).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let typed = events.iter().filter(|e| e.to_string().contains(TYPE)).count();
    assert_eq!(typed, 3, "{events:?}");

    // HTML: every Web Function finding is in the report's data.
    let page = std::fs::read_to_string(&html).unwrap();
    for name in ["wf-current", "wf-deprecated", "wf-canary"] {
        assert!(page.contains(&arns[name]), "{name} is not in the HTML report");
    }
    assert!(page.contains(TYPE));

    // The Security Hub import carries them: FAILs active, the PASS archived, under Type Other.
    let sh = aws_sdk_securityhub::Client::new(&moto.sdk_config(&creds, REGION));
    let found = sh.get_findings().max_results(100).send().await.unwrap();
    let imported: BTreeMap<String, (String, String, String)> = found
        .findings()
        .iter()
        .filter_map(|f| {
            let r = f.resources().first()?;
            r.id().filter(|id| id.contains(":web-function/")).map(|id| {
                let status = f.compliance().and_then(|c| c.status()).map(|s| s.as_str().to_owned()).unwrap_or_default();
                let state = f.record_state().map(|s| s.as_str().to_owned()).unwrap_or_default();
                let kind = r.details().and_then(|d| d.other()).and_then(|o| o.get("ResourceType")).cloned().unwrap_or_default();
                (id.to_owned(), (status, state, format!("{}/{kind}", r.r#type().unwrap_or_default())))
            })
        })
        .collect();
    let expect = |s: &str, st: &str| (s.to_owned(), st.to_owned(), format!("Other/{TYPE}"));
    assert_eq!(imported.get(&arns["wf-deprecated"]), Some(&expect("FAILED", "ACTIVE")), "{imported:?}");
    assert_eq!(imported.get(&arns["wf-canary"]), Some(&expect("FAILED", "ACTIVE")), "{imported:?}");
    assert_eq!(imported.get(&arns["wf-current"]), Some(&expect("PASSED", "ARCHIVED")), "{imported:?}");
}

/// A `ListWebFunctions` entry, as the model requires it (for aws-smithy-mocks answers).
pub(crate) fn function(name: &str) -> aws_sdk_lambdaweb::types::FunctionSummary {
    let t = aws_smithy_types::DateTime::from_secs(1_790_000_000);
    aws_sdk_lambdaweb::types::FunctionSummary::builder()
        .function_name(name)
        .function_arn(format!("arn:aws:lambda:{REGION}:123456789012:web-function/{name}"))
        .state(aws_sdk_lambdaweb::types::FunctionState::Active)
        .state_reason("ready")
        .created_at(t)
        .updated_at(t)
        .build()
        .unwrap()
}

/// A `ListWebFunctionEndpoints` entry routing all traffic to `revision`.
pub(crate) fn endpoint(name: &str, revision: &str) -> aws_sdk_lambdaweb::types::FunctionEndpointSummary {
    let t = aws_smithy_types::DateTime::from_secs(1_790_000_000);
    aws_sdk_lambdaweb::types::FunctionEndpointSummary::builder()
        .endpoint_arn(format!("arn:aws:lambda:{REGION}:123456789012:web-function/f/endpoint/{name}"))
        .endpoint_name(name)
        .endpoint_type(EndpointType::HomeRegion)
        .domain_name("default-1.lambda-web.eu-west-1.on.aws")
        .auth_type(AuthType::IamAuth)
        .auto_deployment_mode(AutoDeploymentMode::LatestRevision)
        .revision_weights(RevisionWeight::builder().revision_id(revision).weight(100).build().unwrap())
        .regions(REGION)
        .state(aws_sdk_lambdaweb::types::EndpointState::Active)
        .state_reason("ready")
        .created_at(t)
        .updated_at(t)
        .build()
        .unwrap()
}
