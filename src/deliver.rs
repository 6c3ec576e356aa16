//! Delivering a run beyond its local files: the S3 store and baseline before the scan ([`prepare_remote`]),
//! and after the local outputs the uploads, the history, the notification and the history's pointer
//! ([`publish`]). The wiring of the `store` and `notify` sinks; `main` and the tests call it.

use crate::aws::ClientFactory;
use crate::model::{self, ScanReport};
use crate::notify;
use crate::org;
use crate::report;
use crate::store;
use crate::triage;

/// Why the S3 side of a run could not start: a bad bucket or baseline (exit 2) or a failure that may pass
/// (exit 6). Nothing was scanned.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub message: String,
    pub transient: bool,
}

impl RemoteError {
    pub fn exit_code(&self) -> u8 {
        if self.transient { model::exit::UNAVAILABLE } else { model::exit::USAGE }
    }
}

/// The S3 store of a run (when anything is in S3) and the baseline read from it.
#[derive(Default)]
pub struct Remote {
    pub store: Option<store::s3::Store>,
    pub baseline: Option<triage::Baseline>,
    /// The shard reports read from S3 (`orgscan merge s3://...`), in a local folder that lives as long as this.
    pub shard_reports: Vec<std::path::PathBuf>,
    _shard_dir: Option<tempfile::TempDir>,
}

/// Before the scan (or the merge): when anything is in S3, the expected bucket owner (`--s3-bucket-owner`,
/// else the caller's account from GetCallerIdentity) and the baseline: `--baseline s3://...`, or with
/// `--history` the latest complete run (none on the first run).
pub async fn prepare_remote(plan: &store::StorePlan, factory: &ClientFactory) -> Result<Remote, RemoteError> {
    if !plan.uses_s3() {
        return Ok(Remote::default());
    }
    let (owner, home) = match &plan.bucket_owner {
        Some(o) => (o.clone(), factory.home_region()),
        None => {
            let (caller, home) = org::whoami(factory).await.map_err(|e| RemoteError {
                transient: e.exit_code() == model::exit::UNAVAILABLE,
                message: format!("cannot learn the account that owns the S3 buckets (give --s3-bucket-owner): {e}"),
            })?;
            (caller.account, home)
        }
    };
    let region = plan.region.clone().or_else(|| factory.configured_region()).unwrap_or(home);
    let store = store::s3::Store::new(factory.ambient_clients_in(&region).s3(), owner, plan.kms_key.clone());
    let read = |e: store::s3::ReadError, what: &str| RemoteError {
        message: format!("cannot read the baseline ({what}): {}", e.message),
        transient: e.transient,
    };
    let parse = |url: &store::S3Url, text: &str| {
        triage::Baseline::parse(std::path::Path::new(&url.to_string()), text).map_err(|message| RemoteError { message, transient: false })
    };
    let baseline = if let Some(url) = &plan.baseline {
        match store.get(url).await.map_err(|e| read(e, "--baseline"))? {
            Some(bytes) => Some(parse(url, &String::from_utf8_lossy(&bytes))?),
            None => {
                return Err(RemoteError {
                    message: format!("--baseline {url}: no such object in bucket '{}'", url.bucket),
                    transient: false,
                });
            }
        }
    } else if let Some(history) = &plan.history {
        match store::history::latest(&store, history).await.map_err(|e| read(e, "--history"))? {
            Some((url, text)) => {
                tracing::info!("baseline: the latest complete run of the history, {url}");
                Some(parse(&url, &text)?)
            }
            None => {
                tracing::info!("history {history}: no complete run yet; this run has no baseline");
                None
            }
        }
    } else {
        None
    };
    let (shard_reports, shard_dir) = download_shards(&store, &plan.shard_reports).await?;
    Ok(Remote { store: Some(store), baseline, shard_reports, _shard_dir: shard_dir })
}

/// Every `*.json` report directly under each of `prefixes`, downloaded into a local folder of its own (one
/// numbered subfolder per prefix, so equal names never meet). A prefix that holds none is an error (exit 2).
async fn download_shards(
    store: &store::s3::Store,
    prefixes: &[store::S3Url],
) -> Result<(Vec<std::path::PathBuf>, Option<tempfile::TempDir>), RemoteError> {
    if prefixes.is_empty() {
        return Ok((Vec::new(), None));
    }
    let fail = |message: String, transient: bool| RemoteError { message, transient };
    let dir = tempfile::Builder::new()
        .prefix("orgscan-shards-")
        .tempdir()
        .map_err(|e| fail(format!("cannot create a folder for the shard reports: {e}"), false))?;
    let mut paths = Vec::new();
    for (i, prefix) in prefixes.iter().enumerate() {
        let listed =
            store.list_json(prefix).await.map_err(|e| fail(format!("cannot list the shard reports: {}", e.message), e.transient))?;
        if listed.is_empty() {
            return Err(fail(format!("{prefix} holds no shard report (*.json): no shard wrote one there"), false));
        }
        let folder = dir.path().join(i.to_string());
        std::fs::create_dir_all(&folder).map_err(|e| fail(format!("cannot create '{}': {e}", folder.display()), false))?;
        for url in listed {
            let bytes = store
                .get(&url)
                .await
                .map_err(|e| fail(format!("cannot read the shard report: {}", e.message), e.transient))?
                .ok_or_else(|| fail(format!("{url} was listed but is gone"), true))?;
            let name = url.key.rsplit('/').next().unwrap_or("shard.json");
            let path = folder.join(name);
            crate::files::write_atomic(&path, |w| w.write_all(&bytes))
                .map_err(|e| fail(format!("cannot keep {url} in '{}': {e}", path.display()), false))?;
            paths.push(path);
        }
    }
    Ok((paths, Some(dir)))
}

/// What delivering a run's outputs did beyond the local files: lines to tell, and errors (exit code 5).
#[derive(Debug, Default)]
pub struct Published {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
}

/// After the local outputs were written (`local_errors` their failures): uploads the S3 outputs, stores the
/// run in the history, sends the notification, and moves the history's pointer to this run only when the
/// run is complete and all of that succeeded. A failed upload keeps the staging directory and names it.
pub async fn publish(
    report: &ScanReport,
    plan: &mut store::StorePlan,
    notify: &notify::NotifyPlan,
    remote: &Remote,
    factory: Option<&ClientFactory>,
    local_errors: &[String],
) -> Published {
    let mut out = Published::default();
    let run = plan.history.as_ref().map(|h| store::history::run_folder(h, report.started_at));
    if let Some(store) = &remote.store {
        for o in plan.outputs.iter().filter(|o| o.s3.is_some()) {
            let Some(url) = &o.s3 else { continue };
            let done = if o.dir {
                store.put_dir(&o.local, url).await.map(|n| format!("{n} file(s)"))
            } else {
                store.put_file(&o.local, url).await.map(|()| "1 file".to_owned())
            };
            match done {
                Ok(n) => out.lines.push(format!("{}: {n} written to {url}", o.option)),
                Err(e) => out.errors.push(format!("{} not written: {e}", o.option)),
            }
        }
        if let Some(run) = &run {
            let mut json = Vec::new();
            let stored = match crate::json::to_writer(report, &mut json) {
                Ok(()) => store.put(&run.join(store::history::REPORT), json).await,
                Err(e) => Err(format!("cannot render the JSON report for the history: {e}")),
            };
            if let Err(e) = stored {
                out.errors.push(format!("--history: the run's report not stored: {e}"));
            }
            // The run's other outputs, as they were written (a local output that failed is not copied).
            if local_errors.is_empty() {
                for o in plan.outputs.iter().filter(|o| o.name != store::history::REPORT) {
                    let url = run.join(o.name);
                    let done = if o.dir { store.put_dir(&o.local, &url).await.map(drop) } else { store.put_file(&o.local, &url).await };
                    if let Err(e) = done {
                        out.errors.push(format!("--history: {} not stored: {e}", o.option));
                    }
                }
            }
            if out.errors.is_empty() {
                out.lines.push(format!("history: this run is stored under {run}"));
            }
        }
    }

    let mut exit_code = if local_errors.is_empty() && out.errors.is_empty() { report.exit_code() } else { model::exit::OUTPUT };
    if !notify.is_empty() {
        let link = run.as_ref().map(ToString::to_string).or_else(|| {
            let json = plan.outputs.iter().find(|o| o.option == "--json");
            json.map(|o| o.s3.as_ref().map_or_else(|| o.local.display().to_string(), ToString::to_string))
        });
        let digest = notify::digest(report, exit_code, &report::text::verdict(report), link.as_deref(), notify.min_severity);
        let sns = match (&notify.sns_topic, factory) {
            (Some(topic), Some(f)) => notify::sns::topic_region(topic).ok().map(|r| f.ambient_clients_in(&r).sns()),
            _ => None,
        };
        let sent = notify::send(notify, &digest, sns, &notify::webhook::Poster::new(std::time::Duration::from_secs(20))).await;
        out.lines.extend(sent.lines);
        out.errors.extend(sent.errors);
        if !out.errors.is_empty() {
            exit_code = model::exit::OUTPUT;
        }
    }

    if let (Some(history), Some(run), Some(store)) = (&plan.history, &run, &remote.store) {
        let why_not = if !local_errors.is_empty() || !out.errors.is_empty() {
            Some("not every output or notification of this run was delivered")
        } else if report.incomplete {
            Some("the scan was stopped")
        } else if report.is_incomplete() {
            Some("the scan is incomplete")
        } else {
            None
        };
        match why_not {
            Some(why) => out.lines.push(format!("history: {history}{} not moved: {why}", store::history::POINTER)),
            None => match store::history::point_to(store, history, run, report.started_at, exit_code).await {
                Ok(()) => out.lines.push(format!("history: {history}{} now points to this run", store::history::POINTER)),
                Err(e) => out.errors.push(format!("--history: the pointer was not moved: {e}")),
            },
        }
    }
    if out.errors.iter().any(|e| !e.starts_with("cannot post") && !e.starts_with("cannot publish"))
        && plan.outputs.iter().any(|o| o.s3.is_some())
        && let Some(dir) = plan.keep_staging()
    {
        out.lines.push(format!("the outputs bound for S3 are kept in {}", dir.display()));
    }
    out
}
