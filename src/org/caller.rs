//! Who is calling: the caller's identity and partition, and the region central calls use.

use super::WalkError;
use crate::aws::ClientFactory;
use crate::model::target::UNSUPPORTED_PARTITIONS;
use crate::model::{AccountId, Partition, Region, ScopeError, Target};

/// The identity orgscan runs as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountId,
    pub partition: Partition,
    pub arn: String,
}

impl Caller {
    pub fn central_target(&self, factory: &ClientFactory) -> Target {
        Target::new(self.account.clone(), factory.home_region())
    }
}

/// STS `GetCallerIdentity` with the ambient credentials, and the region central calls then use.
///
/// With a configured region, that region. Without one, the credentials are tried at the central endpoint of
/// each partition (commercial first): keys are valid in exactly one partition, and the others reject them with
/// `InvalidClientTokenId`, so GovCloud, China and European Sovereign Cloud credentials find their home region
/// instead of failing against us-east-1 with a misleading "invalid token".
pub async fn whoami(factory: &ClientFactory) -> Result<(Caller, Region), WalkError> {
    let configured = factory.configured_region();
    let candidates: Vec<Region> = match &configured {
        Some(r) => vec![r.clone()],
        None => Partition::ALL.iter().map(|p| p.home_region()).collect(),
    };
    let mut first: Option<ScopeError> = None;
    for region in &candidates {
        // One call, before the caller's account (the key of the central rate limits) is known: not rate limited.
        match factory.ambient_clients_in(region).sts().get_caller_identity().send().await {
            Ok(out) => return Ok((caller_of(out.account(), out.arn())?, region.clone())),
            Err(e) => {
                let e = ScopeError::from_sdk("GetCallerIdentity", &e);
                let other_partition = matches!(e.code.as_str(), "InvalidClientTokenId" | "UnrecognizedClientException");
                if configured.is_none() && other_partition {
                    first.get_or_insert(e);
                    continue;
                }
                return Err(start_error(factory, e, configured.as_ref()));
            }
        }
    }
    let e = first.unwrap_or_else(|| ScopeError::internal("no partition to try"));
    Err(start_error(factory, e, configured.as_ref()))
}

fn start_error(factory: &ClientFactory, e: ScopeError, configured: Option<&Region>) -> WalkError {
    if matches!(e.code.as_str(), "DispatchFailure" | "TimeoutError") {
        return WalkError::Unreachable { endpoint: factory.endpoint_description(), error: e };
    }
    if e.transient {
        return WalkError::Transient(e);
    }
    if let Some(r) = configured
        && matches!(e.code.as_str(), "InvalidClientTokenId" | "UnrecognizedClientException")
    {
        let hint = format!(
            " (AWS_REGION is {r}, in partition {}: credentials of another partition are rejected there; set AWS_REGION to a region of theirs)",
            r.partition()
        );
        return WalkError::Credentials(ScopeError { message: format!("{}{hint}", e.message), ..e });
    }
    WalkError::Credentials(e)
}

fn caller_of(account: Option<&str>, arn: Option<&str>) -> Result<Caller, WalkError> {
    let bad = |what: &str| WalkError::Credentials(ScopeError::new("ResponseError", format!("GetCallerIdentity returned {what}")));
    let account: AccountId = account.ok_or_else(|| bad("no account"))?.parse().map_err(|_| bad("a malformed account id"))?;
    let arn = arn.ok_or_else(|| bad("no ARN"))?.to_owned();
    let name = arn.split(':').nth(1).unwrap_or_default();
    if UNSUPPORTED_PARTITIONS.contains(&name) {
        return Err(WalkError::UnsupportedPartition(name.to_owned()));
    }
    let partition = Partition::from_arn(&arn).ok_or_else(|| bad("an ARN of an unknown partition"))?;
    Ok(Caller { account, partition, arn })
}

impl Caller {
    /// Whether the caller holds role credentials: then every AssumeRole it makes is role chaining, which
    /// caps sessions at one hour ("When you use role chaining, your new credentials are limited to a maximum
    /// duration of one hour", IAM User Guide, "Role chaining"; DurationSeconds above it fails the call).
    pub fn is_assumed_role(&self) -> bool {
        self.arn.split(':').nth(5).is_some_and(|r| r.starts_with("assumed-role/"))
    }
}
