use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use orgscan::aws::ClientFactory;
use orgscan::check;
use orgscan::cli::{ChecksFormat, Cli, Command, LogFormat};
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
        Command::Checks { format } => {
            print!("{}", render_checks(format));
            ExitCode::SUCCESS
        }
        // Every bad value is refused before any AWS call (for fix, also --apply without --yes off a terminal).
        Command::Scan(args) => run(ScanPlan::from_args(&args), |plan| scan(plan, cli.quiet)),
        Command::Fix(args) => run(FixPlan::from_args(&args), fix),
        Command::Merge(args) => run(MergePlan::from_args(&args), merge),
    }
}

/// Runs a validated plan on a multi-threaded runtime; a plan that does not validate exits 2, naming the value.
fn run<P, E: std::fmt::Display, F: std::future::Future<Output = u8>>(plan: Result<P, E>, work: impl FnOnce(P) -> F) -> ExitCode {
    let plan = match plan {
        Ok(p) => p,
        Err(e) => {
            // A refusal may quote a value of a file (a report, a config): shown safe for the terminal.
            eprintln!("orgscan: error: {}", orgscan::model::terminal::safe_lines(&e.to_string()));
            return ExitCode::from(exit::USAGE);
        }
    };
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => ExitCode::from(runtime.block_on(work(plan))),
        Err(e) => {
            eprintln!("orgscan: error: cannot start the async runtime: {e}");
            ExitCode::from(exit::USAGE)
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

async fn fix(mut plan: FixPlan) -> u8 {
    let factory = ClientFactory::from_env(&plan.base.aws).await;
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let signal = stop_signal().await;
        eprintln!("orgscan: {signal} received; stopping after the step in progress (the journal records every step)");
        let _ = tx.send(true);
    });
    match orgscan::run_fix(&mut plan, factory, rx, &mut Terminal).await {
        Ok(outcome) => outcome.exit_code,
        Err(e) => {
            eprintln!("orgscan: error: {}", orgscan::model::terminal::safe_lines(&e.to_string()));
            e.exit_code()
        }
    }
}

/// Completes on the first Ctrl-C (SIGINT) or SIGTERM, the signal Kubernetes, ECS, AWS Batch and systemd
/// stop a process with; never completes where no signal can be watched.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let terminate = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            if r.is_err() {
                std::future::pending::<()>().await;
            }
            "SIGINT"
        }
        () = terminate => "SIGTERM",
    }
}

async fn scan(mut plan: ScanPlan, quiet: bool) -> u8 {
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
    let cancel = async {
        let signal = stop_signal().await;
        eprintln!("orgscan: {signal} received; writing what was gathered so far");
    };
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
        // The scan's signal watch is gone with its future: the import gets one of its own.
        let cancel = async {
            let signal = stop_signal().await;
            eprintln!("orgscan: {signal} received; stopping the Security Hub import; unfinished scopes are reported");
        };
        orgscan::import_security_hub(&mut outcome, &plan, &factory, cancel).await;
    }
    let sinks = Sinks { store: &mut plan.store, notify: &plan.notify, remote: &remote, factory: Some(&factory) };
    deliver(&outcome.report, &plan.outputs, errors, sinks).await
}

/// `orgscan merge`: nothing is read before the plan validates; a report that does not belong exits 2. It
/// calls AWS only for what is in S3 and for the SNS notification.
async fn merge(mut plan: MergePlan) -> u8 {
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
        None => orgscan::Remote { store: None, baseline: None },
    };
    if remote.baseline.is_some() {
        plan.baseline = remote.baseline.clone();
    }
    let report = match orgscan::run_merge(&plan) {
        Ok(r) => r,
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
        if let Err(e) = report::json::to_writer(report, &mut out).and_then(|()| out.flush())
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
