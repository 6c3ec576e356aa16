//! `orgscan fix`: a deliberate, reviewable remediation of what a scan found (issue 16).
//!
//! The flow: the FAILs of an earlier JSON report (`--from`) or of a scan (`--scan`) are narrowed by the
//! selection, each becomes a [`plan::Item`]: the API calls orgscan would make (`Remedy::Change`), or the
//! manual steps with the source article's commands filled in (`Remedy::Manual`). The plan is printed;
//! nothing changes without `--apply`. Applying ([`apply`]) reads each resource again right before changing
//! it and skips it if it no longer fails, and appends every step to the [`journal`] as it happens, so an
//! interrupted run resumes without repeating a change and every change can be audited. The wiring (the
//! scan, the walk for the remediation role, the rescan of the touched scopes) is in `remediate.rs`.
//!
//! What each FAIL becomes, the re-read and the call are its check's (`check::remedy`, declared in the
//! check's own file or folder): this module runs the workflow through the registry and names no check.
//!
//! Layer: above `scan` and `triage` (it uses the checks to read resources again and the walker's
//! credentials), beside the outputs; only the command line and the root import it.

pub mod apply;
pub mod journal;
pub mod plan;
mod steps;
pub mod trust;

pub use self::apply::{Applied, Outcome};
pub use self::journal::{Entry, Journal};
pub use self::plan::{Filter, Item, Options, Remedy, Step};

/// Every IAM action of the changes and of the reads each change is preceded by, sorted, as the checks
/// declare them (`check::Changes`): exactly what `deploy/remediation-role.yaml` grants
/// (tests/integration/fix_iam.rs holds them to each other and to the calls a fix makes). The rescan after the
/// changes runs with the read-only audit role.
pub fn iam_actions() -> Vec<&'static str> {
    crate::check::fix_iam_actions()
}

/// Actions the role needs that orgscan does not call itself (a service-linked role a service creates with
/// the caller's permission on the first change), as the checks declare them.
pub fn implied_iam_actions() -> Vec<&'static str> {
    crate::check::fix_implied_iam_actions()
}

/// Every step a fix may make, as the checks declare them.
pub fn steps() -> Vec<Step> {
    crate::check::fix_steps()
}

/// The exit code of a fix, with the meanings of [`crate::model::exit`]: 0 nothing selected fails (after an
/// apply: the rescan shows every selected FAIL passing); 1 selected FAILs remain (a dry run: there is
/// something to fix; manual items always remain); 3 / 4 the same with something not done or not verified
/// (a change failed, the run was stopped, the rescan could not read a scope); 5 the journal could not be
/// written (the run stopped before the next change).
pub fn exit_code(failing: bool, incomplete: bool, journal_failed: bool) -> u8 {
    use crate::model::exit;
    if journal_failed {
        return exit::OUTPUT;
    }
    match (failing, incomplete) {
        (false, false) => exit::OK,
        (true, false) => exit::FAILED,
        (false, true) => exit::INCOMPLETE,
        (true, true) => exit::FAILED_INCOMPLETE,
    }
}
