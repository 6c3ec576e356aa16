//! Which regions to visit in an account.

use aws_sdk_account::types::RegionOptStatus;

use crate::aws::Clients;
use crate::aws::limits::Limits;
use crate::model::target::KNOWN_REGIONS_SOURCE;
use crate::model::{Partition, Region, ScopeError, Service, Target};

/// The IAM action of region discovery, in every scanned account (with `--regions`, none is needed).
pub const IAM_ACTIONS: &[&str] = &["account:ListRegions"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionPlan {
    /// Exactly these regions (`--regions`), minus none.
    Explicit(Vec<Region>),
    /// Each account's own enabled regions, minus `exclude`.
    Enabled { exclude: Vec<Region> },
}

impl RegionPlan {
    pub fn explicit(&self) -> Option<Vec<Region>> {
        match self {
            RegionPlan::Explicit(r) => Some(r.clone()),
            RegionPlan::Enabled { .. } => None,
        }
    }

    /// The regions of one account, whether the account itself confirmed them enabled (Account API), and a
    /// note when the bundled list stood in for the Account API.
    pub async fn resolve(&self, clients: &Clients, limits: &Limits, home: &Target, partition: Partition) -> ResolvedRegions {
        let exclude = match self {
            RegionPlan::Explicit(r) => return ResolvedRegions { regions: r.clone(), confirmed_enabled: false, note: None },
            RegionPlan::Enabled { exclude } => exclude,
        };
        let mut confirmed_enabled = false;
        let (mut regions, note) = match list_enabled(clients, limits, home).await {
            Ok(r) if !r.is_empty() => {
                confirmed_enabled = true;
                (r, None)
            }
            Ok(_) => (
                bundled(partition),
                Some(format!("Account ListRegions returned no region; using the bundled region list ({KNOWN_REGIONS_SOURCE})")),
            ),
            Err(e) => (
                bundled(partition),
                Some(format!(
                    "Account ListRegions failed ({}); using the bundled region list ({KNOWN_REGIONS_SOURCE}), where regions that are not \
                     enabled are skipped",
                    e.code
                )),
            ),
        };
        regions.retain(|r| r.partition() == partition && !exclude.contains(r));
        regions.sort();
        regions.dedup();
        ResolvedRegions { regions, confirmed_enabled, note }
    }
}

/// The regions to visit in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRegions {
    pub regions: Vec<Region>,
    /// The account's own `ListRegions` named them as enabled: a rejected token there is then an error
    /// (bad or expired credentials, clock skew), never a "region not enabled" skip.
    pub confirmed_enabled: bool,
    pub note: Option<String>,
}

fn bundled(partition: Partition) -> Vec<Region> {
    partition.known_regions().filter_map(|r| r.name.parse().ok()).collect()
}

/// Account API `ListRegions` with the account's own credentials: the regions it has enabled.
async fn list_enabled(clients: &Clients, limits: &Limits, home: &Target) -> Result<Vec<Region>, ScopeError> {
    let pages = clients
        .account()
        .list_regions()
        .region_opt_status_contains(RegionOptStatus::Enabled)
        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    limits
        .gate(Service::Account, home)
        .pages("ListRegions", pages, |page| out.extend(page.regions().iter().filter_map(|r| r.region_name()?.parse::<Region>().ok())))
        .await?;
    Ok(out)
}
