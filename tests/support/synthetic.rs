//! Synthetic scan reports for the rendering and merge benchmarks and the merge's memory test: `n` findings
//! over accounts of 400 findings each, in four regions, a third of them FAILs, with account names and OU
//! paths; and the same report written as the reports of the shards of one sharded scan.

#![allow(dead_code)]

use orgscan::check;
use orgscan::model::Finding;
use orgscan::model::{AccountId, Region, Target};
use orgscan::model::{AccountInfo, Coverage, CoverageStatus, ScanReport, Shard, ShardInfo, Subject};

pub fn synthetic(n: usize) -> Result<ScanReport, Box<dyn std::error::Error>> {
    let regions = ["eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1"];
    let mut findings = Vec::with_capacity(n);
    let mut coverage = Vec::new();
    for i in 0..n {
        let account: AccountId = format!("{:012}", 100_000_000_000u64 + (i / 400) as u64).parse()?;
        let region: Region = regions[i % regions.len()].parse()?;
        let target = Target::new(account, region);
        let check = check::ALL[i % check::ALL.len()].info();
        let id = format!("resource-{i:07}");
        let arn = format!("arn:aws:kms:{}:{}:key/{id}", target.region, target.account);
        let b = Finding::builder(check, &target).resource(check.resource_types[0], &id, arn).evidence("key_state", "PendingDeletion");
        let f =
            if i % 3 == 0 { b.fail(format!("{id} fails {}", check.id)) } else { b.pass(format!("{id} passes {}", check.id)) }.build()?;
        if i % 400 < 20 {
            coverage.push(Coverage {
                check_id: check.id,
                account: target.account.clone(),
                region: Some(target.region.clone()),
                status: CoverageStatus::Evaluated { resources: 1, not_applicable: 0, not_evaluable: 0 },
            });
        }
        findings.push(f);
    }
    let subject = Subject::Organization { id: "o-exampleorg1".into(), caller: "100000000000".parse()? };
    let mut report = ScanReport { findings, coverage, ..ScanReport::new(subject, check::ALL.iter().map(|c| c.info()).collect()) };
    // An organization's accounts have names and OU paths (the JSON report, SARIF and OCSF carry them).
    for f in &report.findings {
        report.accounts.entry(f.target.account.clone()).or_insert_with(|| AccountInfo {
            name: format!("workload-{}", f.target.account),
            ou_path: Some("Root/Workloads/Prod".into()),
            ous: vec!["ou-ab12-workload".into(), "ou-ab12-prod0001".into()],
        });
    }
    report.sort();
    Ok(report)
}

/// Writes `report` as the JSON reports of `count` shards of one scan, in `dir` (`synthetic-<i>.json`, each
/// with only its accounts' findings and coverage), and returns their paths.
pub fn shard_reports(
    report: &ScanReport,
    count: u32,
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, Box<dyn std::error::Error + Send + Sync>> {
    let mut paths = Vec::new();
    for index in 0..count {
        let path = dir.join(format!("synthetic-{index}.json"));
        write_shard(report, Shard::new(index, count, "synthetic")?, &path)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Writes the report of `shard` of `report` (its accounts' findings and coverage) to `path`.
pub fn write_shard(report: &ScanReport, shard: Shard, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let selection: Vec<AccountId> = report.accounts.keys().cloned().collect();
    let mut r = report.clone();
    r.findings.retain(|f| shard.owns(&f.target.account));
    r.coverage.retain(|c| shard.owns(&c.account));
    r.stats.accounts = selection.iter().filter(|a| shard.owns(a)).count();
    r.shard = Some(ShardInfo::new(shard, selection, None));
    orgscan::files::write_atomic(path, |w| orgscan::json::to_writer(&r, w))?;
    Ok(())
}
