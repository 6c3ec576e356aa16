//! A shard report's `security_hub` section read back: the Security Hub import runs inside each shard (it
//! holds the credentials of its accounts), and the merged report shows every shard's import.

use serde::Deserialize;

use crate::model::ScopeError;
use crate::model::import::{Counts, FailedImport, ImportReport, ImportStatus, TargetImport};

#[derive(Deserialize)]
pub(super) struct JsonSecurityHub {
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
    pub(super) fn into_report(self) -> Result<ImportReport, String> {
        let mut scopes = Vec::new();
        for s in self.scopes {
            let status = match (s.status.as_str(), s.code) {
                ("imported", _) => ImportStatus::Imported,
                ("dry_run", _) => ImportStatus::DryRun,
                ("skipped", _) => ImportStatus::Skipped(s.detail.unwrap_or_default()),
                ("error", Some(code)) => ImportStatus::Error(ScopeError::new(code, s.detail.unwrap_or_default())),
                (other, _) => {
                    return Err(format!("Security Hub scope status '{other}' is not imported, dry_run, skipped or error (with a code)"));
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
