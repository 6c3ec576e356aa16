//! The organization's delegated administrators of a service, read once by the walker for each check that
//! declares the read (`check::DelegatedAdmins`): e.g. the GuardDuty check asks only those accounts how new
//! accounts are enabled (`DescribeOrganizationConfiguration` answers only the delegated administrator),
//! instead of one refused call per detector of every other account.

use std::collections::BTreeSet;

use crate::aws::Clients;
use crate::aws::limits::Limits;
use crate::model::{AccountId, ScopeError, Service, Target};

/// `ListDelegatedAdministrators` (Organizations API reference): callable by the management account or a
/// delegated administrator of Organizations.
pub const IAM_ACTIONS: &[&str] = &["organizations:ListDelegatedAdministrators"];

/// The accounts registered as delegated administrator of the service of `service_principal`
/// (`guardduty.amazonaws.com`; GuardDuty allows one per organization).
/// <https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListDelegatedAdministrators.html>
pub async fn admins(
    clients: &Clients,
    limits: &Limits,
    central: &Target,
    service_principal: &str,
) -> Result<BTreeSet<AccountId>, ScopeError> {
    let mut out = BTreeSet::new();
    let pages = clients.organizations().list_delegated_administrators().service_principal(service_principal).into_paginator().send();
    limits
        .gate(Service::Organizations, central)
        .pages("ListDelegatedAdministrators", pages, |page| {
            out.extend(page.delegated_administrators().iter().filter_map(|a| a.id()?.parse::<AccountId>().ok()));
        })
        .await?;
    Ok(out)
}
