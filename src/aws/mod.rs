//! The one place that builds SDK configurations and clients, and the machinery every call goes through:
//! rate limits and the paginator loop (`limits`), call accounting (`stats`), assumed-role sessions
//! (`credentials`).
//!
//! The endpoint override (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), retries, timeouts, the HTTP
//! client and the interceptors (call accounting, test mocks) are decided here and nowhere else.

pub mod bounded;
pub mod credentials;
pub mod limits;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::identity::IdentityCache;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime::client::retries::RetryPartition;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction, RetryClassifierPriority};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region as SdkRegion;
use aws_types::service_config::ServiceConfigKey;

use self::credentials::{AssumeRoleCredentials, SharedAssumeRole};
use self::stats::CallStats;
use crate::model::{AccountId, Partition, Region, Service};

/// How the SDK retries and times out; set from the CLI.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Attempts per call, first one included (SDK standard retry mode: exponential backoff with jitter).
    pub max_attempts: u32,
    /// Upper bound of one attempt, so a hung endpoint cannot hang the scan.
    pub attempt_timeout: Duration,
    /// Upper bound of one call including its retries.
    pub operation_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(90),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Builds every SDK client orgscan uses. Cheap to clone.
#[derive(Clone)]
pub struct ClientFactory {
    base: SdkConfig,
    interceptors: Vec<SharedInterceptor>,
    stats: Arc<CallStats>,
    /// Where central calls go once the caller's partition is known (see `with_home_region`).
    home: Option<Region>,
}

impl std::fmt::Debug for ClientFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the SdkConfig: it holds the credentials provider.
        f.debug_struct("ClientFactory").field("interceptors", &self.interceptors.len()).finish_non_exhaustive()
    }
}

impl ClientFactory {
    /// Loads the ambient configuration (standard credential chain, region, endpoint overrides from the
    /// environment) with orgscan's HTTP client, retry and timeout settings.
    pub async fn from_env(opts: &AwsOptions) -> Self {
        let http = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(opts.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(opts.connect_timeout)
                    .operation_attempt_timeout(opts.attempt_timeout)
                    .operation_timeout(opts.operation_timeout)
                    .build(),
            );
        let base = loader.load().await;
        Self::from_sdk_config(base)
    }

    /// Wraps an existing configuration (tests and benchmarks build theirs).
    pub fn from_sdk_config(base: SdkConfig) -> Self {
        let stats = Arc::new(CallStats::default());
        let interceptors = vec![SharedInterceptor::new(stats.interceptor()), SharedInterceptor::new(bounded::BoundedResponses::default())];
        Self { base, interceptors, stats, home: None }
    }

    /// Adds an interceptor to every client built from now on (aws-smithy-mocks rules in tests).
    pub fn with_interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.interceptors.push(SharedInterceptor::new(interceptor));
        self
    }

    pub fn stats(&self) -> &Arc<CallStats> {
        &self.stats
    }

    /// Where requests go, for error messages: the endpoint override, or AWS's own endpoints.
    pub fn endpoint_description(&self) -> String {
        match self.base.endpoint_url() {
            Some(u) => u.to_owned(),
            None => "the AWS service endpoints of each region".to_owned(),
        }
    }

    /// The caller's own credentials, from the standard chain.
    pub fn ambient_credentials(&self) -> Option<SharedCredentialsProvider> {
        self.base.credentials_provider()
    }

    /// The region the environment configures (`AWS_REGION`, the profile), if any.
    pub fn configured_region(&self) -> Option<Region> {
        self.base.region().and_then(|r| r.as_ref().parse().ok())
    }

    /// The region central calls (STS, Organizations, region discovery) use: the one set once the caller's
    /// partition is known, else the configured one, else `us-east-1`.
    pub fn home_region(&self) -> Region {
        self.home.clone().or_else(|| self.configured_region()).unwrap_or_else(|| Partition::Aws.home_region())
    }

    /// The same factory (same statistics and interceptors) with central calls in `region`.
    pub fn with_home_region(mut self, region: Region) -> Self {
        self.home = Some(region);
        self
    }

    /// Clients for one account in one region. `account_config` comes from [`Self::account_config`], so all
    /// clients of an account share its credentials provider and identity cache.
    pub fn clients(&self, account_config: &AccountConfig, region: &Region) -> Clients {
        let sdk = account_config.sdk.as_ref().to_builder().region(SdkRegion::new(region.as_str().to_owned())).build();
        Clients { sdk, partition_key: format!("{}/{}", account_config.account, region), interceptors: self.interceptors.clone() }
    }

    /// The configuration of one account: its credentials provider behind an identity cache of its own.
    ///
    /// The SDK's default identity cache is shared and holds 64 partitions; with hundreds of accounts that
    /// would evict and re-assume roles constantly, so each account gets a cache sized for its one provider.
    /// Credentials are refreshed `refresh_before` ahead of their expiry, so long scans never see `ExpiredToken`.
    pub fn account_config(&self, account: &AccountId, credentials: SharedCredentialsProvider) -> AccountConfig {
        let cache = IdentityCache::lazy().buffer_time(Duration::from_secs(300)).build();
        let sdk = self.base.to_builder().credentials_provider(credentials).identity_cache(cache).build();
        AccountConfig { account: account.clone(), sdk: Arc::new(sdk), assumed: None }
    }

    /// The configuration of a member account reached through an assumed role. The provider caches and
    /// renews its session itself (and can be told to forget it after an `ExpiredToken`), so no SDK identity
    /// cache sits in front of it.
    pub fn assumed_account_config(&self, account: &AccountId, provider: Arc<AssumeRoleCredentials>) -> AccountConfig {
        let sdk = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(SharedAssumeRole(provider.clone())))
            .identity_cache(IdentityCache::no_cache())
            .build();
        AccountConfig { account: account.clone(), sdk: Arc::new(sdk), assumed: Some(provider) }
    }

    /// Clients for the scanning account itself, in its home region.
    pub fn central_clients(&self, caller: &AccountId) -> Option<Clients> {
        let creds = self.ambient_credentials()?;
        Some(self.clients(&self.account_config(caller, creds), &self.home_region()))
    }

    /// Clients with the ambient credentials in `region`, before the caller's account id is known.
    pub fn ambient_clients_in(&self, region: &Region) -> Clients {
        let region = region.clone();
        Clients {
            sdk: self.base.to_builder().region(SdkRegion::new(region.as_str().to_owned())).build(),
            partition_key: format!("caller/{region}"),
            interceptors: self.interceptors.clone(),
        }
    }
}

/// One account's SDK configuration (credentials and identity cache).
#[derive(Clone)]
pub struct AccountConfig {
    pub account: AccountId,
    sdk: Arc<SdkConfig>,
    assumed: Option<Arc<AssumeRoleCredentials>>,
}

impl AccountConfig {
    /// After an `ExpiredToken`: makes the next call assume the role again. Returns false for the caller's
    /// own credentials, which the SDK's chain renews by itself.
    pub fn invalidate_credentials(&self) -> bool {
        match &self.assumed {
            Some(p) => {
                p.invalidate();
                true
            }
            None => false,
        }
    }
}

/// Clients for one (account, region). Each client gets a retry partition of its own (account, region,
/// service), so a throttled account does not drain the retry budget of the others: the SDK otherwise shares
/// one token bucket per service and region across the whole process.
#[derive(Clone)]
pub struct Clients {
    sdk: SdkConfig,
    partition_key: String,
    interceptors: Vec<SharedInterceptor>,
}

/// HTTP 429 (Too Many Requests) is throttling, whatever the body says: the SDK's own classifiers need an
/// error code in the body or a 5xx status, so a bare 429 from a proxy or gateway would not be retried.
#[derive(Debug)]
struct TooManyRequests;

impl ClassifyRetry for TooManyRequests {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if r.status().as_u16() == 429 => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "orgscan::TooManyRequests"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// One method per service, `name: sdk_crate => "retry partition name"`: the service's client on the shared
/// configuration, with its own retry partition and every interceptor.
macro_rules! clients {
    ($($name:ident: $krate:ident => $service:literal,)*) => {$(
        pub fn $name(&self) -> $krate::Client {
            let mut b = $krate::config::Builder::from(&self.sdk)
                .retry_partition(RetryPartition::new(format!("{}/{}", self.partition_key, $service)))
                .retry_classifier(TooManyRequests);
            for i in &self.interceptors {
                b.push_interceptor(i.clone());
            }
            $krate::Client::from_conf(b.build())
        }
    )*};
}

impl Clients {
    /// Where this service's calls go, for error messages: the endpoint override (`AWS_ENDPOINT_URL_<SERVICE>`,
    /// then `AWS_ENDPOINT_URL`, as the SDK resolves them), else the service's regional AWS endpoint.
    pub fn endpoint(&self, service: Service) -> String {
        let key = ServiceConfigKey::builder().service_id(service.sdk_id()).env("AWS_ENDPOINT_URL").profile("endpoint_url").build().ok();
        let specific = key.and_then(|k| self.sdk.service_config().and_then(|c| c.load_config(k)));
        match specific.or_else(|| self.sdk.endpoint_url().map(str::to_owned)) {
            Some(url) => url,
            None => {
                let region = self.sdk.region().map(|r| r.as_ref().to_owned()).unwrap_or_default();
                let suffix = region.parse::<Region>().map_or("amazonaws.com", |r| r.partition().dns_suffix());
                format!("https://{}.{region}.{suffix}", service.endpoint_prefix())
            }
        }
    }

    clients! {
        sts: aws_sdk_sts => "sts",
        account: aws_sdk_account => "account",
        organizations: aws_sdk_organizations => "organizations",
        opensearch: aws_sdk_opensearch => "opensearch",
        sagemaker: aws_sdk_sagemaker => "sagemaker",
        lambda: aws_sdk_lambda => "lambda",
        lambdaweb: aws_sdk_lambdaweb => "lambda-web",
        kms: aws_sdk_kms => "kms",
        guardduty: aws_sdk_guardduty => "guardduty",
        securityhub: aws_sdk_securityhub => "securityhub",
        s3: aws_sdk_s3 => "s3",
        sns: aws_sdk_sns => "sns",
    }
}

/// The HTTP connector for what is not an AWS API (a notification webhook): the SDK's own hyper and rustls
/// stack, with orgscan's TLS provider and timeouts.
pub fn https_connector(timeout: Duration) -> aws_smithy_http_client::Connector {
    let settings = aws_smithy_runtime_api::client::http::HttpConnectorSettings::builder()
        .connect_timeout(AwsOptions::default().connect_timeout)
        .read_timeout(timeout)
        .build();
    aws_smithy_http_client::Connector::builder()
        .connector_settings(settings)
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build()
}
