//! The JSON report's `security_hub` section: what the import (`--security-hub`) sent, per scope.

use serde::Serialize;

use crate::model::import::Counts;

#[derive(Debug, Serialize)]
pub struct JsonSecurityHub<'a> {
    pub dry_run: bool,
    pub only_failed: bool,
    pub totals: Counts,
    /// One entry per (account, region), sorted; `region` is null for an account that was not scanned.
    pub scopes: Vec<JsonImportScope<'a>>,
    /// Every finding Security Hub refused for good, sorted by account, region, finding id.
    pub failed_findings: Vec<JsonFailedFinding<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonImportScope<'a> {
    pub account_id: &'a str,
    pub region: Option<&'a str>,
    /// `imported`, `dry_run`, `skipped` or `error`.
    pub status: &'static str,
    /// Why the scope was skipped, or the error (with its fix).
    pub detail: Option<String>,
    pub code: Option<&'a str>,
    pub counts: Counts,
    /// Checks whose findings here were left as they are (not evaluated in this target).
    pub untouched: Vec<JsonUntouched<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonFailedFinding<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub finding_id: &'a str,
    pub code: &'a str,
    pub message: &'a str,
}

impl<'a> JsonSecurityHub<'a> {
    pub fn new(s: &'a crate::model::import::ImportReport) -> Self {
        use crate::model::import::ImportStatus;
        Self {
            dry_run: s.dry_run,
            only_failed: s.only_failed,
            totals: s.totals(),
            scopes: s
                .scopes
                .iter()
                .map(|x| {
                    let (detail, code) = match &x.status {
                        ImportStatus::Imported | ImportStatus::DryRun => (None, None),
                        ImportStatus::Skipped(reason) => (Some(reason.clone()), None),
                        ImportStatus::Error(e) => (Some(e.message.clone()), Some(e.code.as_str())),
                    };
                    JsonImportScope {
                        account_id: x.account.as_str(),
                        region: x.region.as_ref().map(|r| r.as_str()),
                        status: x.status.as_str(),
                        detail,
                        code,
                        counts: x.counts,
                        untouched: x.untouched.iter().map(|(c, r)| JsonUntouched { check_id: c, reason: r }).collect(),
                    }
                })
                .collect(),
            failed_findings: s
                .failures
                .iter()
                .map(|f| JsonFailedFinding {
                    account_id: f.account.as_str(),
                    region: f.region.as_str(),
                    finding_id: &f.finding_id,
                    code: &f.code,
                    message: &f.message,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct JsonUntouched<'a> {
    pub check_id: &'a str,
    pub reason: &'a str,
}
