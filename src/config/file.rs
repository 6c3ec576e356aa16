//! The configuration file (`--config orgscan.toml`), merged under the command line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::cli::ScanArgs;

/// The configuration file (`--config orgscan.toml`): every scan option, described by
/// `schemas/config.schema.json`. Unknown keys and wrong types are refused with their line and column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub this_account: Option<bool>,
    pub accounts: Option<Vec<String>>,
    pub exclude_accounts: Option<Vec<String>>,
    pub ous: Option<Vec<String>>,
    pub exclude_ous: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub exclude_regions: Option<Vec<String>>,
    pub scp_denied: Option<crate::cli::ScpDeniedArg>,
    pub checks: Option<Vec<String>>,
    pub lambda_runtimes: Option<PathBuf>,
    pub lambda_warn_days: Option<u32>,
    pub shallow: Option<bool>,
    pub role_name: Option<String>,
    pub role_arn_template: Option<String>,
    pub external_id: Option<String>,
    pub session_duration: Option<u64>,
    pub concurrency: Option<usize>,
    pub per_account_concurrency: Option<usize>,
    pub max_attempts: Option<u32>,
    pub call_timeout: Option<u64>,
    pub outputs: Option<FileOutputs>,
    pub security_hub: Option<FileSecurityHub>,
    pub baseline: Option<PathBuf>,
    pub history: Option<String>,
    pub suppressions: Option<PathBuf>,
    pub fail_on: Option<crate::cli::FailOnArg>,
    pub fail_severity: Option<crate::cli::SeverityArg>,
    pub fail_on_warning: Option<bool>,
    pub notify: Option<FileNotify>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutputs {
    pub json: Option<PathBuf>,
    pub sarif: Option<PathBuf>,
    pub sarif_dir: Option<PathBuf>,
    pub sarif_category: Option<String>,
    pub sarif_suppressed: Option<crate::cli::SarifSuppressedArg>,
    pub html: Option<PathBuf>,
    pub asff_dir: Option<PathBuf>,
    pub ocsf: Option<PathBuf>,
    pub ocsf_dir: Option<PathBuf>,
    pub s3_kms_key: Option<String>,
    pub s3_bucket_owner: Option<String>,
    pub s3_region: Option<String>,
}

/// `[notify]`. The webhook URL itself never lives in the file: `webhook = true` reads ORGSCAN_WEBHOOK_URL,
/// `webhook_file` names the file that holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNotify {
    pub sns_topic: Option<String>,
    pub webhook: Option<bool>,
    pub webhook_file: Option<PathBuf>,
    pub only_new: Option<bool>,
    pub severity: Option<crate::cli::SeverityArg>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSecurityHub {
    pub import: Option<bool>,
    pub only_failed: Option<bool>,
    pub dry_run: Option<bool>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError(format!("cannot read config file '{}': {e}", path.display())))?;
        let mut cfg: FileConfig =
            toml::from_str(&text).map_err(|e| ConfigError(format!("config file '{}' is not valid: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let rebase = |p: &mut Option<PathBuf>| {
            // An s3:// value is not a path.
            if let Some(x) = p.as_mut()
                && x.is_relative()
                && !crate::store::is_s3(x)
            {
                *x = base.join(&*x);
            }
        };
        rebase(&mut cfg.lambda_runtimes);
        rebase(&mut cfg.baseline);
        rebase(&mut cfg.suppressions);
        if let Some(o) = cfg.outputs.as_mut() {
            rebase(&mut o.json);
            rebase(&mut o.sarif);
            rebase(&mut o.sarif_dir);
            rebase(&mut o.html);
            rebase(&mut o.asff_dir);
            rebase(&mut o.ocsf);
            rebase(&mut o.ocsf_dir);
        }
        if let Some(n) = cfg.notify.as_mut() {
            rebase(&mut n.webhook_file);
        }
        Ok(cfg)
    }

    /// The command line with every option it leaves unset taken from the file.
    pub fn merge_into(self, args: &ScanArgs) -> ScanArgs {
        let mut a = args.clone();
        a.config = None;
        // The file's tables, empty where it has none.
        let (o, n, sh) = (self.outputs.unwrap_or_default(), self.notify.unwrap_or_default(), self.security_hub.unwrap_or_default());
        a.selection.this_account.or_file(self.this_account);
        a.selection.accounts.or_file(self.accounts);
        a.selection.exclude_accounts.or_file(self.exclude_accounts);
        a.selection.ou.or_file(self.ous);
        a.selection.exclude_ou.or_file(self.exclude_ous);
        a.selection.regions.or_file(self.regions);
        a.selection.exclude_regions.or_file(self.exclude_regions);
        a.selection.scp_denied.or_file(self.scp_denied);
        a.checks.checks.or_file(self.checks);
        a.checks.lambda_runtimes.or_file(self.lambda_runtimes);
        a.checks.lambda_warn_days.or_file(self.lambda_warn_days);
        a.checks.shallow.or_file(self.shallow);
        a.access.role_name.or_file(self.role_name);
        a.access.role_arn_template.or_file(self.role_arn_template);
        a.access.external_id.or_file(self.external_id);
        a.access.session_duration.or_file(self.session_duration);
        a.tuning.concurrency.or_file(self.concurrency);
        a.tuning.per_account_concurrency.or_file(self.per_account_concurrency);
        a.tuning.max_attempts.or_file(self.max_attempts);
        a.tuning.call_timeout.or_file(self.call_timeout);
        a.outputs.json.or_file(o.json);
        a.outputs.sarif.or_file(o.sarif);
        a.outputs.sarif_dir.or_file(o.sarif_dir);
        a.outputs.sarif_category.or_file(o.sarif_category);
        a.outputs.sarif_suppressed.or_file(o.sarif_suppressed);
        a.outputs.html.or_file(o.html);
        a.outputs.ocsf.or_file(o.ocsf);
        a.outputs.ocsf_dir.or_file(o.ocsf_dir);
        a.outputs.s3_kms_key.or_file(o.s3_kms_key);
        a.outputs.s3_bucket_owner.or_file(o.s3_bucket_owner);
        a.outputs.s3_region.or_file(o.s3_region);
        a.history.baseline.or_file(self.baseline);
        a.history.history.or_file(self.history);
        a.history.suppressions.or_file(self.suppressions);
        a.history.fail_on.or_file(self.fail_on);
        a.history.fail_severity.or_file(self.fail_severity);
        a.history.fail_on_warning.or_file(self.fail_on_warning);
        a.security_hub.asff_dir.or_file(o.asff_dir);
        a.security_hub.security_hub.or_file(sh.import);
        a.security_hub.security_hub_only_failed.or_file(sh.only_failed);
        a.security_hub.dry_run.or_file(sh.dry_run);
        a.notify.notify_sns.or_file(n.sns_topic);
        a.notify.notify_only_new.or_file(n.only_new);
        a.notify.notify_severity.or_file(n.severity);
        // The command line's webhook source wins over the file's.
        if !args.notify.notify_webhook && args.notify.notify_webhook_file.is_none() {
            a.notify.notify_webhook = n.webhook.unwrap_or(false);
            a.notify.notify_webhook_file = n.webhook_file;
        }
        a
    }
}

/// An option of the command line that the file's value fills in when the command line left it unset: an
/// `Option` that is `None`, a list that is empty, a flag that is off.
trait OrFile<F> {
    fn or_file(&mut self, file: F);
}

impl<T> OrFile<Option<T>> for Option<T> {
    fn or_file(&mut self, file: Option<T>) {
        if self.is_none() {
            *self = file;
        }
    }
}

impl OrFile<Option<Vec<String>>> for Vec<String> {
    fn or_file(&mut self, file: Option<Vec<String>>) {
        if self.is_empty() {
            *self = file.unwrap_or_default();
        }
    }
}

impl OrFile<Option<bool>> for bool {
    fn or_file(&mut self, file: Option<bool>) {
        *self |= file.unwrap_or(false);
    }
}
