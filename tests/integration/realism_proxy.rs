//! The AWS-realism proxy (tests/support/realism.rs) in front of moto, driven by the real SDK clients: the
//! Region deny SCP, identity-based denies and KMS key policies answer as AWS does, and everything else
//! reaches moto.

use std::fmt::Debug;

use aws_credential_types::Credentials;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::estate::Moto;
use crate::support::realism::{DEFAULT_ACCOUNT, REGION_DENY_NOT_ACTIONS, Realism, region_deny_exempts};

const SCP: &str = "with an explicit deny in a service control policy";
const IDENTITY: &str = "with an explicit deny in an identity-based policy";

/// moto behind a fresh proxy, and a `Moto` whose endpoint is the proxy: its `sdk_config` is the one the
/// other tests use, pointed at the proxy, and its `assume`/`fresh_account` send AssumeRole through it.
async fn proxied() -> (Moto, Realism, Moto) {
    let moto = Moto::from_env();
    let proxy = Realism::start(&moto.endpoint).await.unwrap();
    let via = Moto { endpoint: proxy.endpoint.clone() };
    (moto, proxy, via)
}

/// The error code and message of a call that must fail.
fn denied<T: Debug, E: ProvideErrorMetadata + Debug>(what: &str, r: Result<T, E>) -> (String, String) {
    match r {
        Ok(v) => panic!("{what} succeeded: {v:?}"),
        Err(e) => (e.code().unwrap_or_default().to_owned(), e.message().unwrap_or_default().to_owned()),
    }
}

fn allowed<T, E: Debug>(what: &str, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{what} failed: {e:?}"))
}

fn message(principal: &str, action: &str, resource: &str, why: &str) -> String {
    format!("User: {principal} is not authorized to perform: {action} on resource: {resource} {why}")
}

fn assumed(account: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/OrganizationAccountAccessRole/orgscan-seed")
}

fn triple(account: &str, region: &str, action: &str) -> (String, String, String) {
    (account.to_owned(), region.to_owned(), action.to_owned())
}

#[test]
fn the_region_deny_not_action_list_is_the_published_one() {
    assert_eq!(REGION_DENY_NOT_ACTIONS.len(), 86);
    let mut sorted = REGION_DENY_NOT_ACTIONS.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 86, "duplicates in the list");
    for exempt in ["kms:DescribeKey", "kms:ListKeys", "account:ListRegions", "sts:AssumeRole", "organizations:ListAccounts", "iam:GetRole"]
    {
        assert!(region_deny_exempts(exempt), "{exempt}");
    }
    // Wildcards match by prefix, case-insensitively as IAM does; exact entries match only themselves.
    assert!(region_deny_exempts("lightsail:GetInstances") && region_deny_exempts("KMS:describekey"));
    assert!(region_deny_exempts("cloudtrail:LookupEvents") && !region_deny_exempts("cloudtrail:DescribeTrails"));
    for denied in [
        "lightsail:CreateInstances",
        "lambda:ListFunctions",
        "guardduty:ListDetectors",
        "es:ListDomainNames",
        "sagemaker:ListNotebookInstances",
        "securityhub:GetFindings",
        "s3:GetObject",
        "wellarchitected:ListWorkloads",
        "lambda:Unknown",
        "kms",
    ] {
        assert!(!region_deny_exempts(denied), "{denied}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_deny_denies_ungoverned_regions_as_an_scp_except_exempt_actions() {
    let (_moto, proxy, via) = proxied().await;
    let (account, creds) = via.fresh_account().await.unwrap();
    proxy.region_deny(&account, &["us-east-1", "eu-west-1"]);
    let principal = assumed(&account);
    let cfg = via.sdk_config(&creds, "ap-southeast-2");

    let cases = [
        ("lambda:ListFunctions", denied("lambda", aws_sdk_lambda::Client::new(&cfg).list_functions().send().await)),
        ("guardduty:ListDetectors", denied("guardduty", aws_sdk_guardduty::Client::new(&cfg).list_detectors().send().await)),
        ("es:ListDomainNames", denied("opensearch", aws_sdk_opensearch::Client::new(&cfg).list_domain_names().send().await)),
        (
            "sagemaker:ListNotebookInstances",
            denied("sagemaker", aws_sdk_sagemaker::Client::new(&cfg).list_notebook_instances().send().await),
        ),
    ];
    for (action, (code, msg)) in &cases {
        assert_eq!(code, "AccessDeniedException", "{action}: {msg}");
        assert!(msg.contains(SCP), "{action}: {msg}");
        assert_eq!(msg, &message(&principal, action, "*", SCP));
    }
    // A route outside the table is still an action of the service: denied as `lambda:Unknown`.
    let (code, msg) = denied("GetAccountSettings", aws_sdk_lambda::Client::new(&cfg).get_account_settings().send().await);
    assert_eq!((code.as_str(), msg.contains(SCP)), ("AccessDeniedException", true), "{msg}");

    // kms:* is exempt; a governed region is not denied; the deny is on this account only.
    allowed("kms ListKeys", aws_sdk_kms::Client::new(&cfg).list_keys().send().await);
    allowed("lambda in eu-west-1", aws_sdk_lambda::Client::new(&via.sdk_config(&creds, "eu-west-1")).list_functions().send().await);
    let root = via.sdk_config(&Moto::root_credentials(), "ap-southeast-2");
    allowed("another account", aws_sdk_lambda::Client::new(&root).list_functions().send().await);

    let r = "ap-southeast-2";
    let expected: Vec<_> = cases.iter().map(|(a, _)| triple(&account, r, a)).chain([triple(&account, r, "lambda:Unknown")]).collect();
    assert_eq!(proxy.denials(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_deny_fails_only_that_action_in_that_account_and_region() {
    let (_moto, proxy, via) = proxied().await;
    let (account, creds) = via.fresh_account().await.unwrap();
    let (_other, other_creds) = via.fresh_account().await.unwrap();
    proxy.identity_deny(&account, "eu-west-1", "lambda:ListFunctions");
    proxy.identity_deny(&account, "us-east-1", "lambda:GetFunctionConfiguration");
    // Unknown routes are never matched by name.
    proxy.identity_deny(&account, "eu-west-1", "lambda:Unknown");
    let eu = via.sdk_config(&creds, "eu-west-1");
    let us = via.sdk_config(&creds, "us-east-1");

    let (code, msg) = denied("ListFunctions", aws_sdk_lambda::Client::new(&eu).list_functions().send().await);
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(msg, message(&assumed(&account), "lambda:ListFunctions", "*", IDENTITY));
    // A call naming a function names it as the resource.
    let (code, msg) = denied(
        "GetFunctionConfiguration",
        aws_sdk_lambda::Client::new(&us).get_function_configuration().function_name("nope").send().await,
    );
    assert_eq!(code, "AccessDeniedException");
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:nope");
    assert_eq!(msg, message(&assumed(&account), "lambda:GetFunctionConfiguration", &function, IDENTITY));

    allowed("ListFunctions in us-east-1", aws_sdk_lambda::Client::new(&us).list_functions().send().await);
    allowed("ListDetectors in eu-west-1", aws_sdk_guardduty::Client::new(&eu).list_detectors().send().await);
    allowed("ListKeys in eu-west-1", aws_sdk_kms::Client::new(&eu).list_keys().send().await);
    allowed("another account", aws_sdk_lambda::Client::new(&via.sdk_config(&other_creds, "eu-west-1")).list_functions().send().await);
    let settings = aws_sdk_lambda::Client::new(&eu).get_account_settings().send().await;
    assert_ne!(settings.err().and_then(|e| e.code().map(str::to_owned)).as_deref(), Some("AccessDeniedException"));

    assert_eq!(
        proxy.denials(),
        [triple(&account, "eu-west-1", "lambda:ListFunctions"), triple(&account, "us-east-1", "lambda:GetFunctionConfiguration")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_policy_deny_fails_the_calls_naming_that_key_only() {
    let (moto, proxy, via) = proxied().await;
    // Credentials issued by moto directly: the proxy learns their account from register_key.
    let (account, creds) = moto.fresh_account().await.unwrap();
    proxy.register_key(creds.access_key_id(), &account);
    let direct = aws_sdk_kms::Client::new(&moto.sdk_config(&creds, "us-east-1"));
    let mut keys = Vec::new();
    for name in ["locked", "open"] {
        let k = direct.create_key().description(format!("realism {name}")).send().await.unwrap();
        let m = k.key_metadata().unwrap();
        keys.push((m.key_id().to_owned(), m.arn().unwrap().to_owned()));
    }
    let ((locked, locked_arn), (open, _)) = (keys[0].clone(), keys[1].clone());
    proxy.key_policy_deny(&account, "us-east-1", &locked);

    let kms = aws_sdk_kms::Client::new(&via.sdk_config(&creds, "us-east-1"));
    let root = format!("arn:aws:iam::{account}:root");
    for key in [&locked, &locked_arn] {
        let (code, msg) = denied("DescribeKey", kms.describe_key().key_id(key).send().await);
        assert_eq!(code, "AccessDeniedException");
        assert!(msg.contains("because no resource-based policy allows the kms:DescribeKey action"), "{msg}");
        assert_eq!(
            msg,
            format!(
                "User: {root} is not authorized to perform: kms:DescribeKey on resource: {locked_arn} because no resource-based policy allows the kms:DescribeKey action."
            )
        );
    }
    let (_, msg) = denied("GetKeyRotationStatus", kms.get_key_rotation_status().key_id(&locked).send().await);
    assert!(msg.contains("because no resource-based policy allows the kms:GetKeyRotationStatus action"), "{msg}");

    let d = allowed("DescribeKey of the other key", kms.describe_key().key_id(&open).send().await);
    assert_eq!(d.key_metadata().map(|m| m.key_id()), Some(open.as_str()));
    let listed: Vec<String> =
        allowed("ListKeys", kms.list_keys().send().await).keys().iter().filter_map(|k| k.key_id().map(str::to_owned)).collect();
    assert!(listed.contains(&locked) && listed.contains(&open), "{listed:?}");

    let r = "us-east-1";
    assert_eq!(
        proxy.denials(),
        [triple(&account, r, "kms:DescribeKey"), triple(&account, r, "kms:DescribeKey"), triple(&account, r, "kms:GetKeyRotationStatus")]
    );
}

async fn assume_through(via: &Moto, region: &str, account: &str) -> Credentials {
    let sts = aws_sdk_sts::Client::new(&via.sdk_config(&Moto::root_credentials(), region));
    let out = allowed(
        "AssumeRole",
        sts.assume_role().role_arn(format!("arn:aws:iam::{account}:role/Auditor")).role_session_name("realism-sts").send().await,
    );
    let c = out.credentials().unwrap();
    Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), None, "realism")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_answers_teach_the_account_and_sts_is_never_region_denied() {
    let (moto, proxy, via) = proxied().await;
    let (member, _) = moto.fresh_account().await.unwrap();
    let denied_region = "eu-central-1";
    proxy.region_deny(&member, &["us-east-1"]);
    proxy.region_deny(DEFAULT_ACCOUNT, &["us-east-1"]);

    // The caller (moto's default account) is region-denied in eu-central-1, but sts:* is exempt.
    let creds = assume_through(&via, denied_region, &member).await;
    let cfg = via.sdk_config(&creds, denied_region);
    let me = allowed("GetCallerIdentity", aws_sdk_sts::Client::new(&cfg).get_caller_identity().send().await);
    let principal = format!("arn:aws:sts::{member}:assumed-role/Auditor/realism-sts");
    assert_eq!((me.account(), me.arn()), (Some(member.as_str()), Some(principal.as_str())));

    // Requests signed with the issued key act as the member, under its region deny.
    let (code, msg) = denied("ListFunctions", aws_sdk_lambda::Client::new(&cfg).list_functions().send().await);
    assert_eq!(code, "AccessDeniedException");
    assert_eq!(msg, message(&principal, "lambda:ListFunctions", "*", SCP));
    allowed("ListFunctions in us-east-1", aws_sdk_lambda::Client::new(&via.sdk_config(&creds, "us-east-1")).list_functions().send().await);
    // A key the proxy never saw issued acts in the default account.
    let root = via.sdk_config(&Moto::root_credentials(), denied_region);
    let (_, msg) = denied("ListFunctions as root", aws_sdk_lambda::Client::new(&root).list_functions().send().await);
    assert_eq!(msg, message(&format!("arn:aws:iam::{DEFAULT_ACCOUNT}:root"), "lambda:ListFunctions", "*", SCP));

    // STS answers denials in the awsQuery shape, which the SDK parses as `AccessDenied`.
    proxy.identity_deny(&member, denied_region, "sts:GetCallerIdentity");
    let (code, msg) = denied("GetCallerIdentity", aws_sdk_sts::Client::new(&cfg).get_caller_identity().send().await);
    assert_eq!(code, "AccessDenied");
    assert_eq!(msg, message(&principal, "sts:GetCallerIdentity", "*", IDENTITY));

    assert_eq!(
        proxy.denials(),
        [
            triple(&member, denied_region, "lambda:ListFunctions"),
            triple(DEFAULT_ACCOUNT, denied_region, "lambda:ListFunctions"),
            triple(&member, denied_region, "sts:GetCallerIdentity"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_record_exactly_the_denied_calls_and_the_first_rule_wins() {
    let (_moto, proxy, via) = proxied().await;
    let (account, creds) = via.fresh_account().await.unwrap();
    let (us, west) = (via.sdk_config(&creds, "us-east-1"), via.sdk_config(&creds, "us-west-2"));
    let kms = aws_sdk_kms::Client::new(&us);
    let key = allowed("CreateKey", kms.create_key().send().await).key_metadata().unwrap().key_id().to_owned();
    proxy.region_deny(&account, &["us-east-1"]);
    // Shadowed by the SCP.
    proxy.identity_deny(&account, "us-west-2", "lambda:ListFunctions");
    proxy.identity_deny(&account, "us-east-1", "guardduty:ListDetectors");
    // Wins over the key policy.
    proxy.identity_deny(&account, "us-east-1", "kms:DescribeKey");
    proxy.key_policy_deny(&account, "us-east-1", &key);

    let (_, msg) = denied("ListFunctions us-west-2", aws_sdk_lambda::Client::new(&west).list_functions().send().await);
    assert!(msg.ends_with(SCP), "{msg}");
    allowed("ListFunctions us-east-1", aws_sdk_lambda::Client::new(&us).list_functions().send().await);
    let (_, msg) = denied("ListDetectors", aws_sdk_guardduty::Client::new(&us).list_detectors().send().await);
    assert!(msg.ends_with(IDENTITY), "{msg}");
    let (_, msg) = denied("DescribeKey", kms.describe_key().key_id(&key).send().await);
    assert!(msg.ends_with(IDENTITY), "{msg}");
    let (_, msg) = denied("GetKeyPolicy", kms.get_key_policy().key_id(&key).policy_name("default").send().await);
    assert!(msg.ends_with("because no resource-based policy allows the kms:GetKeyPolicy action."), "{msg}");
    allowed("ListKeys", kms.list_keys().send().await);
    allowed("ListKeys us-west-2", aws_sdk_kms::Client::new(&west).list_keys().send().await);

    assert_eq!(
        proxy.denials(),
        [
            triple(&account, "us-west-2", "lambda:ListFunctions"),
            triple(&account, "us-east-1", "guardduty:ListDetectors"),
            triple(&account, "us-east-1", "kms:DescribeKey"),
            triple(&account, "us-east-1", "kms:GetKeyPolicy"),
        ]
    );
}

/// Sends `parts` one write each on a fresh connection and reads the answer to EOF.
async fn raw(endpoint: &str, parts: &[&[u8]]) -> String {
    let mut s = TcpStream::connect(endpoint.trim_start_matches("http://")).await.unwrap();
    s.set_nodelay(true).unwrap();
    for p in parts {
        s.write_all(p).await.unwrap();
        s.flush().await.unwrap();
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

fn auth(region: &str, service: &str) -> String {
    format!(
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAORGSCANTESTROOT0/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=00\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http_split_reads_empty_connections_and_wire_shapes() {
    let (_moto, proxy, _via) = proxied().await;
    let addr = proxy.endpoint.trim_start_matches("http://").to_owned();

    // A client that connects and sends nothing is closed; one that stays idle blocks nobody.
    let mut empty = TcpStream::connect(&addr).await.unwrap();
    empty.shutdown().await.unwrap();
    let mut rest = Vec::new();
    assert_eq!(empty.read_to_end(&mut rest).await.unwrap(), 0);
    let _idle = TcpStream::connect(&addr).await.unwrap();

    // Head and body in several writes: forwarded to moto only once complete.
    let request = sts_request(&addr, "us-east-1");
    let body_at = request.find("\r\n\r\n").unwrap() + 4;
    let (h1, rest) = request.split_at(30);
    let (h2, body) = rest.split_at(body_at - 30);
    let (b1, b2) = body.split_at(10);
    let answer = raw(&proxy.endpoint, &[h1.as_bytes(), h2.as_bytes(), b1.as_bytes(), b2.as_bytes()]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&format!("<Account>{DEFAULT_ACCOUNT}</Account>")), "{answer}");

    // Denials: answered by the proxy, in each protocol's shape, with Connection: close and a request id.
    proxy.region_deny(DEFAULT_ACCOUNT, &["us-east-1"]);
    proxy.identity_deny(DEFAULT_ACCOUNT, "us-east-1", "sts:GetCallerIdentity");
    let sagemaker = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: SageMaker.ListNotebookInstances\r\nContent-Type: application/x-amz-json-1.1\r\n{}Content-Length: 2\r\n\r\n{{}}",
        auth("sa-east-1", "sagemaker")
    );
    let (s1, s2) = sagemaker.split_at(sagemaker.len() - 1);
    let answer = raw(&proxy.endpoint, &[s1.as_bytes(), s2.as_bytes()]).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    for h in ["Content-Type: application/x-amz-json-1.1", "Connection: close", "x-amzn-RequestId: "] {
        assert!(head.contains(h), "{h} missing: {head}");
    }
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["__type"], "AccessDeniedException");
    let principal = format!("arn:aws:iam::{DEFAULT_ACCOUNT}:root");
    assert_eq!(v["message"], message(&principal, "sagemaker:ListNotebookInstances", "*", SCP));

    let answer = raw(&proxy.endpoint, &[sts_request(&addr, "us-east-1").as_bytes()]).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 403 ") && head.contains("Content-Type: text/xml"), "{head}");
    let want = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{}</Message></Error><RequestId>",
        message(&principal, "sts:GetCallerIdentity", "*", IDENTITY)
    );
    assert!(body.starts_with(&want) && body.ends_with("</RequestId></ErrorResponse>"), "{body}");

    let guardduty = format!("GET /detector?maxResults=5 HTTP/1.1\r\nHost: {addr}\r\n{}\r\n", auth("sa-east-1", "guardduty"));
    let answer = raw(&proxy.endpoint, &[guardduty.as_bytes()]).await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 403 ") && head.contains("x-amzn-ErrorType: AccessDeniedException"), "{head}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["message"], message(&principal, "guardduty:ListDetectors", "*", SCP));

    // A chunked body is refused rather than misread.
    let chunked = format!("POST / HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert!(raw(&proxy.endpoint, &[chunked.as_bytes()]).await.starts_with("HTTP/1.1 411 "));

    assert_eq!(
        proxy.denials(),
        [
            triple(DEFAULT_ACCOUNT, "sa-east-1", "sagemaker:ListNotebookInstances"),
            triple(DEFAULT_ACCOUNT, "us-east-1", "sts:GetCallerIdentity"),
            triple(DEFAULT_ACCOUNT, "sa-east-1", "guardduty:ListDetectors"),
        ]
    );
}

/// A raw STS GetCallerIdentity request signed (in form only: moto does not check) with moto's default key.
fn sts_request(addr: &str, region: &str) -> String {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n{}Content-Length: {}\r\n\r\n{body}",
        auth(region, "sts"),
        body.len()
    )
}

#[tokio::test]
async fn start_refuses_an_endpoint_it_cannot_forward_to() {
    assert!(Realism::start("https://127.0.0.1:5000").await.is_err());
    assert!(Realism::start("127.0.0.1:5000").await.is_err());
}
