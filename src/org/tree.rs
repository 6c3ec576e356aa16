//! The organization's tree of OUs: each account's OU path (shown with its findings) and the accounts under
//! each OU (for `--ou` and `--exclude-ou`), read once, breadth first from the root.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::aws::Clients;
use crate::aws::limits::{Gate, Limits};
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

/// Reads the whole tree: one `ListOrganizationalUnitsForParent` and one `ListAccountsForParent` per OU, every
/// parent's two listings side by side and every known parent at once, so the walk takes as long as the
/// Organizations budget (the gate) allows rather than one round trip after another per OU.
pub async fn read(clients: &Clients, limits: &Limits, central: &Target) -> Result<OrgTree, ScopeError> {
    let org = clients.organizations();
    let gate = limits.gate(Service::Organizations, central);
    let mut roots = Vec::new();
    gate.pages("ListRoots", org.list_roots().into_paginator().send(), |page| {
        roots.extend(page.roots().iter().filter_map(|r| Some((r.id()?.to_owned(), r.name().unwrap_or("Root").to_owned()))));
    })
    .await?;
    let mut tree = OrgTree::default();
    let mut pending = FuturesUnordered::new();
    for (id, path) in roots {
        pending.push(visit(&org, gate, Parent { id, path, ous: Vec::new() }));
    }
    while let Some(visited) = pending.next().await {
        let (parent, accounts, children) = visited?;
        for a in accounts {
            for ou in &parent.ous {
                tree.under.entry(ou.clone()).or_default().insert(a.clone());
            }
            tree.paths.insert(a.clone(), parent.path.clone());
            tree.ancestors.insert(a, parent.ous.clone());
        }
        for (id, name) in children {
            let mut ous = parent.ous.clone();
            ous.push(id.clone());
            tree.under.entry(id.clone()).or_default();
            pending.push(visit(&org, gate, Parent { path: format!("{}/{name}", parent.path), id, ous }));
        }
    }
    Ok(tree)
}

/// A root or OU to list: its id, its path of names, and the OU ids above it and itself.
struct Parent {
    id: String,
    path: String,
    ous: Vec<String>,
}

/// The accounts directly under `parent` and its child OUs (id, name), both listings at once.
async fn visit(
    org: &aws_sdk_organizations::Client,
    gate: Gate<'_>,
    parent: Parent,
) -> Result<(Parent, Vec<AccountId>, Vec<(String, String)>), ScopeError> {
    let accounts = async {
        let mut out = Vec::new();
        let pages = org.list_accounts_for_parent().parent_id(&parent.id).into_paginator().send();
        gate.pages("ListAccountsForParent", pages, |page| {
            out.extend(page.accounts().iter().filter_map(|a| a.id()?.parse::<AccountId>().ok()));
        })
        .await
        .map(|()| out)
    };
    let children = async {
        let mut out = Vec::new();
        let pages = org.list_organizational_units_for_parent().parent_id(&parent.id).into_paginator().send();
        gate.pages("ListOrganizationalUnitsForParent", pages, |page| {
            out.extend(page.organizational_units().iter().filter_map(|ou| {
                let id = ou.id()?;
                Some((id.to_owned(), ou.name().unwrap_or(id).to_owned()))
            }));
        })
        .await
        .map(|()| out)
    };
    let (accounts, children) = futures::try_join!(accounts, children)?;
    Ok((parent, accounts, children))
}
