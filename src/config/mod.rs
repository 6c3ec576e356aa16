//! Turns the command line into a validated `ScanPlan`. Every bad value is refused here, before any AWS
//! call, with a message that names the value and what is allowed.

use std::path::PathBuf;
use std::time::Duration;

mod common;
pub mod file;
pub mod fix;
pub mod merge;
mod narrow;

pub use self::common::WEBHOOK_ENV;
pub use self::common::shard_of;
use self::common::{asff_dir, history, outputs, remote, with_shard_index};

pub use self::file::{FileConfig, FileNotify, FileOutputs, FileSecurityHub};
use crate::aws::AwsOptions;
use crate::aws::limits;
use crate::check::{self, Check, CheckSettings};
use crate::cli::{AccessArgs, ScanArgs, ScpDeniedArg, SecurityHubArgs, SelectionArgs, TuningArgs};
use crate::model::{AccountId, FailPolicy, Region};
use crate::notify::NotifyPlan;
use crate::org::{AccessPlan, DEFAULT_ROLE_NAME, OrgSelection};
use crate::report::Outputs;
use crate::scan::ScpDenied;
use crate::scan::regions::RegionPlan;
use crate::store::StorePlan;
use crate::triage::{Baseline, RuleSet};

/// A configuration error: exit code 2, nothing scanned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<String> for ConfigError {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// Which accounts the scan covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The account of the ambient credentials.
    ThisAccount,
    Organization(OrgSelection),
}

pub struct ScanPlan {
    pub selection: Selection,
    pub regions: RegionPlan,
    pub checks: Vec<&'static Check>,
    pub settings: CheckSettings,
    pub access: AccessPlan,
    pub outputs: Outputs,
    pub concurrency: usize,
    pub per_account_concurrency: usize,
    pub aws: AwsOptions,
    pub security_hub: SecurityHubPlan,
    pub scp_denied: ScpDenied,
    /// `--baseline`, read and validated before the scan.
    pub baseline: Option<Baseline>,
    /// `--suppressions`, read and validated before the scan.
    pub suppressions: Option<RuleSet>,
    pub fail_policy: FailPolicy,
    /// What the selection narrowed (see `ScanReport::partial`).
    pub partial: Option<String>,
    /// Outputs bound for S3 (staged), `--baseline s3://...`, `--history`.
    pub store: StorePlan,
    /// `--notify-*`.
    pub notify: NotifyPlan,
}

/// The longest default category suffix orgscan writes for a partial selection; past it, the selection must
/// be named with --sarif-category (a category is meant to be read by people in the code-scanning UI).
const MAX_PARTIAL: usize = 200;

/// The words of a partial selection, for the SARIF category: each narrowing option and its values, sorted,
/// in a fixed order, so the same selection always names the same category. `None` for a full scan.
fn partial_selection(selection: &Selection, checks: &[&'static Check], regions: &RegionPlan) -> Option<String> {
    let mut parts = Vec::new();
    let join = |v: &mut dyn Iterator<Item = &str>| {
        let mut v: Vec<&str> = v.collect();
        v.sort_unstable();
        v.dedup();
        v.join(",")
    };
    if checks.len() < check::ALL.len() {
        // In registry order, whatever order --checks gave them in.
        let ids: Vec<&str> = check::ALL.iter().map(|c| c.info().id).filter(|id| checks.iter().any(|c| c.info().id == *id)).collect();
        parts.push(format!("checks={}", ids.join(",")));
    }
    match regions {
        RegionPlan::Explicit(r) => parts.push(format!("regions={}", r.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(","))),
        RegionPlan::Enabled { exclude } if !exclude.is_empty() => {
            parts.push(format!("exclude-regions={}", join(&mut exclude.iter().map(|x| x.as_str()))));
        }
        RegionPlan::Enabled { .. } => {}
    }
    if let Selection::Organization(s) = selection {
        let accounts = |v: &[AccountId]| join(&mut v.iter().map(AccountId::as_str));
        let ous = |v: &[String]| join(&mut v.iter().map(String::as_str));
        let named = [
            ("accounts", accounts(&s.accounts)),
            ("exclude-accounts", accounts(&s.exclude_accounts)),
            ("ou", ous(&s.ous)),
            ("exclude-ou", ous(&s.exclude_ous)),
        ];
        for (name, values) in named.iter().filter(|(_, v)| !v.is_empty()) {
            parts.push(format!("{name}={values}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `--security-hub`, `--security-hub-only-failed`, `--dry-run` and `--asff-dir`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityHubPlan {
    pub import: bool,
    pub only_failed: bool,
    pub dry_run: bool,
    /// Created and probed for writing before the scan.
    pub asff_dir: Option<PathBuf>,
}

impl SecurityHubPlan {
    pub fn import_options(&self, concurrency: usize, max_attempts: u32) -> crate::securityhub::ImportOptions {
        crate::securityhub::ImportOptions {
            dry_run: self.dry_run,
            only_failed: self.only_failed,
            max_attempts,
            concurrency,
            ..crate::securityhub::ImportOptions::default()
        }
    }
}

/// Validates the Security Hub options; creates `--asff-dir` and checks it accepts files.
pub fn validate_security_hub(args: &SecurityHubArgs) -> Result<SecurityHubPlan, ConfigError> {
    if args.security_hub_only_failed && !args.security_hub {
        return Err(ConfigError("--security-hub-only-failed needs --security-hub".into()));
    }
    if args.dry_run && !args.security_hub {
        return Err(ConfigError("--dry-run needs --security-hub: it shows what the Security Hub import would send".into()));
    }
    if let Some(dir) = &args.asff_dir {
        asff_dir(dir)?;
    }
    Ok(SecurityHubPlan {
        import: args.security_hub,
        only_failed: args.security_hub_only_failed,
        dry_run: args.dry_run,
        asff_dir: args.asff_dir.clone(),
    })
}

impl std::fmt::Debug for ScanPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanPlan")
            .field("selection", &self.selection)
            .field("regions", &self.regions)
            .field("checks", &self.checks.iter().map(|c| c.info().id).collect::<Vec<_>>())
            .field("outputs", &self.outputs)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

fn parse_all<T: std::str::FromStr<Err = String>>(values: &[String]) -> Result<Vec<T>, ConfigError> {
    values.iter().map(|v| v.trim().parse::<T>().map_err(ConfigError)).collect()
}

/// See [`crate::org::validate_ou_id`].
pub fn validate_ou(s: &str) -> Result<String, ConfigError> {
    crate::org::validate_ou_id(s).map_err(ConfigError)
}

/// The role ARN template of a (template option, name option) pair: the template, or the name (default
/// [`DEFAULT_ROLE_NAME`]) in every account; each validated, the error naming its option.
pub(crate) fn role_arn_template(template: (&str, Option<&str>), name: (&str, Option<&str>)) -> Result<String, ConfigError> {
    match (template.1, name.1) {
        (Some(_), Some(_)) => Err(ConfigError(format!("{} and {} conflict: give one of them", template.0, name.0))),
        (Some(t), None) => validate_template(template.0, t),
        (None, n) => {
            let n = validate_role_name(name.0, n.unwrap_or(DEFAULT_ROLE_NAME))?;
            Ok(format!("arn:{{partition}}:iam::{{account}}:role/{n}"))
        }
    }
}

fn validate_template(flag: &str, t: &str) -> Result<String, ConfigError> {
    if !t.contains("{account}") {
        return Err(ConfigError(format!(
            "invalid {flag} '{t}': it must contain {{account}}, e.g. 'arn:{{partition}}:iam::{{account}}:role/OrgScanAudit'"
        )));
    }
    if !t.starts_with("arn:") || !t.contains(":role/") {
        return Err(ConfigError(format!(
            "invalid {flag} '{t}': expected an IAM role ARN such as 'arn:{{partition}}:iam::{{account}}:role/OrgScanAudit'"
        )));
    }
    Ok(t.to_owned())
}

fn validate_role_name(flag: &str, n: &str) -> Result<String, ConfigError> {
    // IAM role names: 1-64 of [A-Za-z0-9+=,.@_-], optionally under a path.
    let ok = !n.is_empty()
        && n.len() <= 512
        && n.split('/').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)));
    if ok {
        Ok(n.to_owned())
    } else {
        Err(ConfigError(format!("invalid {flag} '{n}': expected an IAM role name of letters, digits and +=,.@_- (optionally with a path)")))
    }
}

/// `--regions` less `--exclude-regions`: an explicit list, or every enabled region less the excluded.
fn region_plan(s: &SelectionArgs) -> Result<RegionPlan, ConfigError> {
    let regions: Vec<Region> = parse_all(&s.regions)?;
    let exclude_regions: Vec<Region> = parse_all(&s.exclude_regions)?;
    match regions_less(regions, exclude_regions) {
        RegionPlan::Explicit(r) if r.is_empty() => {
            Err(ConfigError("--exclude-regions removes every region given in --regions: nothing to scan".into()))
        }
        plan => Ok(plan),
    }
}

/// `regions` (sorted, each once) less `exclude`, or every enabled region less `exclude` when `regions` is
/// empty.
fn regions_less(regions: Vec<Region>, exclude: Vec<Region>) -> RegionPlan {
    if regions.is_empty() {
        return RegionPlan::Enabled { exclude };
    }
    let mut r: Vec<Region> = regions.into_iter().filter(|r| !exclude.contains(r)).collect();
    r.sort();
    r.dedup();
    RegionPlan::Explicit(r)
}

/// The accounts to scan: this account, or the organization's (`--accounts`, `--ou`, their exclusions, `--shard`).
fn selection_of(s: &SelectionArgs) -> Result<Selection, ConfigError> {
    if s.this_account {
        let named: Vec<&str> = [
            ("--accounts", s.accounts.is_empty()),
            ("--exclude-accounts", s.exclude_accounts.is_empty()),
            ("--ou", s.ou.is_empty()),
            ("--exclude-ou", s.exclude_ou.is_empty()),
        ]
        .iter()
        .filter(|(_, empty)| !empty)
        .map(|(flag, _)| *flag)
        .collect();
        if !named.is_empty() {
            return Err(ConfigError(format!("--this-account conflicts with {}: it scans only the caller's account", named.join(", "))));
        }
    }
    let shard = shard_of(s.shard.as_deref(), s.shard_count, |k| std::env::var(k).ok())?;
    if shard.is_some() && s.this_account {
        return Err(ConfigError(
            "--shard conflicts with --this-account: a sharded scan splits the accounts of an organization or of --accounts".into(),
        ));
    }
    let selection = if s.this_account {
        Selection::ThisAccount
    } else {
        Selection::Organization(OrgSelection {
            accounts: parse_all(&s.accounts)?,
            exclude_accounts: parse_all(&s.exclude_accounts)?,
            ous: s.ou.iter().map(|o| validate_ou(o)).collect::<Result<_, _>>()?,
            exclude_ous: s.exclude_ou.iter().map(|o| validate_ou(o)).collect::<Result<_, _>>()?,
            shard,
        })
    };
    if let Selection::Organization(sel) = &selection
        && !sel.accounts.is_empty()
        && (!sel.ous.is_empty() || !sel.exclude_ous.is_empty())
    {
        return Err(ConfigError("--accounts cannot be combined with --ou or --exclude-ou: --accounts names the accounts exactly".into()));
    }
    Ok(selection)
}

/// `--role-name` or `--role-arn-template`, `--external-id`, `--session-duration`.
fn access_of(a: &AccessArgs) -> Result<AccessPlan, ConfigError> {
    let role_arn_template =
        role_arn_template(("--role-arn-template", a.role_arn_template.as_deref()), ("--role-name", a.role_name.as_deref()))?;
    if let Some(id) = &a.external_id
        && !(2..=1224).contains(&id.len())
    {
        return Err(ConfigError(format!("invalid --external-id: it must be 2 to 1224 characters long (got {})", id.len())));
    }
    let session_duration = a.session_duration.unwrap_or(3600);
    if !(900..=43200).contains(&session_duration) {
        return Err(ConfigError(format!("invalid --session-duration {session_duration}: allowed 900 to 43200 seconds")));
    }
    Ok(AccessPlan { role_arn_template, external_id: a.external_id.clone(), session_duration: Duration::from_secs(session_duration) })
}

/// `--concurrency`, `--per-account-concurrency`, `--max-attempts`, `--call-timeout`.
fn tuning_of(t: &TuningArgs) -> Result<(usize, usize, AwsOptions), ConfigError> {
    let concurrency = t.concurrency.unwrap_or(limits::DEFAULT_CONCURRENCY);
    if !(1..=1024).contains(&concurrency) {
        return Err(ConfigError(format!("invalid --concurrency {concurrency}: allowed 1 to 1024")));
    }
    let per_account_concurrency = t.per_account_concurrency.unwrap_or(limits::DEFAULT_PER_ACCOUNT);
    if !(1..=256).contains(&per_account_concurrency) {
        return Err(ConfigError(format!("invalid --per-account-concurrency {per_account_concurrency}: allowed 1 to 256")));
    }
    let mut aws = AwsOptions::default();
    if let Some(n) = t.max_attempts {
        if !(1..=20).contains(&n) {
            return Err(ConfigError(format!("invalid --max-attempts {n}: allowed 1 to 20")));
        }
        aws.max_attempts = n;
    }
    if let Some(secs) = t.call_timeout {
        if !(1..=600).contains(&secs) {
            return Err(ConfigError(format!("invalid --call-timeout {secs}: allowed 1 to 600 seconds")));
        }
        aws.attempt_timeout = Duration::from_secs(secs);
    }
    // Room for every attempt and the backoff between them, so --max-attempts is never cut short.
    aws.operation_timeout = aws.attempt_timeout.saturating_mul(aws.max_attempts).saturating_add(Duration::from_secs(60));
    Ok((concurrency, per_account_concurrency, aws))
}

impl ScanPlan {
    pub fn from_args(args: &ScanArgs) -> Result<Self, ConfigError> {
        let config_file = args.config.clone();
        let merged;
        let args = match &args.config {
            Some(path) => {
                merged = FileConfig::load(path)?.merge_into(args);
                &merged
            }
            None => args,
        };
        let s = &args.selection;
        let regions = region_plan(s)?;

        let selection = selection_of(s)?;

        let checks = check::select(&args.checks.checks)?;
        let mut settings = CheckSettings::load(args.checks.lambda_runtimes.as_deref(), args.checks.lambda_warn_days, !args.checks.shallow)?;

        let access = access_of(&args.access)?;

        let shard = match &selection {
            Selection::Organization(sel) => sel.shard,
            Selection::ThisAccount => None,
        };
        // A shard's report is one part of a run: the history (its baseline and its latest pointer) is the merge's.
        if let (Some(s), Some(h)) = (shard, &args.history.history) {
            return Err(ConfigError(format!(
                "--history {h} with --shard {s}: a shard's report is one part of the run, so the history is kept by \
                 `orgscan merge --history {h}`; give the shard an output of its own (e.g. --json shard-{{shard}}.json)"
            )));
        }
        let (mut o, mut asff, mut h) = (with_shard_index(&args.outputs, shard)?, args.security_hub.asff_dir.clone(), args.history.clone());
        let (store, notify) = remote(&mut o, &mut asff, &mut h, &args.notify)?;
        let outputs = outputs(&o)?;
        let partial = partial_selection(&selection, &checks, &regions);
        if let Some(p) = &partial
            && p.len() > MAX_PARTIAL
            && outputs.sarif_category.is_none()
            && (outputs.sarif.is_some() || outputs.sarif_dir.is_some())
        {
            return Err(ConfigError(format!(
                "this partial selection would name a SARIF category of {} characters ({}...): give --sarif-category, one per \
                 selection, so that its uploads replace only their own alerts",
                p.len(),
                p.chars().take(60).collect::<String>()
            )));
        }
        let (concurrency, per_account_concurrency, aws) = tuning_of(&args.tuning)?;
        let security_hub = validate_security_hub(&SecurityHubArgs { asff_dir: asff, ..args.security_hub.clone() })?;
        let mut inputs: Vec<(&str, &std::path::Path)> = Vec::new();
        inputs.extend(config_file.as_deref().map(|p| ("--config", p)));
        inputs.extend(h.suppressions.as_deref().map(|p| ("--suppressions", p)));
        common::collisions(&outputs, security_hub.asff_dir.as_deref(), h.baseline.as_deref(), &inputs)?;
        let (baseline, suppressions, fail_policy) = history(&h)?;
        settings.read_tags = suppressions.as_ref().is_some_and(RuleSet::uses_tags);
        Ok(Self {
            selection,
            regions,
            checks,
            settings,
            access,
            outputs,
            concurrency,
            per_account_concurrency,
            aws,
            security_hub,
            scp_denied: match s.scp_denied {
                Some(ScpDeniedArg::Error) => ScpDenied::Error,
                Some(ScpDeniedArg::Skip) | None => ScpDenied::Skip,
            },
            baseline,
            suppressions,
            fail_policy,
            partial,
            store,
            notify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ou_ids() {
        assert!(validate_ou("ou-ab12-cdef3456").is_ok());
        for bad in ["ou-ab12", "r-ab12", "ou-AB12-cdef3456", "ou-ab1-cdef3456", "ou-ab12-cdef"] {
            let e = validate_ou(bad).unwrap_err().0;
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn shard_placeholder_in_output_paths_is_the_shard_index_and_needs_a_shard() {
        let args = crate::cli::OutputArgs {
            json: Some(PathBuf::from("/reports/shard-{shard}.json")),
            html: Some(PathBuf::from("plain.html")),
            sarif: None,
            sarif_dir: Some(PathBuf::from("sarif-{shard}")),
            sarif_category: None,
            sarif_suppressed: None,
            ocsf: None,
            ocsf_dir: None,
            s3_kms_key: None,
            s3_bucket_owner: None,
            s3_region: None,
        };
        let got = with_shard_index(&args, Some(crate::model::Shard { index: 3, count: 4 })).unwrap();
        assert_eq!(got.json, Some(PathBuf::from("/reports/shard-3.json")));
        assert_eq!(got.sarif_dir, Some(PathBuf::from("sarif-3")));
        assert_eq!(got.html, Some(PathBuf::from("plain.html")));
        let e = with_shard_index(&args, None).unwrap_err().0;
        assert!(e.contains("--json '/reports/shard-{shard}.json'") && e.contains("--shard"), "{e}");
    }

    #[test]
    fn role_templates_need_the_account() {
        let t = "--role-arn-template";
        assert!(validate_template(t, "arn:{partition}:iam::{account}:role/Audit").is_ok());
        assert!(validate_template(t, "arn:aws:iam::123456789012:role/Audit").unwrap_err().0.contains("{account}"));
        assert!(validate_template(t, "{account}").unwrap_err().0.contains("IAM role ARN"));
        assert!(validate_role_name("--role-name", "bad name").unwrap_err().0.contains("invalid --role-name 'bad name'"));
        assert!(validate_role_name("--role-name", "path/Audit-Role_1").is_ok());
    }

    #[test]
    fn security_hub_options_need_security_hub_and_a_usable_asff_dir() {
        let args = |sh: bool, only: bool, dry: bool, dir: Option<PathBuf>| SecurityHubArgs {
            security_hub: sh,
            security_hub_only_failed: only,
            dry_run: dry,
            asff_dir: dir,
        };
        assert!(
            validate_security_hub(&args(false, true, false, None))
                .unwrap_err()
                .0
                .contains("--security-hub-only-failed needs --security-hub")
        );
        assert!(validate_security_hub(&args(false, false, true, None)).unwrap_err().0.contains("--dry-run needs --security-hub"));
        let p = validate_security_hub(&args(true, true, true, None)).unwrap();
        assert!(p.import && p.only_failed && p.dry_run);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("asff/nested");
        assert_eq!(validate_security_hub(&args(false, false, false, Some(dir.clone()))).unwrap().asff_dir, Some(dir.clone()));
        assert!(dir.is_dir(), "created before the scan");
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(validate_security_hub(&args(false, false, false, Some(file))).unwrap_err().0.contains("is not a directory"));
    }
}
