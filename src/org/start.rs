//! Where the walk hands over to the scan: [`OrgStart`] (the accounts to scan, and the OU tree still being
//! read beside the scan), and the `--ou` selection that waits for the tree.

use std::collections::{BTreeMap, BTreeSet};

use super::{OrgSelection, WalkError, tree};
use crate::check::DelegatedAdmins;
use crate::model::{AccountId, AccountInfo, Note, ScopeError, Subject};

/// The delegated administrators a check's read asked for, or the note that check declares for when they
/// cannot be read (e.g. no GuardDuty finding can say whether new accounts are enabled automatically).
pub(super) fn admins_or_note(
    of: &DelegatedAdmins,
    read: Result<BTreeSet<AccountId>, ScopeError>,
    notes: &mut Vec<Note>,
) -> Option<BTreeSet<AccountId>> {
    match read {
        Ok(admins) => Some(admins),
        Err(error) => {
            tracing::warn!(code = %error.code, "cannot read {}'s delegated administrator: {}", of.service, error.message);
            notes.push(Note { account: None, text: format!("{}: {error}", of.unread_note) });
            None
        }
    }
}

/// `--ou` / `--exclude-ou`: waits for the OU tree (the selection needs it), gives every account its OU path,
/// and returns the accounts to include (all when `None`) and to exclude.
pub(super) async fn ou_selection(
    sel: &OrgSelection,
    mut tree_task: TreeRead,
    infos: &mut BTreeMap<AccountId, AccountInfo>,
) -> Result<(Option<BTreeSet<AccountId>>, BTreeSet<AccountId>), WalkError> {
    let tree = match (&mut tree_task.0).await {
        Ok(t) => t,
        Err(e) => Err(ScopeError::internal(format!("the OU tree read ended early: {e}"))),
    };
    let ou = sel.ous.first().or(sel.exclude_ous.first()).cloned().unwrap_or_default();
    let tree = tree.map_err(|error| WalkError::Ou { ou, error })?;
    decorate(infos, &tree);
    let under = |ou: &String| tree.accounts_under(ou).map_err(|error| WalkError::Ou { ou: ou.clone(), error });
    let mut include: Option<BTreeSet<AccountId>> = None;
    for ou in &sel.ous {
        include.get_or_insert_with(BTreeSet::new).extend(under(ou)?.iter().cloned());
    }
    let mut exclude = BTreeSet::new();
    for ou in &sel.exclude_ous {
        exclude.extend(under(ou)?.iter().cloned());
    }
    Ok((include, exclude))
}

/// What the walk knows when the scan can start: the accounts to scan (their roles not assumed yet), and the
/// OU tree still being read beside the scan when the selection does not need it.
pub struct OrgStart {
    pub subject: Subject,
    /// The accounts to scan (after `--shard`), with their Organizations state.
    pub accounts: Vec<(AccountId, String)>,
    pub infos: BTreeMap<AccountId, AccountInfo>,
    pub notes: Vec<Note>,
    /// The delegated administrators the checks' organization-level reads found, by service principal.
    pub delegated_admins: BTreeMap<&'static str, BTreeSet<AccountId>>,
    pub selection: Vec<AccountId>,
    /// Errors of the scan found by the walk: `ListAccounts` entries that could not be taken (see [`Listed`]).
    pub errors: Vec<crate::model::ErrorEntry>,
    /// The OU tree's read, running on its own task; [`OrgStart::join_tree`] adds its paths.
    pub tree: Option<TreeRead>,
}

/// The OU tree read on a task of its own, so the scan starts without waiting for it; dropping it stops the
/// read (a stopped scan does not wait for the rest of the tree).
pub struct TreeRead(pub(super) tokio::task::JoinHandle<Result<tree::OrgTree, ScopeError>>);

impl Drop for TreeRead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl OrgStart {
    /// `--this-account`: the caller's account only, with no organization read.
    pub fn this_account(caller: &AccountId) -> Self {
        Self {
            subject: Subject::Account(caller.clone()),
            accounts: Vec::new(),
            infos: BTreeMap::new(),
            notes: Vec::new(),
            delegated_admins: BTreeMap::new(),
            selection: vec![caller.clone()],
            errors: Vec::new(),
            tree: None,
        }
    }

    /// Waits for the OU tree read beside the scan and gives every account its OU path; a tree that could
    /// not be read is a note (the selection did not need it).
    pub async fn join_tree(&mut self) {
        // The read stays in `self.tree` until it is done: a wait cut short leaves it for `abandon_tree`.
        let Some(read) = self.tree.as_mut() else { return };
        let tree = match (&mut read.0).await {
            Ok(t) => t,
            Err(e) => Err(ScopeError::internal(format!("the OU tree read ended early: {e}"))),
        };
        self.tree = None;
        match tree {
            Ok(tree) => decorate(&mut self.infos, &tree),
            Err(error) => self.notes.push(tree_note(&error)),
        }
    }

    /// Drops the OU tree read still running (a stopped scan), with a note that the paths are missing.
    pub fn abandon_tree(&mut self) {
        if self.tree.take().is_some() {
            self.notes.push(Note {
                account: None,
                text: "the scan was stopped before the OU tree was read, so findings carry no OU path".to_owned(),
            });
        }
    }
}

fn tree_note(error: &ScopeError) -> Note {
    tracing::warn!(code = %error.code, "cannot read the organization's OUs; findings carry no OU path: {}", error.message);
    Note { account: None, text: format!("the OU tree could not be read, so findings carry no OU path: {error}") }
}

/// Each listed account's OU path and the OUs above it.
fn decorate(infos: &mut BTreeMap<AccountId, AccountInfo>, tree: &tree::OrgTree) {
    for (id, info) in infos.iter_mut() {
        info.ou_path = tree.paths.get(id).cloned();
        info.ous = tree.ancestors.get(id).cloned().unwrap_or_default();
    }
}
