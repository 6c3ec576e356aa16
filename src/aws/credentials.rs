//! One credentials provider per member account: STS `AssumeRole` into the audit role, refreshed before
//! the session expires.
//!
//! The SDK's `AssumeRoleProvider` builds its own STS client, out of reach of orgscan's rate limits,
//! call accounting and test interceptors, and does not cache; this provider uses orgscan's STS client and
//! sits behind the per-account identity cache built in `src/aws/mod.rs`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};

use super::limits::Limits;
use crate::model::{ScopeError, Service, Target};

/// Credentials closer than this to expiry are not handed out again; each session adds a jitter of up to
/// `REFRESH_JITTER` of its own, so sessions assumed together are not all renewed at once.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const REFRESH_JITTER: Duration = Duration::from_secs(240);

/// The session to ask STS for.
#[derive(Clone)]
pub struct Session {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
    pub duration: Duration,
}

pub struct AssumeRoleCredentials {
    sts: aws_sdk_sts::Client,
    session: Session,
    limits: Arc<Limits>,
    /// The scanning account in its home region: the key of the STS rate limit.
    central: Target,
    current: Mutex<Option<Credentials>>,
    /// This session's renewal margin: `REFRESH_MARGIN` plus its share of `REFRESH_JITTER` (from the role ARN).
    margin: Duration,
    /// Single flight: when the session nears expiry, one caller renews it and the others wait for that.
    renewing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AssumeRoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the external id nor the credentials are printed.
        f.debug_struct("AssumeRoleCredentials").field("role_arn", &self.session.role_arn).finish_non_exhaustive()
    }
}

impl AssumeRoleCredentials {
    pub fn new(sts: aws_sdk_sts::Client, session: Session, limits: Arc<Limits>, central: Target) -> Self {
        Self {
            margin: renewal_margin(&session.role_arn, session.duration),
            sts,
            session,
            limits,
            central,
            current: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn role_arn(&self) -> &str {
        &self.session.role_arn
    }

    /// Assumes the role now, so an account whose role cannot be assumed fails once, up front, with the
    /// STS error; the credentials are kept for the first use.
    pub async fn prime(&self) -> Result<(), ScopeError> {
        let creds = self.assume().await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(creds);
        Ok(())
    }

    async fn assume(&self) -> Result<Credentials, ScopeError> {
        // The STS rate limit only: a renewal runs inside a call that already holds an in-flight permit.
        self.limits.rate_only(Service::Sts, &self.central).await;
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.session.role_arn)
            .role_session_name(&self.session.session_name)
            .set_external_id(self.session.external_id.clone())
            .duration_seconds(i32::try_from(self.session.duration.as_secs()).unwrap_or(3600))
            .send()
            .await
            .map_err(|e| {
                let e = ScopeError::from_sdk("AssumeRole", &e);
                ScopeError::new(e.code, format!("cannot assume {}: {}", self.session.role_arn, e.message))
            })?;
        let c = out.credentials().ok_or_else(|| {
            ScopeError::new("ResponseError", format!("AssumeRole {}: no credentials in the answer", self.session.role_arn))
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), expiry, "orgscan-assume-role"))
    }

    /// Forgets the current session, so the next call assumes the role again (after an `ExpiredToken`).
    pub fn invalidate(&self) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn usable(&self) -> Option<Credentials> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| c.expiry().is_none_or(|e| e > SystemTime::now() + self.margin)).cloned()
    }

    async fn provide(&self) -> provider::Result {
        if let Some(c) = self.usable() {
            return Ok(c);
        }
        let _renewing = self.renewing.lock().await;
        // Another caller may have renewed the session while this one waited.
        if let Some(c) = self.usable() {
            return Ok(c);
        }
        let fresh = self.assume().await.map_err(|e| CredentialsError::provider_error(e.to_string()))?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }
}

/// `REFRESH_MARGIN` plus a stable share of `REFRESH_JITTER` taken from the role ARN, never more than a third
/// of the session (a 15-minute session is renewed after 10 minutes at the latest).
fn renewal_margin(role_arn: &str, duration: Duration) -> Duration {
    let h = role_arn.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let jitter = Duration::from_secs(h % (REFRESH_JITTER.as_secs() + 1));
    (REFRESH_MARGIN + jitter).min(duration / 3).max(Duration::from_secs(60).min(duration))
}

/// The provider as the SDK holds it, sharing its session with the handle kept for invalidation.
#[derive(Debug, Clone)]
pub struct SharedAssumeRole(pub Arc<AssumeRoleCredentials>);

impl ProvideCredentials for SharedAssumeRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.0.provide())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_margins_are_spread_and_fit_the_session() {
        let margins: std::collections::BTreeSet<u64> = (0..50)
            .map(|i| renewal_margin(&format!("arn:aws:iam::{i:012}:role/OrgScanAudit"), Duration::from_secs(3600)).as_secs())
            .collect();
        assert!(margins.len() > 20, "sessions of different accounts are renewed at different times: {margins:?}");
        assert!(margins.iter().all(|m| (300..=540).contains(m)), "{margins:?}");
        let short = renewal_margin("arn:aws:iam::111111111111:role/OrgScanAudit", Duration::from_secs(900));
        assert!(short <= Duration::from_secs(300), "{short:?}");
    }
}
