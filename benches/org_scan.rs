//! Organization-scale benchmark: orgscan scanning a moto organization in-process.
//!
//! `cargo bench --bench org_scan` (after `scripts/test.sh` or `scripts/moto-env.sh` installed moto).
//! Environment: ORGSCAN_BENCH_ACCOUNTS (member counts, default "10,25,50"), ORGSCAN_BENCH_REGIONS (default 4),
//! ORGSCAN_BENCH_DELAY_MS (default 50), ORGSCAN_BENCH_MODES (default "direct,latency,shallow,serial"),
//! ORGSCAN_BENCH_SERIAL (member counts to run serially, default: the largest only),
//! ORGSCAN_BENCH_WEB_FUNCTIONS (default 1; 0 seeds no Lambda Web Functions, so two runs give their cost in
//! calls per account: every Lambda scope lists them, each one seeded adds an endpoint listing and a revision read).
//!
//! Runs, per size N (members; the management account is scanned too):
//! - `direct`: against moto as it is; its floor is moto's own CPU time during the scan (moto is one Python
//!   process: the emulator, not orgscan, should be the bottleneck), or the scanning account's STS and
//!   Organizations budgets if they take longer (the roles assumed; the organization listing and OU tree);
//! - `latency`: through a proxy that adds a fixed delay to every request; its floor is the largest of the
//!   critical path (the longest chain of dependent calls x the delay), moto's busy time and those budgets;
//! - `shallow`: `latency` with `--shallow` (the five verdicts without the follow-up reads: Lambda aliases,
//!   KMS aliases, the GuardDuty administrator): what those reads add, in calls per account and in wall time
//!   against the floor;
//! - `serial`: `latency` with `--concurrency 1`, the naive baseline.
//!
//! Every row also reports the walk's share (`stats.walk_ms`: identity and account listing, before the scan
//! starts), the time to the first evaluated scope, and API calls per account.
//!
//! ORGSCAN_BENCH_LARGE (member count, default 0: off; e.g. 1000, or 10000 where the machine allows) adds a
//! second organization of that many accounts in OUs of ORGSCAN_BENCH_LARGE_OU_SIZE (default 7: 1,000
//! accounts in 143 OUs) with nothing seeded (each account is read by every check, GuardDuty FAILs in the one
//! region scanned), scanned `direct` and `latency` in one region: the cost of the walk and of the accounts
//! themselves at scale.

// A benchmark prints its tables and ratios; its setup unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::too_many_lines)]

#[path = "../tests/support/estate.rs"]
mod estate;
#[path = "support/moto.rs"]
mod moto;
#[path = "support/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use estate::{BoxError, Mix, Moto, create_grouped_org, seed_org};
use moto::{MotoServer, env_list, env_num, peak_rss_mb, reset_peak_rss, start_moto};
use orgscan::aws::ClientFactory;
use orgscan::cli::{Cli, Command as CliCommand};
use orgscan::config::ScanPlan;

/// Dependent calls in the longest chain of a `--shallow` scan with explicit regions: GetCallerIdentity →
/// ListAccounts → AssumeRole → a check's list call → its describe call.
const CRITICAL_CHAIN_SHALLOW: u32 = 5;
/// With the follow-up reads, KMS reads the aliases of a region with a key pending deletion after its
/// describes (ListKeys → DescribeKey → ListAliases); GuardDuty's administrator is read beside GetDetector,
/// Lambda's aliases after ListFunctions (as a describe would be): one more step.
const CRITICAL_CHAIN: u32 = 6;

fn plan(args: &[String]) -> Result<ScanPlan, BoxError> {
    let argv = ["orgscan".to_owned(), "scan".to_owned()].into_iter().chain(args.iter().cloned());
    match Cli::try_parse_from(argv)?.command {
        CliCommand::Scan(a) => Ok(ScanPlan::from_args(&a)?),
        CliCommand::Checks { .. } | CliCommand::Fix(_) | orgscan::cli::Command::Merge(_) => Err("not a scan".into()),
    }
}

struct RunResult {
    mode: &'static str,
    n: usize,
    accounts: usize,
    wall: f64,
    moto_cpu: f64,
    floor: f64,
    calls: u64,
    targets: usize,
    regions: usize,
    retries: u64,
    throttled: u64,
    findings: usize,
    peak_rss: f64,
    service_mean_ms: f64,
    by_op: BTreeMap<(String, String), u64>,
    /// `stats.walk_ms`: the part of the run before the scan started.
    walk: f64,
    /// From the start of the run to the first scope evaluated.
    first_scope: f64,
}

/// Records when the first scope is done.
struct FirstScope {
    t0: Instant,
    first: Option<f64>,
}

impl orgscan::scan::Progress for FirstScope {
    fn scope_done(&mut self, _findings: usize, _failed: usize, _error: bool) {
        if self.first.is_none() {
            self.first = Some(self.t0.elapsed().as_secs_f64());
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mode: &'static str,
    moto: &MotoServer,
    creds: &aws_credential_types::Credentials,
    endpoint: &str,
    proxy: Option<&proxy::DelayProxy>,
    n: usize,
    args: Vec<String>,
    delay: Duration,
    chain: u32,
) -> Result<RunResult, BoxError> {
    let factory = ClientFactory::from_sdk_config(Moto { endpoint: endpoint.to_owned() }.sdk_config(creds, "us-east-1"));
    let plan = plan(&args)?;
    if let Some(p) = proxy {
        p.take();
    }
    reset_peak_rss();
    let cpu0 = moto.cpu_seconds();
    let t0 = Instant::now();
    let mut first = FirstScope { t0, first: None };
    let report = orgscan::run_scan(&plan, factory, std::future::pending(), &mut first).await?;
    let wall = t0.elapsed().as_secs_f64();
    let moto_cpu = moto.cpu_seconds() - cpu0;
    let peak_rss = peak_rss_mb();
    if report.has_errors() {
        return Err(format!("{mode} N={n}: the scan had errors: {:?}", report.errors.first()).into());
    }
    let service: Vec<Duration> = proxy.map(|p| p.take()).unwrap_or_default();
    let service_mean_ms =
        if service.is_empty() { 0.0 } else { service.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / service.len() as f64 };
    let critical = f64::from(chain) * delay.as_secs_f64();
    // The scanning account's STS budget bounds how fast the roles can be assumed, whatever the latency.
    let assumed = report.stats.api.iter().filter(|((_, op), _)| op == "AssumeRole").map(|(_, c)| c.calls).sum::<u64>();
    let sts = orgscan::check::rate(orgscan::model::Service::Sts);
    let sts_floor = assumed.saturating_sub(u64::from(sts.burst)) as f64 / f64::from(sts.per_second.max(1));
    // So does its Organizations budget bound the organization's listing and OU tree (the run ends when the
    // tree is joined into the report): at 1,000 accounts in 143 OUs that is ~294 calls at 5 a second.
    let org = orgscan::check::rate(orgscan::model::Service::Organizations);
    let org_name = orgscan::model::Service::Organizations.sdk_id();
    let org_calls = report.stats.api.iter().filter(|((s, _), _)| *s == org_name).map(|(_, c)| c.calls).sum::<u64>();
    let org_floor = org_calls.saturating_sub(u64::from(org.burst)) as f64 / f64::from(org.per_second.max(1));
    let budgets = sts_floor.max(org_floor);
    let floor = if proxy.is_some() { critical.max(moto_cpu).max(budgets) } else { moto_cpu.max(budgets) };
    Ok(RunResult {
        mode,
        n,
        accounts: report.stats.accounts,
        wall,
        moto_cpu,
        floor,
        calls: report.stats.api_calls(),
        targets: report.coverage.len(),
        regions: report.stats.regions,
        retries: report.stats.retries(),
        throttled: report.stats.throttled(),
        findings: report.findings.len(),
        peak_rss,
        service_mean_ms,
        by_op: report.stats.api.iter().map(|(k, v)| (k.clone(), v.calls)).collect(),
        walk: report.stats.walk_ms.unwrap_or(0) as f64 / 1000.0,
        first_scope: first.first.unwrap_or(wall),
    })
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` and nextest (`--list`) must not run it.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    // This harness takes its settings from the environment.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(bench())
}

async fn bench() -> Result<(), BoxError> {
    let mut sizes = env_list("ORGSCAN_BENCH_ACCOUNTS", "10,25,50");
    sizes.sort_unstable();
    sizes.dedup();
    let n_regions = env_num("ORGSCAN_BENCH_REGIONS", 4) as usize;
    let delay = Duration::from_millis(env_num("ORGSCAN_BENCH_DELAY_MS", 50));
    let modes: Vec<String> = std::env::var("ORGSCAN_BENCH_MODES")
        .unwrap_or_else(|_| "direct,latency,shallow,serial".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let largest = sizes.last().copied().unwrap_or(10);
    let serial_sizes = env_list("ORGSCAN_BENCH_SERIAL", &largest.to_string());
    let all_regions =
        ["eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1", "us-west-2", "ca-central-1", "sa-east-1", "ap-northeast-1"];
    let regions: Vec<&str> = all_regions.iter().copied().take(n_regions.clamp(1, all_regions.len())).collect();

    let moto = start_moto()?;
    let seeder = Moto { endpoint: moto.endpoint.clone() };
    // Groups so that each size is a prefix of groups: sizes 10,25,50 → groups of 10, 15, 25.
    let mut groups = Vec::new();
    let mut prev = 0;
    for &s in &sizes {
        groups.push(s - prev);
        prev = s;
    }
    let t_seed = Instant::now();
    let org = create_grouped_org(&seeder, &groups).await?;
    let web_functions = env_num("ORGSCAN_BENCH_WEB_FUNCTIONS", 1) != 0;
    let (expected, _) = seed_org(&seeder, &org, &regions, |i, r| {
        let mut m = if i % 5 == 0 { Mix::full(((i + r) % 3) as u8) } else { Mix::light(((i + r) % 3) as u8) };
        m.web_functions &= web_functions;
        m
    })
    .await?;
    eprintln!(
        "seeded {} accounts x {} regions ({} resources; Lambda Web Functions {}) in {:.1}s",
        org.all_accounts().len(),
        regions.len(),
        expected.len(),
        if web_functions { "seeded" } else { "not seeded" },
        t_seed.elapsed().as_secs_f64()
    );

    let proxy = proxy::DelayProxy::start(moto.addr, delay).await?;
    let mut results = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let mut args: Vec<String> = vec!["--regions".into(), regions.join(",")];
        if n != largest {
            for ou in &org.ous[..=k] {
                args.push("--ou".into());
                args.push(ou.0.clone());
            }
        }
        for mode in &modes {
            let (name, endpoint, p, extra): (&'static str, &str, Option<&proxy::DelayProxy>, &[&str]) = match mode.as_str() {
                "direct" => ("direct", &moto.endpoint, None, &[]),
                "latency" => ("latency", &proxy.endpoint, Some(&proxy), &[]),
                "shallow" => ("shallow", &proxy.endpoint, Some(&proxy), &["--shallow"]),
                "serial" if serial_sizes.contains(&n) => {
                    ("serial", &proxy.endpoint, Some(&proxy), &["--concurrency", "1", "--per-account-concurrency", "1"])
                }
                _ => continue,
            };
            let mut a = args.clone();
            a.extend(extra.iter().map(|s| (*s).to_owned()));
            let chain = if name == "shallow" { CRITICAL_CHAIN_SHALLOW } else { CRITICAL_CHAIN };
            let r = run(name, &moto, &org.management_creds, endpoint, p, n, a, delay, chain).await?;
            eprintln!("{name:<8} N={n:<3} {:>7.2}s", r.wall);
            results.push(r);
        }
    }

    let large = env_num("ORGSCAN_BENCH_LARGE", 0) as usize;
    if large > 0 {
        let ou_size = env_num("ORGSCAN_BENCH_LARGE_OU_SIZE", 7).max(1) as usize;
        let groups: Vec<usize> = (0..large.div_ceil(ou_size)).map(|g| ou_size.min(large - g * ou_size)).collect();
        let t_seed = Instant::now();
        // A fresh moto: the large organization's management account is another caller's, in a server of its own.
        let big_moto = start_moto()?;
        let big_seeder = Moto { endpoint: big_moto.endpoint.clone() };
        let big = create_grouped_org(&big_seeder, &groups).await?;
        eprintln!("created {} accounts in {} OUs in {:.1}s", big.all_accounts().len(), groups.len(), t_seed.elapsed().as_secs_f64());
        let big_proxy = proxy::DelayProxy::start(big_moto.addr, delay).await?;
        let args: Vec<String> = vec!["--regions".into(), "eu-west-1".into(), "--shallow".into()];
        for (name, endpoint, p) in [("direct", &big_moto.endpoint, None), ("latency", &big_proxy.endpoint, Some(&big_proxy))] {
            let r = run(name, &big_moto, &big.management_creds, endpoint, p, large, args.clone(), delay, CRITICAL_CHAIN_SHALLOW).await?;
            eprintln!("{name:<8} N={large:<5} {:>7.2}s", r.wall);
            results.push(r);
        }
    }

    println!();
    println!(
        "{:<8} {:>5} {:>5} {:>3} {:>8} {:>8} {:>9} {:>8} {:>7} {:>8} {:>7} {:>10} {:>11} {:>7} {:>9} {:>8} {:>9} {:>10}",
        "mode",
        "N",
        "accts",
        "R",
        "wall_s",
        "floor_s",
        "wall/flr",
        "moto_cpu",
        "walk_s",
        "first_s",
        "calls",
        "calls/acct",
        "calls/scope",
        "retries",
        "throttled",
        "findings",
        "rss_MB",
        "svc_ms_avg"
    );
    for r in &results {
        println!(
            "{:<8} {:>5} {:>5} {:>3} {:>8.2} {:>8.2} {:>9.2} {:>8.2} {:>7.2} {:>8.2} {:>7} {:>10.2} {:>11.2} {:>7} {:>9} {:>8} {:>9.1} {:>10.2}",
            r.mode,
            r.n,
            r.accounts,
            r.regions,
            r.wall,
            r.floor,
            r.wall / r.floor.max(1e-9),
            r.moto_cpu,
            r.walk,
            r.first_scope,
            r.calls,
            r.calls as f64 / r.accounts.max(1) as f64,
            r.calls as f64 / r.targets.max(1) as f64,
            r.retries,
            r.throttled,
            r.findings,
            r.peak_rss,
            r.service_mean_ms
        );
    }
    if let Some(r) = results.iter().rev().find(|r| r.mode == "latency").or(results.last()) {
        println!("\nAPI calls by operation ({} N={}):", r.mode, r.n);
        for ((service, op), calls) in &r.by_op {
            println!("  {service:<14} {op:<28} {calls:>6}");
        }
    }
    let find = |mode: &str, n: usize| results.iter().find(|r| r.mode == mode && r.n == n);
    let smallest = sizes.first().copied().unwrap_or(largest);
    let mut ratios = Vec::new();
    if let Some(l) = find("latency", largest) {
        ratios.push(format!("latency/floor@{largest}={:.2} (target <= 1.5)", l.wall / l.floor));
    }
    if let Some(d) = find("direct", largest) {
        ratios.push(format!("direct/moto_busy@{largest}={:.2} (target <= 1.3)", d.wall / d.moto_cpu.max(1e-9)));
    }
    if let (Some(d), Some(l)) = (find("direct", large), find("latency", large)) {
        ratios.push(format!(
            "@{large}: direct/moto_busy={:.2}, latency/floor={:.2}, first scope after {:.2}s (walk {:.2}s), {:.2} calls per account",
            d.wall / d.moto_cpu.max(1e-9),
            l.wall / l.floor.max(1e-9),
            l.first_scope,
            l.walk,
            l.calls as f64 / l.accounts.max(1) as f64
        ));
    }
    if let (Some(l), Some(s)) = (find("latency", largest), find("serial", largest)) {
        ratios.push(format!("serial/latency@{largest}={:.1}x (target >= 20)", s.wall / l.wall));
    }
    for mode in ["latency", "direct"] {
        if let (Some(a), Some(b)) = (find(mode, smallest), find(mode, largest))
            && largest != smallest
        {
            ratios.push(format!(
                "{mode} wall {largest}/{smallest}={:.2} for N ratio {:.2} (target <= linear)",
                b.wall / a.wall,
                largest as f64 / smallest as f64
            ));
        }
    }
    if let (Some(l), Some(s)) = (find("latency", largest), find("shallow", largest)) {
        // What the follow-up reads cost: calls per account, by operation, and wall time against each floor.
        let extra = l.calls as f64 - s.calls as f64;
        println!("\nfollow-up reads at N={largest} (latency vs shallow), extra calls by operation:");
        for (op, calls) in &l.by_op {
            let before = s.by_op.get(op).copied().unwrap_or(0);
            if *calls != before {
                println!("  {:<14} {:<32} {:>6} -> {:>6}", op.0, op.1, before, calls);
            }
        }
        ratios.push(format!(
            "follow-up reads@{largest}: +{:.2} calls per account ({:+.1}%), wall/floor {:.2} vs shallow {:.2}, wall {:.2}x shallow",
            extra / l.accounts.max(1) as f64,
            100.0 * extra / s.calls.max(1) as f64,
            l.wall / l.floor,
            s.wall / s.floor,
            l.wall / s.wall
        ));
    }
    if let Some(r) = results.iter().filter(|r| r.n == largest).map(|r| r.peak_rss).reduce(f64::max) {
        ratios.push(format!("peak_rss@{largest}={r:.1}MB (target <= 100)"));
    }
    println!("\nratios: {}", ratios.join("; "));
    Ok(())
}
