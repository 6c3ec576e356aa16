//! The organization's tree of OUs: each account's OU path (shown with its findings) and the accounts under
//! each OU (for `--ou` and `--exclude-ou`), read once, breadth first from the root.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::Clients;
use crate::aws::limits::Limits;
use crate::model::{AccountId, ScopeError, Service, Target};

/// The IAM actions of the tree walk (Organizations API reference: ListRoots,
/// ListOrganizationalUnitsForParent, ListAccountsForParent).
pub const IAM_ACTIONS: &[&str] =
    &["organizations:ListRoots", "organizations:ListOrganizationalUnitsForParent", "organizations:ListAccountsForParent"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTree {
    /// `Root/Prod/EU`: the names from the root down to the account's parent.
    pub paths: BTreeMap<AccountId, String>,
    /// Every account in the subtree of each OU id.
    pub under: BTreeMap<String, BTreeSet<AccountId>>,
    /// The OU ids above each account, from the root down.
    pub ancestors: BTreeMap<AccountId, Vec<String>>,
}

impl OrgTree {
    /// The accounts in the subtree of `ou`; an OU that is not in the organization is an error.
    pub fn accounts_under(&self, ou: &str) -> Result<&BTreeSet<AccountId>, ScopeError> {
        self.under.get(ou).ok_or_else(|| ScopeError::new("ParentNotFoundException", format!("{ou} is not an OU of this organization")))
    }
}

/// Reads the whole tree: one `ListOrganizationalUnitsForParent` and one `ListAccountsForParent` per OU.
pub async fn read(clients: &Clients, limits: &Limits, central: &Target) -> Result<OrgTree, ScopeError> {
    let org = clients.organizations();
    let gate = limits.gate(Service::Organizations, central);
    let mut roots = Vec::new();
    gate.pages("ListRoots", org.list_roots().into_paginator().send(), |page| {
        roots.extend(page.roots().iter().filter_map(|r| Some((r.id()?.to_owned(), r.name().unwrap_or("Root").to_owned()))));
    })
    .await?;
    let mut tree = OrgTree::default();
    // (parent id, its path, the OUs above it and itself)
    let mut queue: Vec<(String, String, Vec<String>)> = roots.into_iter().map(|(id, name)| (id, name, Vec::new())).collect();
    while let Some((parent, path, ous)) = queue.pop() {
        let pages = org.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
        let mut accounts = Vec::new();
        gate.pages("ListAccountsForParent", pages, |page| {
            accounts.extend(page.accounts().iter().filter_map(|a| a.id()?.parse::<AccountId>().ok()));
        })
        .await?;
        for a in accounts {
            for ou in &ous {
                tree.under.entry(ou.clone()).or_default().insert(a.clone());
            }
            tree.paths.insert(a.clone(), path.clone());
            tree.ancestors.insert(a, ous.clone());
        }
        let pages = org.list_organizational_units_for_parent().parent_id(&parent).into_paginator().send();
        gate.pages("ListOrganizationalUnitsForParent", pages, |page| {
            for ou in page.organizational_units() {
                let Some(id) = ou.id() else { continue };
                let name = ou.name().unwrap_or(id);
                let mut below = ous.clone();
                below.push(id.to_owned());
                tree.under.entry(id.to_owned()).or_default();
                queue.push((id.to_owned(), format!("{path}/{name}"), below));
            }
        })
        .await?;
    }
    Ok(tree)
}
