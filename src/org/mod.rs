//! The walker: who is calling, which accounts the organization holds, and credentials for each.

mod caller;
pub mod delegated;
mod start;
pub mod tree;

pub use self::start::{OrgStart, TreeRead};
use self::start::{admins_or_note, ou_selection};

pub use caller::{Caller, whoami};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, stream};

use crate::aws::credentials::{AssumeRoleCredentials, Session};
use crate::aws::limits::Limits;
use crate::aws::{AccountConfig, ClientFactory, Clients};
use crate::check;
use crate::model::{AccountId, AccountInfo, Note, Partition, ScopeError, Service, Subject, Target};

/// The IAM actions of the walker's calls in the scanning account (GetCallerIdentity needs none: "No
/// permissions are required to perform this operation", STS API reference). `organizations:*` are needed
/// only for organization scans; `sts:AssumeRole` only when member accounts are scanned. The OU tree walk
/// adds `tree::IAM_ACTIONS`.
pub const IAM_ACTIONS: &[&str] = &["organizations:DescribeOrganization", "organizations:ListAccounts", "sts:AssumeRole"];

/// Which accounts of the organization to scan (the user's selection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgSelection {
    /// Exactly these accounts (no Organizations call is needed).
    pub accounts: Vec<AccountId>,
    pub exclude_accounts: Vec<AccountId>,
    pub ous: Vec<String>,
    pub exclude_ous: Vec<String>,
    /// `--shard`: of the selected accounts, scan only this shard's (by a stable hash of the account id).
    pub shard: Option<crate::model::Shard>,
}

impl OrgSelection {
    /// What a stop during the walk leaves unreached: the accounts named, or the whole organization.
    pub fn not_reached(&self) -> Vec<String> {
        if self.accounts.is_empty() {
            vec!["every account of the organization: the walk (accounts, OUs, roles) did not finish".to_owned()]
        } else {
            self.accounts.iter().map(|a| format!("account {a}")).collect()
        }
    }
}

pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

/// How to reach member accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPlan {
    /// Role ARN template with `{account}` and optionally `{partition}`.
    pub role_arn_template: String,
    pub external_id: Option<String>,
    pub session_duration: Duration,
}

impl AccessPlan {
    pub fn role_arn(&self, partition: &str, account: &AccountId) -> String {
        self.role_arn_template.replace("{partition}", partition).replace("{account}", account.as_str())
    }
}

/// An account to scan: its configuration (credentials), or why it cannot be scanned.
pub struct AccountPlan {
    pub account: AccountId,
    pub partition: Partition,
    pub source: AccountSource,
}

pub enum AccountSource {
    Ready(AccountConfig),
    /// The account cannot be scanned at all (e.g. the role cannot be assumed): one error entry.
    Failed(ScopeError),
    /// The account is deliberately not scanned (e.g. suspended): skipped with this reason.
    Skipped(String),
}

/// Why the scan could not start.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("no usable AWS credentials: {0}. Configure the standard AWS credential chain (environment, profile, SSO or instance role)")]
    Credentials(ScopeError),
    #[error("cannot reach AWS at {endpoint}: {error}. Check the network, proxy settings and AWS_ENDPOINT_URL")]
    Unreachable { endpoint: String, error: ScopeError },
    #[error(
        "cannot list the organization's accounts: {0}. Run orgscan from the management account or a delegated administrator \
         account with organizations:ListAccounts, or name the accounts with --accounts ID,ID, or scan only the caller's account with --this-account"
    )]
    Organization(ScopeError),
    #[error("cannot resolve OU {ou}: {error}")]
    Ou { ou: String, error: ScopeError },
    #[error("--regions {regions}: not in partition {partition}, where the credentials belong (one scan covers one partition)")]
    Partition { regions: String, partition: Partition },
    #[error("the credentials belong to partition {0}, which orgscan does not support (supported: aws, aws-cn, aws-us-gov, aws-eusc)")]
    UnsupportedPartition(String),
    #[error("cannot start the scan: {0} (after every retry). This may pass: retry later")]
    Transient(ScopeError),
    /// Ctrl-C or SIGTERM before the caller's identity was known: there is no subject to report on.
    #[error("stopped (Ctrl-C or SIGTERM) before the caller's identity was read: nothing was scanned and no report was written")]
    Stopped,
}

impl WalkError {
    /// A failure of the organization listing, read as what it is: one that may pass is transient.
    fn organization(e: ScopeError) -> Self {
        if e.transient { WalkError::Transient(e) } else { WalkError::Organization(e) }
    }

    /// Exit code: 6 when the cause may pass (AWS unreachable, throttling or 5xx after every retry), else 2:
    /// the invocation or the credentials' permissions must change.
    pub fn exit_code(&self) -> u8 {
        if matches!(self, WalkError::Stopped) {
            return crate::model::exit::INCOMPLETE;
        }
        let transient = match self {
            WalkError::Stopped => false,
            WalkError::Unreachable { .. } | WalkError::Transient(_) => true,
            WalkError::Credentials(e) | WalkError::Organization(e) | WalkError::Ou { error: e, .. } => e.transient,
            WalkError::Partition { .. } | WalkError::UnsupportedPartition(_) => false,
        };
        if transient { crate::model::exit::UNAVAILABLE } else { crate::model::exit::USAGE }
    }
}

/// An account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: AccountId,
    pub name: String,
    /// `State` (or the older `Status`): `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED`, ...
    pub state: String,
}

/// The organization's accounts as `ListAccounts` gives them, and each entry it could not take (an id that is
/// not 12 digits), in words: an error of the scan, never dropped silently.
#[derive(Debug, Default)]
pub struct Listed {
    pub accounts: Vec<OrgAccount>,
    pub rejected: Vec<String>,
}

/// `ListAccounts`, every page (a page may be empty and still carry a `NextToken`); an account listed twice
/// (a page that repeats entries) is taken once. An account id is 12 digits ("Account.Id", Organizations API
/// Reference: pattern `^\d{12}$`); an entry without one is rejected, named (its id cut short and escaped).
pub async fn list_accounts(clients: &Clients, limits: &Limits, central: &Target) -> Result<Listed, ScopeError> {
    let org = clients.organizations();
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    let mut seen = BTreeSet::new();
    let gate = limits.gate(Service::Organizations, central);
    gate.pages("ListAccounts", org.list_accounts().into_paginator().send(), |page| {
        for a in page.accounts() {
            let Some(id) = a.id().and_then(|i| i.parse::<AccountId>().ok()) else {
                let shown: String = a.id().unwrap_or_default().chars().take(40).collect();
                rejected.push(format!("ListAccounts gave an account whose id {shown:?} is not 12 digits: that account was not scanned"));
                continue;
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            let state = a
                .state()
                .map(|s| s.as_str().to_owned())
                .or_else(|| a.status().map(|s| s.as_str().to_owned()))
                .unwrap_or_else(|| "UNKNOWN".to_owned());
            out.push(OrgAccount { id, name: a.name().unwrap_or_default().to_owned(), state });
        }
    })
    .await?;
    Ok(Listed { accounts: out, rejected })
}

/// What the walk found: what the scan covers, each selected account's plan, the names and OU paths of the
/// organization's accounts, and what the user should know about the walk.
pub struct OrgPlan {
    pub subject: Subject,
    pub accounts: Vec<AccountPlan>,
    pub infos: BTreeMap<AccountId, AccountInfo>,
    pub notes: Vec<Note>,
    /// The delegated administrators the checks' organization-level reads found, by service principal; a
    /// principal is absent when not read (not an organization scan, `--shallow`, or refused).
    pub delegated_admins: BTreeMap<&'static str, BTreeSet<AccountId>>,
    /// Every selected account, sorted, before `--shard` kept its own: the selection the shards share.
    pub selection: Vec<AccountId>,
    /// Errors of the scan found by the walk: `ListAccounts` entries that could not be taken (see [`Listed`]).
    pub errors: Vec<crate::model::ErrorEntry>,
}

/// Everything needed to reach member accounts.
pub struct Walker<'a> {
    pub factory: &'a ClientFactory,
    pub limits: Arc<Limits>,
    pub caller: Caller,
    pub access: &'a AccessPlan,
    /// Session name that identifies orgscan in the member accounts' CloudTrail.
    pub session_name: String,
    /// Make the checks' organization-level reads, e.g. GuardDuty's delegated administrators (the checks'
    /// follow-up reads are on, see `--shallow`).
    pub read_delegated: bool,
}

/// How many roles are assumed at once while preparing accounts.
const ASSUME_PARALLELISM: usize = 16;

impl Walker<'_> {
    fn central(&self) -> Result<Clients, WalkError> {
        self.factory
            .central_clients(&self.caller.account)
            .ok_or_else(|| WalkError::Credentials(ScopeError::new("NoCredentials", "no credentials provider is configured")))
    }

    /// The caller's own account with the caller's credentials.
    pub fn own_account(&self) -> Result<AccountPlan, WalkError> {
        let creds = self
            .factory
            .ambient_credentials()
            .ok_or_else(|| WalkError::Credentials(ScopeError::new("NoCredentials", "no credentials provider is configured")))?;
        Ok(AccountPlan {
            account: self.caller.account.clone(),
            partition: self.caller.partition,
            source: AccountSource::Ready(self.factory.account_config(&self.caller.account, creds)),
        })
    }

    /// The accounts selected in the organization, each with its credentials (or its failure), and the names
    /// and OU paths of the organization's accounts: the whole walk, before anything is scanned.
    pub async fn plan(&self, sel: &OrgSelection) -> Result<OrgPlan, WalkError> {
        let mut start = self.start(sel).await?;
        start.join_tree().await;
        let accounts = self.account_plans(std::mem::take(&mut start.accounts)).collect::<Vec<_>>().await;
        Ok(OrgPlan {
            subject: start.subject,
            accounts,
            infos: start.infos,
            notes: start.notes,
            delegated_admins: start.delegated_admins,
            selection: start.selection,
            errors: start.errors,
        })
    }

    /// The walk up to the point where the scan can start: the accounts (`ListAccounts`), the organization's
    /// id and GuardDuty's delegated administrators, read side by side. The OU tree is read beside them and
    /// waited for only when `--ou` or `--exclude-ou` needs it to select; otherwise it goes on beside the scan
    /// (see [`OrgStart::join_tree`]). Roles are assumed later, as the scan takes each account
    /// ([`Walker::account_plans`]).
    pub async fn start(&self, sel: &OrgSelection) -> Result<OrgStart, WalkError> {
        let mut states: BTreeMap<AccountId, String> = BTreeMap::new();
        let mut infos = BTreeMap::new();
        let mut notes = Vec::new();
        let mut delegated_admins = BTreeMap::new();
        let mut pending_tree = None;
        let mut rejected = Vec::new();
        let subject;
        if sel.accounts.is_empty() {
            let central = self.central()?;
            let central_target = self.caller.central_target(self.factory);
            let listing = list_accounts(&central, &self.limits, &central_target);
            // The organization id names the scan (the default SARIF category): a transient failure here must
            // not quietly rename it, which would reopen every code-scanning alert under another category.
            let org_id = async {
                let gate = self.limits.gate(Service::Organizations, &central_target);
                gate.send("DescribeOrganization", central.organizations().describe_organization().send())
                    .await
                    .map_err(WalkError::organization)?
                    .organization()
                    .and_then(|o| o.id())
                    .map(str::to_owned)
                    .ok_or_else(|| WalkError::Organization(ScopeError::new("ResponseError", "DescribeOrganization returned no id")))
            };
            // The organization-level reads the checks declare (`check::DelegatedAdmins`), side by side.
            let delegated = async {
                let reads = if self.read_delegated { check::declare::delegated_admin_reads() } else { Vec::new() };
                let (central, target) = (&central, &central_target);
                futures::future::join_all(
                    reads
                        .into_iter()
                        .map(|r| async move { (r, delegated::admins(central, &self.limits, target, r.service_principal).await) }),
                )
                .await
            };
            // The tree starts after these three (it would otherwise spend the Organizations budget they need),
            // on a task of its own.
            let (accounts, org_id, delegated) = futures::join!(listing, org_id, delegated);
            let listed = accounts.map_err(WalkError::organization)?;
            rejected = listed.rejected;
            let accounts = listed.accounts;
            subject = Subject::Organization { id: org_id?, caller: self.caller.account.clone() };
            let tree_task = {
                let (central, limits, target) = (central.clone(), self.limits.clone(), central_target.clone());
                TreeRead(tokio::spawn(async move { tree::read(&central, &limits, &target).await }))
            };
            for (r, read) in delegated {
                if let Some(admins) = admins_or_note(r, read, &mut notes) {
                    delegated_admins.insert(r.service_principal, admins);
                }
            }
            for a in &accounts {
                infos.insert(a.id.clone(), AccountInfo { name: a.name.clone(), ou_path: None, ous: Vec::new() });
            }
            // The tree gives every finding its account's OU path, and resolves --ou / --exclude-ou. Without
            // an OU selection a failed walk costs only the paths (a note); with one, the selection cannot be made.
            let (include, mut exclude) = if sel.ous.is_empty() && sel.exclude_ous.is_empty() {
                pending_tree = Some(tree_task);
                (None, BTreeSet::new())
            } else {
                ou_selection(sel, tree_task, &mut infos).await?
            };
            exclude.extend(sel.exclude_accounts.iter().cloned());
            for a in accounts {
                if include.as_ref().is_none_or(|inc| inc.contains(&a.id)) && !exclude.contains(&a.id) {
                    states.insert(a.id, a.state);
                }
            }
        } else {
            subject = Subject::Accounts { caller: self.caller.account.clone() };
            for a in &sel.accounts {
                if !sel.exclude_accounts.contains(a) {
                    states.insert(a.clone(), "ACTIVE".to_owned());
                }
            }
        }

        let selection: Vec<AccountId> = states.keys().cloned().collect();
        // A shard assumes roles only in its own accounts: the organization listing is the only call it
        // shares with the other shards.
        if let Some(shard) = sel.shard {
            states.retain(|a, _| shard.owns(a));
        }
        let errors = rejected
            .into_iter()
            .map(|text| crate::model::ErrorEntry {
                account: self.caller.account.clone(),
                region: None,
                check_id: None,
                error: ScopeError::new("InvalidAccountId", text),
            })
            .collect();
        Ok(OrgStart {
            subject,
            accounts: states.into_iter().collect(),
            infos,
            notes,
            delegated_admins,
            selection,
            tree: pending_tree,
            errors,
        })
    }

    /// Each account's plan (its role assumed, or why not), as the roles are assumed: the scan takes each
    /// account as soon as its credentials are ready.
    pub fn account_plans(&self, accounts: Vec<(AccountId, String)>) -> impl futures::Stream<Item = AccountPlan> + '_ {
        // One STS client (and one resolution of the caller's credentials) for every member's AssumeRole.
        let sts = self.central().ok().map(|c| c.sts());
        stream::iter(accounts)
            .map(move |(account, state)| {
                let sts = sts.clone();
                async move { self.account_plan(account, &state, sts).await }
            })
            .buffer_unordered(ASSUME_PARALLELISM)
    }

    async fn account_plan(&self, account: AccountId, state: &str, sts: Option<aws_sdk_sts::Client>) -> AccountPlan {
        let partition = self.caller.partition;
        if state != "ACTIVE" {
            return AccountPlan { account, partition, source: AccountSource::Skipped(format!("account is {state}, not ACTIVE")) };
        }
        if account == self.caller.account
            && let Ok(p) = self.own_account()
        {
            return p;
        }
        let Some(sts) = sts else {
            let e = ScopeError::new("NoCredentials", "no credentials provider is configured");
            return AccountPlan { account, partition, source: AccountSource::Failed(e) };
        };
        let session = Session {
            role_arn: self.access.role_arn(partition.as_str(), &account),
            external_id: self.access.external_id.clone(),
            session_name: self.session_name.clone(),
            duration: self.access.session_duration,
        };
        let provider = AssumeRoleCredentials::new(sts, session, self.limits.clone(), self.caller.central_target(self.factory));
        let source = match provider.prime().await {
            Ok(()) => AccountSource::Ready(self.factory.assumed_account_config(&account, Arc::new(provider))),
            Err(e) => {
                tracing::warn!(%account, code = %e.code, "cannot assume the audit role");
                AccountSource::Failed(ScopeError::new(e.code, format!("account {account}: {}", e.message)))
            }
        };
        AccountPlan { account, partition, source }
    }
}

/// OU ids look like `ou-<root 4-32 chars>-<8-32 chars>` (Organizations API reference, OrganizationalUnit Id).
pub fn validate_ou_id(s: &str) -> Result<String, String> {
    let ok = s.strip_prefix("ou-").and_then(|rest| rest.split_once('-')).is_some_and(|(root, ou)| {
        (4..=32).contains(&root.len())
            && (8..=32).contains(&ou.len())
            && root.bytes().chain(ou.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "invalid OU id '{s}': expected ou-<4-32 lower-case letters or digits>-<8-32 lower-case letters or digits>, e.g. ou-ab12-cdef3456"
        ))
    }
}
