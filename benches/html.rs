//! The HTML report of a 1,000-account organization: its size, the time to render it (against plain
//! `serde_json` of the same report, the floor for producing its data), and, in headless Chromium, the time
//! from navigation to the page's first paint and to the findings table drawn (against a page holding the
//! same JSON and nothing else, the floor for loading it). `cargo bench --bench html`; the browser part needs
//! what scripts/browser-env.sh installs (ORGSCAN_BROWSER_PYTHON), else it says so and stops there.

// A benchmark prints its tables and ratios; its setup unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::too_many_lines)]

use std::time::{Duration, Instant};

use orgscan::check;
use orgscan::model::{AccountId, AccountInfo, Coverage, CoverageStatus, Finding, Region, ScanReport, ScopeError, Subject, Target};

type BoxError = Box<dyn std::error::Error>;

const ACCOUNTS: usize = 1_000;
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
/// Resources per (account, region, check); one in three fails.
const PER_SCOPE: usize = 2;

fn synthetic() -> Result<ScanReport, BoxError> {
    let mut findings = Vec::new();
    let mut coverage = Vec::new();
    let mut report = ScanReport::new(
        Subject::Organization { id: "o-exampleorg1".into(), caller: "100000000000".parse()? },
        check::ALL.iter().map(|c| c.info()).collect(),
    );
    let mut n = 0usize;
    for a in 0..ACCOUNTS {
        let account: AccountId = format!("{:012}", 100_000_000_000u64 + a as u64).parse()?;
        report.accounts.insert(
            account.clone(),
            AccountInfo { name: format!("team-{a:04}"), ou_path: Some(format!("Root/unit-{}", a % 10)), ous: Vec::new() },
        );
        for region in REGIONS {
            let region: Region = region.parse()?;
            let target = Target::new(account.clone(), region.clone());
            for c in check::ALL {
                let info = c.info();
                // One scope in a hundred could not be read.
                if (a + n).is_multiple_of(100) {
                    let status = CoverageStatus::Error(ScopeError::new("AccessDeniedException", "not authorized"));
                    coverage.push(Coverage { check_id: info.id, account: account.clone(), region: Some(region.clone()), status });
                    n += 1;
                    continue;
                }
                for i in 0..PER_SCOPE {
                    n += 1;
                    let id = format!("{}-{n:07}", info.id);
                    let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
                    let b = Finding::builder(info, &target).resource(info.resource_types[0], &id, arn);
                    let f =
                        if (n + i).is_multiple_of(3) { b.fail(format!("{id} fails {}", info.id)) } else { b.pass(format!("{id} passes")) };
                    findings.push(f.build()?);
                }
                let status = CoverageStatus::Evaluated { resources: PER_SCOPE, not_applicable: 0, not_evaluable: 0 };
                coverage.push(Coverage { check_id: info.id, account: account.clone(), region: Some(region.clone()), status });
            }
        }
    }
    report.findings = findings;
    report.coverage = coverage;
    report.sort();
    Ok(report)
}

fn median(runs: usize, mut f: impl FnMut() -> Result<usize, BoxError>) -> Result<(Duration, usize), BoxError> {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = std::hint::black_box(f()?);
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], bytes))
}

fn browser_times(python: &std::ffi::OsStr, page: &std::path::Path) -> Result<serde_json::Value, BoxError> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check_report.py");
    let o = std::process::Command::new(python).arg(script).arg("--time").arg(page).arg("5").output()?;
    if !o.status.success() {
        return Err(format!("the browser timing failed: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(serde_json::from_slice(&o.stdout)?)
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` and nextest (`--list`) must not run it.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let report = synthetic()?;
    let fails = report.failures().count();
    println!(
        "synthetic organization: {ACCOUNTS} accounts, {} findings ({fails} FAIL), {} scopes",
        report.findings.len(),
        report.coverage.len()
    );
    let (floor, floor_bytes) = median(5, || Ok(serde_json::to_vec(&orgscan::json::JsonReport::new(&report))?.len()))?;
    let (html, html_bytes) = median(5, || Ok(orgscan::report::html::render(&report)?.len()))?;
    println!("{:<28} {:>10} {:>10} {:>8}", "render", "median_ms", "MB", "ratio");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("{:<28} {:>10.1} {:>10.2} {:>8}", "serde_json (floor)", ms(floor), floor_bytes as f64 / 1e6, "1.00");
    println!("{:<28} {:>10.1} {:>10.2} {:>8.2}", "html", ms(html), html_bytes as f64 / 1e6, ms(html) / ms(floor));

    let Some(python) = std::env::var_os("ORGSCAN_BROWSER_PYTHON").filter(|v| !v.is_empty()) else {
        println!("browser timings: not measured (source scripts/browser-env.sh, or run under scripts/test.sh's environment)");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, orgscan::report::html::render(&report)?)?;
    // The floor: the same data in a page that only parses it and marks itself rendered.
    let json = serde_json::to_string(&orgscan::json::JsonReport::new(&report))?.replace('<', "\\u003c");
    let floor_page = dir.path().join("floor.html");
    std::fs::write(
        &floor_page,
        format!(
            "<!DOCTYPE html><html><body><p>data</p><script type=\"application/json\" id=\"d\">{json}</script><script>JSON.parse(document.getElementById('d').textContent);document.documentElement.dataset.rendered='true';performance.mark('orgscan-rendered');</script></body></html>"
        ),
    )?;
    let ours = browser_times(&python, &page)?;
    let base = browser_times(&python, &floor_page)?;
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!("{:<28} {:>14} {:>12}", "in headless Chromium", "first paint ms", "rendered ms");
    println!("{:<28} {:>14.0} {:>12.0}", "JSON only (floor)", f(&base, "first_paint_ms"), f(&base, "rendered_ms"));
    println!("{:<28} {:>14.0} {:>12.0}", "html report", f(&ours, "first_paint_ms"), f(&ours, "rendered_ms"));
    println!("ratio (rendered, html / floor): {:.2}", f(&ours, "rendered_ms") / f(&base, "rendered_ms"));
    Ok(())
}
