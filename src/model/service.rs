//! The service catalogue: every AWS service orgscan calls, how the SDK and the endpoints name it, and the
//! request budgets of the services that no check owns (the walker's and the Security Hub sink's). A check
//! declares the budget of its own service in its file (`CheckInfo::rate`).

use serde::Serialize;

/// Requests per second and burst, per account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second, burst }
    }

    /// The budget of a service nobody declared one for: small enough for any AWS control plane.
    pub const FALLBACK: Rate = Rate::new(5, 5);

    /// The stricter of two budgets (two checks on one service share its quota).
    pub fn min(self, other: Rate) -> Rate {
        Rate { per_second: self.per_second.min(other.per_second), burst: self.burst.min(other.burst) }
    }
}

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
    /// The Lambda Web API (Lambda Web Functions): its own SDK and budget, authorized under `lambda:`.
    LambdaWeb,
    Kms,
    GuardDuty,
    /// Security Hub `BatchImportFindings` (10/s, burst 30 per account and region).
    SecurityHub,
    /// Security Hub `GetFindings` (3/s per account and region).
    SecurityHubRead,
}

impl Service {
    pub const ALL: [Service; 11] = [
        Service::Sts,
        Service::Organizations,
        Service::Account,
        Service::OpenSearch,
        Service::SageMaker,
        Service::Lambda,
        Service::LambdaWeb,
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
            Service::LambdaWeb => "lambda-web",
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
            Service::LambdaWeb => "Lambda Web",
            Service::Kms => "KMS",
            Service::GuardDuty => "GuardDuty",
            Service::SecurityHub | Service::SecurityHubRead => "SecurityHub",
        }
    }

    /// The service's prefix in IAM actions (the OpenSearch Service API is authorized under the legacy `es:`,
    /// the Lambda Web API under `lambda:`, e.g. `lambda:ListWebFunctions`).
    pub fn iam_prefix(self) -> &'static str {
        match self {
            Service::OpenSearch => "es",
            Service::LambdaWeb => "lambda",
            other => other.as_str(),
        }
    }

    /// The first label of the service's regional endpoint host (`https://<prefix>.<region>.amazonaws.com`).
    /// The Lambda Web API shares Lambda's host (botocore's `lambda-web` model: `endpointPrefix` `lambda`).
    pub fn endpoint_prefix(self) -> &'static str {
        match self {
            Service::OpenSearch => "es",
            Service::LambdaWeb => "lambda",
            Service::SageMaker => "api.sagemaker",
            other => other.as_str(),
        }
    }

    /// The budget of a service no check owns, per account and region: below the published quotas, which
    /// the account's own workloads share with us. `None` for the checks' services, whose files declare it.
    pub fn own_rate(self) -> Option<Rate> {
        match self {
            // AWS publishes no request rate for STS or Organizations: "IAM and AWS STS quotas" (IAM User Guide)
            // and "Quotas and service limits for AWS Organizations" list sizes and counts only, and the
            // throttling answers (STS `Throttling: Rate exceeded`, Organizations `TooManyRequestsException`: "too
            // many requests in too short a period") name no number. These budgets are the scanning account's,
            // shared with whatever else runs there, so they are chosen below what such accounts are seen to
            // sustain: STS one AssumeRole per member account, 50/s (1,000 accounts' roles in 20 s, off the
            // critical path since the scan takes each account as its role is ready); Organizations 5/s, burst 5
            // (one organization-wide budget; the account listing and the OU tree are its only callers).
            Service::Sts => Some(Rate::new(50, 50)),
            Service::Organizations => Some(Rate::new(5, 5)),
            // Account `ListRegions`: "5 per second, burst to 5 per second" per account (Quotas for AWS Account
            // Management, https://docs.aws.amazon.com/accounts/latest/reference/quotas.html): exactly the quota.
            Service::Account => Some(Rate::new(5, 5)),
            // BatchImportFindings: 10/s, burst 30; GetFindings: 3/s (Security Hub API reference, quotas).
            Service::SecurityHub => Some(Rate::new(10, 30)),
            Service::SecurityHubRead => Some(Rate::new(3, 3)),
            // The Lambda Web API publishes no request rate ("AWS Lambda Web API Reference"; its
            // `GetWebAccountSettings` quotas are sizes and the endpoints' invoke rate). It is served on Lambda's
            // own host, so this budget assumes it shares Lambda's control-plane quota (15 requests/s per account
            // and region, not adjustable): with the Lambda check's 8/s the two stay at 13/s, below it.
            Service::LambdaWeb => Some(Rate::new(5, 5)),
            Service::OpenSearch | Service::SageMaker | Service::Lambda | Service::Kms | Service::GuardDuty => None,
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
