//! Rate limits per (account, region, service), kept below the AWS quotas so a scan never throttles the
//! workloads that share those quotas.

use std::collections::HashMap;
use std::num::NonZeroU32;

use std::sync::{Arc, Mutex, PoisonError};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::target::{AccountId, Region, Target};

/// An AWS service orgscan calls; each has its own request budget per account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Sts,
    Organizations,
    Account,
    OpenSearch,
    SageMaker,
    Lambda,
    Kms,
    GuardDuty,
    /// Security Hub `BatchImportFindings` (10/s, burst 30 per account and region).
    SecurityHub,
    /// Security Hub `GetFindings` (3/s per account and region).
    SecurityHubRead,
}

impl Service {
    pub const ALL: [Service; 10] = [
        Service::Sts,
        Service::Organizations,
        Service::Account,
        Service::OpenSearch,
        Service::SageMaker,
        Service::Lambda,
        Service::Kms,
        Service::GuardDuty,
        Service::SecurityHub,
        Service::SecurityHubRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::Organizations => "organizations",
            Service::Account => "account",
            Service::OpenSearch => "opensearch",
            Service::SageMaker => "sagemaker",
            Service::Lambda => "lambda",
            Service::Kms => "kms",
            Service::GuardDuty => "guardduty",
            Service::SecurityHub | Service::SecurityHubRead => "securityhub",
        }
    }

    /// The SDK's service id, as `AWS_ENDPOINT_URL_<ID>` spells it (upper-cased, spaces as underscores).
    pub fn sdk_id(self) -> &'static str {
        match self {
            Service::Sts => "STS",
            Service::Organizations => "Organizations",
            Service::Account => "Account",
            Service::OpenSearch => "OpenSearch",
            Service::SageMaker => "SageMaker",
            Service::Lambda => "Lambda",
            Service::Kms => "KMS",
            Service::GuardDuty => "GuardDuty",
            Service::SecurityHub | Service::SecurityHubRead => "SecurityHub",
        }
    }

    /// The first label of the service's regional endpoint host (`https://<prefix>.<region>.amazonaws.com`).
    pub fn endpoint_prefix(self) -> &'static str {
        match self {
            Service::OpenSearch => "es",
            Service::SageMaker => "api.sagemaker",
            other => other.as_str(),
        }
    }

    /// Default (requests per second, burst) per account and region: below the published quotas, which the
    /// account's own workloads share with us.
    pub fn default_rate(self) -> (u32, u32) {
        match self {
            // AssumeRole and GetCallerIdentity: 600/s per account; we make one call per member account.
            Service::Sts => (50, 50),
            // Organizations throttles at a few requests per second per organization.
            Service::Organizations => (5, 5),
            Service::Account => (5, 5),
            // OpenSearch configuration API: no published per-call quota; stay modest.
            Service::OpenSearch => (10, 10),
            // SageMaker List*/Describe*: conservative share of the account's control-plane budget.
            Service::SageMaker => (10, 10),
            // Lambda control plane: 15 requests/s per account and region, not adjustable, shared with deploys.
            Service::Lambda => (8, 8),
            // KMS: ListKeys 500/s, DescribeKey 2,000/s (shared with cryptographic workloads' management calls).
            Service::Kms => (100, 100),
            Service::GuardDuty => (10, 10),
            Service::SecurityHub => (10, 30),
            Service::SecurityHubRead => (3, 3),
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gate every API call passes: a rate limiter per (service, account, region), a global cap on calls in
/// flight and a cap per account.
pub struct Limits {
    limiters: HashMap<Service, DefaultKeyedRateLimiter<(AccountId, Region)>>,
    in_flight: Arc<Semaphore>,
    per_account: Mutex<HashMap<AccountId, Arc<Semaphore>>>,
    per_account_cap: usize,
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

impl Default for Limits {
    fn default() -> Self {
        Self::with_rates(|s| s.default_rate())
    }
}

impl Limits {
    /// Limits from a rate function (requests per second, burst); a zero is read as one.
    pub fn with_rates(rate: impl Fn(Service) -> (u32, u32)) -> Self {
        let limiters = Service::ALL
            .iter()
            .map(|&s| {
                let (per_second, burst) = rate(s);
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
        }
    }

    /// Sets the caps on calls in flight (globally and per account); zero is read as one.
    pub fn with_concurrency(mut self, global: usize, per_account: usize) -> Self {
        self.in_flight = Arc::new(Semaphore::new(global.max(1)));
        self.per_account_cap = per_account.max(1);
        self
    }

    /// Waits until one more request to `service` in `target`'s account and region is within budget and
    /// within the in-flight caps. Hold the permit for the duration of the call.
    pub async fn permit(&self, service: Service, target: &Target) -> Permit {
        let account = {
            let mut map = self.per_account.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(target.account.clone()).or_insert_with(|| Arc::new(Semaphore::new(self.per_account_cap))).clone()
        };
        let account = acquire(account).await;
        if let Some(l) = self.limiters.get(&service) {
            l.until_key_ready(&(target.account.clone(), target.region.clone())).await;
        }
        let global = acquire(self.in_flight.clone()).await;
        Permit { _global: global, _account: account }
    }
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

    #[test]
    fn defaults_stay_below_the_lambda_and_security_hub_quotas() {
        let (lambda, lambda_burst) = Service::Lambda.default_rate();
        assert!(lambda < 15 && lambda_burst < 15);
        assert_eq!(Service::SecurityHub.default_rate(), (10, 30));
        assert!(Service::SecurityHubRead.default_rate().0 <= 3);
    }

    #[test]
    fn budgets_are_separate_per_account_and_region() {
        let limits = Limits::with_rates(|_| (1, 1));
        let l = &limits.limiters[&Service::Lambda];
        let a = ("111111111111".parse().unwrap(), "eu-west-1".parse().unwrap());
        let b = ("222222222222".parse().unwrap(), "eu-west-1".parse().unwrap());
        assert!(l.check_key(&a).is_ok());
        assert!(l.check_key(&a).is_err(), "burst of one is spent");
        assert!(l.check_key(&b).is_ok(), "another account has its own budget");
    }
}
