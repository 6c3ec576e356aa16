//! The configuration file (`--config orgscan.toml`), merged under the command line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::cli::ScanArgs;

/// Declares a table of the configuration file: every key may be left out (`None`: the command line or the
/// default decides), and a key the table does not know is refused with its line and column.
macro_rules! file_table {
    ($($(#[$doc:meta])* pub struct $name:ident { $($field:ident: $ty:ty,)* })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(pub $field: Option<$ty>,)*
        }
    )*};
}

file_table! {
    /// The configuration file (`--config orgscan.toml`): every scan option, described by
    /// `schemas/config.schema.json`. Unknown keys and wrong types are refused with their line and column.
    pub struct FileConfig {
        this_account: bool,
        accounts: Vec<String>,
        exclude_accounts: Vec<String>,
        ous: Vec<String>,
        exclude_ous: Vec<String>,
        regions: Vec<String>,
        exclude_regions: Vec<String>,
        scp_denied: crate::cli::ScpDeniedArg,
        checks: Vec<String>,
        lambda_runtimes: PathBuf,
        lambda_warn_days: u32,
        shallow: bool,
        role_name: String,
        role_arn_template: String,
        external_id: String,
        session_duration: u64,
        concurrency: usize,
        per_account_concurrency: usize,
        max_attempts: u32,
        call_timeout: u64,
        outputs: FileOutputs,
        security_hub: FileSecurityHub,
        baseline: PathBuf,
        history: String,
        suppressions: PathBuf,
        fail_on: crate::cli::FailOnArg,
        fail_severity: crate::cli::SeverityArg,
        fail_on_warning: bool,
        notify: FileNotify,
    }

    pub struct FileOutputs {
        json: PathBuf,
        sarif: PathBuf,
        sarif_dir: PathBuf,
        sarif_category: String,
        sarif_suppressed: crate::cli::SarifSuppressedArg,
        html: PathBuf,
        asff_dir: PathBuf,
        ocsf: PathBuf,
        ocsf_dir: PathBuf,
        s3_kms_key: String,
        s3_bucket_owner: String,
        s3_region: String,
    }

    /// `[notify]`. The webhook URL itself never lives in the file: `webhook = true` reads ORGSCAN_WEBHOOK_URL,
    /// `webhook_file` names the file that holds it.
    pub struct FileNotify {
        sns_topic: String,
        webhook: bool,
        webhook_file: PathBuf,
        only_new: bool,
        severity: crate::cli::SeverityArg,
    }

    pub struct FileSecurityHub {
        import: bool,
        only_failed: bool,
        dry_run: bool,
    }
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
        fn list(cli: &[String], file: Option<Vec<String>>) -> Vec<String> {
            if cli.is_empty() { file.unwrap_or_default() } else { cli.to_vec() }
        }
        let mut a = args.clone();
        a.config = None;
        a.selection.this_account |= self.this_account.unwrap_or(false);
        a.selection.accounts = list(&args.selection.accounts, self.accounts);
        a.selection.exclude_accounts = list(&args.selection.exclude_accounts, self.exclude_accounts);
        a.selection.ou = list(&args.selection.ou, self.ous);
        a.selection.exclude_ou = list(&args.selection.exclude_ou, self.exclude_ous);
        a.selection.regions = list(&args.selection.regions, self.regions);
        a.selection.exclude_regions = list(&args.selection.exclude_regions, self.exclude_regions);
        a.selection.scp_denied = args.selection.scp_denied.or(self.scp_denied);
        a.checks.checks = list(&args.checks.checks, self.checks);
        a.checks.lambda_runtimes = args.checks.lambda_runtimes.clone().or(self.lambda_runtimes);
        a.checks.lambda_warn_days = args.checks.lambda_warn_days.or(self.lambda_warn_days);
        a.checks.shallow |= self.shallow.unwrap_or(false);
        a.access.role_name = args.access.role_name.clone().or(self.role_name);
        a.access.role_arn_template = args.access.role_arn_template.clone().or(self.role_arn_template);
        a.access.external_id = args.access.external_id.clone().or(self.external_id);
        a.access.session_duration = args.access.session_duration.or(self.session_duration);
        a.tuning.concurrency = args.tuning.concurrency.or(self.concurrency);
        a.tuning.per_account_concurrency = args.tuning.per_account_concurrency.or(self.per_account_concurrency);
        a.tuning.max_attempts = args.tuning.max_attempts.or(self.max_attempts);
        a.tuning.call_timeout = args.tuning.call_timeout.or(self.call_timeout);
        let o = self.outputs.unwrap_or_default();
        a.outputs.json = args.outputs.json.clone().or(o.json);
        a.outputs.sarif = args.outputs.sarif.clone().or(o.sarif);
        a.outputs.sarif_dir = args.outputs.sarif_dir.clone().or(o.sarif_dir);
        a.outputs.sarif_category = args.outputs.sarif_category.clone().or(o.sarif_category);
        a.outputs.sarif_suppressed = args.outputs.sarif_suppressed.or(o.sarif_suppressed);
        a.outputs.html = args.outputs.html.clone().or(o.html);
        a.outputs.ocsf = args.outputs.ocsf.clone().or(o.ocsf);
        a.outputs.ocsf_dir = args.outputs.ocsf_dir.clone().or(o.ocsf_dir);
        a.history.baseline = args.history.baseline.clone().or(self.baseline);
        a.history.history = args.history.history.clone().or(self.history);
        a.outputs.s3_kms_key = args.outputs.s3_kms_key.clone().or(o.s3_kms_key);
        a.outputs.s3_bucket_owner = args.outputs.s3_bucket_owner.clone().or(o.s3_bucket_owner);
        a.outputs.s3_region = args.outputs.s3_region.clone().or(o.s3_region);
        let n = self.notify.unwrap_or_default();
        a.notify.notify_sns = args.notify.notify_sns.clone().or(n.sns_topic);
        // The command line's webhook source wins over the file's.
        if !args.notify.notify_webhook && args.notify.notify_webhook_file.is_none() {
            a.notify.notify_webhook = n.webhook.unwrap_or(false);
            a.notify.notify_webhook_file = n.webhook_file;
        }
        a.notify.notify_only_new |= n.only_new.unwrap_or(false);
        a.notify.notify_severity = args.notify.notify_severity.or(n.severity);
        a.history.suppressions = args.history.suppressions.clone().or(self.suppressions);
        a.history.fail_on = args.history.fail_on.or(self.fail_on);
        a.history.fail_severity = args.history.fail_severity.or(self.fail_severity);
        a.history.fail_on_warning |= self.fail_on_warning.unwrap_or(false);
        a.security_hub.asff_dir = args.security_hub.asff_dir.clone().or(o.asff_dir);
        let sh = self.security_hub.unwrap_or_default();
        a.security_hub.security_hub |= sh.import.unwrap_or(false);
        a.security_hub.security_hub_only_failed |= sh.only_failed.unwrap_or(false);
        a.security_hub.dry_run |= sh.dry_run.unwrap_or(false);
        a
    }
}
