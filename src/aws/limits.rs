//! The gate every API call passes: rate limits per (service, account, region), kept below the AWS quotas so
//! a scan never throttles the workloads that share them, and caps on calls in flight; and the one paginator
//! loop that holds a permit per page.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::model::{AccountId, Rate, Region, ScopeError, Service, Target};

/// The gate every API call passes: a rate limiter per (service, account, region), a global cap on calls in
/// flight and a cap per account.
pub struct Limits {
    limiters: HashMap<Service, DefaultKeyedRateLimiter<(AccountId, Region)>>,
    in_flight: Arc<Semaphore>,
    per_account: Mutex<HashMap<AccountId, Arc<Semaphore>>>,
    per_account_cap: usize,
    /// Rate permits granted so far (each spends one token of a budget).
    granted: AtomicU64,
    /// Pages read of one listing at most ([`MAX_PAGES`] unless set).
    max_pages: usize,
}

/// Held while one API call is in flight.
#[derive(Debug)]
pub struct Permit {
    _global: OwnedSemaphorePermit,
    _account: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").finish_non_exhaustive()
    }
}

/// Default cap on API calls in flight across the whole scan.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Default cap on API calls in flight in one account.
pub const DEFAULT_PER_ACCOUNT: usize = 16;

impl Limits {
    /// Limits from a rate function (the registry's `check::rate`); a zero is read as one.
    pub fn with_rates(rate: impl Fn(Service) -> Rate) -> Self {
        let limiters = Service::ALL
            .iter()
            .map(|&s| {
                let Rate { per_second, burst } = rate(s);
                let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(burst).unwrap_or(per_second);
                (s, RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)))
            })
            .collect();
        Self {
            limiters,
            in_flight: Arc::new(Semaphore::new(DEFAULT_CONCURRENCY)),
            per_account: Mutex::new(HashMap::new()),
            per_account_cap: DEFAULT_PER_ACCOUNT,
            granted: AtomicU64::new(0),
            max_pages: MAX_PAGES,
        }
    }

    /// Sets the caps on calls in flight (globally and per account); zero is read as one.
    pub fn with_concurrency(mut self, global: usize, per_account: usize) -> Self {
        self.in_flight = Arc::new(Semaphore::new(global.max(1)));
        self.per_account_cap = per_account.max(1);
        self
    }

    /// Sets the pages read of one listing at most (tests; the default is [`MAX_PAGES`]); zero is read as one.
    pub fn with_max_pages(mut self, max: usize) -> Self {
        self.max_pages = max.max(1);
        self
    }

    /// Waits only for the rate limit of `service` in `target`'s account and region, never for an in-flight
    /// permit: for calls made while a permit is already held by the caller, such as renewing the session that
    /// call's own request needs (waiting for a permit there would deadlock at `--concurrency 1` and starve
    /// when every session expires at once).
    pub async fn rate_only(&self, service: Service, target: &Target) {
        if let Some(l) = self.limiters.get(&service) {
            l.until_key_ready(&(target.account.clone(), target.region.clone())).await;
            self.granted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many rate permits were granted so far: each spent one token of some budget.
    pub fn permits_granted(&self) -> u64 {
        self.granted.load(Ordering::Relaxed)
    }

    /// Waits until one more request to `service` in `target`'s account and region is within budget and
    /// within the in-flight caps. Hold the permit for the duration of the call.
    pub async fn permit(&self, service: Service, target: &Target) -> Permit {
        let account = {
            let mut map = self.per_account.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(target.account.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.per_account_cap))).clone()
        };
        let account = acquire(account).await;
        self.rate_only(service, target).await;
        let global = acquire(self.in_flight.clone()).await;
        Permit { _global: global, _account: account }
    }
}

/// The permit source of one service in one target: what a paginated or single call waits on.
#[derive(Clone, Copy)]
pub struct Gate<'a> {
    limits: &'a Limits,
    service: Service,
    target: &'a Target,
}

impl Limits {
    pub fn gate<'a>(&'a self, service: Service, target: &'a Target) -> Gate<'a> {
        Gate { limits: self, service, target }
    }
}

impl Gate<'_> {
    pub async fn permit(&self) -> Permit {
        self.limits.permit(self.service, self.target).await
    }

    /// One call under a permit held until its answer is in. `call` is the call's future (an SDK `send()`),
    /// which sends nothing before it is awaited, so the request goes out only once the permit is taken.
    pub async fn call<T>(&self, call: impl Future<Output = T>) -> T {
        let _permit = self.permit().await;
        call.await
    }

    /// [`Gate::call`] of an SDK operation, its error named with `operation`.
    pub async fn send<O, E>(
        &self,
        operation: &str,
        call: impl Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    ) -> Result<O, ScopeError>
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        self.call(call).await.map_err(|e| ScopeError::from_sdk(operation, &e))
    }

    /// Every page of a paginated operation, each requested under a permit held until that page's answer is
    /// in (a paginator sends a page's request when asked for it), handed to `each`. The first error ends it,
    /// named with `operation`.
    ///
    /// One permit per request actually sent: a page without a continuation token ends the listing here,
    /// without polling the paginator once more (that last poll sends nothing, yet a permit taken for it would
    /// spend a token of the budget on every listing, halving the rate of single-page calls).
    pub async fn pages<O, E>(
        &self,
        operation: &str,
        mut pages: PaginationStream<Result<O, SdkError<E, HttpResponse>>>,
        mut each: impl FnMut(O),
    ) -> Result<(), ScopeError>
    where
        O: Page,
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let mut n = 0usize;
        loop {
            let permit = self.permit().await;
            let Some(page) = pages.next().await else { return Ok(()) };
            drop(permit);
            if n == self.limits.max_pages {
                return Err(too_many_pages(operation, n));
            }
            n += 1;
            let page = page.map_err(|e| ScopeError::from_sdk(operation, &e))?;
            let more = page.has_more();
            each(page);
            if !more {
                return Ok(());
            }
        }
    }
}

/// A page of a listing: whether it names a next page. The generated paginators ask for another page exactly
/// when the continuation token is present and not empty (smithy-rs `fn_stream` paginators, and the
/// services' API references: "If the response includes a NextToken/NextMarker, ... call again").
pub trait Page {
    fn has_more(&self) -> bool;
}

fn token_continues(token: Option<&str>) -> bool {
    token.is_some_and(|t| !t.is_empty())
}

/// `Page` for each output type listed, by the name of its continuation token.
macro_rules! pages {
    ($($ty:ty => $token:ident),* $(,)?) => {
        $(impl Page for $ty {
            fn has_more(&self) -> bool {
                token_continues(self.$token())
            }
        })*
    };
}

pages! {
    aws_sdk_organizations::operation::list_accounts::ListAccountsOutput => next_token,
    aws_sdk_organizations::operation::list_roots::ListRootsOutput => next_token,
    aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput => next_token,
    aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput => next_token,
    aws_sdk_organizations::operation::list_delegated_administrators::ListDelegatedAdministratorsOutput => next_token,
    aws_sdk_securityhub::operation::get_findings::GetFindingsOutput => next_token,
    aws_sdk_account::operation::list_regions::ListRegionsOutput => next_token,
    aws_sdk_lambda::operation::list_functions::ListFunctionsOutput => next_marker,
    aws_sdk_lambda::operation::list_aliases::ListAliasesOutput => next_marker,
    aws_sdk_lambdaweb::operation::list_web_functions::ListWebFunctionsOutput => next_token,
    aws_sdk_lambdaweb::operation::list_web_function_endpoints::ListWebFunctionEndpointsOutput => next_token,
    aws_sdk_kms::operation::list_keys::ListKeysOutput => next_marker,
    aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput => next_marker,
    aws_sdk_kms::operation::list_aliases::ListAliasesOutput => next_marker,
    aws_sdk_sagemaker::operation::list_notebook_instances::ListNotebookInstancesOutput => next_token,
    aws_sdk_sagemaker::operation::list_tags::ListTagsOutput => next_token,
}

/// Pages read of one listing at most. The SDK's paginators stop on a repeated token, not on an endpoint that
/// sends a new token with every page, and `--call-timeout` bounds one attempt, not a listing: this bounds it.
/// Far above any real listing (ListAccounts gives 20 accounts a page, so 10,000 pages are 200,000 accounts;
/// GetFindings' 100 a page are a million findings).
pub const MAX_PAGES: usize = 10_000;

/// The error of a listing cut after `pages` pages, naming the operation.
fn too_many_pages(operation: &str, pages: usize) -> ScopeError {
    ScopeError::new(
        "TooManyPages",
        format!("{operation} sent a next token on each of {pages} pages; the listing was stopped there (an endpoint that never ends)"),
    )
}

async fn acquire(sem: Arc<Semaphore>) -> OwnedSemaphorePermit {
    loop {
        // `acquire_owned` fails only on a closed semaphore; orgscan never closes them.
        if let Ok(p) = sem.clone().acquire_owned().await {
            return p;
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing of one page sends one request and spends one token; of two pages, two.
    #[tokio::test]
    async fn a_listing_spends_one_permit_per_request_sent() {
        use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
        use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
        let target = Target::new("111111111111".parse().unwrap(), "us-east-1".parse().unwrap());
        for pages in [1usize, 2] {
            let rules: Vec<_> = (0..pages)
                .map(|i| {
                    let token = (i + 1 < pages).then(|| format!("t{i}"));
                    mock!(aws_sdk_organizations::Client::list_roots)
                        .then_output(move || ListRootsOutput::builder().set_next_token(token.clone()).build())
                })
                .collect();
            let interceptor = rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::Sequential), |i, r| i.with_rule(r));
            let conf = aws_sdk_organizations::Config::builder()
                .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
                .region(aws_sdk_organizations::config::Region::new("us-east-1"))
                .credentials_provider(aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test"))
                .http_client(create_mock_http_client())
                .interceptor(interceptor)
                .build();
            let client = aws_sdk_organizations::Client::from_conf(conf);
            let limits = Limits::with_rates(|_| Rate::new(100, 100));
            let mut seen = 0;
            limits
                .gate(Service::Organizations, &target)
                .pages("ListRoots", client.list_roots().into_paginator().send(), |_| seen += 1)
                .await
                .unwrap();
            assert_eq!(seen, pages);
            assert_eq!(limits.permits_granted(), pages as u64, "{pages} page(s)");
            assert!(rules.iter().all(|r| r.num_calls() == 1));
        }
    }

    #[test]
    fn budgets_are_separate_per_account_and_region() {
        let limits = Limits::with_rates(|_| Rate::new(1, 1));
        let l = &limits.limiters[&Service::Lambda];
        let a = ("111111111111".parse().unwrap(), "eu-west-1".parse().unwrap());
        let b = ("222222222222".parse().unwrap(), "eu-west-1".parse().unwrap());
        assert!(l.check_key(&a).is_ok());
        assert!(l.check_key(&a).is_err(), "burst of one is spent");
        assert!(l.check_key(&b).is_ok(), "another account has its own budget");
    }
}
