//! Unit tests of Web Functions: the pure evaluation, and the reads against aws-smithy-mocks (pagination,
//! errors, permits), which moto cannot show (the layer never pages an estate this small, never throttles).

use std::sync::Arc;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_lambdaweb::Client;
use aws_sdk_lambdaweb::operation::get_web_function_revision::{GetWebFunctionRevisionError, GetWebFunctionRevisionOutput};
use aws_sdk_lambdaweb::operation::list_web_function_endpoints::{ListWebFunctionEndpointsError, ListWebFunctionEndpointsOutput};
use aws_sdk_lambdaweb::operation::list_web_functions::{ListWebFunctionsError, ListWebFunctionsOutput};
use aws_sdk_lambdaweb::types::{
    AuthType, AutoDeploymentMode, BuildConfig, EndpointState, EndpointType, FunctionEndpointSummary, FunctionState, FunctionSummary,
    RevisionState, RevisionWeight, RuntimeConfig,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use aws_smithy_types::DateTime as SmithyTime;
use aws_smithy_types::error::ErrorMetadata;

use super::*;
use crate::aws::ClientFactory;
use crate::aws::limits::Limits;
use crate::check::CheckSettings;
use crate::model::Status;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

fn target() -> Target {
    Target::new(ACCOUNT.parse().unwrap(), REGION.parse().unwrap())
}

fn table() -> RuntimeTable {
    RuntimeTable::bundled().unwrap()
}

fn arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:web-function/{name}")
}

fn served(id: &str, endpoints: &[&str], runtime: &str) -> ServedRevision {
    ServedRevision { revision_id: id.into(), endpoints: endpoints.iter().map(|e| (*e).to_owned()).collect(), runtime: Some(runtime.into()) }
}

fn wf(name: &str, served: Vec<ServedRevision>) -> WebFunctionInfo {
    WebFunctionInfo { name: name.into(), arn: arn(name), served, kms_keys: Vec::new() }
}

fn eval(fns: &[WebFunctionInfo], today: &str, warn_days: u32) -> Evaluation {
    evaluate(&target(), fns, &table(), today.parse().unwrap(), warn_days).unwrap()
}

#[test]
fn the_worst_served_revision_decides_with_the_same_verdicts_as_event_functions() {
    let fns = [
        wf("current", vec![served("r1", &["default"], "nodejs24.x")]),
        wf("old", vec![served("r2", &["default"], "nodejs18.x")]),
        // nodejs22.x is deprecated on 2027-04-30: 60 days after 2027-03-01.
        wf("soon", vec![served("r3", &["default"], "nodejs22.x")]),
        wf("newer", vec![served("r4", &["default"], "nodejs26.x")]),
        wf("odd", vec![served("r5", &["default"], "cobol85")]),
        wf("canary", vec![served("a", &["live"], "nodejs24.x"), served("b", &["live", "beta"], "nodejs20.x")]),
        wf("idle", Vec::new()),
    ];
    let e = eval(&fns, "2027-03-01", 90);
    let by: BTreeMap<&str, &Finding> = e.findings.iter().map(|f| (f.resource.id.as_str(), f)).collect();
    let status = |id: &str| by[id].status;
    assert_eq!(
        [status("current"), status("old"), status("soon"), status("newer"), status("odd"), status("canary")],
        [Status::Pass, Status::Fail, Status::Warn, Status::Pass, Status::Fail, Status::Fail]
    );
    assert_eq!(e.not_applicable, 1, "a Web Function no endpoint routes to serves nothing");
    assert!(by.values().all(|f| f.resource.resource_type == RESOURCE_TYPE && f.resource.arn.contains(":web-function/")));
    assert_eq!(by["newer"].evidence["runtime_status"], "newer");
    let canary = &by["canary"];
    assert_eq!((canary.evidence["runtime"].as_str(), canary.evidence["revision"].as_str()), (Some("nodejs20.x"), Some("b")));
    assert!(
        canary.message.contains("revision a (served by endpoint 'live') uses runtime nodejs24.x, supported until")
            && canary.message.contains("revision b (served by endpoints 'live', 'beta') uses runtime nodejs20.x, deprecated since 2026-04-30"),
        "{}",
        canary.message
    );
    assert_eq!(canary.evidence["served_revisions"].as_array().map(Vec::len), Some(2));
    // --lambda-warn-days 0 turns the warning off.
    assert_eq!(eval(&fns[2..3], "2027-03-01", 0).findings[0].status, Status::Pass);
    // The summary's runtime counts see the served revisions (the canary's nodejs24.x too).
    assert_eq!(super::super::summary::runtimes_with_status(&e.findings, "supported").get("nodejs24.x"), Some(&2));
}

#[test]
fn asff_details_are_other_naming_the_type() {
    let e = eval(&[wf("old", vec![served("r2", &["default"], "nodejs18.x")])], "2026-12-02", 90);
    let d = e.findings[0].details.as_ref().unwrap();
    assert_eq!(d.key(), "Other");
    assert_eq!(d.json(), r#"{"ResourceType":"AwsLambdaWebFunction","FunctionName":"old","Runtime":"nodejs18.x","RevisionId":"r2"}"#);
    let sdk = d.to_sdk().unwrap();
    let other = sdk.other().unwrap();
    assert_eq!((other["ResourceType"].as_str(), other["Runtime"].as_str()), ("AwsLambdaWebFunction", "nodejs18.x"));
}

// ---------------------------------------------------------------------------------------------------------
// Reads, against aws-smithy-mocks

fn now() -> SmithyTime {
    SmithyTime::from_secs(1_790_000_000)
}

fn summary(name: &str) -> FunctionSummary {
    FunctionSummary::builder()
        .function_name(name)
        .function_arn(arn(name))
        .state(FunctionState::Active)
        .state_reason("ready")
        .created_at(now())
        .updated_at(now())
        .build()
        .unwrap()
}

fn endpoint(name: &str, weights: &[&str]) -> FunctionEndpointSummary {
    let mut b = FunctionEndpointSummary::builder()
        .endpoint_arn(format!("e/{name}"))
        .endpoint_name(name)
        .endpoint_type(EndpointType::HomeRegion)
        .domain_name("x.example.aws")
        .auth_type(AuthType::IamAuth)
        .auto_deployment_mode(AutoDeploymentMode::Disabled)
        .regions(REGION)
        .state(EndpointState::Active)
        .state_reason("ready")
        .created_at(now())
        .updated_at(now());
    for w in weights {
        b = b.revision_weights(RevisionWeight::builder().revision_id(*w).weight(50).build().unwrap());
    }
    b.build().unwrap()
}

fn revision(function: &str, id: &str, runtime: &str) -> GetWebFunctionRevisionOutput {
    GetWebFunctionRevisionOutput::builder()
        .function_arn(arn(function))
        .revision_arn(format!("{}/revision/{id}", arn(function)))
        .revision_id(id)
        .build_config(BuildConfig::builder().runtime_config(RuntimeConfig::builder().runtime(runtime).build().unwrap()).build())
        .state(RevisionState::Active)
        .state_reason("ready")
        .created_at(now())
        .build()
        .unwrap()
}

fn denied(op: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code("AccessDeniedException").message(format!("User is not authorized to perform: lambda:{op}")).build()
}

/// A check context whose every request is answered by `rules`, with no network.
fn context(rules: &[&Rule]) -> CheckContext {
    let interceptor = rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r));
    let creds = SharedCredentialsProvider::new(Credentials::new("AKIDTEST", "secret", None, None, "test"));
    let cfg = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(REGION))
        .credentials_provider(creds.clone())
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .build();
    let factory = ClientFactory::from_sdk_config(cfg).with_interceptor(interceptor);
    let target = target();
    let clients = factory.clients(&factory.account_config(&target.account, creds), &target.region);
    CheckContext {
        target,
        clients,
        limits: Arc::new(Limits::with_rates(crate::check::rate)),
        scan_time: chrono::Utc::now(),
        settings: CheckSettings::new(table(), 90, true, false),
    }
}

#[tokio::test]
async fn every_page_of_both_listings_is_read_and_each_served_revision_once() {
    let p1 = mock!(Client::list_web_functions)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| ListWebFunctionsOutput::builder().functions(summary("a")).next_token("00000000-0000-0000-0000-000000000001").build().unwrap());
    let p2 = mock!(Client::list_web_functions)
        .match_requests(|r| r.next_token().is_some())
        .then_output(|| ListWebFunctionsOutput::builder().functions(summary("b")).build().unwrap());
    // Function a: two pages of endpoints, revision r1 behind both.
    let a1 = mock!(Client::list_web_function_endpoints).match_requests(|r| r.function_name() == Some("a") && r.next_token().is_none()).then_output(|| {
        ListWebFunctionEndpointsOutput::builder().endpoints(endpoint("e1", &["r1"])).next_token("00000000-0000-0000-0000-000000000002").build().unwrap()
    });
    let a2 = mock!(Client::list_web_function_endpoints)
        .match_requests(|r| r.function_name() == Some("a") && r.next_token().is_some())
        .then_output(|| ListWebFunctionEndpointsOutput::builder().endpoints(endpoint("e2", &["r1", "r2"])).build().unwrap());
    let b1 = mock!(Client::list_web_function_endpoints)
        .match_requests(|r| r.function_name() == Some("b"))
        .then_output(|| ListWebFunctionEndpointsOutput::builder().endpoints(endpoint("e3", &["r3"])).build().unwrap());
    let r1 = mock!(Client::get_web_function_revision).match_requests(|r| r.revision_id() == Some("r1")).then_output(|| revision("a", "r1", "nodejs20.x"));
    let r2 = mock!(Client::get_web_function_revision).match_requests(|r| r.revision_id() == Some("r2")).then_output(|| revision("a", "r2", "nodejs24.x"));
    let r3 = mock!(Client::get_web_function_revision).match_requests(|r| r.revision_id() == Some("r3")).then_output(|| revision("b", "r3", "nodejs24.x"));
    let cx = context(&[&p1, &p2, &a1, &a2, &b1, &r1, &r2, &r3]);
    let (mut found, unreadable) = collect(&cx).await.unwrap();
    assert!(unreadable.is_empty(), "{unreadable:?}");
    found.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(found[0].served, vec![served("r1", &["e1", "e2"], "nodejs20.x"), served("r2", &["e2"], "nodejs24.x")]);
    assert_eq!(found[1].served, vec![served("r3", &["e3"], "nodejs24.x")]);
    let calls: Vec<usize> = [&p1, &p2, &a1, &a2, &b1, &r1, &r2, &r3].iter().map(|r| r.num_calls()).collect();
    assert_eq!(calls, [1, 1, 1, 1, 1, 1, 1, 1], "each page and each served revision once");
    // One permit per request sent: 2 + 3 pages, 3 revisions.
    assert_eq!(cx.limits.permits_granted(), 8);
}

#[tokio::test]
async fn a_denied_listing_fails_the_scope_never_a_pass() {
    let deny = mock!(Client::list_web_functions).then_error(|| ListWebFunctionsError::generic(denied("ListWebFunctions")));
    let cx = context(&[&deny]);
    let err = collect(&cx).await.unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    assert!(err.to_string().contains("ListWebFunctions"), "{err}");
}

#[tokio::test]
async fn an_unreadable_function_is_not_evaluable_and_one_deleted_meanwhile_is_gone() {
    let list = mock!(Client::list_web_functions).then_output(|| {
        ListWebFunctionsOutput::builder().functions(summary("ok")).functions(summary("denied")).functions(summary("gone")).build().unwrap()
    });
    let eps = mock!(Client::list_web_function_endpoints)
        .match_requests(|r| r.function_name() != Some("gone"))
        .then_output(|| ListWebFunctionEndpointsOutput::builder().endpoints(endpoint("e", &["r"])).build().unwrap());
    let gone = mock!(Client::list_web_function_endpoints).match_requests(|r| r.function_name() == Some("gone")).then_error(|| {
        ListWebFunctionEndpointsError::generic(ErrorMetadata::builder().code("ResourceNotFoundException").message("not found").build())
    });
    let ok = mock!(Client::get_web_function_revision).match_requests(|r| r.function_name() == Some("ok")).then_output(|| revision("ok", "r", "nodejs24.x"));
    let no = mock!(Client::get_web_function_revision)
        .match_requests(|r| r.function_name() == Some("denied"))
        .then_error(|| GetWebFunctionRevisionError::generic(denied("GetWebFunctionRevision")));
    let cx = context(&[&list, &gone, &eps, &ok, &no]);
    let (found, unreadable) = collect(&cx).await.unwrap();
    assert_eq!(found.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["ok"]);
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert_eq!((unreadable[0].0.id.as_str(), unreadable[0].0.resource_type), ("denied", RESOURCE_TYPE));
    assert_eq!(unreadable[0].1.code, "AccessDeniedException");
}
