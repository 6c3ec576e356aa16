//! A test-only loopback HTTP proxy in front of moto that adds the authorization moto lacks: AWS Control
//! Tower's Region deny SCP, explicit denies in identity-based policies, and KMS key policies that do not
//! allow the caller. A denied request is answered by the proxy itself with the error AWS returns, in the
//! wire shape of the service's protocol; every other request goes to moto unchanged.
//!
//! Per request it reads the caller's access key, region and signing service from the SigV4 `Authorization`
//! header, the caller's account from the keys it saw STS `AssumeRole` issue (or `register_key`), and the
//! IAM action from `X-Amz-Target`, a query `Action=`, or a small table of REST routes.
//!
//! moto answers with `Connection: close`, so each connection carries exactly one request (as in
//! benches/support/proxy.rs).
//!
//! Limits: requests must carry a `Content-Length` body (chunked bodies are refused with 411); presigned
//! (query-string) SigV4 and `Expect: 100-continue` are not handled; unsigned requests are forwarded as they
//! are; KMS keys are matched by the JSON body's `KeyId` (key id or key ARN; an alias is never resolved to
//! its key).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The account of keys the proxy did not see issued: moto's default account.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The `NotAction` list of the landing-zone Region deny SCP (Sid `GRREGIONDENY`), current version, in its
/// published order: "Deny access to AWS based on the requested AWS Region - AWS Control Tower",
/// https://docs.aws.amazon.com/controltower/latest/userguide/primary-region-deny-policy.html
/// (full text from the control reference's copy of that page). Entries ending in `*` match by prefix.
/// The SCP's `ArnNotLike aws:PrincipalARN arn:aws:iam::*:role/AWSControlTowerExecution` exemption is
/// ignored here: no test acts as AWSControlTowerExecution.
pub const REGION_DENY_NOT_ACTIONS: [&str; 86] = [
    "a4b:*",
    "access-analyzer:*",
    "account:*",
    "acm:*",
    "activate:*",
    "artifact:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "billing:*",
    "billingconductor:*",
    "budgets:*",
    "ce:*",
    "chatbot:*",
    "chime:*",
    "cloudfront:*",
    "cloudtrail:LookupEvents",
    "compute-optimizer:*",
    "config:*",
    "consoleapp:*",
    "consolidatedbilling:*",
    "cur:*",
    "datapipeline:GetAccountLimits",
    "devicefarm:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "ecr-public:*",
    "fms:*",
    "freetier:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "invoicing:*",
    "iq:*",
    "kms:*",
    "license-manager:ListReceivedLicenses",
    "lightsail:Get*",
    "mobileanalytics:*",
    "networkmanager:*",
    "notifications-contacts:*",
    "notifications:*",
    "organizations:*",
    "payments:*",
    "pricing:*",
    "quicksight:DescribeAccountSubscription",
    "resource-explorer-2:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "route53:*",
    "route53domains:*",
    "s3:CreateMultiRegionAccessPoint",
    "s3:DeleteMultiRegionAccessPoint",
    "s3:DescribeMultiRegionAccessPointOperation",
    "s3:GetAccountPublicAccessBlock",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetMultiRegionAccessPoint",
    "s3:GetMultiRegionAccessPointPolicy",
    "s3:GetMultiRegionAccessPointPolicyStatus",
    "s3:GetStorageLensConfiguration",
    "s3:GetStorageLensDashboard",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:ListStorageLensConfigurations",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutMultiRegionAccessPointPolicy",
    "savingsplans:*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "supportapp:*",
    "supportplans:*",
    "sustainability:*",
    "tag:GetResources",
    "tax:*",
    "trustedadvisor:*",
    "vendor-insights:ListEntitledSecurityProfiles",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
];

/// Whether the Region deny SCP exempts `action` (IAM action names are case-insensitive).
pub fn region_deny_exempts(action: &str) -> bool {
    REGION_DENY_NOT_ACTIONS.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => action.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix)),
        None => action.eq_ignore_ascii_case(entry),
    })
}

/// Who signed a request.
#[derive(Debug, Clone)]
struct Caller {
    account: String,
    /// (role name, session name) when the key came from `AssumeRole`.
    role: Option<(String, String)>,
}

impl Caller {
    fn arn(&self) -> String {
        match &self.role {
            Some((role, session)) => format!("arn:aws:sts::{}:assumed-role/{role}/{session}", self.account),
            None => format!("arn:aws:iam::{}:root", self.account),
        }
    }
}

/// A KMS key: (account, region, key id or `alias/...`).
type KeyRef = (String, String, String);

#[derive(Debug, Default)]
struct State {
    keys: HashMap<String, Caller>,
    /// account → governed regions.
    region_denies: HashMap<String, Vec<String>>,
    /// (account, region, action).
    identity_denies: Vec<(String, String, String)>,
    key_denies: Vec<KeyRef>,
    /// (bucket, action): an explicit deny in the bucket's policy.
    bucket_denies: Vec<(String, String)>,
    /// bucket → the account that owns it (for the bucket owner condition).
    bucket_owners: HashMap<String, String>,
    denials: Vec<(String, String, String)>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Realism {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Realism {
    fn drop(&mut self) {
        // The connection tasks live in the accept task's JoinSet: aborting it aborts them too.
        self.task.abort();
    }
}

impl Realism {
    /// Listens on 127.0.0.1:0 and forwards to `upstream` (moto's endpoint, e.g. "http://127.0.0.1:5000").
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let authority = upstream
            .strip_prefix("http://")
            .map(|rest| rest.split('/').next().unwrap_or_default().to_owned())
            .filter(|a| !a.is_empty())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not an http:// endpoint: {upstream}")))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let (state, upstream) = (shared.clone(), authority.clone());
                connections.spawn(async move {
                    let _ = serve(inbound, &upstream, &state).await;
                });
            }
        });
        Ok(Self { endpoint, state, task })
    }

    /// AWS Control Tower's Region deny SCP on `account`: every request to a region not in `governed`
    /// whose IAM action is not exempted by the published NotAction list is denied as an SCP deny.
    pub fn region_deny(&self, account: &str, governed: &[&str]) {
        lock(&self.state).region_denies.insert(account.to_owned(), governed.iter().map(|r| (*r).to_owned()).collect());
    }

    /// An explicit deny of `action` (e.g. "lambda:ListFunctions") in an identity-based policy, in (account, region).
    pub fn identity_deny(&self, account: &str, region: &str, action: &str) {
        lock(&self.state).identity_denies.push((account.to_owned(), region.to_owned(), action.to_owned()));
    }

    /// A key whose key policy does not allow the caller: any KMS call naming `key_id` (JSON body "KeyId", as
    /// id or ARN) is denied. `key_id` may itself be a key ARN.
    pub fn key_policy_deny(&self, account: &str, region: &str, key_id: &str) {
        lock(&self.state).key_denies.push(key_ref(key_id, account, region));
    }

    /// A bucket policy statement `Deny` of `action` (e.g. "s3:PutObject") on every object of `bucket`.
    pub fn bucket_deny(&self, bucket: &str, action: &str) {
        lock(&self.state).bucket_denies.push((bucket.to_owned(), action.to_owned()));
    }

    /// `bucket` belongs to `account`: a request whose `x-amz-expected-bucket-owner` names another account is
    /// refused as S3 refuses it (moto 5.2.5 ignores the header).
    pub fn bucket_owner(&self, bucket: &str, account: &str) {
        lock(&self.state).bucket_owners.insert(bucket.to_owned(), account.to_owned());
    }

    /// Keys the proxy did not see issued (e.g. the management account's own keys) belong to this account;
    /// default: moto's default "123456789012".
    pub fn register_key(&self, access_key_id: &str, account: &str) {
        lock(&self.state).keys.insert(access_key_id.to_owned(), Caller { account: account.to_owned(), role: None });
    }

    /// Every request it answered with a denial: (account, region, action), in order.
    pub fn denials(&self) -> Vec<(String, String, String)> {
        lock(&self.state).denials.clone()
    }
}

/// One HTTP/1.1 request as read from the client.
struct Request {
    /// The head as received, up to and including the blank line.
    head: Vec<u8>,
    body: Vec<u8>,
    method: String,
    path: String,
    query: String,
    /// Names lower-cased.
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

enum Read {
    Request(Request),
    /// The client closed without sending a request.
    Nothing,
    /// Unusable: answer with this status and reason.
    Refuse(u16, &'static str),
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

async fn read_request(inbound: &mut TcpStream) -> std::io::Result<Read> {
    let mut buf = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    let head_len = loop {
        if let Some(end) = find_blank_line(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Ok(Read::Refuse(431, "Request Header Fields Too Large"));
        }
        let n = inbound.read(&mut chunk).await?;
        if n == 0 {
            return Ok(if buf.is_empty() { Read::Nothing } else { Read::Refuse(400, "Bad Request") });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let Ok(text) = std::str::from_utf8(&buf[..head_len]) else { return Ok(Read::Refuse(400, "Bad Request")) };
    let mut lines = text.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target)) = (start.next(), start.next()) else { return Ok(Read::Refuse(400, "Bad Request")) };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
    let mut req = Request {
        head: buf[..head_len].to_vec(),
        body: Vec::new(),
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
    };
    if req.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Ok(Read::Refuse(411, "Length Required"));
    }
    let length = match req.header("content-length").map(|v| v.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) if n <= MAX_BODY => n,
        Some(Ok(_)) => return Ok(Read::Refuse(413, "Content Too Large")),
        Some(Err(_)) => return Ok(Read::Refuse(400, "Bad Request")),
    };
    let mut body = buf.split_off(head_len);
    body.truncate(length);
    while body.len() < length {
        let n = inbound.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Read::Refuse(400, "Bad Request"));
        }
        let take = n.min(length - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    req.body = body;
    Ok(Read::Request(req))
}

/// What a request asks for, in IAM terms.
struct Call {
    access_key: String,
    region: String,
    /// The signing service, which is also the IAM action prefix.
    service: String,
    action: String,
    /// Whether the operation name was found (unknown routes are never matched by name).
    known: bool,
    /// The `KeyId` a KMS call names, as sent.
    key_id: Option<String>,
    form: Vec<(String, String)>,
}

/// (access key, region, service) from `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
fn credential_scope(authorization: &str) -> Option<(String, String, String)> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256")?;
    let start = rest.find("Credential=")? + "Credential=".len();
    let cred = rest[start..].split([',', ' ']).next()?;
    match cred.split('/').collect::<Vec<_>>().as_slice() {
        [key, _date, region, service, "aws4_request"] if !key.is_empty() => {
            Some(((*key).to_owned(), (*region).to_owned(), (*service).to_owned()))
        }
        _ => None,
    }
}

fn form_decode(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    text.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).map(|(k, v)| (decode(k), decode(v))).collect()
}

/// The operation of a REST route (query string ignored).
fn rest_operation(service: &str, method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    Some(match (service, method, segments.as_slice()) {
        ("lambda", "GET", ["2015-03-31", "functions"]) => "ListFunctions",
        ("lambda", "GET", ["2015-03-31", "functions", _, "aliases"]) => "ListAliases",
        ("lambda", "GET", ["2015-03-31", "functions", _, "versions"]) => "ListVersionsByFunction",
        ("lambda", "GET", ["2015-03-31", "functions", _, "configuration"]) => "GetFunctionConfiguration",
        ("guardduty", "GET", ["detector"]) => "ListDetectors",
        ("guardduty", "GET", ["detector", _]) => "GetDetector",
        ("es", "GET", ["2021-01-01", "domain"]) => "ListDomainNames",
        ("es", "POST", ["2021-01-01", "opensearch", "domain-info"]) => "DescribeDomains",
        ("account", "POST", ["listRegions"]) => "ListRegions",
        ("securityhub", "POST", ["findings"]) => "GetFindings",
        ("securityhub", "POST", ["findings", "import"]) => "BatchImportFindings",
        ("securityhub", "PATCH", ["findings", "batchupdate"]) => "BatchUpdateFindings",
        // S3, path-style (the SDK uses it for an IP-address endpoint): /bucket/key.
        ("s3", "PUT", [_, _, ..]) => "PutObject",
        ("s3", "GET", [_, _, ..]) => "GetObject",
        ("s3", "HEAD", [_, _, ..]) => "HeadObject",
        ("s3", "GET", [_]) => "ListBucket",
        ("s3", "PUT", [_]) => "CreateBucket",
        _ => return None,
    })
}

/// A KMS `KeyId` (key id, key ARN, alias name or alias ARN) as (account, region, id), relative to the
/// caller's account and the request's region.
fn key_ref(key_id: &str, account: &str, region: &str) -> KeyRef {
    let parts: Vec<&str> = key_id.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "kms", r, a, resource] => {
            let id = resource.strip_prefix("key/").unwrap_or(resource);
            ((*a).to_owned(), (*r).to_owned(), id.to_owned())
        }
        _ => (account.to_owned(), region.to_owned(), key_id.to_owned()),
    }
}

fn key_arn((account, region, id): &KeyRef) -> String {
    if id.starts_with("alias/") {
        format!("arn:aws:kms:{region}:{account}:{id}")
    } else {
        format!("arn:aws:kms:{region}:{account}:key/{id}")
    }
}

fn classify(req: &Request) -> Option<Call> {
    let (access_key, region, service) = credential_scope(req.header("authorization")?)?;
    let form = if req.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        form_decode(&String::from_utf8_lossy(&req.body))
    } else {
        form_decode(&req.query)
    };
    let operation = if let Some(target) = req.header("x-amz-target") {
        target.rsplit('.').next().map(str::to_owned)
    } else if let Some((_, action)) = form.iter().find(|(k, _)| k == "Action") {
        Some(action.clone())
    } else {
        rest_operation(&service, &req.method, &req.path).map(str::to_owned)
    };
    let known = operation.as_deref().is_some_and(|o| !o.is_empty());
    let action = format!("{service}:{}", operation.filter(|o| !o.is_empty()).unwrap_or_else(|| "Unknown".to_owned()));
    let key_id = if service == "kms" {
        serde_json::from_slice::<serde_json::Value>(&req.body).ok().and_then(|v| v.get("KeyId").and_then(|k| k.as_str()).map(str::to_owned))
    } else {
        None
    };
    Some(Call { access_key, region, service, action, known, key_id, form })
}

/// The resource named in a denial message.
fn resource(call: &Call, req: &Request, account: &str, key: Option<&KeyRef>) -> String {
    if let Some(key) = key {
        return key_arn(key);
    }
    let segments: Vec<String> = req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let region = &call.region;
    match (call.service.as_str(), segments.as_slice()) {
        ("lambda", [_, f, name, ..]) if f == "functions" && name.starts_with("arn:") => name.clone(),
        ("lambda", [_, f, name, ..]) if f == "functions" => format!("arn:aws:lambda:{region}:{account}:function:{name}"),
        ("guardduty", [d, id]) if d == "detector" => format!("arn:aws:guardduty:{region}:{account}:detector/{id}"),
        ("s3", [bucket, key @ ..]) => format!("\"arn:aws:s3:::{bucket}{}{}\"", if key.is_empty() { "" } else { "/" }, key.join("/")),
        _ => "*".to_owned(),
    }
}

/// The denial message for `call`, if a rule denies it (region deny, then identity deny, then key policy);
/// records it. Wording: "Troubleshoot access denied error messages",
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html ("User: <principal> is not
/// authorized to perform: <action> on resource: <resource> with an explicit deny in a service control policy").
fn decide(state: &Mutex<State>, call: &Call, req: &Request) -> Option<String> {
    let mut s = lock(state);
    let caller = s.keys.get(&call.access_key).cloned().unwrap_or_else(|| Caller { account: DEFAULT_ACCOUNT.to_owned(), role: None });
    let account = caller.account.as_str();
    let region = call.region.as_str();
    let action = call.action.as_str();
    let key = call.key_id.as_deref().map(|k| key_ref(k, account, region));
    let head = || {
        format!("User: {} is not authorized to perform: {action} on resource: {}", caller.arn(), resource(call, req, account, key.as_ref()))
    };
    let scp = s.region_denies.get(account).is_some_and(|governed| !governed.iter().any(|g| g == region) && !region_deny_exempts(action));
    let message = if scp {
        format!("{} with an explicit deny in a service control policy", head())
    } else if call.known && s.identity_denies.iter().any(|(a, r, x)| a == account && r == region && x.eq_ignore_ascii_case(action)) {
        format!("{} with an explicit deny in an identity-based policy", head())
    } else if let Some(why) = s3_denial(&s, call, req, account) {
        // "Troubleshoot access denied (403 Forbidden) errors in Amazon S3", access denied message examples,
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html: for requests from
        // the bucket owner's account, S3 names the policy type that denied.
        match why {
            S3Why::Policy => format!("{} with an explicit deny in a resource-based policy", head()),
            S3Why::Owner => "Access Denied".to_owned(),
        }
    } else if key.as_ref().is_some_and(|k| s.key_denies.contains(k)) {
        // A key policy that does not allow the caller is an implicit deny by the resource-based policy ("Key
        // policies in AWS KMS", https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html); the
        // wording is the one seen from KMS (jbrt/ec2cryptomatic#26), trailing full stop included.
        format!("{} because no resource-based policy allows the {action} action.", head())
    } else {
        return None;
    };
    s.denials.push((account.to_owned(), region.to_owned(), action.to_owned()));
    Some(message)
}

enum S3Why {
    Policy,
    Owner,
}

/// Whether S3 refuses this request: a bucket policy's explicit deny, or the bucket owner condition
/// ("Verifying bucket ownership with bucket owner condition",
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html: "If the expected bucket
/// owner doesn't match the actual bucket owner, the request fails with an HTTP 403 Access Denied error").
fn s3_denial(s: &State, call: &Call, req: &Request, _account: &str) -> Option<S3Why> {
    if call.service != "s3" {
        return None;
    }
    let bucket = req.path.split('/').find(|p| !p.is_empty())?;
    if let (Some(expected), Some(owner)) = (req.header("x-amz-expected-bucket-owner"), s.bucket_owners.get(bucket))
        && expected != owner
    {
        return Some(S3Why::Owner);
    }
    s.bucket_denies.iter().any(|(b, a)| b == bucket && a.eq_ignore_ascii_case(&call.action)).then_some(S3Why::Policy)
}

fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let hex: String = Sha256::digest(format!("{nanos}/{}", COUNTER.fetch_add(1, Ordering::Relaxed)))
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn response(status: u16, reason: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// An AccessDenied answer in the wire shape of the service's protocol.
fn denial(call: &Call, message: &str) -> Vec<u8> {
    let id = request_id();
    let json_error =
        [("Content-Type", "application/json"), ("x-amzn-RequestId", id.as_str()), ("x-amzn-ErrorType", "AccessDeniedException")];
    match call.service.as_str() {
        // awsJson1_1: HTTP 400 with the code in `__type` (KMS DescribeKey denials are "status code: 400",
        // rebuy-de/aws-nuke#247; the smithy-rs JSON error parser reads `__type` and `message`).
        "kms" | "sagemaker" | "organizations" => {
            let body = serde_json::json!({"__type": "AccessDeniedException", "message": message}).to_string();
            response(400, "Bad Request", &[("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", &id)], &body)
        }
        // Lambda: HTTP 403 AccessDeniedException (aws-toolkit-jetbrains#595, doug-macleod/Pipe-1Dev#13;
        // message from prowler-cloud/prowler#4209) with Lambda's `{"Type":"User","Message":...}` body, the
        // shape of smithy-rs's Lambda error fixture (rust-runtime/inlineable/src/json_errors.rs).
        "lambda" => {
            let body = serde_json::json!({"Type": "User", "Message": message}).to_string();
            response(403, "Forbidden", &json_error, &body)
        }
        // awsQuery: HTTP 403 `<ErrorResponse>` with code AccessDenied (commercehub-oss/kerb-sts#30,
        // amzn/selling-partner-api-models#891: "Status Code: 403; Error Code: AccessDenied").
        "sts" | "iam" => {
            let ns = if call.service == "sts" {
                "https://sts.amazonaws.com/doc/2011-06-15/"
            } else {
                "https://iam.amazonaws.com/doc/2010-05-08/"
            };
            let body = format!(
                "<ErrorResponse xmlns=\"{ns}\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                xml_escape(message)
            );
            response(403, "Forbidden", &[("Content-Type", "text/xml"), ("x-amzn-RequestId", &id)], &body)
        }
        // restXml: HTTP 403 `<Error><Code>AccessDenied</Code>...` ("Error responses", Amazon S3 API Reference,
        // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html: Code, Message, RequestId, HostId).
        "s3" => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{}</Message><RequestId>{}</RequestId><HostId>{id}</HostId></Error>",
                xml_escape(message),
                &id[..16]
            );
            response(403, "Forbidden", &[("Content-Type", "application/xml"), ("x-amz-request-id", &id[..16])], &body)
        }
        // Other restJson1 services (guardduty, es, securityhub, account, ...): AWS does not document the exact
        // body these return for an SCP deny. HTTP 403 like Lambda; the SDK takes the code from the
        // `x-amzn-ErrorType` header first (smithy-rs json_errors.rs), then the body's `code`/`__type`.
        _ => {
            let body = serde_json::json!({"message": message}).to_string();
            response(403, "Forbidden", &json_error, &body)
        }
    }
}

/// The credentials an `AssumeRole` answer issued, if it succeeded: (access key id).
fn issued_key(answer: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(answer);
    let status = text.split(' ').nth(1)?;
    if status != "200" {
        return None;
    }
    let start = text.find("<AccessKeyId>")? + "<AccessKeyId>".len();
    let len = text[start..].find("</AccessKeyId>")?;
    Some(text[start..start + len].trim().to_owned()).filter(|k| !k.is_empty())
}

/// The caller an `AssumeRole` request asks to become: `RoleArn=arn:aws:iam::<account>:role/<path/><name>`.
fn assumed_caller(form: &[(String, String)]) -> Option<Caller> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let arn = get("RoleArn")?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (account, resource) = match parts.as_slice() {
        ["arn", _, "iam", _, account, resource] if !account.is_empty() => (*account, *resource),
        _ => return None,
    };
    let role = resource.strip_prefix("role/")?.rsplit('/').next()?.to_owned();
    Some(Caller { account: account.to_owned(), role: Some((role, get("RoleSessionName").unwrap_or_default())) })
}

async fn serve(mut inbound: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    inbound.set_nodelay(true)?;
    let req = match read_request(&mut inbound).await? {
        Read::Nothing => return Ok(()),
        Read::Refuse(status, reason) => {
            inbound.write_all(&response(status, reason, &[("Content-Type", "text/plain")], &format!("realism proxy: {reason}"))).await?;
            return inbound.shutdown().await;
        }
        Read::Request(r) => r,
    };
    let call = classify(&req);
    if let Some(call) = &call
        && let Some(message) = decide(state, call, &req)
    {
        inbound.write_all(&denial(call, &message)).await?;
        return inbound.shutdown().await;
    }
    let mut up = match TcpStream::connect(upstream).await {
        Ok(up) => up,
        Err(e) => {
            inbound
                .write_all(&response(
                    502,
                    "Bad Gateway",
                    &[("Content-Type", "text/plain")],
                    &format!("realism proxy: upstream {upstream}: {e}"),
                ))
                .await?;
            return inbound.shutdown().await;
        }
    };
    up.set_nodelay(true)?;
    up.write_all(&req.head).await?;
    up.write_all(&req.body).await?;
    match call.filter(|c| c.service == "sts" && c.action == "sts:AssumeRole") {
        Some(c) => {
            // Buffer the answer to learn the key it issues, then relay it unchanged.
            let mut answer = Vec::new();
            up.read_to_end(&mut answer).await?;
            if let (Some(key), Some(caller)) = (issued_key(&answer), assumed_caller(&c.form)) {
                lock(state).keys.insert(key, caller);
            }
            inbound.write_all(&answer).await?;
        }
        None => {
            tokio::io::copy(&mut up, &mut inbound).await?;
        }
    }
    inbound.shutdown().await
}
