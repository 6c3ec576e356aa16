//! `--history s3://bucket/prefix/`: the runs of a scheduled audit, with no bookkeeping by the user.
//!
//! ```text
//! prefix/runs/2026-12-02T09-21-33.123Z/orgscan.json   every run's JSON report (and its other outputs)
//! prefix/latest.json                                  the pointer to the latest complete run
//! ```
//!
//! A run reads the pointer, then the report it names, as its baseline. The pointer is written last, and only
//! when the run is complete and every output (local, S3, notification) was delivered: a run that failed, was
//! incomplete or was stopped stays in `runs/` for inspection and never becomes the next baseline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::S3Url;
use super::s3::{ReadError, Store};

/// The pointer's object name under the history prefix.
pub const POINTER: &str = "latest.json";
/// The JSON report's name in a run's folder.
pub const REPORT: &str = "orgscan.json";
const POINTER_VERSION: u32 = 1;

/// `prefix/latest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub orgscan_history: u32,
    /// The run's folder, relative to the history prefix (`runs/<id>/`).
    pub run: String,
    /// The run's JSON report, relative to the history prefix.
    pub report: String,
    pub started_at: DateTime<Utc>,
    pub exit_code: u8,
}

/// The folder of the run that started at `started_at`: a dated key that sorts by time.
pub fn run_folder(history: &S3Url, started_at: DateTime<Utc>) -> S3Url {
    history.join(&format!("runs/{}/", run_id(started_at)))
}

fn run_id(started_at: DateTime<Utc>) -> String {
    started_at.format("%Y-%m-%dT%H-%M-%S%.3fZ").to_string()
}

/// The latest complete run: its report's URL and text. `Ok(None)` on the first run (no pointer yet).
pub async fn latest(store: &Store, history: &S3Url) -> Result<Option<(S3Url, String)>, ReadError> {
    let pointer_url = history.join(POINTER);
    if !store.exists(&pointer_url).await? {
        return Ok(None);
    }
    let Some(bytes) = store.get(&pointer_url).await? else { return Ok(None) };
    let pointer: Pointer = serde_json::from_slice(&bytes).map_err(|e| ReadError {
        message: format!("the history pointer {pointer_url} is not one orgscan wrote ({e}); remove it or give another --history"),
        transient: false,
    })?;
    if pointer.orgscan_history != POINTER_VERSION || pointer.report.starts_with('/') || pointer.report.contains("..") {
        return Err(ReadError {
            message: format!("the history pointer {pointer_url} is of another version or names a report outside the history"),
            transient: false,
        });
    }
    let report_url = history.join(&pointer.report);
    match store.get(&report_url).await? {
        Some(bytes) => Ok(Some((report_url, String::from_utf8_lossy(&bytes).into_owned()))),
        None => Err(ReadError {
            message: format!("the history pointer {pointer_url} names {report_url}, which does not exist"),
            transient: false,
        }),
    }
}

/// Moves the pointer to the run in `run` (written by [`run_folder`]).
pub async fn point_to(store: &Store, history: &S3Url, run: &S3Url, started_at: DateTime<Utc>, exit_code: u8) -> Result<(), String> {
    let relative = run.key.strip_prefix(history.key.as_str()).unwrap_or(&run.key).to_owned();
    let pointer = Pointer { orgscan_history: POINTER_VERSION, report: format!("{relative}{REPORT}"), run: relative, started_at, exit_code };
    let mut body = serde_json::to_vec_pretty(&pointer).map_err(|e| format!("cannot encode the history pointer: {e}"))?;
    body.push(b'\n');
    store.put(&history.join(POINTER), body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_sort_by_their_dated_keys() {
        let h = S3Url { bucket: "b-1".into(), key: "audits/".into() };
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let a = run_folder(&h, t("2026-12-02T09:21:33.123Z"));
        let b = run_folder(&h, t("2026-12-10T01:00:00Z"));
        assert_eq!(a.key, "audits/runs/2026-12-02T09-21-33.123Z/");
        assert!(a.key < b.key);
        let p = Pointer {
            orgscan_history: 1,
            run: "runs/x/".into(),
            report: "runs/x/orgscan.json".into(),
            started_at: t("2026-12-02T09:21:33Z"),
            exit_code: 1,
        };
        let back: Pointer = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
