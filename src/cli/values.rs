//! The command line's value types and help texts (stable names: scripts and config files use them).

use clap::ValueEnum;

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  clean: every scope evaluated (regions not enabled or closed by SCP are skipped), nothing failed
  1  FAILs that fail the scan (unsuppressed; see --fail-on, --fail-severity), every scope evaluated
  2  bad invocation or configuration (nothing was scanned)
  3  incomplete, no FAILs: some scope or resource could not be read, the scan was stopped (Ctrl-C,
     SIGTERM), or the Security Hub import did not complete
  4  FAILs that fail the scan, and incomplete as for 3
  5  an output could not be written or was refused (wins over 0, 1, 3 and 4)
  6  AWS could not be reached, or the scan could not start for a reason that may pass (throttling,
     5xx or timeouts after every retry): nothing was scanned, retry later";

pub const FIX_EXIT_CODES_HELP: &str = "\
Exit codes (those of `orgscan scan`, read for the selected FAILs):
  0  nothing selected fails: after --apply, the rescan shows every selected FAIL passing (or gone)
  1  selected FAILs remain: a plan with something to do (without --apply, or not confirmed), manual items,
     or changes that were skipped
  2  bad invocation (nothing was read or changed): the message names the value; also --apply without
     --yes when standard input is not a terminal
  3  nothing selected fails, but something was not done or verified: a change failed, the run was stopped
     (Ctrl-C, SIGTERM: run it again with the same --journal to resume), the rescan could not read a scope
  4  selected FAILs remain, and incomplete as for 3
  5  the journal could not be written: the run stopped before the next change
  6  AWS could not be reached, or the run could not start for a reason that may pass: retry later";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `orgscan checks --iam-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrincipalArg {
    /// The audit role in every member account (deploy/audit-role.yaml): the checks' reads, read-only.
    Audit,
    /// The scanning principal (deploy/scanner-policy.json): the organization's reads, the audit role assumed,
    /// the checks in its own account.
    Scanner,
    /// The remediation role of `orgscan fix` (deploy/remediation-role.yaml).
    Remediation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChecksFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOnArg {
    New,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityArg {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SarifSuppressedArg {
    Include,
    Omit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScpDeniedArg {
    Skip,
    Error,
}
