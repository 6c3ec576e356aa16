//! One step of a change: the resource read again right before it (its state for the journal, and whether the
//! step is still due), and the call itself. The reads are the checks' own, so "still fails" means what the
//! scan means by it.

use serde_json::{Value, json};

use super::manual::in_place_encryption_allowed;
use super::plan::Step;
use crate::check::CheckContext;
use crate::check::guardduty::{self, RegionDetector};
use crate::check::{kms, opensearch};
use crate::model::{Finding, ScopeError};

/// The resource as read right before a step.
pub(crate) struct Probe {
    /// For the journal (`state_before` / `state_after`).
    pub(crate) state: Value,
    pub(crate) verdict: Verdict,
}

pub(crate) enum Verdict {
    /// The step is due: make the call.
    Due,
    /// What the step would achieve holds already (the resource no longer fails): nothing to call.
    Reached(String),
    /// It cannot be changed automatically now (gone, changed since the plan, UltraWarm...): nothing to call.
    Blocked(String),
}

fn probe_of(state: Value, verdict: Verdict) -> Probe {
    Probe { state, verdict }
}

/// Reads the resource of `finding` again, as `step` needs it.
pub(crate) async fn probe(cx: &CheckContext, finding: &Finding, step: Step) -> Result<Probe, ScopeError> {
    let id = finding.resource.id.as_str();
    match step {
        Step::CancelKeyDeletion | Step::EnableKey => {
            let Some(k) = kms::describe_key(cx, id).await? else {
                return Ok(probe_of(json!({"exists": false}), Verdict::Blocked("the key no longer exists".into())));
            };
            let state = json!({"key_state": k.state, "deletion_date": k.deletion_date.map(|d| d.to_rfc3339())});
            let pending = kms::PENDING_STATES.contains(&k.state.as_str());
            let verdict = match (step, k.state.as_str()) {
                (Step::CancelKeyDeletion, _) if pending => Verdict::Due,
                (Step::CancelKeyDeletion, s) => Verdict::Reached(format!("the key is {s}, no longer pending deletion")),
                (_, "Disabled") => Verdict::Due,
                (_, "Enabled") => Verdict::Reached("the key is Enabled already".into()),
                (_, s) => Verdict::Blocked(format!("the key is {s}, not Disabled")),
            };
            Ok(probe_of(state, verdict))
        }
        Step::CreateDetector | Step::UpdateDetector => {
            let detector = guardduty::read_detector(cx).await?;
            let (state, verdict) = match (&detector, step) {
                (RegionDetector::None, Step::CreateDetector) => (json!({"detector_id": null}), Verdict::Due),
                (RegionDetector::None, _) => (json!({"detector_id": null}), Verdict::Blocked("the region has no detector any more".into())),
                (RegionDetector::Detector { id: d, status }, _) => {
                    let status = status.as_deref().unwrap_or("UNKNOWN");
                    let state = json!({"detector_id": d, "status": status});
                    let verdict = if status == "ENABLED" {
                        Verdict::Reached(format!("detector {d} is ENABLED"))
                    } else if step == Step::UpdateDetector && d == id {
                        Verdict::Due
                    } else if step == Step::CreateDetector {
                        Verdict::Blocked(format!("detector {d} was created since the plan and is {status}: plan again from a fresh report"))
                    } else {
                        Verdict::Blocked(format!("the region's detector is now {d} ({status}): plan again from a fresh report"))
                    };
                    (state, verdict)
                }
            };
            Ok(probe_of(state, verdict))
        }
        Step::UpdateDomainConfig => {
            let Some(d) = opensearch::describe_domain(cx, id).await? else {
                return Ok(probe_of(json!({"exists": false}), Verdict::Blocked("the domain no longer exists".into())));
            };
            let engine = d.engine_version.as_deref().unwrap_or("unknown engine");
            let state = json!({
                "engine_version": engine,
                "encryption_at_rest_enabled": d.encrypted,
                "ultrawarm_or_cold_storage": d.warm_or_cold,
                "processing": d.processing,
            });
            let verdict = if d.encrypted == Some(true) {
                Verdict::Reached("the domain encrypts data at rest already".into())
            } else if !in_place_encryption_allowed(engine) {
                Verdict::Blocked(format!("{engine} cannot enable encryption at rest in place: see the manual steps"))
            } else if d.warm_or_cold {
                // "You can't enable encryption at rest on an existing domain if UltraWarm or cold storage is
                // enabled on the domain" (Developer Guide, "Encryption of data at rest").
                Verdict::Blocked(
                    "UltraWarm or cold storage is enabled, which keeps AWS from enabling encryption at rest: move the indexes to hot storage, \
                     disable UltraWarm and cold storage, then run fix again"
                        .into(),
                )
            } else if d.processing {
                Verdict::Blocked("a configuration change is in progress (Processing): run fix again when it has finished".into())
            } else {
                Verdict::Due
            };
            Ok(probe_of(state, verdict))
        }
    }
}

/// Makes the call of `step` on the resource of `finding`, under the service's rate limit.
pub(crate) async fn call(cx: &CheckContext, finding: &Finding, step: Step) -> Result<(), ScopeError> {
    let id = finding.resource.id.as_str();
    let _permit = cx.gate(step.service()).permit().await;
    let op = step.as_str();
    match step {
        Step::CancelKeyDeletion => {
            cx.clients.kms().cancel_key_deletion().key_id(id).send().await.map(drop).map_err(|e| ScopeError::from_sdk(op, &e))
        }
        Step::EnableKey => cx.clients.kms().enable_key().key_id(id).send().await.map(drop).map_err(|e| ScopeError::from_sdk(op, &e)),
        Step::CreateDetector => cx
            .clients
            .guardduty()
            .create_detector()
            .enable(true)
            // The idempotency token (CreateDetector `clientToken`, up to 64 characters): the fingerprint, so a
            // create retried after an interruption gives the detector it created, never a second one.
            .client_token(finding.fingerprint())
            .send()
            .await
            .map(drop)
            .map_err(|e| ScopeError::from_sdk(op, &e)),
        Step::UpdateDetector => cx
            .clients
            .guardduty()
            .update_detector()
            .detector_id(id)
            .enable(true)
            .send()
            .await
            .map(drop)
            .map_err(|e| ScopeError::from_sdk(op, &e)),
        Step::UpdateDomainConfig => {
            let enc = aws_sdk_opensearch::types::EncryptionAtRestOptions::builder().enabled(true).build();
            cx.clients
                .opensearch()
                .update_domain_config()
                .domain_name(id)
                .encryption_at_rest_options(enc)
                .send()
                .await
                .map(drop)
                .map_err(|e| ScopeError::from_sdk(op, &e))
        }
    }
}
