//! `orgscan checks --iam-policy PRINCIPAL`: the IAM policy documents of orgscan's principals, generated from what the code
//! declares: each check's reads (`CheckInfo::iam_actions`) and its fix's calls and re-reads
//! (`check::Changes`), the walker's Organizations reads, region discovery. The policies shipped in deploy/
//! are this output (tests/integration/iam_policy.rs holds them equal), so a new check changes them by
//! running the command, never by hand.
//!
//! IAM JSON policy elements: `Version`, `Statement`, `Sid`, `Effect`, `Action`, `Resource`, `Condition` (IAM
//! User Guide, "IAM JSON policy element reference").

use serde::Serialize;

use crate::check;
use crate::org;
use crate::scan;

/// The principals orgscan's policies are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The audit role in every member account: the checks' reads and region discovery, read-only
    /// (deploy/audit-role.yaml).
    Audit,
    /// The scanning principal: the organization's accounts and OUs, the checks' organization-level reads,
    /// the audit role assumed, and the checks in its own account (deploy/scanner-policy.json).
    Scanner,
    /// The remediation role of `orgscan fix` (deploy/remediation-role.yaml).
    Remediation,
}

/// The audit role's name, as deploy/audit-role.yaml names it by default (`--role-name`).
pub const AUDIT_ROLE_NAME: &str = "OrgScanAudit";

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Actions,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
}

/// `Action`: one action as a string, several as a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Actions {
    One(&'static str),
    Many(Vec<&'static str>),
}

fn allow(sid: &str, actions: Vec<&'static str>, resource: &str) -> Statement {
    let action = match actions.as_slice() {
        [one] => Actions::One(one),
        _ => Actions::Many(actions),
    };
    Statement { sid: sid.to_owned(), effect: "Allow", action, resource: resource.to_owned(), condition: None }
}

/// `actions` without repeats, in the order first given.
fn unique(actions: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for a in actions {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The reads in a member account: region discovery, then each check's reads in registry order.
fn member_reads() -> Vec<&'static str> {
    unique(scan::regions::IAM_ACTIONS.iter().copied().chain(check::ALL.iter().flat_map(|c| c.info().iam_actions.iter().copied())))
}

/// The policy of `principal`.
pub fn policy(principal: Principal) -> Policy {
    let statement = match principal {
        Principal::Audit => vec![allow("OrgScanChecks", member_reads(), "*")],
        Principal::Scanner => {
            // The walker's Organizations reads (its AssumeRole is the statement below), the OU tree, and the
            // delegated administrators when a check declares that read.
            let delegated: &[&'static str] =
                if check::declare::delegated_admin_reads().is_empty() { &[] } else { org::delegated::IAM_ACTIONS };
            let org_reads =
                org::IAM_ACTIONS.iter().chain(org::tree::IAM_ACTIONS).chain(delegated).copied().filter(|a| *a != "sts:AssumeRole");
            vec![
                allow("OrgScanDiscoverAccounts", unique(org_reads), "*"),
                allow("OrgScanAssumeAuditRole", vec!["sts:AssumeRole"], &format!("arn:*:iam::*:role/{AUDIT_ROLE_NAME}")),
                allow("OrgScanChecksInThisAccount", member_reads(), "*"),
            ]
        }
        Principal::Remediation => {
            let mut v = vec![allow("OrgScanFix", check::fix_iam_actions(), "*")];
            // Not a call of orgscan's: the service creates its service-linked role on the first change in an
            // account, with the caller's permission; only that role, only for that service.
            for r in check::fix_service_linked_roles() {
                let mut s = allow(
                    r.sid,
                    vec![check::remedy::ServiceLinkedRole::IAM_ACTION],
                    &format!("arn:*:iam::*:role/aws-service-role/{}/{}", r.service_principal, r.role_name),
                );
                s.condition = Some(serde_json::json!({"StringLike": {"iam:AWSServiceName": r.service_principal}}));
                v.push(s);
            }
            v
        }
    };
    Policy { version: "2012-10-17", statement }
}

/// The policy as `orgscan iam-policy` prints it: pretty JSON, ending with a newline.
pub fn render(principal: Principal) -> String {
    let mut s = serde_json::to_string_pretty(&policy(principal)).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_principal_gets_a_policy_with_every_declared_action_once() {
        let actions = |p: Principal| -> Vec<&'static str> {
            policy(p)
                .statement
                .into_iter()
                .flat_map(|s| match s.action {
                    Actions::One(a) => vec![a],
                    Actions::Many(v) => v,
                })
                .collect()
        };
        let audit = actions(Principal::Audit);
        assert_eq!(audit.len(), unique(audit.clone()).len());
        for a in check::iam_actions() {
            assert!(audit.contains(&a), "{a}");
        }
        let scanner = actions(Principal::Scanner);
        assert!(scanner.contains(&"sts:AssumeRole") && scanner.contains(&"organizations:ListAccounts"), "{scanner:?}");
        let remediation = actions(Principal::Remediation);
        for a in check::fix_iam_actions().into_iter().chain(check::fix_implied_iam_actions()) {
            assert!(remediation.contains(&a), "{a}");
        }
        assert!(render(Principal::Scanner).ends_with("}\n"));
    }
}
