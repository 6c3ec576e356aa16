//! What `orgscan fix` trusts a report (or a scan) with: what to look at, never where to act. The accounts a
//! plan names must be the organization's, as the caller lists it itself (issue 27); the resources are read
//! again in those accounts before each step (`steps`), and the journal counts only the same plan's steps
//! (`journal`).

use std::collections::BTreeSet;

use super::plan::Item;
use crate::aws::ClientFactory;
use crate::aws::limits::Limits;
use crate::model::{AccountId, ScopeError};
use crate::org::{Caller, WalkError, list_accounts};

/// Why a plan is not acted on.
#[derive(Debug)]
pub enum Untrusted {
    /// It names an account the organization does not hold, or the organization could not be listed to tell
    /// (exit 2).
    Refused(String),
    /// The credentials or a listing that may pass (exit 2 or 6, as the walk's).
    Walk(WalkError),
}

/// `orgscan fix` acts only on accounts of the organization the caller lists itself (`ListAccounts`), never on
/// one a report names alone: a report is a file anyone in a pipeline may edit, and its fingerprints are plain
/// SHA-256 digests anyone can recompute (issue 27). The caller's own account needs no listing (its own
/// credentials, no role assumed). Refused (exit 2, before the plan is shown and before any change) when an
/// item is of another account, or when the organization cannot be listed to tell; a listing that may pass
/// (throttling, 5xx after every retry) exits 6. ListAccounts answers only in "the organization's management
/// account or a member account designated as a delegated administrator" (Organizations API Reference,
/// "Reference: API operations by account"), where `orgscan scan` of an organization runs too.
pub async fn organization_accounts(
    items: &[Item],
    caller: &Caller,
    factory: &ClientFactory,
    limits: &Limits,
    origin: &str,
) -> Result<(), Untrusted> {
    let others: BTreeSet<&AccountId> = items.iter().map(|i| &i.finding.target.account).filter(|a| **a != caller.account).collect();
    if others.is_empty() {
        return Ok(());
    }
    let named = |v: &[&AccountId]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
    let what = if origin.starts_with("report") { "the report" } else { "the scan" };
    let central = factory.central_clients(&caller.account).ok_or_else(|| {
        Untrusted::Walk(WalkError::Credentials(ScopeError::new("NoCredentials", "no credentials provider is configured")))
    })?;
    let listed = match list_accounts(&central, limits, &caller.central_target(factory)).await {
        Ok(l) => l.accounts.into_iter().map(|a| a.id).collect::<BTreeSet<_>>(),
        Err(e) if e.transient => return Err(Untrusted::Walk(WalkError::Transient(e))),
        Err(e) => {
            let all: Vec<&AccountId> = others.into_iter().collect();
            return Err(Untrusted::Refused(format!(
                "cannot tell whether account(s) {} of {what} belong to the caller's organization: ListAccounts failed: {e}. \
                 orgscan fix acts only on accounts of the organization it lists itself; run it with credentials that may call \
                 organizations:ListAccounts (the management account or a delegated administrator), or narrow it to the caller's \
                 own account {} with --accounts; nothing was changed",
                named(&all),
                caller.account
            )));
        }
    };
    let outside: Vec<&AccountId> = others.into_iter().filter(|a| !listed.contains(*a)).collect();
    if outside.is_empty() {
        return Ok(());
    }
    Err(Untrusted::Refused(format!(
        "{what} names account(s) {}, which the caller's organization does not hold (ListAccounts lists {} account(s)): \
         orgscan fix acts only on accounts of its own organization, never on one a report names alone (a report is a file anyone may \
         edit); nothing was changed. Leave them out with --accounts, or plan from a report of this organization",
        named(&outside),
        listed.len()
    )))
}
