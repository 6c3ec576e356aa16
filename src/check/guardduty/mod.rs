//! GuardDuty is enabled in every region (Security Hub GuardDuty.1).
//!
//! GuardDuty must run even in unused regions, where an attacker's activity would otherwise go unseen.
//! <https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_settingup.html>

use aws_sdk_securityhub::types as sh;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_with::skip_serializing_none;

pub mod fix;

use super::{Check, CheckContext, DelegatedAdmins, Fill, ResourceKind, Evaluation, Tags, collect_findings, resource_level, with_fail_tags};
use crate::model::{AsffDetails, CheckInfo, Finding, Rate, Resource, ScopeError, Service, Severity, Target};

pub static INFO: &CheckInfo = &CheckInfo {
    id: "guardduty-enabled",
    title: "GuardDuty is enabled in every region",
    severity: Severity::High,
    service: Service::GuardDuty,
    // GuardDuty publishes no quota for these reads; the check makes two to four calls per region.
    rate: Rate::new(10, 10),
    // GetAdministratorAccount and DescribeOrganizationConfiguration are evidence of who manages the detector.
    iam_actions: &[
        "guardduty:ListDetectors",
        "guardduty:GetDetector",
        "guardduty:GetAdministratorAccount",
        "guardduty:DescribeOrganizationConfiguration",
    ],
    security_hub_controls: &["GuardDuty.1"],
    resource_types: &[ACCOUNT_TYPE, DETECTOR_TYPE],
    description: "GuardDuty continuously analyses CloudTrail events, VPC flow logs and DNS logs for \
        unauthorized or unusual activity. A region without an enabled detector is a blind spot, and unused \
        regions are where attackers like to run.",
    remediation: "Create and enable a detector in every region (or enable it organization-wide from the \
        GuardDuty delegated administrator account).",
    remediation_cli: "aws guardduty create-detector --region REGION --enable\n\
        aws guardduty update-detector --region REGION --detector-id DETECTOR_ID --enable",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/guardduty-controls.html#guardduty-1",
};

/// GuardDuty's service principal, whose delegated administrators the walker reads from Organizations
/// (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListDelegatedAdministrators.html>).
pub const SERVICE_PRINCIPAL: &str = "guardduty.amazonaws.com";

/// ASFF `Resources[].Details.AwsGuardDutyDetector` (an account without a detector has no ASFF details).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsGuardDutyDetectorDetails {
    pub status: Option<String>,
}

impl AsffDetails for AwsGuardDutyDetectorDetails {
    const KEY: &'static str = "AwsGuardDutyDetector";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let d = sh::AwsGuardDutyDetectorDetails::builder().set_status(self.status.clone()).build();
        sh::ResourceDetails::builder().aws_guard_duty_detector(d).build()
    }
}

/// What `ListDetectors` and `GetDetector` say about a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionDetector {
    None,
    /// The detector and its `Status` (`ENABLED` or `DISABLED`).
    Detector {
        id: String,
        status: Option<String>,
    },
}

/// Who manages a detector: evidence only, the verdict is the detector's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Management {
    /// A member account: `GetAdministratorAccount` names its administrator (the organization's delegated
    /// administrator, or an inviting account) and the relationship status (`Enabled`, `Invited`, ...).
    Member { administrator: String, relationship: Option<String> },
    /// The organization's GuardDuty delegated administrator in this Region (`DescribeOrganizationConfiguration`
    /// answers only there): whether accounts are enabled automatically (`AutoEnableOrganizationMembers`:
    /// `NEW`, `ALL` or `NONE`).
    Administrator { auto_enable: Option<String> },
    /// Neither: no administrator, and not the delegated administrator.
    Standalone,
    /// Not read: the AWS error code.
    NotRead(String),
}

/// Pure evaluation: exactly one finding per account and region.
pub fn evaluate(target: &Target, detector: &RegionDetector) -> Result<Evaluation, ScopeError> {
    evaluate_managed(target, detector, None)
}

/// [`evaluate`], with who manages the detector as evidence (and in the message).
pub fn evaluate_managed(target: &Target, detector: &RegionDetector, management: Option<&Management>) -> Result<Evaluation, ScopeError> {
    let b = Finding::builder(INFO, target);
    let b = match detector {
        RegionDetector::None => b
            .resource(ACCOUNT_TYPE, target.account.as_str(), format!("arn:{}:iam::{}:root", target.partition, target.account))
            .evidence("detector_id", serde_json::Value::Null)
            .fail(format!("GuardDuty has no detector in {} of account {}", target.region, target.account)),
        RegionDetector::Detector { id, status } => {
            let arn = detector_arn(target, id);
            let status = status.as_deref().unwrap_or("UNKNOWN");
            let mut b = b
                .resource(DETECTOR_TYPE, id, arn)
                .evidence("detector_id", id.as_str())
                .evidence("status", status)
                .details(AwsGuardDutyDetectorDetails { status: Some(status.to_owned()) });
            let managed = match management {
                Some(Management::Member { administrator, relationship }) => {
                    b = b.evidence("administrator_account", administrator.as_str()).evidence("administrator_relationship", relationship.clone());
                    format!("; managed by the GuardDuty administrator account {administrator}")
                }
                Some(Management::Administrator { auto_enable }) => {
                    b = b.evidence("delegated_administrator", true).evidence("auto_enable_organization_members", auto_enable.clone());
                    let auto = match auto_enable.as_deref() {
                        Some("ALL") => "every account of the organization is enabled automatically",
                        Some("NEW") => "new accounts are enabled automatically, existing ones are not",
                        Some("NONE") => "accounts are not enabled automatically",
                        _ => "auto-enable not reported",
                    };
                    format!("; this account is the GuardDuty delegated administrator here ({auto})")
                }
                Some(Management::Standalone) => {
                    b = b.evidence("administrator_account", serde_json::Value::Null);
                    String::new()
                }
                Some(Management::NotRead(code)) => {
                    b = b.evidence("administrator_not_read", code.as_str());
                    String::new()
                }
                None => String::new(),
            };
            if status == "ENABLED" {
                b.pass(format!("GuardDuty detector {id} is enabled in {}{managed}", target.region))
            } else {
                b.fail(format!("GuardDuty detector {id} in {} is {status}, not ENABLED{managed}", target.region))
            }
        }
    };
    Ok(Evaluation::of(collect_findings([b.build()])?))
}

/// What `collect` read of a region: the detector with its tags and who manages it, or the detector that
/// could not be read.
type Collected = Result<(RegionDetector, Tags, Option<Management>), (Resource, ScopeError)>;

/// The region's detector (`None` without one) with its tags, and who manages it when `deep` (read beside
/// `GetDetector`: both need only the detector id, so the follow-up adds no step to the scope's chain).
async fn collect(cx: &CheckContext, deep: bool) -> Result<Collected, ScopeError> {
    let gd = cx.clients.guardduty();
    let gate = cx.gate(Service::GuardDuty);
    // One detector per region is all AWS allows; one ListDetectors page holds it.
    let ids = gate.send("ListDetectors", gd.list_detectors().send()).await?.detector_ids().to_vec();
    let Some(id) = ids.into_iter().min() else {
        return Ok(Ok((RegionDetector::None, None, None)));
    };
    let detector = gate.call(gd.get_detector().detector_id(&id).send());
    let managed = async {
        match deep {
            true => management(cx, &id).await.map(Some),
            false => Ok(None),
        }
    };
    let (answer, managed) = futures::join!(detector, managed);
    match answer {
        Ok(out) => {
            // `GetDetector` answers with the detector's `tags` itself: no call of its own.
            // <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetDetector.html>
            let tags = out.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
            Ok(Ok((RegionDetector::Detector { id, status: out.status().map(|s| s.as_str().to_owned()) }, Some(tags), managed?)))
        }
        Err(e) => {
            let err = ScopeError::from_sdk("GetDetector", &e);
            if !resource_level(&err) {
                return Err(err);
            }
            let arn = detector_arn(&cx.target, &id);
            Ok(Err((Resource { resource_type: DETECTOR_TYPE, id, arn }, err)))
        }
    }
}

/// The region's detector read again (`orgscan fix` does so right before it creates or enables one); a
/// detector that cannot be read is an error.
pub async fn read_detector(cx: &CheckContext) -> Result<RegionDetector, ScopeError> {
    match collect(cx, false).await? {
        Ok((detector, _, _)) => Ok(detector),
        Err((_, e)) => Err(e),
    }
}

/// Who manages the detector `id`: `GetAdministratorAccount` first (a member's administrator); without one,
/// in an account Organizations names GuardDuty's delegated administrator (`CheckSettings::delegated_admins`, read as `CHECK.delegated_admins` declares),
/// `DescribeOrganizationConfiguration`, which only the delegated administrator may call: its
/// `AutoEnableOrganizationMembers` says whether accounts are enabled automatically. Any other account
/// without an administrator is standalone (when the walker did not read the administrators, it is not
/// asked either, and the evidence says only that it has no administrator). An error is evidence (`NotRead`), never a failure of the check: the verdict is the
/// detector's own status. An expired session still ends the scope, so it is renewed and run again.
/// <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetAdministratorAccount.html>
/// <https://docs.aws.amazon.com/guardduty/latest/APIReference/API_DescribeOrganizationConfiguration.html>
async fn management(cx: &CheckContext, id: &str) -> Result<Management, ScopeError> {
    let gd = cx.clients.guardduty();
    let admin = match cx.gate(Service::GuardDuty).call(gd.get_administrator_account().detector_id(id).send()).await {
        Ok(out) => out.administrator().and_then(|a| Some((a.account_id()?.to_owned(), a.relationship_status().map(str::to_owned)))),
        Err(e) => return not_read(ScopeError::from_sdk("GetAdministratorAccount", &e)),
    };
    if let Some((administrator, relationship)) = admin {
        return Ok(Management::Member { administrator, relationship });
    }
    if !cx.settings.delegated_admins(SERVICE_PRINCIPAL).is_some_and(|a| a.contains(&cx.target.account)) {
        return Ok(Management::Standalone);
    }
    match cx.gate(Service::GuardDuty).call(gd.describe_organization_configuration().detector_id(id).send()).await {
        Ok(out) => Ok(Management::Administrator { auto_enable: out.auto_enable_organization_members().map(|a| a.as_str().to_owned()) }),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bad_request_exception()) => Ok(Management::Standalone),
        Err(e) => not_read(ScopeError::from_sdk("DescribeOrganizationConfiguration", &e)),
    }
}

fn not_read(e: ScopeError) -> Result<Management, ScopeError> {
    if !resource_level(&e) {
        return Err(e);
    }
    tracing::debug!(code = %e.code, "GuardDuty administrator not read: {e}");
    Ok(Management::NotRead(e.code))
}

pub(crate) fn detector_arn(target: &Target, id: &str) -> String {
    format!("arn:{}:guardduty:{}:{}:detector/{id}", target.partition, target.region, target.account)
}

/// The check, as the registry lists it.
pub static CHECK: Check = Check {
    changes: Some(&fix::CHANGES),
    delegated_admins: Some(&DelegatedAdmins {
        service_principal: SERVICE_PRINCIPAL,
        service: "GuardDuty",
        unread_note: "GuardDuty's delegated administrator could not be read, so no finding says whether new accounts are enabled automatically",
    }),
    ..Check::new(INFO, run, fix::remedy, RESOURCES)
};

/// The account (no detector in the region) and the detector, as the outputs show them.
const RESOURCES: &[ResourceKind] = &[
    ResourceKind { asff_type: ACCOUNT_TYPE, words: "AWS account", asff_listed: true, console: Some(console), id_placeholder: None },
    ResourceKind::listed(DETECTOR_TYPE, "GuardDuty detector", console, ("DETECTOR_ID", Fill::OwnKind)),
];

fn console(region: &str, _: &str) -> String {
    format!("guardduty/home?region={region}#/summary")
}

/// The resource of a region without a detector: the account.
pub const ACCOUNT_TYPE: &str = crate::model::check_info::ACCOUNT_RESOURCE_TYPE;
/// The resource of a region with a detector.
pub const DETECTOR_TYPE: &str = "AwsGuardDutyDetector";

fn run(cx: &CheckContext) -> BoxFuture<'_, Result<Evaluation, ScopeError>> {
    Box::pin(async move {
        match collect(cx, cx.settings.deep).await? {
            // The FAIL of a disabled detector carries the detector's tags. The FAIL of a region without one is
            // about the account, whose tags live in Organizations (readable from the management account only):
            // they are not read, so it has `tags: None` and a rule on tags does not match it.
            Ok((detector, tags, managed)) => {
                let mut evaluation = evaluate_managed(&cx.target, &detector, managed.as_ref())?;
                if let (Some(Management::NotRead(code)), RegionDetector::Detector { id, .. }) = (&managed, &detector) {
                    evaluation.notes.push(format!(
                        "region {}: who administers GuardDuty detector {id} was not read ({code}); its verdict stands",
                        cx.target.region
                    ));
                }
                with_fail_tags(cx, evaluation, 1, |_| {
                    let tags = tags.clone();
                    async move { Ok(tags) }
                })
                .await
            }
            Err(unreadable) => Ok(Evaluation::default().with_unreadable(INFO, &cx.target, vec![unreadable])),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn t() -> Target {
        Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
    }

    #[test]
    fn no_detector_fails_on_the_account() {
        let e = evaluate(&t(), &RegionDetector::None).unwrap();
        let f = &e.findings[0];
        assert_eq!((f.status, f.resource.resource_type, f.resource.id.as_str()), (Status::Fail, "AwsAccount", "123456789012"));
        assert_eq!(f.resource.arn, "arn:aws:iam::123456789012:root");
    }

    #[test]
    fn detector_status_decides() {
        let on = evaluate(&t(), &RegionDetector::Detector { id: "d1".into(), status: Some("ENABLED".into()) }).unwrap();
        assert_eq!(on.findings[0].status, Status::Pass);
        assert_eq!(on.findings[0].resource.arn, "arn:aws:guardduty:eu-west-1:123456789012:detector/d1");
        let off = evaluate(&t(), &RegionDetector::Detector { id: "d1".into(), status: Some("DISABLED".into()) }).unwrap();
        assert_eq!(off.findings[0].status, Status::Fail);
        assert!(off.findings[0].message.contains("DISABLED"));
        let unknown = evaluate(&t(), &RegionDetector::Detector { id: "d1".into(), status: None }).unwrap();
        assert_eq!(unknown.findings[0].status, Status::Fail);
    }

    #[test]
    fn who_manages_the_detector_is_evidence_not_verdict() {
        let on = RegionDetector::Detector { id: "d1".into(), status: Some("ENABLED".into()) };
        let member = Management::Member { administrator: "111111111111".into(), relationship: Some("Enabled".into()) };
        let e = evaluate_managed(&t(), &on, Some(&member)).unwrap();
        let f = &e.findings[0];
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.evidence["administrator_account"], "111111111111");
        assert!(f.message.ends_with("managed by the GuardDuty administrator account 111111111111"), "{}", f.message);
        let admin = Management::Administrator { auto_enable: Some("NEW".into()) };
        let e = evaluate_managed(&t(), &on, Some(&admin)).unwrap();
        assert_eq!(e.findings[0].evidence["auto_enable_organization_members"], "NEW");
        assert!(e.findings[0].message.contains("delegated administrator here (new accounts are enabled automatically"));
        let off = RegionDetector::Detector { id: "d1".into(), status: Some("DISABLED".into()) };
        let e = evaluate_managed(&t(), &off, Some(&Management::NotRead("AccessDeniedException".into()))).unwrap();
        assert_eq!(e.findings[0].status, Status::Fail);
        assert_eq!(e.findings[0].evidence["administrator_not_read"], "AccessDeniedException");
    }
}
