//! The organization's GuardDuty delegated administrators, read once by the walker, so that the GuardDuty
//! check asks only those accounts how new accounts are enabled (`DescribeOrganizationConfiguration`
//! answers only the delegated administrator), instead of one refused call per detector of every other account.

use std::collections::BTreeSet;

use crate::aws::Clients;
use crate::aws::limits::Limits;
use crate::check::guardduty::SERVICE_PRINCIPAL;
use crate::model::{AccountId, ScopeError, Service, Target};

/// `ListDelegatedAdministrators` (Organizations API reference): callable by the management account or a
/// delegated administrator of Organizations.
pub const IAM_ACTIONS: &[&str] = &["organizations:ListDelegatedAdministrators"];

/// The accounts registered as GuardDuty's delegated administrator (`ServicePrincipal`
/// `guardduty.amazonaws.com`): one in practice, GuardDuty allows one per organization.
/// <https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListDelegatedAdministrators.html>
pub async fn guardduty_admins(clients: &Clients, limits: &Limits, central: &Target) -> Result<BTreeSet<AccountId>, ScopeError> {
    let mut out = BTreeSet::new();
    let pages = clients.organizations().list_delegated_administrators().service_principal(SERVICE_PRINCIPAL).into_paginator().send();
    limits
        .gate(Service::Organizations, central)
        .pages("ListDelegatedAdministrators", pages, |page| {
            out.extend(page.delegated_administrators().iter().filter_map(|a| a.id()?.parse::<AccountId>().ok()));
        })
        .await?;
    Ok(out)
}
