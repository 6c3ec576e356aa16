//! Throttling, 5xx and malformed answers on every operation the checks use, at the HTTP level: the SDK
//! parses each answer as it would AWS's (protocol error bodies, status codes), classifies it and retries.
//! Pure mocks (aws-smithy-mocks with its HTTP client): moto never throttles.

use std::time::Duration;

use aws_sdk_guardduty::operation::list_detectors::ListDetectorsOutput;
use aws_sdk_kms::operation::list_keys::ListKeysOutput;
use aws_sdk_kms::types::KeyListEntry;
use aws_sdk_lambda::operation::list_functions::ListFunctionsOutput;
use aws_sdk_lambdaweb::operation::list_web_function_endpoints::ListWebFunctionEndpointsOutput;
use aws_sdk_lambdaweb::operation::list_web_functions::ListWebFunctionsOutput;
use aws_sdk_opensearch::operation::list_domain_names::ListDomainNamesOutput;
use aws_sdk_opensearch::types::DomainInfo;
use aws_sdk_sagemaker::operation::list_notebook_instances::ListNotebookInstancesOutput;
use aws_sdk_sagemaker::types::NotebookInstanceSummary;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use orgscan::aws::ClientFactory;
use orgscan::model::{CoverageStatus, ScanReport, exit};

use crate::lambda_web;
use crate::support::estate::Moto;
use crate::support::scan_with;

const MAX_ATTEMPTS: u32 = 3;

/// An HTTP answer that goes wrong, and the error code the scope must end with.
struct Fault {
    name: &'static str,
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    /// The codes the scope error may end with once retries are exhausted (an unparsable body surfaces as
    /// `Unhandled` or `ResponseError` depending on the service's protocol).
    codes: &'static [&'static str],
}

const FAULTS: &[Fault] = &[
    Fault {
        name: "ThrottlingException",
        status: 400,
        headers: &[],
        body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        codes: &["ThrottlingException"],
    },
    Fault {
        name: "TooManyRequestsException",
        status: 429,
        headers: &[("x-amzn-errortype", "TooManyRequestsException")],
        body: r#"{"message":"Too Many Requests"}"#,
        codes: &["TooManyRequestsException"],
    },
    Fault {
        name: "Throttling: Rate exceeded",
        status: 400,
        headers: &[],
        body: r#"{"__type":"Throttling","message":"Rate exceeded"}"#,
        codes: &["Throttling"],
    },
    Fault { name: "HTTP 429, empty body", status: 429, headers: &[], body: "", codes: &["Unhandled"] },
    Fault {
        name: "HTTP 500",
        status: 500,
        headers: &[],
        body: r#"{"__type":"InternalFailure","message":"internal error"}"#,
        codes: &["InternalFailure"],
    },
    Fault {
        name: "HTTP 503, HTML body",
        status: 503,
        headers: &[],
        body: "<html><body>Service Unavailable</body></html>",
        codes: &["Unhandled", "ResponseError"],
    },
];

fn http(f: &'static Fault) -> impl Fn() -> HttpResponse + Send + Sync + 'static {
    move || {
        let mut r = HttpResponse::new(StatusCode::try_from(f.status).unwrap(), SdkBody::from(f.body));
        for (k, v) in f.headers {
            r.headers_mut().insert(*k, *v);
        }
        r
    }
}

fn caller() -> Rule {
    mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        GetCallerIdentityOutput::builder().account("123456789012").arn("arn:aws:iam::123456789012:user/auditor").user_id("AIDA").build()
    })
}

/// A factory whose every call is answered by the rules (no network), with quick retries.
fn factory(rules: &[&Rule]) -> ClientFactory {
    let moto = Moto { endpoint: "http://127.0.0.1:9".into() };
    let cfg = moto
        .sdk_config(&Moto::root_credentials(), "us-east-1")
        .into_builder()
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS).with_initial_backoff(Duration::from_millis(1)))
        .build();
    let mut i = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        i = i.with_rule(r);
    }
    ClientFactory::from_sdk_config(cfg).with_interceptor(i)
}

/// One list answer with one item per check, so the describe calls happen.
fn lists() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_kms::Client::list_keys)
            .then_output(|| ListKeysOutput::builder().keys(KeyListEntry::builder().key_id("k-1").build()).build()),
        mock!(aws_sdk_opensearch::Client::list_domain_names)
            .then_output(|| ListDomainNamesOutput::builder().domain_names(DomainInfo::builder().domain_name("d-1").build()).build()),
        mock!(aws_sdk_sagemaker::Client::list_notebook_instances).then_output(|| {
            ListNotebookInstancesOutput::builder()
                .notebook_instances(
                    NotebookInstanceSummary::builder()
                        .notebook_instance_name("nb-1")
                        .notebook_instance_arn("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/nb-1")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_guardduty::Client::list_detectors).then_output(|| ListDetectorsOutput::builder().detector_ids("det-1").build()),
        // No Event Function, one Web Function whose endpoint routes to one revision (the Lambda check's Web reads).
        mock!(aws_sdk_lambda::Client::list_functions).then_output(|| ListFunctionsOutput::builder().build()),
        mock!(aws_sdk_lambdaweb::Client::list_web_functions)
            .then_output(|| ListWebFunctionsOutput::builder().functions(lambda_web::function("wf-1")).build().unwrap()),
        mock!(aws_sdk_lambdaweb::Client::list_web_function_endpoints)
            .then_output(|| ListWebFunctionEndpointsOutput::builder().endpoints(lambda_web::endpoint("default", "r-1")).build().unwrap()),
        // Read beside GetDetector (who administers the detector): none.
        mock!(aws_sdk_guardduty::Client::get_administrator_account)
            .then_output(|| aws_sdk_guardduty::operation::get_administrator_account::GetAdministratorAccountOutput::builder().build()),
    ]
}

/// (check, SDK service, operation, the faulted rule).
fn faulted_ops(f: &'static Fault) -> Vec<(&'static str, &'static str, &'static str, Rule)> {
    // (check, service, operation, the SDK operation): its rule answers with the fault.
    macro_rules! faulted {
        ($check:expr, $service:literal, $op:literal, $($sdk_op:tt)+) => {
            ($check, $service, $op, mock!($($sdk_op)+).then_http_response(http(f)))
        };
    }
    let (kms, lambda, os, sm, gd) = (
        "kms-key-not-pending-deletion",
        "lambda-supported-runtime",
        "opensearch-encryption-at-rest",
        "sagemaker-notebook-no-direct-internet",
        "guardduty-enabled",
    );
    vec![
        faulted!(kms, "KMS", "ListKeys", aws_sdk_kms::Client::list_keys),
        faulted!(kms, "KMS", "DescribeKey", aws_sdk_kms::Client::describe_key),
        faulted!(lambda, "Lambda", "ListFunctions", aws_sdk_lambda::Client::list_functions),
        faulted!(lambda, "Lambda Web", "ListWebFunctions", aws_sdk_lambdaweb::Client::list_web_functions),
        faulted!(lambda, "Lambda Web", "ListWebFunctionEndpoints", aws_sdk_lambdaweb::Client::list_web_function_endpoints),
        faulted!(lambda, "Lambda Web", "GetWebFunctionRevision", aws_sdk_lambdaweb::Client::get_web_function_revision),
        faulted!(os, "OpenSearch", "ListDomainNames", aws_sdk_opensearch::Client::list_domain_names),
        faulted!(os, "OpenSearch", "DescribeDomains", aws_sdk_opensearch::Client::describe_domains),
        faulted!(sm, "SageMaker", "ListNotebookInstances", aws_sdk_sagemaker::Client::list_notebook_instances),
        faulted!(sm, "SageMaker", "DescribeNotebookInstance", aws_sdk_sagemaker::Client::describe_notebook_instance),
        faulted!(gd, "GuardDuty", "ListDetectors", aws_sdk_guardduty::Client::list_detectors),
        faulted!(gd, "GuardDuty", "GetDetector", aws_sdk_guardduty::Client::get_detector),
    ]
}

fn attempts(report: &ScanReport, service: &str, op: &str) -> u64 {
    report.stats.api.get(&(service.to_owned(), op.to_owned())).map(|c| c.attempts).unwrap_or(0)
}

#[tokio::test]
async fn every_operation_of_every_check_retries_throttling_5xx_and_malformed_answers_then_reports_a_scope_or_resource_error() {
    for fault in FAULTS {
        for (check, service, op, faulted) in faulted_ops(fault) {
            // The faulted rule comes first: MatchAny takes the first rule that matches.
            let mut rules = vec![caller(), faulted];
            rules.extend(lists());
            let refs: Vec<&Rule> = rules.iter().collect();
            let report = scan_with(factory(&refs), &["--this-account", "--regions", "eu-west-1", "--checks", check]).await;
            let case = format!("{} on {service}:{op}", fault.name);
            assert_eq!(report.coverage.len(), 1, "{case}");
            // A list that fails fails the scope; a per-resource read that fails leaves that one resource not
            // evaluable and the rest of the scope evaluated (here the scope has just that resource).
            let per_resource = matches!(
                op,
                "DescribeKey"
                    | "DescribeDomains"
                    | "DescribeNotebookInstance"
                    | "GetDetector"
                    | "ListWebFunctionEndpoints"
                    | "GetWebFunctionRevision"
            );
            match (&report.coverage[0].status, per_resource) {
                (CoverageStatus::Error(e), false) => {
                    assert!(fault.codes.contains(&e.code.as_str()), "{case}: {e}");
                    assert!(e.message.starts_with(op), "{case}: the operation is named: {e}");
                    assert_eq!(report.errors.len(), 1, "{case}");
                }
                (CoverageStatus::Evaluated { resources: 0, not_evaluable: 1, .. }, true) => {
                    let e = &report.not_evaluable[0].error;
                    assert!(fault.codes.contains(&e.code.as_str()), "{case}: {e}");
                    assert!(e.message.starts_with(op), "{case}: the operation is named: {e}");
                    assert!(report.errors.is_empty(), "{case}");
                }
                (other, _) => panic!("{case}: expected a scope error (list) or a resource not evaluable (describe), got {other:?}"),
            }
            assert_eq!(attempts(&report, service, op), u64::from(MAX_ATTEMPTS), "{case}: retried up to --max-attempts");
            assert!(report.findings.is_empty(), "{case}: nothing unread is reported as a finding");
            assert_eq!(report.exit_code(), exit::INCOMPLETE, "{case}");
            if fault.status == 429 || fault.codes.iter().any(|c| c.contains("Throttl")) {
                assert_eq!(report.stats.throttled(), u64::from(MAX_ATTEMPTS), "{case}: counted as throttled");
            }
        }
    }
}

#[tokio::test]
async fn a_throttled_or_failing_call_that_recovers_is_retried_and_the_scope_is_evaluated() {
    for fault in FAULTS {
        let keys = mock!(aws_sdk_kms::Client::list_keys)
            .sequence()
            .http_response(http(fault))
            .times(2)
            .output(|| ListKeysOutput::builder().build())
            .build();
        let functions = mock!(aws_sdk_lambda::Client::list_functions)
            .sequence()
            .http_response(http(fault))
            .output(|| ListFunctionsOutput::builder().build())
            .build();
        let web = mock!(aws_sdk_lambdaweb::Client::list_web_functions)
            .then_output(|| ListWebFunctionsOutput::builder().set_functions(Some(Vec::new())).build().unwrap());
        let report = scan_with(
            factory(&[&caller(), &keys, &functions, &web]),
            &["--this-account", "--regions", "eu-west-1", "--checks", "kms-key-not-pending-deletion,lambda-supported-runtime"],
        )
        .await;
        let case = fault.name;
        assert!(report.coverage.iter().all(|c| c.status.as_str() == "evaluated"), "{case}: {:?}", report.coverage);
        assert_eq!(attempts(&report, "KMS", "ListKeys"), 3, "{case}");
        assert_eq!(attempts(&report, "Lambda", "ListFunctions"), 2, "{case}");
        assert_eq!(report.stats.retries(), 3, "{case}");
        assert_eq!(report.exit_code(), exit::OK, "{case}");
    }
}

#[tokio::test]
async fn a_malformed_success_answer_is_a_scope_error_not_a_panic() {
    let garbage = mock!(aws_sdk_kms::Client::list_keys)
        .then_http_response(|| HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from("<html>not the KMS API</html>")));
    let report = scan_with(
        factory(&[&caller(), &garbage]),
        &["--this-account", "--regions", "eu-west-1", "--checks", "kms-key-not-pending-deletion"],
    )
    .await;
    match &report.coverage[0].status {
        CoverageStatus::Error(e) => assert!(e.message.starts_with("ListKeys"), "{e}"),
        other => panic!("expected a scope error, got {other:?}"),
    }
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
}

/// A follow-up read that keeps failing (who administers a detector) is retried like every call, then
/// becomes a note of the account (and evidence of the finding): the detector's verdict stands.
#[tokio::test]
async fn a_failing_follow_up_read_is_retried_then_noted_and_the_verdict_stands() {
    for fault in FAULTS {
        let detector = mock!(aws_sdk_guardduty::Client::get_detector).then_output(|| {
            aws_sdk_guardduty::operation::get_detector::GetDetectorOutput::builder()
                .status(aws_sdk_guardduty::types::DetectorStatus::Enabled)
                .service_role("r")
                .build()
        });
        let admin = mock!(aws_sdk_guardduty::Client::get_administrator_account).then_http_response(http(fault));
        let mut rules = vec![caller(), admin, detector];
        rules.extend(lists());
        let refs: Vec<&Rule> = rules.iter().collect();
        let report = scan_with(factory(&refs), &["--this-account", "--regions", "eu-west-1", "--checks", "guardduty-enabled"]).await;
        let case = fault.name;
        assert_eq!(attempts(&report, "GuardDuty", "GetAdministratorAccount"), u64::from(MAX_ATTEMPTS), "{case}");
        assert_eq!(report.findings.len(), 1, "{case}");
        assert_eq!(report.findings[0].status, orgscan::model::Status::Pass, "{case}");
        assert!(report.findings[0].evidence.contains_key("administrator_not_read"), "{case}");
        assert!(report.notes.iter().any(|n| n.account.is_some() && n.text.contains("who administers GuardDuty detector det-1")), "{case}");
    }
}
