//! The JSON report's `shard` section, written only by a sharded scan (`--shard`): which shard it is, the
//! full selection it is a part of, and what `orgscan merge` needs beyond the report's public sections to
//! rebuild the scan report exactly (the checks run, the organization's accounts, structured coverage, the
//! findings' ASFF details and tags). A merged report, like an unsharded one, has no `shard` section.

use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::model::{CoverageStatus, ScanReport, ShardInfo};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonShard {
    pub index: u32,
    pub count: u32,
    pub selection: JsonSelection,
    /// What the selection narrowed (checks, regions, OUs), without the shard: the merged report's own.
    pub partial: Option<String>,
    /// The checks run, in registry order.
    pub checks: Vec<String>,
    /// The regions the shard visited (distinct).
    pub regions: Vec<String>,
    /// Names, OU paths and OU ids of the organization's accounts (every shard lists the whole organization).
    pub accounts: Vec<JsonAccount>,
    /// Every coverage entry, with what the public `coverage` gives only in words.
    pub coverage: Vec<JsonScope>,
    /// Per finding fingerprint (only findings that have them): the ASFF resource details and the tags read
    /// for suppression rules (never printed by an output; kept here so the merge can apply tag rules).
    pub findings: Vec<JsonFindingExtra>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSelection {
    /// `sha256:<hex>` of the sorted account ids, one per line.
    pub digest: String,
    /// Every account of the selection (all shards), sorted.
    pub accounts: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonAccount {
    pub account_id: String,
    pub name: String,
    pub ou_path: Option<String>,
    pub ous: Vec<String>,
}

#[skip_serializing_none]
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonScope {
    pub check_id: String,
    pub account_id: String,
    /// `null` for a scope that failed before its regions were known.
    #[serialize_always]
    pub region: Option<String>,
    /// `evaluated`, `skipped`, `closed_by_policy` or `error`.
    pub status: String,
    pub resources: Option<usize>,
    pub not_applicable: Option<usize>,
    pub not_evaluable: Option<usize>,
    /// Why it was skipped.
    pub reason: Option<String>,
    /// The action a service control policy denied.
    pub action: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

#[skip_serializing_none]
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFindingExtra {
    pub fingerprint: String,
    pub details: Option<crate::model::finding::ResourceDetails>,
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

impl JsonShard {
    pub fn new(r: &ScanReport, s: &ShardInfo) -> Self {
        let mut regions: Vec<String> = r.coverage.iter().filter_map(|c| c.region.as_ref().map(|x| x.to_string())).collect();
        regions.sort();
        regions.dedup();
        Self {
            index: s.shard.index,
            count: s.shard.count,
            selection: JsonSelection { digest: s.digest.clone(), accounts: s.selection.iter().map(|a| a.to_string()).collect() },
            partial: s.partial.clone(),
            checks: r.checks.iter().map(|c| c.id.to_owned()).collect(),
            regions,
            accounts: r
                .accounts
                .iter()
                .map(|(id, a)| JsonAccount {
                    account_id: id.to_string(),
                    name: a.name.clone(),
                    ou_path: a.ou_path.clone(),
                    ous: a.ous.clone(),
                })
                .collect(),
            coverage: r.coverage.iter().map(scope).collect(),
            findings: r
                .findings
                .iter()
                .filter(|f| f.details.is_some() || f.tags.is_some())
                .map(|f| JsonFindingExtra {
                    fingerprint: f.fingerprint().to_string(),
                    details: f.details.clone(),
                    tags: f.tags.as_deref().cloned(),
                })
                .collect(),
        }
    }
}

fn scope(c: &crate::model::Coverage) -> JsonScope {
    let mut s = JsonScope {
        check_id: c.check_id.to_owned(),
        account_id: c.account.to_string(),
        region: c.region.as_ref().map(|r| r.to_string()),
        ..JsonScope::default()
    };
    match &c.status {
        CoverageStatus::Evaluated { resources, not_applicable, not_evaluable } => {
            s.status = "evaluated".into();
            (s.resources, s.not_applicable, s.not_evaluable) = (Some(*resources), Some(*not_applicable), Some(*not_evaluable));
        }
        CoverageStatus::Skipped { reason } => {
            s.status = "skipped".into();
            s.reason = Some(reason.clone());
        }
        CoverageStatus::ClosedByPolicy { action, error } => {
            s.status = "closed_by_policy".into();
            (s.action, s.code, s.message) = (Some(action.clone()), Some(error.code.clone()), Some(error.message.clone()));
        }
        CoverageStatus::Error(e) => {
            s.status = "error".into();
            (s.code, s.message) = (Some(e.code.clone()), Some(e.message.clone()));
        }
    }
    s
}
