//! The JSON report's `security_hub` section: what the import (`--security-hub`) sent, per scope; written
//! here, and read back here (`read`) for the merge of shard reports.

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

/// The section read back: the Security Hub import runs inside each shard (it holds the credentials of its
/// accounts), and the merged report shows every shard's import.
pub mod read {
    use serde::Deserialize;

    use crate::model::ScopeError;
    use crate::model::import::{Counts, FailedImport, ImportReport, ImportStatus, TargetImport};

    #[derive(Deserialize)]
    pub struct JsonSecurityHub {
        dry_run: bool,
        only_failed: bool,
        scopes: Vec<JsonScope>,
        failed_findings: Vec<JsonFailed>,
    }

    #[derive(Deserialize)]
    struct JsonScope {
        account_id: String,
        region: Option<String>,
        status: String,
        detail: Option<String>,
        code: Option<String>,
        counts: Counts,
        untouched: Vec<JsonUntouched>,
    }

    #[derive(Deserialize)]
    struct JsonUntouched {
        check_id: String,
        reason: String,
    }

    #[derive(Deserialize)]
    struct JsonFailed {
        account_id: String,
        region: String,
        finding_id: String,
        code: String,
        message: String,
    }

    impl JsonSecurityHub {
        pub(crate) fn into_report(self) -> Result<ImportReport, String> {
            let mut scopes = Vec::new();
            for s in self.scopes {
                let status = match (s.status.as_str(), s.code) {
                    ("imported", _) => ImportStatus::Imported,
                    ("dry_run", _) => ImportStatus::DryRun,
                    ("skipped", _) => ImportStatus::Skipped(s.detail.unwrap_or_default()),
                    ("error", Some(code)) => ImportStatus::Error(ScopeError::new(code, s.detail.unwrap_or_default())),
                    (other, _) => {
                        return Err(format!(
                            "Security Hub scope status '{other}' is not imported, dry_run, skipped or error (with a code)"
                        ));
                    }
                };
                scopes.push(TargetImport {
                    account: s.account_id.parse()?,
                    region: s.region.as_deref().map(str::parse).transpose()?,
                    status,
                    counts: s.counts,
                    untouched: s.untouched.into_iter().map(|u| (u.check_id, u.reason)).collect(),
                });
            }
            let mut failures = Vec::new();
            for f in self.failed_findings {
                failures.push(FailedImport {
                    account: f.account_id.parse()?,
                    region: f.region.parse()?,
                    finding_id: f.finding_id,
                    code: f.code,
                    message: f.message,
                });
            }
            Ok(ImportReport { dry_run: self.dry_run, only_failed: self.only_failed, scopes, failures })
        }
    }
}
