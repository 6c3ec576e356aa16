//! One step of a change, through the check that owns it (`check::Changes`): the resource read again right
//! before it (its state for the journal, and whether the step is still due), and the call itself. The reads
//! are the checks' own, so "still fails" means what the scan means by it.

use super::plan::Step;
use crate::check::remedy::{Changes, Probe};
use crate::check::{self, CheckContext};
use crate::model::{Finding, ScopeError};

/// The changes of the check of `finding`: an internal error when that check has none, which a plan never
/// asks for (its steps come from the same check).
fn changes(finding: &Finding) -> Result<&'static Changes, ScopeError> {
    check::by_id(finding.check.id)
        .and_then(|c| c.changes)
        .ok_or_else(|| ScopeError::internal(format!("check {} changes nothing itself", finding.check.id)))
}

/// Reads the resource of `finding` again, as `step` needs it, with the check's own code, in the finding's
/// account and region (`cx` holds that account's credentials).
pub(crate) async fn probe(cx: &CheckContext, finding: &Finding, step: Step) -> Result<Probe, ScopeError> {
    (changes(finding)?.probe)(cx, finding, step).await
}

/// Makes the call of `step` on the resource as `read` just read it (never on the report's word), under the
/// service's rate limit.
pub(crate) async fn call(cx: &CheckContext, finding: &Finding, step: Step, read: &Probe) -> Result<(), ScopeError> {
    let changes = changes(finding)?;
    let _permit = cx.gate(step.service()).permit().await;
    (changes.call)(cx, finding, step, read).await
}
