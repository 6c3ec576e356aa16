//! Synthetic scan reports for the rendering and merge benchmarks: `n` findings over accounts of 400
//! findings each, in four regions, a third of them FAILs, with account names and OU paths.

#![allow(dead_code)]

use orgscan::check;
use orgscan::model::Finding;
use orgscan::model::{AccountId, Region, Target};
use orgscan::model::{AccountInfo, Coverage, CoverageStatus, ScanReport, Subject};

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
