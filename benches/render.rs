//! Rendering benchmark: the JSON report, SARIF, ASFF and OCSF (JSON Lines and Security Lake Parquet) for
//! 10,000 and 100,000 synthetic findings, each compared with plain `serde_json` serialization of the same
//! findings (the practical floor for producing that many bytes). `cargo bench --bench render`;
//! ORGSCAN_BENCH_FINDINGS="10000,100000" to change sizes.

// A benchmark prints its tables and ratios; its setup unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::too_many_lines)]

use std::time::{Duration, Instant};

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use synthetic::synthetic;

/// Median of `runs` timings of `f`, which returns the bytes it produced.
fn time(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = std::hint::black_box(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` and nextest (`--list`) must not run it.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let sizes: Vec<usize> = std::env::var("ORGSCAN_BENCH_FINDINGS")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("{:<8} {:>8} {:>10} {:>10} {:>12} {:>14}", "output", "findings", "median_ms", "MB", "findings/s", "vs serde_json");
    for n in sizes {
        let report = synthetic(n)?;
        let runs = if n > 50_000 { 5 } else { 11 };
        // The floor: the findings alone, as the JSON report's own plain records, compact, with nothing else.
        let (base, base_bytes) =
            time(runs, || serde_json::to_vec(&orgscan::json::JsonReport::new(&report).findings).map(|v| v.len()).unwrap_or(0));
        let mut rows = vec![("serde", base, base_bytes)];
        let (t, b) = time(runs, || {
            let mut out = Vec::new();
            orgscan::json::to_writer(&report, &mut out).map(|_| out.len()).unwrap_or(0)
        });
        rows.push(("json", t, b));
        // SARIF holds the FAILs only (a third here); one file per account keeps every file within GitHub's
        // limits at any size, and includes the gzip size check that guards them.
        let (t, b) = time(runs, || {
            match orgscan::report::sarif::render_dir(
                &report,
                &orgscan::report::sarif::SarifOptions::default(),
                &orgscan::report::sarif::Limits::GITHUB,
            ) {
                Ok(files) => files.iter().map(|f| f.bytes.len()).sum(),
                Err(_) => 0,
            }
        });
        rows.push(("sarif", t, b));
        // ASFF: every finding (PASSes resolve earlier FAILs), grouped by scope and cut into import batches.
        let (t, b) = time(runs, || {
            let mut bytes = 0;
            for findings in orgscan::securityhub::batch::by_scope(&report, report.finished_at).into_values() {
                for batch in orgscan::securityhub::batch::batches(findings) {
                    let mut out = Vec::new();
                    if orgscan::securityhub::batch::write_batch(&batch, &mut out).is_ok() {
                        bytes += out.len();
                    }
                }
            }
            bytes
        });
        rows.push(("asff", t, b));
        // OCSF: one Compliance Finding per finding (PASSes included), as JSON Lines ...
        let (t, b) = time(runs, || {
            let mut out = Vec::new();
            orgscan::report::ocsf::to_writer(&report, &mut out).map(|_| out.len()).unwrap_or(0)
        });
        rows.push(("ocsf", t, b));
        // ... and as Snappy-compressed Parquet, one file per (region, account, day) as Security Lake wants.
        let (t, b) = time(runs, || match orgscan::report::ocsf::parquet::render_dir(&report) {
            Ok(files) => files.iter().map(|f| f.bytes.len()).sum(),
            Err(_) => 0,
        });
        rows.push(("ocsf-pq", t, b));
        for (name, t, bytes) in rows {
            println!(
                "{name:<8} {n:>8} {:>10.1} {:>10.1} {:>12.0} {:>13.2}x",
                t.as_secs_f64() * 1000.0,
                bytes as f64 / 1e6,
                n as f64 / t.as_secs_f64(),
                t.as_secs_f64() / base.as_secs_f64()
            );
        }
    }
    Ok(())
}
