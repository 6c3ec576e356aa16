//! Errors as data: what went wrong in one scope, with the AWS error code.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A failure that covers one scope (a check in a target, a region, or an account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError {
    /// The AWS error code (`AccessDeniedException`, `ThrottlingException`, ...) or one of orgscan's own:
    /// `DispatchFailure`, `TimeoutError`, `ResponseError`, `Unhandled`, `Internal`.
    pub code: String,
    pub message: String,
    /// A failure that may pass (throttling after every retry, HTTP 5xx, a timeout, a dropped connection):
    /// at start-up it is exit code 6, not a bad invocation.
    pub transient: bool,
}

/// Codes with which a region the account has not enabled rejects the credentials.
/// (AWS General Reference, "Enable or disable AWS Regions in your account".)
/// `InvalidSignatureException` is not among them: it means a wrong secret or a skewed clock.
const NOT_ENABLED_CODES: &[&str] = &["UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"];

/// Codes of failures that may pass: throttling (after the SDK's retries), AWS's own 5xx codes, and the SDK's
/// network failures.
fn transient_code(code: &str) -> bool {
    is_throttling_code(code)
        || matches!(
            code,
            "TimeoutError"
                | "DispatchFailure"
                | "InternalFailure"
                | "InternalError"
                | "InternalServerError"
                | "InternalServerException"
                | "InternalException"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "RequestTimeout"
                | "RequestTimeoutException"
        )
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether an AWS error code means throttling.
pub fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

impl ScopeError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        let transient = transient_code(&code);
        Self { code, message: message.into(), transient }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("Internal", message)
    }

    /// Reads the code and message of any SDK error without losing the cause chain.
    pub fn from_sdk<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let status = match err {
            SdkError::ServiceError(se) => Some(se.raw().status().as_u16()),
            SdkError::ResponseError(re) => Some(re.raw().status().as_u16()),
            _ => None,
        };
        let (code, message) = match err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let code = e.code().unwrap_or("Unhandled").to_owned();
                let message = match e.message() {
                    Some(m) => m.to_owned(),
                    None => first_line(&chain(e)),
                };
                (code, message)
            }
            SdkError::TimeoutError(_) => ("TimeoutError".to_owned(), chain(err)),
            SdkError::DispatchFailure(_) => {
                let message = chain(err);
                // The SDK resolves credentials lazily: a chain that finds none surfaces as a dispatch failure.
                let code = if message.contains("while loading credentials") || message.contains("no credentials found") {
                    "CredentialsNotLoaded"
                } else {
                    "DispatchFailure"
                };
                (code.to_owned(), message)
            }
            SdkError::ResponseError(_) => ("ResponseError".to_owned(), chain(err)),
            SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_owned(), chain(err)),
            _ => ("Unhandled".to_owned(), chain(err)),
        };
        let transient = transient_code(&code) || status.is_some_and(|s| s == 429 || s >= 500);
        Self { code, message: format!("{operation}: {message}"), transient }
    }

    /// The request's signature was refused because of its time: the clock of this machine is off by more
    /// than AWS allows ("Signature expired: ... is now earlier than ...", "Signature not yet current",
    /// `RequestTimeTooSkewed`, `RequestExpired`; AWS Common Errors). Never a "region not enabled".
    pub fn is_clock_skew(&self) -> bool {
        matches!(self.code.as_str(), "RequestTimeTooSkewed")
            || self.message.contains("Signature expired")
            || self.message.contains("Signature not yet current")
    }

    /// Whether the error means "this region is not enabled for the account" (only meaningful for opt-in regions).
    pub fn is_region_not_enabled(&self) -> bool {
        NOT_ENABLED_CODES.contains(&self.code.as_str()) && !self.is_clock_skew()
    }

    /// The session's credentials have expired (STS `ExpiredToken`, `ExpiredTokenException`, `RequestExpired`).
    pub fn is_expired_token(&self) -> bool {
        matches!(self.code.as_str(), "ExpiredToken" | "ExpiredTokenException" | "RequestExpired")
    }

    pub fn is_throttling(&self) -> bool {
        is_throttling_code(&self.code)
    }

    /// An explicit deny in a service control policy. AWS words every SCP denial "... with an explicit deny
    /// in a service control policy" (IAM User Guide, "Troubleshoot access denied error messages": "When an
    /// SCP denies access, the error message always includes the phrase ... explicit deny in a Service
    /// Control Policy, even if the denial is implicit"); newer messages append the policy ARN. Any other
    /// deny (identity-based policy, permissions boundary, session policy, resource policy) is not one.
    pub fn is_scp_deny(&self) -> bool {
        self.code.contains("AccessDenied") && self.message.to_ascii_lowercase().contains("explicit deny in a service control policy")
    }

    /// The IAM action an access-denied message names (`... is not authorized to perform: lambda:ListFunctions
    /// on resource: ...`).
    pub fn denied_action(&self) -> Option<&str> {
        let rest = self.message.split("not authorized to perform: ").nth(1)?;
        let action = rest.split(|c: char| c.is_whitespace() || c == ',').next()?;
        action.contains(':').then_some(action)
    }
}

/// The error and its causes, by their `Display` only (the SDK's `Debug` output is long and carries raw
/// responses), de-duplicated where a layer repeats its cause.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !s.is_empty() && !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(500).collect()
}

impl std::fmt::Display for ScopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_denies_are_told_apart_from_other_denies_and_name_their_action() {
        let scp = ScopeError::new(
            "AccessDeniedException",
            "ListFunctions: User: arn:aws:sts::111111111111:assumed-role/OrgScanAudit/s is not authorized to perform: \
             lambda:ListFunctions on resource: * with an explicit deny in a service control policy: arn:aws:organizations::1:policy/p",
        );
        assert!(scp.is_scp_deny());
        assert_eq!(scp.denied_action(), Some("lambda:ListFunctions"));
        let old_wording = ScopeError::new("AccessDenied", "User is not authorized ... due to an explicit deny in a Service Control Policy");
        assert!(old_wording.is_scp_deny());
        for other in [
            "with an explicit deny in an identity-based policy",
            "because no identity-based policy allows the lambda:ListFunctions action",
            "with an explicit deny in a permissions boundary",
            "because no resource-based policy allows the kms:DescribeKey action",
        ] {
            let e = ScopeError::new(
                "AccessDeniedException",
                format!("User: x is not authorized to perform: kms:DescribeKey on resource: k {other}"),
            );
            assert!(!e.is_scp_deny(), "{other}");
            assert_eq!(e.denied_action(), Some("kms:DescribeKey"));
        }
        assert!(!ScopeError::new("ThrottlingException", "explicit deny in a service control policy").is_scp_deny());
        assert_eq!(ScopeError::new("AccessDeniedException", "Access denied").denied_action(), None);
    }
}
