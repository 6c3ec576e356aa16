//! Seeds a known estate into the moto server with the real SDK: accounts, organizations, and a mix of
//! compliant and non-compliant resources, returning exactly what orgscan must report.
//!
//! Shared by the integration tests, the benchmarks and the demo (`examples/demo_seed.rs`), so all three
//! agree on what the estate holds.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running moto server.
#[derive(Debug, Clone)]
pub struct Moto {
    pub endpoint: String,
}

impl Moto {
    /// A client factory for orgscan's library API acting with these credentials.
    pub fn factory(&self, creds: &Credentials) -> orgscan::aws::ClientFactory {
        orgscan::aws::ClientFactory::from_sdk_config(self.sdk_config(creds, "us-east-1"))
    }

    /// The server started by `scripts/test.sh` (`ORGSCAN_TEST_ENDPOINT`).
    pub fn from_env() -> Self {
        match std::env::var("ORGSCAN_TEST_ENDPOINT") {
            Ok(endpoint) if !endpoint.is_empty() => Self { endpoint },
            _ => panic!("ORGSCAN_TEST_ENDPOINT is not set: run the tests with scripts/test.sh, which starts moto"),
        }
    }

    /// Credentials moto does not know act in its default (root) account 123456789012.
    pub fn root_credentials() -> Credentials {
        Credentials::new("AKIAORGSCANTESTROOT0", "orgscan-test-secret", None, None, "moto-root")
    }

    /// An SDK configuration for moto with these credentials (few retries: moto answers unimplemented
    /// operations with HTTP 500, which the SDK would otherwise retry at length).
    pub fn sdk_config(&self, creds: &Credentials, region: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(creds.clone()))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(10)))
            .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(Duration::from_secs(30)).build())
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .build()
    }

    /// Credentials acting in `account` (moto's AssumeRole accepts any role and account).
    pub async fn assume(&self, account: &str) -> Result<Credentials, BoxError> {
        let sts = aws_sdk_sts::Client::new(&self.sdk_config(&Self::root_credentials(), "us-east-1"));
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"))
            .role_session_name("orgscan-seed")
            .send()
            .await?;
        let c = out.credentials().ok_or("AssumeRole returned no credentials")?;
        Ok(Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), None, "moto-assumed"))
    }

    /// A brand-new account id nobody else in this moto uses, with credentials that act in it: each test
    /// works in accounts of its own, so tests run in parallel against one server.
    pub async fn fresh_account(&self) -> Result<(String, Credentials), BoxError> {
        let account = unique_account_id();
        let creds = self.assume(&account).await?;
        Ok((account, creds))
    }
}

fn unique_account_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut x = (nanos as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finaliser: spreads the bits so ids differ in every digit.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    format!("{}", 200_000_000_000 + x % 700_000_000_000)
}

/// What orgscan must report for one seeded resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub check_id: &'static str,
    pub account: String,
    pub region: String,
    pub resource_id: String,
    pub resource_type: &'static str,
    pub resource_arn: String,
    pub status: &'static str,
}

/// Which resources to seed in one account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub opensearch: bool,
    pub sagemaker: bool,
    pub lambda: bool,
    pub kms: bool,
    /// Also the rare Lambda branches: an unknown runtime and an image-packaged function.
    pub lambda_edge_cases: bool,
    /// Lambda Web Functions (served by the moto layer, scripts/moto_lambda_web.py): one on a supported and
    /// one on a deprecated runtime.
    pub web_functions: bool,
    /// GuardDuty: 0 = enabled detector, 1 = disabled detector, 2 = no detector.
    pub guardduty: u8,
}

impl Mix {
    /// Every branch of every check.
    pub fn full(guardduty: u8) -> Self {
        Self { opensearch: true, sagemaker: true, lambda: true, kms: true, lambda_edge_cases: true, web_functions: true, guardduty }
    }

    /// Only GuardDuty: for tests about which accounts and regions are visited.
    pub fn guardduty_only(guardduty: u8) -> Self {
        Self { opensearch: false, sagemaker: false, lambda: false, kms: false, lambda_edge_cases: false, web_functions: false, guardduty }
    }

    /// A few resources per check: for large organizations.
    pub fn light(guardduty: u8) -> Self {
        Self { opensearch: false, sagemaker: false, lambda: true, kms: true, lambda_edge_cases: false, web_functions: false, guardduty }
    }
}

/// A tiny but valid ZIP archive (one empty file), for Lambda's `ZipFile`.
pub fn lambda_zip() -> Vec<u8> {
    // An empty archive: just the end-of-central-directory record.
    let mut z = vec![0x50, 0x4b, 0x05, 0x06];
    z.extend([0u8; 18]);
    z
}

/// A `CreateFunction` request for a zip-packaged function `name` on `runtime` (handler `index.handler`, the empty
/// archive as code) run by `role_arn`; the caller adds what it varies (tags, KMS key, environment) and sends it.
pub fn zip_function(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    role_arn: &str,
    runtime: &str,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};
    lambda
        .create_function()
        .function_name(name)
        .role(role_arn)
        .runtime(Runtime::from(runtime))
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(lambda_zip())).build())
}

const LAMBDA_ROLE: &str = "orgscan-test-lambda-role";

/// Creates the Lambda execution role (moto wants it in the same account) and returns its ARN.
pub async fn ensure_lambda_role(moto: &Moto, creds: &Credentials) -> Result<String, BoxError> {
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config(creds, "us-east-1"));
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    match iam.create_role().role_name(LAMBDA_ROLE).assume_role_policy_document(trust).send().await {
        Ok(out) => Ok(out.role().map(|r| r.arn().to_owned()).ok_or("CreateRole returned no role")?),
        Err(_) => {
            Ok(iam.get_role().role_name(LAMBDA_ROLE).send().await?.role().map(|r| r.arn().to_owned()).ok_or("GetRole returned no role")?)
        }
    }
}

/// Seeds one account in one region and returns the findings orgscan must report there.
pub async fn seed_region(
    moto: &Moto,
    creds: &Credentials,
    account: &str,
    region: &str,
    mix: Mix,
    role_arn: &str,
) -> Result<Vec<Expected>, BoxError> {
    let cfg = moto.sdk_config(creds, region);
    let mut out = Vec::new();
    let mut expect = |check_id, resource_id: &str, resource_type, resource_arn: &str, status| {
        out.push(Expected {
            check_id,
            account: account.to_owned(),
            region: region.to_owned(),
            resource_id: resource_id.to_owned(),
            resource_type,
            resource_arn: resource_arn.to_owned(),
            status,
        })
    };

    if mix.opensearch {
        let os = aws_sdk_opensearch::Client::new(&cfg);
        use aws_sdk_opensearch::types::EncryptionAtRestOptions;
        for (name, engine, enc, rtype, status) in [
            ("os-enc", "OpenSearch_2.11", Some(true), "AwsOpenSearchServiceDomain", "PASS"),
            ("os-plain", "OpenSearch_2.11", None, "AwsOpenSearchServiceDomain", "FAIL"),
            ("es-enc", "Elasticsearch_7.10", Some(true), "AwsElasticsearchDomain", "PASS"),
            ("es-plain", "Elasticsearch_7.10", Some(false), "AwsElasticsearchDomain", "FAIL"),
        ] {
            let mut req = os.create_domain().domain_name(name).engine_version(engine);
            if let Some(e) = enc {
                req = req.encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(e).build());
            }
            let d = req.send().await?;
            let arn = d.domain_status().map(|s| s.arn().to_owned()).ok_or("CreateDomain returned no status")?;
            expect("opensearch-encryption-at-rest", name, rtype, &arn, status);
        }
    }

    if mix.sagemaker {
        let sm = aws_sdk_sagemaker::Client::new(&cfg);
        use aws_sdk_sagemaker::types::{DirectInternetAccess, InstanceType};
        for (name, access, subnet, status) in [
            ("nb-private", DirectInternetAccess::Disabled, Some("subnet-0a1b2c3d"), "PASS"),
            ("nb-open", DirectInternetAccess::Enabled, Some("subnet-0a1b2c3d"), "FAIL"),
            ("nb-novpc", DirectInternetAccess::Disabled, None, "FAIL"),
        ] {
            let mut req = sm
                .create_notebook_instance()
                .notebook_instance_name(name)
                .instance_type(InstanceType::MlT2Medium)
                .role_arn(role_arn)
                .direct_internet_access(access);
            if let Some(s) = subnet {
                req = req.subnet_id(s).security_group_ids("sg-0a1b2c3d");
            }
            let arn = req.send().await?.notebook_instance_arn().ok_or("no notebook ARN")?.to_owned();
            expect("sagemaker-notebook-no-direct-internet", name, "AwsSageMakerNotebookInstance", &arn, status);
        }
    }

    if mix.lambda {
        let lambda = aws_sdk_lambda::Client::new(&cfg);
        use aws_sdk_lambda::primitives::Blob;
        use aws_sdk_lambda::types::{Environment, FunctionCode, PackageType, Runtime};
        let mut fns = vec![("fn-current", Some("python3.12"), "PASS"), ("fn-deprecated", Some("python3.8"), "FAIL")];
        if mix.lambda_edge_cases {
            fns.push(("fn-unknown", Some("cobol85"), "FAIL"));
            fns.push(("fn-image", None, ""));
        }
        for (name, runtime, status) in fns {
            let mut req = lambda
                .create_function()
                .function_name(name)
                .role(role_arn)
                // A secret-looking value: it must never reach a report or a log.
                .environment(Environment::builder().variables("DB_PASSWORD", "orgscan-leak-canary-7f3a9c").build());
            req = match runtime {
                Some(r) => req
                    .runtime(Runtime::from(r))
                    .handler("index.handler")
                    .code(FunctionCode::builder().zip_file(Blob::new(lambda_zip())).build()),
                None => req
                    .package_type(PackageType::Image)
                    .code(FunctionCode::builder().image_uri(format!("{account}.dkr.ecr.{region}.amazonaws.com/app:latest")).build()),
            };
            let f = req.send().await?;
            if runtime.is_some() {
                expect("lambda-supported-runtime", name, "AwsLambdaFunction", f.function_arn().ok_or("no function ARN")?, status);
            }
        }
        if mix.lambda_edge_cases {
            // Production still on the old runtime: version 1 published on python3.7, alias `prod` on it,
            // then $LATEST upgraded to python3.12. The function fails for its alias.
            let (name, arn) = seed_aliased_function(&lambda, "fn-aliased", role_arn).await?;
            expect("lambda-supported-runtime", &name, "AwsLambdaFunction", &arn, "FAIL");
        }
    }

    if mix.web_functions {
        let web = aws_sdk_lambdaweb::Client::new(&cfg);
        for (name, runtime, status) in WEB_FUNCTIONS {
            let arn = seed_web_function(&web, name, runtime, role_arn).await?;
            expect("lambda-supported-runtime", name, "AwsLambdaWebFunction", &arn, status);
        }
    }

    if mix.kms {
        let kms = aws_sdk_kms::Client::new(&cfg);
        for (name, status) in [("enabled", "PASS"), ("disabled", "PASS"), ("pending", "FAIL")] {
            let k = kms.create_key().description(format!("orgscan test key {name}")).send().await?;
            let m = k.key_metadata().ok_or("no key metadata")?;
            let (id, arn) = (m.key_id().to_owned(), m.arn().ok_or("no key ARN")?.to_owned());
            match name {
                "disabled" => {
                    kms.disable_key().key_id(&id).send().await?;
                }
                "pending" => {
                    kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await?;
                }
                _ => {}
            }
            expect("kms-key-not-pending-deletion", &id, "AwsKmsKey", &arn, status);
        }
    }

    let gd = aws_sdk_guardduty::Client::new(&cfg);
    match mix.guardduty {
        0 | 1 => {
            let enabled = mix.guardduty == 0;
            let id = gd.create_detector().enable(enabled).send().await?.detector_id().ok_or("no detector id")?.to_owned();
            let arn = format!("arn:aws:guardduty:{region}:{account}:detector/{id}");
            expect("guardduty-enabled", &id, "AwsGuardDutyDetector", &arn, if enabled { "PASS" } else { "FAIL" });
        }
        _ => expect("guardduty-enabled", account, "AwsAccount", &format!("arn:aws:iam::{account}:root"), "FAIL"),
    }
    Ok(out)
}

/// The Web Functions of `Mix::web_functions`: (name, runtime of the revision its endpoint serves, status).
/// nodejs20.x was deprecated on 2026-04-30 (data/lambda-runtimes.toml); nodejs24.x is supported.
pub const WEB_FUNCTIONS: [(&str, &str, &str); 2] = [("wf-current", "nodejs24.x", "PASS"), ("wf-deprecated", "nodejs20.x", "FAIL")];

/// A Web Function with one revision on `runtime` and one endpoint (`LatestRevision` mode) that serves it,
/// through the Lambda Web API; returns its ARN.
pub async fn seed_web_function(web: &aws_sdk_lambdaweb::Client, name: &str, runtime: &str, role_arn: &str) -> Result<String, BoxError> {
    use aws_sdk_lambdaweb::types::{AuthType, BuildConfig, CodeConfig, EndpointType, RuntimeConfig, S3Object, ServiceConfig};
    let arn = web.create_web_function().function_name(name).send().await?.function_arn().to_owned();
    let code = CodeConfig::builder().s3_object(S3Object::builder().bucket("orgscan-test-code").key(format!("{name}.zip")).build()?).build();
    web.create_web_function_revision()
        .function_name(name)
        .build_config(BuildConfig::builder().code_config(code).runtime_config(RuntimeConfig::builder().runtime(runtime).build()?).build())
        .service_config(ServiceConfig::builder().execution_role_arn(role_arn).build()?)
        .send()
        .await?;
    web.create_web_function_endpoint()
        .function_name(name)
        .endpoint_name("default")
        .endpoint_type(EndpointType::HomeRegion)
        .auth_type(AuthType::IamAuth)
        .send()
        .await?;
    Ok(arn)
}

/// Registers `account` as GuardDuty's delegated administrator in Organizations (called by the management
/// account, as AWS requires).
pub async fn register_guardduty_admin(moto: &Moto, management: &Credentials, account: &str) -> Result<(), BoxError> {
    let org = aws_sdk_organizations::Client::new(&moto.sdk_config(management, "us-east-1"));
    org.register_delegated_administrator().account_id(account).service_principal("guardduty.amazonaws.com").send().await?;
    Ok(())
}

/// A function whose alias `prod` routes to version 1, published on python3.7, while `$LATEST` was then
/// upgraded to python3.12: its name and (unqualified) ARN.
pub async fn seed_aliased_function(lambda: &aws_sdk_lambda::Client, name: &str, role_arn: &str) -> Result<(String, String), BoxError> {
    use aws_sdk_lambda::types::Runtime;
    let f = zip_function(lambda, name, role_arn, Runtime::Python37.as_str()).send().await?;
    let arn = f.function_arn().ok_or("no function ARN")?.to_owned();
    let v = lambda.publish_version().function_name(name).send().await?;
    let version = v.version().ok_or("no version")?.to_owned();
    lambda.update_function_configuration().function_name(name).runtime(Runtime::Python312).send().await?;
    lambda.create_alias().function_name(name).name("prod").function_version(version).send().await?;
    Ok((name.to_owned(), arn))
}

/// Seeds one account in several regions; GuardDuty varies by region so every branch appears.
pub async fn seed_account(
    moto: &Moto,
    creds: &Credentials,
    account: &str,
    regions: &[&str],
    mix: impl Fn(usize) -> Mix,
) -> Result<Vec<Expected>, BoxError> {
    let needs_role = (0..regions.len()).any(|i| {
        let m = mix(i);
        m.lambda || m.sagemaker || m.web_functions
    });
    let role = if needs_role { ensure_lambda_role(moto, creds).await? } else { String::new() };
    let mut all = Vec::new();
    for (i, region) in regions.iter().enumerate() {
        all.extend(seed_region(moto, creds, account, region, mix(i), &role).await?);
    }
    Ok(all)
}

/// A test organization: its management account and members in nested OUs.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub management: String,
    pub management_creds: Credentials,
    pub root_id: String,
    /// (OU id, OU name, parent id)
    pub ous: Vec<(String, String, String)>,
    /// (account id, OU id or root id)
    pub members: Vec<(String, String)>,
}

impl Org {
    pub fn ou(&self, name: &str) -> &str {
        self.ous.iter().find(|o| o.1 == name).map(|o| o.0.as_str()).unwrap_or_default()
    }

    pub fn all_accounts(&self) -> Vec<String> {
        let mut v = vec![self.management.clone()];
        v.extend(self.members.iter().map(|m| m.0.clone()));
        v
    }

    pub fn members_in(&self, parent: &str) -> Vec<String> {
        self.members.iter().filter(|m| m.1 == parent).map(|m| m.0.clone()).collect()
    }
}

/// A new organization in a fresh management account: (management account, its credentials, an
/// Organizations client acting as it, organization id, root id).
async fn new_organization(moto: &Moto) -> Result<(String, Credentials, aws_sdk_organizations::Client, String, String), BoxError> {
    let (management, creds) = moto.fresh_account().await?;
    let org = aws_sdk_organizations::Client::new(&moto.sdk_config(&creds, "us-east-1"));
    let o = org.create_organization().feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All).send().await?;
    let id = o.organization().and_then(|o| o.id()).ok_or("no organization id")?.to_owned();
    let root_id = org.list_roots().send().await?.roots().first().and_then(|r| r.id()).ok_or("no root")?.to_owned();
    Ok((management, creds, org, id, root_id))
}

/// A fresh account (see `Moto::fresh_account`) seeded with `seed_account`: its id and credentials acting in it.
pub async fn seeded_account(moto: &Moto, regions: &[&str], mix: impl Fn(usize) -> Mix) -> Result<(String, Credentials), BoxError> {
    let (account, creds) = moto.fresh_account().await?;
    seed_account(moto, &creds, &account, regions, mix).await?;
    Ok((account, creds))
}

/// An organization with one member account: the organization, the member's id and credentials acting in it.
pub async fn org_with_one_member(moto: &Moto) -> Result<(Org, String, Credentials), BoxError> {
    let org = create_org(moto, 1).await?;
    let member = org.members[0].0.clone();
    let creds = moto.assume(&member).await?;
    Ok((org, member, creds))
}

/// A fresh account (see `Moto::fresh_account`) with the Lambda execution role: its id, credentials acting in
/// it, and the role's ARN.
pub async fn fresh_lambda_account(moto: &Moto) -> Result<(String, Credentials, String), BoxError> {
    let (account, creds) = moto.fresh_account().await?;
    let role = ensure_lambda_role(moto, &creds).await?;
    Ok((account, creds, role))
}

/// Creates an organization in a fresh management account with `n_members` accounts spread over this tree:
/// root → `prod` → `prod-eu`; root → `dev`; and some accounts directly under the root.
pub async fn create_org(moto: &Moto, n_members: usize) -> Result<Org, BoxError> {
    let (management, creds, org, id, root_id) = new_organization(moto).await?;
    let mut ous = Vec::new();
    for (name, parent_name) in [("prod", None), ("prod-eu", Some("prod")), ("dev", None)] {
        let parent = match parent_name {
            None => root_id.clone(),
            Some(p) => ous.iter().find(|o: &&(String, String, String)| o.1 == p).map(|o| o.0.clone()).ok_or("no parent OU")?,
        };
        let ou = org.create_organizational_unit().parent_id(&parent).name(name).send().await?;
        let ou_id = ou.organizational_unit().and_then(|o| o.id()).ok_or("no OU id")?.to_owned();
        ous.push((ou_id, name.to_owned(), parent));
    }
    let mut members = Vec::new();
    for i in 0..n_members {
        let st =
            org.create_account().account_name(format!("member-{i}")).email(format!("member-{i}-{management}@example.com")).send().await?;
        let account = st.create_account_status().and_then(|s| s.account_id()).ok_or("no account id")?.to_owned();
        // Spread: 0,1 prod; 2,3 prod-eu; 4,5 dev; the rest stay under the root.
        let parent = match i {
            0 | 1 => ous[0].0.clone(),
            2 | 3 => ous[1].0.clone(),
            4 | 5 => ous[2].0.clone(),
            _ => root_id.clone(),
        };
        if parent != root_id {
            org.move_account().account_id(&account).source_parent_id(&root_id).destination_parent_id(&parent).send().await?;
        }
        members.push((account, parent));
    }
    Ok(Org { id, management, management_creds: creds, root_id, ous, members })
}

/// An organization whose members sit in flat OUs `g0`, `g1`, ... of the given sizes (benchmarks select
/// N accounts as a prefix of groups with `--ou`).
pub async fn create_grouped_org(moto: &Moto, groups: &[usize]) -> Result<Org, BoxError> {
    let (management, creds, org, id, root_id) = new_organization(moto).await?;
    let mut ous = Vec::new();
    let mut members = Vec::new();
    for (g, size) in groups.iter().enumerate() {
        let ou = org.create_organizational_unit().parent_id(&root_id).name(format!("g{g}")).send().await?;
        let ou_id = ou.organizational_unit().and_then(|o| o.id()).ok_or("no OU id")?.to_owned();
        for i in 0..*size {
            let st =
                org.create_account().account_name(format!("g{g}-{i}")).email(format!("g{g}-{i}-{management}@example.com")).send().await?;
            let account = st.create_account_status().and_then(|s| s.account_id()).ok_or("no account id")?.to_owned();
            org.move_account().account_id(&account).source_parent_id(&root_id).destination_parent_id(&ou_id).send().await?;
            members.push((account, ou_id.clone()));
        }
        ous.push((ou_id, format!("g{g}"), root_id.clone()));
    }
    Ok(Org { id, management, management_creds: creds, root_id, ous, members })
}

/// Seeds every account of `org` in `regions`, a few accounts at a time; `mix(account index, region index)`
/// (index 0 is the management account). Returns what orgscan must report and each account's credentials.
pub async fn seed_org(
    moto: &Moto,
    org: &Org,
    regions: &[&str],
    mix: impl Fn(usize, usize) -> Mix + Copy,
) -> Result<(Vec<Expected>, std::collections::BTreeMap<String, Credentials>), BoxError> {
    use futures::{StreamExt, TryStreamExt, stream};
    let accounts: Vec<(usize, String)> = org.all_accounts().into_iter().enumerate().collect();
    let per_account: Vec<(String, Credentials, Vec<Expected>)> = stream::iter(accounts)
        .map(|(i, account)| async move {
            let creds = if account == org.management { org.management_creds.clone() } else { moto.assume(&account).await? };
            let e = seed_account(moto, &creds, &account, regions, |r| mix(i, r)).await?;
            Ok::<_, BoxError>((account, creds, e))
        })
        .buffer_unordered(4)
        .try_collect()
        .await?;
    let mut expected = Vec::new();
    let mut creds = std::collections::BTreeMap::new();
    for (a, c, e) in per_account {
        creds.insert(a, c);
        expected.extend(e);
    }
    Ok((expected, creds))
}
