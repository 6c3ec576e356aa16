// `main` writes what the user asked for to stdout (`orgscan checks`, `--json -`).
#![allow(clippy::print_stdout)]
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use orgscan::aws::ClientFactory;
use orgscan::check;
use orgscan::cli::{ChecksFormat, Cli, Command, LogFormat, PrincipalArg};
use orgscan::config::ScanPlan;
use orgscan::config::fix::FixPlan;
use orgscan::config::merge::MergePlan;
use orgscan::model::exit;
use orgscan::report;
use tracing::Level;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.verbose, cli.quiet, cli.log_format);
    match cli.command {
        Command::Checks { iam_policy: Some(principal), .. } => {
            let principal = match principal {
                PrincipalArg::Audit => orgscan::iam::Principal::Audit,
                PrincipalArg::Scanner => orgscan::iam::Principal::Scanner,
                PrincipalArg::Remediation => orgscan::iam::Principal::Remediation,
            };
            print!("{}", orgscan::iam::render(principal));
            ExitCode::SUCCESS
        }
        Command::Checks { format, iam_policy: None } => {
            print!("{}", render_checks(format));
            ExitCode::SUCCESS
        }
        // Every bad value is refused before any AWS call (for fix, also --apply without --yes off a terminal).
        Command::Scan(args) => run(ScanPlan::from_args(&args), SCAN_STOP, |plan, stop| scan(plan, cli.quiet, stop)),
        Command::Fix(args) => run(FixPlan::from_args(&args), FIX_STOP, fix),
        Command::Merge(args) => run(MergePlan::from_args(&args), MERGE_STOP, merge),
    }
}

const SCAN_STOP: &str = "stopping: what was gathered is written, marked incomplete, with what was not reached";
const FIX_STOP: &str = "stopping after the step in progress (the journal records every step)";
const MERGE_STOP: &str = "stopping before the next shard report; the ones not read are reported missing";

/// Runs a validated plan on a multi-threaded runtime, Ctrl-C and SIGTERM watched from its first moment (before
/// any AWS call); a plan that does not validate exits 2, naming the value.
fn run<P, E: std::fmt::Display, F: std::future::Future<Output = u8>>(
    plan: Result<P, E>,
    said: &'static str,
    work: impl FnOnce(P, Stop) -> F,
) -> ExitCode {
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            // A refusal may quote a value of a file (a report, a config): shown safe for the terminal.
            eprintln!("orgscan: error: {}", orgscan::model::terminal::safe_lines(&e.to_string()));
            return ExitCode::from(exit::USAGE);
        }
    };
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => ExitCode::from(runtime.block_on(async {
            let stop = Stop::install(said);
            work(plan, stop).await
        })),
        Err(e) => {
            eprintln!("orgscan: error: cannot start the async runtime: {e}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// One signal of a stream; never, where it could not be watched.
#[cfg(unix)]
async fn recv(s: Option<&mut tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// The first Ctrl-C (SIGINT) or SIGTERM of the run (SIGTERM is how Kubernetes, ECS, AWS Batch and systemd stop
/// a process), watched from the start: every phase (walk, scan, import, merge, fix) reads the same stop, so a
/// signal between two phases is not lost and none kills the process with a report half gathered.
#[derive(Clone)]
struct Stop(tokio::sync::watch::Receiver<bool>);

impl Stop {
    /// Registers the handlers before it returns (so inside a runtime, before the first AWS call); `said` is
    /// printed on stderr after the signal's name.
    fn install(said: &'static str) -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (term, int) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
            if let (Err(e), _) | (_, Err(e)) = (&term, &int) {
                eprintln!("orgscan: warning: cannot watch for Ctrl-C and SIGTERM: {e}");
            }
            let (mut term, mut int) = (term.ok(), int.ok());
            tokio::spawn(async move {
                let name = tokio::select! {
                    _ = recv(term.as_mut()) => "SIGTERM",
                    _ = recv(int.as_mut()) => "SIGINT",
                };
                // Stopped first, said second: whoever reads the line can count on the stop being set.
                let _ = tx.send(true);
                eprintln!("orgscan: {name} received; {said}");
                // Later signals are absorbed: the run is already stopping, and a report is being written.
                loop {
                    tokio::select! {
                        _ = recv(term.as_mut()) => {}
                        _ = recv(int.as_mut()) => {}
                    }
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
                eprintln!("orgscan: Ctrl-C received; {said}");
            }
        });
        Stop(rx)
    }

    fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once stopped (at once if already); never if the watch is gone.
    async fn wait(mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The terminal side of `orgscan fix`: the plan and each step on stdout, the question on stderr.
struct Terminal;

impl orgscan::FixUi for Terminal {
    fn say(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`orgscan fix ... | head`) must not stop the changes or their journal.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn confirm(&mut self, changes: usize) -> bool {
        eprint!("Make these {changes} change(s)? Type yes to apply: ");
        let mut answer = String::new();
        match std::io::stdin().read_line(&mut answer) {
            Ok(_) => answer.trim() == "yes",
            Err(_) => false,
        }
    }
}

async fn fix(mut plan: FixPlan, stop: Stop) -> u8 {
    let factory = ClientFactory::from_env(&plan.base.aws).await;
    match orgscan::run_fix(&mut plan, factory, stop.0, &mut Terminal).await {
        Ok(outcome) => outcome.exit_code,
        Err(e) => {
            eprintln!("orgscan: error: {}", orgscan::model::terminal::safe_lines(&e.to_string()));
            e.exit_code()
        }
    }
}

async fn scan(mut plan: ScanPlan, quiet: bool, stop: Stop) -> u8 {
    let factory = ClientFactory::from_env(&plan.aws).await;
    // The S3 baseline is read before the scan: a bucket that cannot be read stops it before it starts.
    let remote = match orgscan::prepare_remote(&plan.store, &factory).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("orgscan: error: {e}");
            return e.exit_code();
        }
    };
    if remote.baseline.is_some() {
        plan.baseline = remote.baseline.clone();
    }
    let cancel = stop.clone().wait();
    let mut bar = if quiet { None } else { orgscan::progress::Bar::stderr() };
    let mut silent = orgscan::scan::Silent;
    let progress: &mut dyn orgscan::scan::Progress = match bar.as_mut() {
        Some(b) => b,
        None => &mut silent,
    };
    let mut outcome = match orgscan::run_scan_with_accounts(&plan, factory.clone(), cancel, progress).await {
        Ok(r) => r,
        Err(e) => {
            // The scan never started: earlier reports are left as they are.
            drop(bar);
            eprintln!("orgscan: error: {e}");
            return e.exit_code();
        }
    };
    drop(bar);
    let mut errors = Vec::new();
    if let Some(dir) = &plan.security_hub.asff_dir {
        errors.extend(orgscan::securityhub::batch::write_dir(&outcome.report, dir, outcome.report.finished_at));
    }
    if plan.security_hub.import {
        // A stop during the scan (or since) leaves the import undone: its scopes are reported as interrupted.
        orgscan::import_security_hub(&mut outcome, &plan, &factory, stop.wait()).await;
    }
    let sinks = Sinks { store: &mut plan.store, notify: &plan.notify, remote: &remote, factory: Some(&factory) };
    deliver(&outcome.report, &plan.outputs, errors, sinks).await
}

/// `orgscan merge`: nothing is read before the plan validates; a report that does not belong exits 2. It
/// calls AWS only for what is in S3 and for the SNS notification. A stop (Ctrl-C, SIGTERM) is honoured before
/// each shard report is read: the ones not read are missing shards.
async fn merge(mut plan: MergePlan, stop: Stop) -> u8 {
    let factory = if plan.store.uses_s3() || plan.notify.sns_topic.is_some() {
        Some(ClientFactory::from_env(&orgscan::aws::AwsOptions::default()).await)
    } else {
        None
    };
    let remote = match &factory {
        Some(f) => match orgscan::prepare_remote(&plan.store, f).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("orgscan: error: {e}");
                return e.exit_code();
            }
        },
        None => orgscan::Remote::default(),
    };
    if remote.baseline.is_some() {
        plan.baseline = remote.baseline.clone();
    }
    plan.reports.extend(remote.shard_reports.iter().cloned());
    // The merge itself is synchronous: off the runtime's workers, so the signals are still watched meanwhile.
    let merged = tokio::task::block_in_place(|| orgscan::run_merge(&plan, &|| stop.is_stopped()));
    let report = match merged {
        Ok(r) => r,
        Err(e) if stop.is_stopped() => {
            eprintln!("orgscan: {e}");
            return exit::INCOMPLETE;
        }
        Err(e) => {
            eprintln!("orgscan: error: {e}");
            return exit::USAGE;
        }
    };
    let mut errors = Vec::new();
    if let Some(dir) = &plan.asff_dir {
        errors.extend(orgscan::securityhub::batch::write_dir(&report, dir, report.finished_at));
    }
    let sinks = Sinks { store: &mut plan.store, notify: &plan.notify, remote: &remote, factory: factory.as_ref() };
    deliver(&report, &plan.outputs, errors, sinks).await
}

/// The S3 side and the notifications of a run, for [`deliver`].
struct Sinks<'a> {
    store: &'a mut orgscan::store::StorePlan,
    notify: &'a orgscan::notify::NotifyPlan,
    remote: &'a orgscan::Remote,
    factory: Option<&'a ClientFactory>,
}

/// Writes the report's files, uploads what goes to S3 and notifies, prints the summary (or the JSON report on
/// stdout), and gives the exit code.
async fn deliver(report: &orgscan::model::ScanReport, outputs: &orgscan::report::Outputs, mut errors: Vec<String>, r: Sinks<'_>) -> u8 {
    // Files first (S3-bound ones rendered into the staging directory): a closed stdout (`orgscan scan ... |
    // head`) or a failed upload must not cost the local reports.
    errors.extend(orgscan::write_outputs(report, outputs));
    let published = orgscan::publish(report, r.store, r.notify, r.remote, r.factory, &errors).await;
    errors.extend(published.errors);
    for line in &published.lines {
        eprintln!("orgscan: {line}");
    }
    let summary = report::text::render(report);
    let json_to_stdout = outputs.json.as_deref().is_some_and(orgscan::files::is_stdout);
    if json_to_stdout {
        let mut out = std::io::stdout().lock();
        if let Err(e) = orgscan::json::to_writer(report, &mut out).and_then(|()| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            errors.push(format!("cannot write the JSON report to stdout: {e}"));
        }
        eprint!("{summary}");
    } else {
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(summary.as_bytes()).and_then(|()| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            errors.push(format!("cannot print the summary: {e}"));
        }
    }
    for e in &errors {
        eprintln!("orgscan: error: {e}");
    }
    if errors.is_empty() { report.exit_code() } else { exit::OUTPUT }
}

fn init_logs(verbose: u8, quiet: bool, format: LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // The SDK warns about every IMDS probe of its default chains; orgscan reports what matters itself.
        (false, 0) => "warn,aws_config=error",
        (false, 1) => "orgscan=info,warn",
        (false, 2) => "orgscan=debug,info",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The SDK's and HTTP stack's debug and trace events print resolved identities (access key ids) and raw
    // HTTP exchanges (AssumeRole answers carry secrets): whatever RUST_LOG asks, they stop at INFO.
    let no_secrets = filter_fn(|meta| {
        let t = meta.target();
        let external = ["aws_", "hyper", "h2", "rustls", "tower"].iter().any(|p| t.starts_with(p));
        !external || *meta.level() <= Level::INFO
    });
    let filter = filter.and(no_secrets);
    match format {
        LogFormat::Text => {
            // Colours only on a terminal: a pipe or a log file gets the text alone, never escape sequences.
            // (tracing-subscriber escapes the ones inside logged values itself since 0.3.20.)
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let layer = fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(ansi);
            tracing_subscriber::registry().with(layer.with_filter(filter)).init()
        }
        LogFormat::Json => tracing_subscriber::registry()
            .with(fmt::layer().json().with_writer(std::io::stderr).with_current_span(false).with_filter(filter))
            .init(),
    }
}

fn render_checks(format: ChecksFormat) -> String {
    match format {
        ChecksFormat::Json => {
            let list: Vec<_> = check::ALL
                .iter()
                .map(|c| {
                    let i = c.info();
                    serde_json::json!({
                        "id": i.id,
                        "severity": i.severity.as_str(),
                        "title": i.title,
                        "security_hub_control": i.security_hub_controls.join(" / "),
                        "resource_types": i.resource_types,
                        "remediation": format!("{}\n{}", i.remediation, i.remediation_cli),
                    })
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&list).unwrap_or_default();
            s.push('\n');
            s
        }
        ChecksFormat::Table => {
            let mut s = format!("{:<40} {:<9} {:<26} {}\n", "ID", "SEVERITY", "SECURITY HUB CONTROL", "TITLE");
            for c in check::ALL {
                let i = c.info();
                s.push_str(&format!("{:<40} {:<9} {:<26} {}\n", i.id, i.severity.as_str(), i.security_hub_controls.join(" / "), i.title));
            }
            s
        }
    }
}
