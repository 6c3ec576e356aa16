//! The scan report, the single input of every output, and the outputs themselves.

pub mod asff;
pub mod json;
pub mod sarif;
pub mod text;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::check::CheckInfo;
use crate::error::ScopeError;
use crate::finding::{Finding, Status};
use crate::scan::stats::OpCounts;
use crate::target::{AccountId, Region};

/// How one (check, account, region) scope ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageStatus {
    Evaluated { resources: usize, not_applicable: usize },
    Skipped { reason: String },
    Error(ScopeError),
}

impl CoverageStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CoverageStatus::Evaluated { .. } => "evaluated",
            CoverageStatus::Skipped { .. } => "skipped",
            CoverageStatus::Error(_) => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub check_id: &'static str,
    pub account: AccountId,
    /// `None` when the scope failed before its regions were known (e.g. the role could not be assumed).
    pub region: Option<Region>,
    pub status: CoverageStatus,
}

/// An error entry: a scope of a check, a whole region, or a whole account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    pub account: AccountId,
    pub region: Option<Region>,
    pub check_id: Option<&'static str>,
    pub error: ScopeError,
}

/// The scope of the scan, for titles and SARIF categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanScope {
    /// `--this-account`.
    Account(AccountId),
    /// The organization `id`, scanned from the `caller` account.
    Organization { id: String, caller: AccountId },
    /// Accounts named with `--accounts` (or an organization whose id could not be read).
    Accounts { caller: AccountId },
}

impl ScanScope {
    pub fn caller(&self) -> &AccountId {
        match self {
            ScanScope::Account(a) | ScanScope::Organization { caller: a, .. } | ScanScope::Accounts { caller: a } => a,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub accounts: usize,
    pub accounts_scanned: usize,
    pub accounts_failed: usize,
    pub regions: usize,
    pub duration_ms: u64,
    /// Per (service, operation) as the SDK names them.
    pub api: BTreeMap<(String, String), OpCounts>,
    /// What the Security Hub import (`--security-hub`) sent, per scope; `None` when it did not run.
    pub security_hub: Option<crate::securityhub::ImportReport>,
}

impl Stats {
    pub fn api_calls(&self) -> u64 {
        self.api.values().map(|c| c.calls).sum()
    }

    pub fn retries(&self) -> u64 {
        self.api.values().map(|c| c.attempts.saturating_sub(c.calls)).sum()
    }

    pub fn throttled(&self) -> u64 {
        self.api.values().map(|c| c.throttled).sum()
    }

    pub fn calls_by_service(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((service, _), c) in &self.api {
            *out.entry(service.clone()).or_default() += c.calls;
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    pub tool_version: &'static str,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub scope: ScanScope,
    /// The checks that were run, in registry order.
    pub checks: Vec<&'static CheckInfo>,
    /// Sorted by check, account, region, resource.
    pub findings: Vec<Finding>,
    /// Sorted by check, account, region.
    pub coverage: Vec<Coverage>,
    /// Sorted by account, region, check.
    pub errors: Vec<ErrorEntry>,
    pub stats: Stats,
    /// True when the scan was interrupted: what was gathered is reported, the rest is missing.
    pub incomplete: bool,
}

/// Exit codes (documented in `--help` and the README).
pub mod exit {
    /// Every scope evaluated and nothing failed.
    pub const OK: u8 = 0;
    /// At least one FAIL.
    pub const FAILED: u8 = 1;
    /// Bad invocation or configuration.
    pub const USAGE: u8 = 2;
    /// No FAIL, but some scope could not be evaluated (or the scan was interrupted, or the Security Hub
    /// import did not complete).
    pub const INCOMPLETE: u8 = 3;
}

impl ScanReport {
    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Fail)
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.coverage.iter().any(|c| matches!(c.status, CoverageStatus::Error(_)))
    }

    pub fn exit_code(&self) -> u8 {
        if self.failures().next().is_some() {
            exit::FAILED
        } else if self.has_errors()
            || self.incomplete
            || self.stats.security_hub.as_ref().is_some_and(|s| s.has_problems())
            || !self.evaluated_anything()
        {
            exit::INCOMPLETE
        } else {
            exit::OK
        }
    }

    /// Whether at least one scope was evaluated: a scan that evaluated nothing (no account matched, every
    /// region skipped) assures nothing and never exits 0.
    pub fn evaluated_anything(&self) -> bool {
        self.coverage.iter().any(|c| matches!(c.status, CoverageStatus::Evaluated { .. }))
    }

    /// Puts everything in its deterministic order.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.coverage.sort_by(|a, b| (a.check_id, &a.account, &a.region).cmp(&(b.check_id, &b.account, &b.region)));
        self.errors.sort_by(|a, b| (&a.account, &a.region, a.check_id).cmp(&(&b.account, &b.region, b.check_id)));
    }
}

/// Writes a file atomically: a temporary file in the same directory, flushed and synced, then renamed over
/// the target. A reader never sees a half-written report and an earlier report survives a failed write.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".orgscan-").suffix(".tmp").tempfile_in(dir)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Checks before the scan that `path` can be written (its directory exists and accepts a new file), so a bad
/// path is refused before any AWS call rather than after an hour of scanning.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(format!("output path '{}' is a directory; give a file path", path.display()));
    }
    if !dir.is_dir() {
        return Err(format!("output path '{}': directory '{}' does not exist", path.display(), dir.display()));
    }
    tempfile::Builder::new()
        .prefix(".orgscan-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("output path '{}' is not writable: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_files_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, |w: &mut dyn Write| w.write_all(b"first")).unwrap();
        write_atomic(&p, |w: &mut dyn Write| w.write_all(b"second")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        // A failing writer leaves the earlier file untouched.
        let err = write_atomic(&p, |w: &mut dyn Write| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["r.json"]);
    }

    #[test]
    fn unwritable_paths_are_named() {
        let err = check_writable(Path::new("/no/such/dir/out.json")).unwrap_err();
        assert!(err.contains("'/no/such/dir/out.json'") && err.contains("does not exist"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(check_writable(dir.path()).unwrap_err().contains("is a directory"));
        assert!(check_writable(&dir.path().join("ok.json")).is_ok());
    }
}
