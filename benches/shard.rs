//! Sharded scans: one `orgscan scan` process against N shards run side by side (separate processes, as a
//! job engine runs them), and the cost of `orgscan merge`.
//!
//! `cargo bench --bench shard` (after `scripts/test.sh` or `scripts/moto-env.sh` installed moto).
//! Environment: ORGSCAN_BENCH_SHARD_ACCOUNTS (members, default 1000; the management account is scanned
//! too), ORGSCAN_BENCH_SHARDS (default 4), ORGSCAN_BENCH_DELAY_MS (the latency proxy's delay, default 50),
//! ORGSCAN_BENCH_MERGE_FINDINGS (synthetic findings for the merge part, default 1000000; 0 skips it),
//! ORGSCAN_BENCH_PARTS (`scan,merge`, default both), ORGSCAN_BENCH_KEEP (a directory: the reports are written
//! and kept there, to profile a merge by hand, e.g. with `heaptrack`; default a temporary directory).
//!
//! Part 1 (`scan`): an organization of N accounts in moto, each with a GuardDuty detector (enabled,
//! disabled or none) in one region, scanned through the 50 ms latency proxy: wall time, peak RSS and API
//! calls of the single process, of each shard, and of the merge of the shards' reports.
//! Part 2 (`merge`): M synthetic findings split into the shards' reports, merged (`orgscan merge --json`),
//! against writing the same findings' JSON report once (`orgscan merge` of one 0/1 report, which reads and
//! writes it once, and the in-process JSON writer).
//!
//! Peak RSS of each process is its maximum resident set size as `/usr/bin/time -f %M` reports it.

// A benchmark prints its tables and ratios; its setup unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::too_many_lines)]

#[path = "../tests/support/estate.rs"]
mod estate;
#[path = "support/moto.rs"]
mod moto;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use estate::{BoxError, Mix, Moto, create_grouped_org, seed_org};
use moto::{env_num, start_moto};
use orgscan::model::Shard;

/// One orgscan process, timed by /usr/bin/time.
struct Run {
    child: Child,
    stats: PathBuf,
    started: Instant,
    what: String,
}

struct Measured {
    what: String,
    wall: f64,
    rss_mb: f64,
    code: Option<i32>,
}

fn spawn(what: &str, args: &[String], env: &[(String, String)], dir: &Path) -> Result<Run, BoxError> {
    let stats = dir.join(format!("{}.time", what.replace([' ', '/'], "_")));
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%e %M", "-o"]).arg(&stats).arg(env!("CARGO_BIN_EXE_orgscan")).args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("ORGSCAN_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).stdout(Stdio::null()).stderr(Stdio::piped());
    Ok(Run { child: cmd.spawn()?, stats, started: Instant::now(), what: what.to_owned() })
}

fn finish(run: Run) -> Result<Measured, BoxError> {
    let out = run.child.wait_with_output()?;
    let wall = run.started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&run.stats)?;
    // The last line: a process killed by a signal gets a "Command terminated" line first.
    let last = text.lines().last().unwrap_or_default().to_owned();
    let rss_kb: f64 = last.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or_else(|| format!("/usr/bin/time wrote {text:?}"))?;
    let code = out.status.code();
    if !matches!(code, Some(0 | 1)) {
        return Err(format!("{} exited {code:?}: {}", run.what, String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(Measured { what: run.what, wall, rss_mb: rss_kb / 1024.0, code })
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn read(path: &Path) -> Result<serde_json::Value, BoxError> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn calls(report: &serde_json::Value, op: &str) -> u64 {
    report["stats"]["api_calls_by_operation"][op]["calls"].as_u64().unwrap_or(0)
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` and nextest (`--list`) must not run it.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let parts = std::env::var("ORGSCAN_BENCH_PARTS").unwrap_or_else(|_| "scan,merge".into());
    let shards = u32::try_from(env_num("ORGSCAN_BENCH_SHARDS", 4)).unwrap_or(4).max(1);
    let temp = tempfile::tempdir()?;
    let dir = match std::env::var_os("ORGSCAN_BENCH_KEEP") {
        Some(keep) => {
            std::fs::create_dir_all(&keep)?;
            PathBuf::from(keep)
        }
        None => temp.path().to_owned(),
    };
    if parts.contains("scan") {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        rt.block_on(scan_part(shards, &dir))?;
    }
    let findings = env_num("ORGSCAN_BENCH_MERGE_FINDINGS", 1_000_000) as usize;
    if parts.contains("merge") && findings > 0 {
        merge_part(findings, shards, &dir)?;
    }
    Ok(())
}

async fn scan_part(shards: u32, dir: &Path) -> Result<(), BoxError> {
    let n = env_num("ORGSCAN_BENCH_SHARD_ACCOUNTS", 1000) as usize;
    let delay = Duration::from_millis(env_num("ORGSCAN_BENCH_DELAY_MS", 50));
    let moto = start_moto()?;
    let seeder = Moto { endpoint: moto.endpoint.clone() };
    let t = Instant::now();
    let org = create_grouped_org(&seeder, &[n]).await?;
    let region = "eu-west-1";
    seed_org(&seeder, &org, &[region], |i, _| Mix::guardduty_only((i % 3) as u8)).await?;
    eprintln!("seeded {} accounts in {:.1}s", org.all_accounts().len(), t.elapsed().as_secs_f64());
    let proxy = proxy::DelayProxy::start(moto.addr, delay).await?;
    let c = &org.management_creds;
    let mut env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), proxy.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id().to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), c.secret_access_key().to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        ("AWS_CONFIG_FILE".to_owned(), "/nonexistent".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE".to_owned(), "/nonexistent".to_owned()),
    ];
    if let Some(t) = c.session_token() {
        env.push(("AWS_SESSION_TOKEN".to_owned(), t.to_owned()));
    }
    let scan = |extra: &[String], json: &Path| {
        let mut a = s(&["scan", "--regions", region, "--quiet", "--json"]);
        a.push(json.to_string_lossy().into_owned());
        a.extend(extra.iter().cloned());
        a
    };

    // Side by side would share moto's one CPU with the single process: they run one after the other.
    let one_json = dir.join("one.json");
    let cpu0 = moto.cpu_seconds();
    let one = finish(spawn("one process", &scan(&[], &one_json), &env, dir)?)?;
    let one_cpu = moto.cpu_seconds() - cpu0;
    let one_requests = proxy.take().len();
    let cpu0 = moto.cpu_seconds();
    let t = Instant::now();
    let runs: Vec<Run> = (0..shards)
        .map(|i| {
            let json = dir.join(format!("shard-{i}.json"));
            spawn(&format!("shard {i}/{shards}"), &scan(&[format!("--shard={i}/{shards}")], &json), &env, dir)
        })
        .collect::<Result<_, _>>()?;
    let measured: Vec<Measured> = runs.into_iter().map(finish).collect::<Result<_, _>>()?;
    let sharded_wall = t.elapsed().as_secs_f64();
    let shards_cpu = moto.cpu_seconds() - cpu0;
    let shards_requests = proxy.take().len();
    let reports: Vec<PathBuf> = (0..shards).map(|i| dir.join(format!("shard-{i}.json"))).collect();
    let merged_json = dir.join("merged.json");
    let mut margs = vec!["merge".to_owned()];
    margs.extend(reports.iter().map(|p| p.to_string_lossy().into_owned()));
    margs.extend(s(&["--quiet", "--json"]));
    margs.push(merged_json.to_string_lossy().into_owned());
    let merge = finish(spawn("merge", &margs, &env, dir)?)?;

    let one_r = read(&one_json)?;
    let merged_r = read(&merged_json)?;
    let findings = |r: &serde_json::Value| r["findings"].as_array().map_or(0, Vec::len);
    if findings(&one_r) != findings(&merged_r) || one_r["coverage"] != merged_r["coverage"] {
        return Err("the merged report differs from the single process's".into());
    }
    println!(
        "\nsharded scan: {} accounts, 1 region, 5 checks, {} ms latency proxy, {shards} shards side by side",
        n + 1,
        delay.as_millis()
    );
    println!(
        "{:<14} {:>8} {:>9} {:>9} {:>10} {:>12} {:>11} {:>9}",
        "run", "wall_s", "rss_MB", "accounts", "api_calls", "ListAccounts", "AssumeRole", "findings"
    );
    let row = |m: &Measured, r: &serde_json::Value| {
        println!(
            "{:<14} {:>8.2} {:>9.1} {:>9} {:>10} {:>12} {:>11} {:>9}",
            m.what,
            m.wall,
            m.rss_mb,
            r["stats"]["accounts"].as_u64().unwrap_or(0),
            r["stats"]["api_calls"].as_u64().unwrap_or(0),
            calls(r, "Organizations:ListAccounts"),
            calls(r, "STS:AssumeRole"),
            findings(r)
        );
    };
    row(&one, &one_r);
    for (i, m) in measured.iter().enumerate() {
        row(m, &read(&reports[i])?);
    }
    println!(
        "{:<14} {:>8.2} {:>9.1} {:>9} {:>10} {:>12} {:>11} {:>9}",
        merge.what,
        merge.wall,
        merge.rss_mb,
        merged_r["stats"]["accounts"].as_u64().unwrap_or(0),
        "-",
        "-",
        "-",
        findings(&merged_r)
    );
    println!(
        "all {shards} shards: wall {sharded_wall:.2}s ({:.2}x the single process), HTTP requests through the proxy {shards_requests} vs \
         {one_requests}, moto busy {shards_cpu:.1}s vs {one_cpu:.1}s (moto is one Python process: the shards share it, as they would \
         not share AWS); merge exit code {:?}",
        sharded_wall / one.wall,
        merge.code
    );
    Ok(())
}

fn merge_part(n: usize, shards: u32, dir: &Path) -> Result<(), BoxError> {
    let t = Instant::now();
    let mut report = synthetic::synthetic(n).map_err(|e| e.to_string())?;
    eprintln!("synthesized {n} findings in {:.1}s", t.elapsed().as_secs_f64());
    // Writing once, in process: the JSON report of the whole estate.
    let once = dir.join("once.json");
    let t = Instant::now();
    orgscan::files::write_atomic(&once, |w| orgscan::json::to_writer(&report, w))?;
    let write_once = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&once)?.len();
    // The same findings as one 0/1 shard report, and as `shards` shard reports.
    report.stats.accounts = report.accounts.len();
    let single = dir.join("single-0of1.json");
    synthetic::write_shard(&report, Shard { index: 0, count: 1 }, &single)?;
    let parts = synthetic::shard_reports(&report, shards, dir)?;
    drop(report);
    let merge = |what: &str, inputs: &[PathBuf]| -> Result<Measured, BoxError> {
        let mut a = vec!["merge".to_owned()];
        a.extend(inputs.iter().map(|p| p.to_string_lossy().into_owned()));
        a.extend(s(&["--quiet", "--json"]));
        a.push(dir.join(format!("{what}.out.json")).to_string_lossy().into_owned());
        finish(spawn(what, &a, &[], dir)?)
    };
    let one = merge("merge 1 of 1", std::slice::from_ref(&single))?;
    let all = merge(&format!("merge {shards} shards"), &parts)?;
    println!("\nmerge: {n} synthetic findings ({:.0} MB of JSON report)", bytes as f64 / 1e6);
    println!("{:<28} {:>8} {:>9}", "run", "time_s", "rss_MB");
    println!("{:<28} {:>8.2} {:>9}", "write once (in process)", write_once, "-");
    for m in [&one, &all] {
        println!("{:<28} {:>8.2} {:>9.1}", m.what, m.wall, m.rss_mb);
    }
    println!(
        "merge of {shards} shards / writing once: {:.2}x time; / merge of one report: {:.2}x time, {:.2}x RSS",
        all.wall / write_once,
        all.wall / one.wall,
        all.rss_mb / one.rss_mb
    );
    Ok(())
}
