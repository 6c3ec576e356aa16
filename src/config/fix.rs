//! `orgscan fix`: the command line turned into a validated [`FixPlan`]. Every bad value (a malformed account,
//! region, fingerprint or role, an unknown check, a report or journal that is not one, `--apply` without
//! `--yes` off a terminal) is refused here, before any AWS call, naming the value.

use std::collections::BTreeSet;
use std::io::IsTerminal;

use super::{ConfigError, ScanPlan, parse_all, role_arn_template};
use crate::cli::FixArgs;
use crate::files::check_writable;
use crate::fix::{Filter, Journal, Options};
use crate::model::Fingerprint;
use crate::model::{AccountId, Region};
use crate::org::AccessPlan;
use crate::triage::Baseline;

/// Where the FAILs come from.
pub enum FixSource {
    /// `--from`: an earlier JSON report, read and validated.
    Report(Baseline),
    /// `--scan`: a scan of the selection with the audit role (`FixPlan::base`), run first.
    Scan,
}

pub struct FixPlan {
    pub source: FixSource,
    pub filter: Filter,
    pub options: Options,
    pub apply: bool,
    /// Ask before applying: `--apply` on a terminal without `--yes`.
    pub confirm: bool,
    /// `--journal`, read (an earlier run's entries) and, with `--apply`, probed for writing.
    pub journal: Journal,
    /// The credentials of the changes: the remediation role (external id and session length as for the audit role).
    pub remediation: AccessPlan,
    /// The scan of the selection with the audit role (`--scan` runs it), and the checks' settings and tuning
    /// every scan of the fix runs with.
    pub base: ScanPlan,
}

/// A fingerprint as `--only` takes it: 64 hexadecimal digits, either case.
fn fingerprint(v: &str) -> Result<Fingerprint, ConfigError> {
    let v = v.trim();
    v.parse().map_err(|_| {
        ConfigError(format!(
            "invalid --only '{v}': expected a finding's fingerprint, 64 hexadecimal digits (the JSON report's \"fingerprint\", also printed in the plan)"
        ))
    })
}

impl FixPlan {
    pub fn from_args(args: &FixArgs) -> Result<Self, ConfigError> {
        let accounts: Vec<AccountId> = parse_all(&args.accounts)?;
        let regions: Vec<Region> = parse_all(&args.regions)?;
        let only = args.only.iter().map(|v| fingerprint(v)).collect::<Result<BTreeSet<_>, _>>()?;
        let selected = if args.checks.checks.is_empty() { Vec::new() } else { crate::check::select(&args.checks.checks)? };
        let checks: Vec<&'static str> = selected.iter().map(|c| c.info().id).collect();
        if args.yes && !args.apply {
            return Err(ConfigError("--yes needs --apply: without --apply nothing is changed, so there is nothing to confirm".into()));
        }
        let on_terminal = std::io::stdin().is_terminal();
        if args.apply && !args.yes && !on_terminal {
            return Err(ConfigError(
                "--apply needs --yes when standard input is not a terminal (nothing can confirm the changes); nothing was changed".into(),
            ));
        }
        // The audit role, the tuning and the runtime table, validated as `orgscan scan` validates them.
        let base = ScanPlan::reads(&args.access, &args.checks, &args.tuning)?.narrowed(&accounts, &regions, &selected);
        let remediation = AccessPlan {
            role_arn_template: role_arn_template(
                ("--remediation-role-arn-template", args.remediation_role_arn_template.as_deref()),
                ("--remediation-role-name", args.remediation_role_name.as_deref()),
            )?,
            ..base.access.clone()
        };
        let journal = Journal::read(&args.journal)?;
        if args.apply {
            check_writable(&args.journal).map_err(|e| ConfigError(format!("invalid --journal: {e}")))?;
        }
        let filter = Filter { checks, accounts, regions, only };
        let source = match &args.from {
            Some(path) => {
                let report = Baseline::load_as(path, "--from")?;
                let mut findings = report.findings.clone();
                findings.extend(report.stale.iter().map(|(f, _)| f.clone()));
                if let Some(e) = filter.unmatched(&findings).into_iter().next() {
                    return Err(ConfigError(format!("{e} in --from '{}'", path.display())));
                }
                FixSource::Report(report)
            }
            None => FixSource::Scan,
        };
        Ok(Self {
            source,
            filter,
            options: Options { enable_keys: args.enable_keys, allow_blue_green: args.allow_blue_green },
            apply: args.apply,
            confirm: args.apply && !args.yes,
            journal,
            remediation,
            base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_64_hex_digits() {
        let fp = "42E19F61b1f06c95c15c46e25179bf135380294d821db7baab3bc538694e49ae";
        assert_eq!(fingerprint(fp).unwrap().to_string(), fp.to_ascii_lowercase());
        for bad in ["", "42e1", &"g".repeat(64), &"a".repeat(65)] {
            let e = fingerprint(bad).unwrap_err().0;
            assert!(e.contains(&format!("'{bad}'")) && e.contains("64 hexadecimal digits"), "{e}");
        }
    }
}
