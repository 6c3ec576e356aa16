//! `orgscan fix` for GuardDuty: a region without a detector gets one (`CreateDetector`), a disabled detector
//! is enabled (`UpdateDetector`); each after the region's detector is read again with the check's own reads.

use futures::future::BoxFuture;
use serde_json::json;

use super::{ACCOUNT_TYPE, RegionDetector, detector_arn, read_detector};
use crate::check::CheckContext;
use crate::check::remedy::{Changes, PlanInput, Probe, Remedy, ServiceLinkedRole, Step, Verdict, notes};
use crate::model::{Finding, ScopeError, Service};

/// GuardDuty `CreateDetector` with `enable: true` ("To start using GuardDuty, you must create a detector in
/// each Region where you enable the service. You can have only one detector per account per Region",
/// GuardDuty API Reference, CreateDetector).
pub const CREATE_DETECTOR: Step = Step::new(Service::GuardDuty, "CreateDetector");

/// GuardDuty `UpdateDetector` with `enable: true` (GuardDuty API Reference, UpdateDetector).
pub const UPDATE_DETECTOR: Step = Step::new(Service::GuardDuty, "UpdateDetector");

pub(super) static CHANGES: Changes = Changes {
    steps: &[CREATE_DETECTOR, UPDATE_DETECTOR],
    iam_actions: &["guardduty:CreateDetector", "guardduty:GetDetector", "guardduty:ListDetectors", "guardduty:UpdateDetector"],
    // The first `CreateDetector` in an account makes GuardDuty create its service-linked role
    // `AWSServiceRoleForAmazonGuardDuty` with the caller's permission (GuardDuty User Guide, "Service-linked
    // role permissions for GuardDuty"). moto creates none, so only the template test holds this one.
    service_linked_roles: &[ServiceLinkedRole {
        sid: "GuardDutyServiceLinkedRole",
        service_principal: super::SERVICE_PRINCIPAL,
        role_name: "AWSServiceRoleForAmazonGuardDuty",
    }],
    probe,
    call,
    // A region-level FAIL (no detector) becomes the new detector's finding.
    rescan_by_scope: true,
};

pub(super) fn remedy(f: &Finding, _: &PlanInput<'_>) -> Remedy {
    let step = if f.resource.resource_type == ACCOUNT_TYPE { CREATE_DETECTOR } else { UPDATE_DETECTOR };
    let text = [
        "GuardDuty adds cost: it is billed on the CloudTrail events, VPC flow logs and DNS logs it analyses (30-day free trial per account and region)",
        "for a whole organization, enable it from the GuardDuty delegated administrator instead, once per region: aws guardduty \
         update-organization-configuration --region REGION --detector-id ADMIN_DETECTOR_ID --auto-enable-organization-members ALL",
    ];
    Remedy::Change { steps: vec![step], notes: notes(&text) }
}

/// The region's detector read again right before `step`.
fn probe<'a>(cx: &'a CheckContext, finding: &'a Finding, step: Step) -> BoxFuture<'a, Result<Probe, ScopeError>> {
    Box::pin(async move {
        let id = finding.resource.id.as_str();
        let detector = read_detector(cx).await?;
        // The detector is listed with the account's own credentials (ListDetectors names the caller's): its
        // ARN is the check's, built from the account and region read.
        let (arn, listed) = match &detector {
            RegionDetector::None => (format!("arn:{}:iam::{}:root", cx.target.partition, cx.target.account), String::new()),
            RegionDetector::Detector { id: d, .. } => (detector_arn(&cx.target, d), d.clone()),
        };
        let (state, verdict) = match (&detector, step == CREATE_DETECTOR) {
            (RegionDetector::None, true) => (json!({"detector_id": null}), Verdict::Due),
            (RegionDetector::None, false) => (json!({"detector_id": null}), Verdict::Blocked("the region has no detector any more".into())),
            (RegionDetector::Detector { id: d, status }, create) => {
                let status = status.as_deref().unwrap_or("UNKNOWN");
                let state = json!({"detector_id": d, "status": status});
                let verdict = if status == "ENABLED" {
                    Verdict::Reached(format!("detector {d} is ENABLED"))
                } else if !create && d == id {
                    Verdict::Due
                } else if create {
                    Verdict::Blocked(format!("detector {d} was created since the plan and is {status}: plan again from a fresh report"))
                } else {
                    Verdict::Blocked(format!("the region's detector is now {d} ({status}): plan again from a fresh report"))
                };
                (state, verdict)
            }
        };
        Ok(Probe { state, verdict, arn, id: listed })
    })
}

/// The call of `step` on the region's detector as `read` just listed it.
fn call<'a>(cx: &'a CheckContext, finding: &'a Finding, step: Step, read: &'a Probe) -> BoxFuture<'a, Result<(), ScopeError>> {
    Box::pin(async move {
        let (gd, op) = (cx.clients.guardduty(), step.as_str());
        if step == CREATE_DETECTOR {
            gd.create_detector()
                .enable(true)
                // The idempotency token (CreateDetector `clientToken`, up to 64 characters): the fingerprint,
                // so a create retried after an interruption gives the detector it created, never a second one.
                .client_token(finding.fingerprint().to_string())
                .send()
                .await
                .map(drop)
                .map_err(|e| ScopeError::from_sdk(op, &e))
        } else {
            gd.update_detector().detector_id(&read.id).enable(true).send().await.map(drop).map_err(|e| ScopeError::from_sdk(op, &e))
        }
    })
}
