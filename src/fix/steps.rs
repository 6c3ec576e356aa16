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
    /// The resource as AWS named it in the read (its ARN; for a region without a GuardDuty detector, the
    /// account's, as the check names it): what the journal records, never the report's word.
    pub(crate) arn: String,
    /// What the call names: the key's id and the domain's name as read, the detector's id as listed.
    pub(crate) id: String,
}

pub(crate) enum Verdict {
    /// The step is due: make the call.
    Due,
    /// What the step would achieve holds already (the resource no longer fails): nothing to call.
    Reached(String),
    /// It cannot be changed automatically now (gone, changed since the plan, UltraWarm...): nothing to call.
    Blocked(String),
}

/// Whether `arn` (as AWS answered it) is in the account and region of `target`: a report could name a key by
/// the ARN of another account's key, which DescribeKey reads when that key's policy allows it ("To specify a
/// KMS key in a different Amazon Web Services account, you must use the key ARN or alias ARN", KMS API
/// Reference, DescribeKey, `KeyId`). ARN format: `arn:partition:service:region:account-id:resource` (IAM User
/// Guide, "Identify AWS resources with Amazon Resource Names (ARNs)").
pub(crate) fn in_scope(arn: &str, target: &crate::model::Target) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !resource.is_empty() && partition == target.partition.as_str() && region == target.region.as_str() && account == target.account.as_str()
}

/// The verdict on a resource read in another account or region than the finding's: never changed.
fn elsewhere(arn: &str, finding: &Finding) -> Verdict {
    Verdict::Blocked(format!("AWS answered with {arn}, which is not in {} (the finding's account and region): not changed", finding.target))
}

/// A resource that is no longer there: nothing was read, so the journal names what the report named, and
/// nothing is called.
fn gone(finding: &Finding, why: &str) -> Probe {
    Probe {
        state: json!({"exists": false}),
        verdict: Verdict::Blocked(why.to_owned()),
        arn: finding.resource.arn.clone(),
        id: String::new(),
    }
}

/// Reads the resource of `finding` again, as `step` needs it, with the check's own code, in the finding's
/// account and region (`cx` holds that account's credentials).
pub(crate) async fn probe(cx: &CheckContext, finding: &Finding, step: Step) -> Result<Probe, ScopeError> {
    let id = finding.resource.id.as_str();
    match step {
        Step::CancelKeyDeletion | Step::EnableKey => {
            let Some(k) = kms::describe_key(cx, id).await? else {
                return Ok(gone(finding, "the key no longer exists"));
            };
            let state = json!({"key_state": k.state, "deletion_date": k.deletion_date.map(|d| d.to_rfc3339())});
            if !in_scope(&k.arn, &finding.target) {
                return Ok(Probe { state, verdict: elsewhere(&k.arn, finding), id: k.key_id, arn: k.arn });
            }
            let pending = kms::PENDING_STATES.contains(&k.state.as_str());
            let verdict = match (step, k.state.as_str()) {
                (Step::CancelKeyDeletion, _) if pending => Verdict::Due,
                (Step::CancelKeyDeletion, s) => Verdict::Reached(format!("the key is {s}, no longer pending deletion")),
                (_, "Disabled") => Verdict::Due,
                (_, "Enabled") => Verdict::Reached("the key is Enabled already".into()),
                (_, s) => Verdict::Blocked(format!("the key is {s}, not Disabled")),
            };
            // The key id KMS answered for the key it found in this account (its ARN is checked above).
            Ok(Probe { state, verdict, id: k.key_id, arn: k.arn })
        }
        Step::CreateDetector | Step::UpdateDetector => {
            let detector = guardduty::read_detector(cx).await?;
            // The detector is listed with the account's own credentials (ListDetectors names the caller's):
            // its ARN is the check's, built from the account and region read.
            let (arn, listed) = match &detector {
                RegionDetector::None => (format!("arn:{}:iam::{}:root", cx.target.partition, cx.target.account), String::new()),
                RegionDetector::Detector { id: d, .. } => (guardduty::detector_arn(&cx.target, d), d.clone()),
            };
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
            Ok(Probe { state, verdict, arn, id: listed })
        }
        Step::UpdateDomainConfig => {
            let Some(d) = opensearch::describe_domain(cx, id).await? else {
                return Ok(gone(finding, "the domain no longer exists"));
            };
            let engine = d.engine_version.as_deref().unwrap_or("unknown engine");
            let state = json!({
                "engine_version": engine,
                "encryption_at_rest_enabled": d.encrypted,
                "ultrawarm_or_cold_storage": d.warm_or_cold,
                "processing": d.processing,
            });
            let verdict = if !in_scope(&d.arn, &finding.target) {
                elsewhere(&d.arn, finding)
            } else if d.encrypted == Some(true) {
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
            Ok(Probe { state, verdict, arn: d.arn, id: d.name })
        }
    }
}

/// Makes the call of `step` on the resource as `read` just read it (never on the report's word), under the
/// service's rate limit.
pub(crate) async fn call(cx: &CheckContext, finding: &Finding, step: Step, read: &Probe) -> Result<(), ScopeError> {
    let id = read.id.as_str();
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

#[cfg(test)]
mod tests {
    use super::in_scope;
    use crate::model::Target;

    #[test]
    fn a_resource_read_is_in_scope_only_in_the_finding_s_partition_account_and_region() {
        let t = Target::new("111111111111".parse().unwrap(), "eu-west-1".parse().unwrap());
        assert!(in_scope("arn:aws:kms:eu-west-1:111111111111:key/k", &t));
        assert!(in_scope("arn:aws:es:eu-west-1:111111111111:domain/d", &t));
        for elsewhere in [
            "arn:aws:kms:eu-west-1:999999999999:key/k",
            "arn:aws:kms:us-east-1:111111111111:key/k",
            "arn:aws-cn:kms:eu-west-1:111111111111:key/k",
            "arn:aws:kms:eu-west-1:111111111111",
            "k",
            "",
        ] {
            assert!(!in_scope(elsewhere, &t), "{elsewhere}");
        }
    }
}
