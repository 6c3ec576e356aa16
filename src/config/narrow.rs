//! Scan plans narrowed by type: the scans `orgscan fix` runs (the selection with `--scan`, the rescan of the
//! scopes it changed) take the fix's audit role, tuning and check settings and only narrow the accounts,
//! regions and checks, so no command line is rebuilt and nothing already parsed is parsed again.

use super::{ConfigError, ScanPlan, SecurityHubPlan, Selection, access_of, partial_selection, regions_less, tuning_of};
use crate::aws::AwsOptions;
use crate::check::{self, Check, CheckSettings};
use crate::cli::{AccessArgs, CheckArgs, TuningArgs};
use crate::model::{AccountId, FailPolicy, Region};
use crate::org::{AccessPlan, OrgSelection};
use crate::report::Outputs;
use crate::scan::ScpDenied;

impl ScanPlan {
    /// A scan of every check in each enabled region of every account of the organization with the audit
    /// role of `access`, the check settings of `checks` (not its ids: see [`ScanPlan::narrowed`]) and the
    /// tuning of `tuning`, each validated as `orgscan scan` validates it; and nothing besides: no outputs,
    /// Security Hub, baseline, suppressions, history or notification.
    pub fn reads(access: &AccessArgs, checks: &CheckArgs, tuning: &TuningArgs) -> Result<Self, ConfigError> {
        let settings = CheckSettings::load(checks.lambda_runtimes.as_deref(), checks.lambda_warn_days, !checks.shallow)?;
        let access = access_of(access)?;
        Ok(Self::scope(settings, access, tuning_of(tuning)?, &[], &[], &[]))
    }

    /// This plan's role, tuning and check settings for a scan of these accounts, regions and checks (an empty
    /// list narrows nothing: every account of the organization, each account's enabled regions, every
    /// check), with nothing besides, as [`ScanPlan::reads`].
    pub fn narrowed(&self, accounts: &[AccountId], regions: &[Region], checks: &[&'static Check]) -> Self {
        let tuning = (self.concurrency, self.per_account_concurrency, self.aws.clone());
        Self::scope(self.settings.clone(), self.access.clone(), tuning, accounts, regions, checks)
    }

    fn scope(
        settings: CheckSettings,
        access: AccessPlan,
        (concurrency, per_account_concurrency, aws): (usize, usize, AwsOptions),
        accounts: &[AccountId],
        regions: &[Region],
        checks: &[&'static Check],
    ) -> Self {
        let selection = Selection::Organization(OrgSelection { accounts: accounts.to_vec(), ..OrgSelection::default() });
        let regions = regions_less(regions.to_vec(), Vec::new());
        let checks = if checks.is_empty() { check::ALL.to_vec() } else { checks.to_vec() };
        Self {
            partial: partial_selection(&selection, &checks, &regions),
            selection,
            regions,
            checks,
            settings,
            access,
            outputs: Outputs::default(),
            concurrency,
            per_account_concurrency,
            aws,
            security_hub: SecurityHubPlan::default(),
            scp_denied: ScpDenied::Skip,
            baseline: None,
            suppressions: None,
            fail_policy: FailPolicy::default(),
            store: Default::default(),
            notify: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, ScanArgs};

    fn scan_args(words: &[&str]) -> ScanArgs {
        match Cli::try_parse_from(["orgscan", "scan"].iter().chain(words)).unwrap().command {
            Command::Scan(args) => *args,
            _ => unreachable!("parsed as `orgscan scan`"),
        }
    }

    /// Everything of the two plans a scan reads.
    fn assert_same(got: &ScanPlan, want: &ScanPlan) {
        let ids = |p: &ScanPlan| p.checks.iter().map(|c| c.info().id).collect::<Vec<_>>();
        let settings = |p: &ScanPlan| (p.settings.lambda_warn_days, p.settings.deep, p.settings.read_tags);
        assert_eq!(got.selection, want.selection);
        assert_eq!(got.regions, want.regions);
        assert_eq!(ids(got), ids(want));
        assert_eq!(got.partial, want.partial);
        assert_eq!(settings(got), settings(want));
        assert_eq!(got.access, want.access);
        assert_eq!((got.concurrency, got.per_account_concurrency), (want.concurrency, want.per_account_concurrency));
        assert_eq!(format!("{:?}", got.aws), format!("{:?}", want.aws));
        assert_eq!(got.outputs, want.outputs);
        assert_eq!(got.security_hub, want.security_hub);
        assert_eq!(got.scp_denied, want.scp_denied);
        assert_eq!(got.fail_policy, want.fail_policy);
        assert!(got.baseline.is_none() && got.suppressions.is_none() && !got.store.uses_s3() && got.notify.is_empty());
    }

    #[test]
    fn a_narrowed_plan_is_the_scan_of_the_same_selection_role_tuning_and_settings() {
        let common = [
            "--role-name",
            "Audit",
            "--external-id",
            "xyz-123",
            "--session-duration",
            "1800",
            "--concurrency",
            "7",
            "--per-account-concurrency",
            "3",
            "--max-attempts",
            "4",
            "--call-timeout",
            "30",
            "--lambda-warn-days",
            "45",
            "--shallow",
        ];
        let args = scan_args(&common);
        let reads = ScanPlan::reads(&args.access, &args.checks, &args.tuning).unwrap();
        assert_same(&reads, &ScanPlan::from_args(&args).unwrap());
        assert_same(&reads.narrowed(&[], &[], &[]), &reads);

        let (b, a): (AccountId, AccountId) = ("222222222222".parse().unwrap(), "111111111111".parse().unwrap());
        let (west, eu): (Region, Region) = ("us-west-2".parse().unwrap(), "eu-west-1".parse().unwrap());
        let checks = [check::ALL[3], check::ALL[1]];
        let ids = format!("{},{}", checks[0].info().id, checks[1].info().id);
        let narrowed = reads.narrowed(&[b, a], &[west.clone(), eu, west], &checks);
        let words = ["--accounts", "222222222222,111111111111", "--regions", "us-west-2,eu-west-1,us-west-2", "--checks", &ids];
        assert_same(&narrowed, &ScanPlan::from_args(&scan_args(&[&common[..], &words[..]].concat())).unwrap());
        assert!(narrowed.partial.as_deref().is_some_and(|p| p.contains("accounts=111111111111,222222222222")), "{:?}", narrowed.partial);
    }

    #[test]
    fn reads_validates_the_role_tuning_and_settings_as_a_scan_does() {
        for bad in [["--session-duration", "60"], ["--concurrency", "0"], ["--lambda-warn-days", "100000"], ["--role-name", "bad name"]] {
            let args = scan_args(&bad);
            let want = ScanPlan::from_args(&args).unwrap_err();
            assert_eq!(ScanPlan::reads(&args.access, &args.checks, &args.tuning).unwrap_err(), want, "{bad:?}");
        }
    }
}
