//! SageMaker notebook instances have no direct internet access (Security Hub SageMaker.1 / SageMaker.2).
//!
//! Without a VPC, a notebook instance always has direct internet access; inside a VPC it still has it unless
//! `DirectInternetAccess` is `Disabled`.
//! <https://docs.aws.amazon.com/sagemaker/latest/dg/appendix-notebook-and-internet-access.html>

use aws_sdk_securityhub::types as sh;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_with::skip_serializing_none;

use super::remedy::{PlanInput, Remedy, replacement, sh};
use super::{Check, EvidenceKey, Fill, KeyRole, ResourceKind, CheckContext, Described, Evaluation, Tags, collect_findings, describe_each, resource_level, with_fail_tags};
use crate::model::{AsffDetails, CheckInfo, Finding, Rate, Resource, ScopeError, Service, Severity, Target};

pub static INFO: &CheckInfo = &CheckInfo {
    id: "sagemaker-notebook-no-direct-internet",
    title: "SageMaker notebook instances have no direct internet access",
    severity: Severity::High,
    service: Service::SageMaker,
    // SageMaker List*/Describe*: a conservative share of the account's control-plane budget.
    rate: Rate::new(10, 10),
    // sagemaker:ListTags is called only with `read_tags` (suppression rules on tags), and only for FAILs;
    // declared with the others so the shipped policies grant it (Service Authorization Reference, "Actions
    // defined by Amazon SageMaker").
    iam_actions: &["sagemaker:ListNotebookInstances", "sagemaker:DescribeNotebookInstance", "sagemaker:ListTags"],
    security_hub_controls: &["SageMaker.1", "SageMaker.2"],
    resource_types: &[NOTEBOOK_TYPE],
    description: "A notebook instance that is not in a VPC, or whose direct internet access is enabled, can \
        reach and be reached from the internet outside any network control, exposing training data and \
        credentials on the instance.",
    remediation: "Recreate the notebook instance in a VPC subnet with direct internet access disabled; give it \
        outbound access through a NAT gateway if it needs the internet for training or hosting.",
    remediation_cli: "aws sagemaker create-notebook-instance --region REGION --notebook-instance-name NOTEBOOK_INSTANCE_NAME \
        --instance-type INSTANCE_TYPE --role-arn ROLE_ARN --kms-key-id KMS_KEY_ID --subnet-id SUBNET_ID \
        --security-group-ids SECURITY_GROUP_ID --direct-internet-access Disabled",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/sagemaker-controls.html#sagemaker-1",
};

/// ASFF `Resources[].Details.AwsSageMakerNotebookInstance`: the fields this check read.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsSageMakerNotebookInstanceDetails {
    pub notebook_instance_name: String,
    pub direct_internet_access: Option<String>,
    pub subnet_id: Option<String>,
}

impl AsffDetails for AwsSageMakerNotebookInstanceDetails {
    const KEY: &'static str = NOTEBOOK_TYPE;

    fn to_sdk(&self) -> sh::ResourceDetails {
        let n = sh::AwsSageMakerNotebookInstanceDetails::builder()
            .notebook_instance_name(&self.notebook_instance_name)
            .set_direct_internet_access(self.direct_internet_access.clone())
            .set_subnet_id(self.subnet_id.clone())
            .build();
        sh::ResourceDetails::builder().aws_sage_maker_notebook_instance(n).build()
    }
}

/// The notebook instance's subnet (null outside a VPC): the manual steps recreate it there.
pub const SUBNET_ID: EvidenceKey = EvidenceKey::new("subnet_id");

/// The fields of `DescribeNotebookInstance` this check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotebookInfo {
    pub name: String,
    pub arn: String,
    /// `Enabled` or `Disabled`.
    pub direct_internet_access: Option<String>,
    pub subnet_id: Option<String>,
    /// `KmsKeyId`: the key that encrypts the instance's ML storage volume (`None` for the AWS managed key).
    pub kms_key_id: Option<String>,
}

/// Pure evaluation of the `DirectInternetAccess` field itself and the VPC placement (never `RootAccess`).
pub fn evaluate(target: &Target, notebooks: &[NotebookInfo]) -> Result<Evaluation, ScopeError> {
    let findings = notebooks.iter().map(|n| {
        let access = n.direct_internet_access.as_deref().unwrap_or("Enabled");
        let in_vpc = n.subnet_id.as_deref().is_some_and(|s| !s.is_empty());
        let b = Finding::builder(INFO, target)
            .resource(NOTEBOOK_TYPE, &n.name, &n.arn)
            .evidence("direct_internet_access", access)
            .evidence(SUBNET_ID.name(), n.subnet_id.clone())
            .details(AwsSageMakerNotebookInstanceDetails {
                notebook_instance_name: n.name.clone(),
                direct_internet_access: Some(access.to_owned()),
                subnet_id: n.subnet_id.clone(),
            });
        let mut problems = Vec::new();
        if access != "Disabled" {
            problems.push("direct internet access is enabled");
        }
        if !in_vpc {
            problems.push("it does not run in a VPC (no subnet)");
        }
        if problems.is_empty() {
            b.pass(format!("Notebook instance {} runs in a VPC with direct internet access disabled", n.name))
        } else {
            b.fail(format!("Notebook instance {}: {}", n.name, problems.join(" and ")))
        }
        .build()
    });
    let mut e = Evaluation::of(collect_findings(findings)?);
    for n in notebooks {
        if let Some(k) = &n.kms_key_id {
            let resource = Resource { resource_type: NOTEBOOK_TYPE, id: n.name.clone(), arn: n.arn.clone() };
            e = e.with_key_use(INFO, target, &resource, k, "storage volume encryption");
        }
    }
    Ok(e)
}

const DESCRIBE_PARALLELISM: usize = 4;

async fn collect(cx: &CheckContext) -> Result<(Vec<NotebookInfo>, Vec<(Resource, ScopeError)>), ScopeError> {
    let sm = cx.clients.sagemaker();
    let gate = cx.gate(Service::SageMaker);
    let mut listed = Vec::new();
    gate.pages("ListNotebookInstances", sm.list_notebook_instances().into_paginator().send(), |page| {
        listed.extend(
            page.notebook_instances().iter().filter_map(|n| Some((n.notebook_instance_name()?.to_owned(), n.notebook_instance_arn()?.to_owned()))),
        );
    })
    .await?;
    // The list carries neither DirectInternetAccess nor SubnetId: one describe per notebook is needed.
    describe_each(listed, DESCRIBE_PARALLELISM, |(name, listed_arn)| {
        let sm = sm.clone();
        async move {
            let out = match gate.call(sm.describe_notebook_instance().notebook_instance_name(&name).send()).await {
                Ok(out) => out,
                Err(e) => {
                    let err = ScopeError::from_sdk("DescribeNotebookInstance", &e);
                    // Deleted between the list and the describe: SageMaker answers ValidationException
                    // "RecordNotFound". Nothing to evaluate.
                    if err.code == "ValidationException" && err.message.contains("RecordNotFound") {
                        return Ok(Described::Gone);
                    }
                    if resource_level(&err) {
                        return Ok(Described::Unreadable(Resource { resource_type: NOTEBOOK_TYPE, id: name, arn: listed_arn }, err));
                    }
                    return Err(err);
                }
            };
            Ok(Described::Found(NotebookInfo {
                arn: out.notebook_instance_arn().map(str::to_owned).unwrap_or(listed_arn),
                name,
                direct_internet_access: out.direct_internet_access().map(|d| d.as_str().to_owned()),
                subnet_id: out.subnet_id().map(str::to_owned),
                kms_key_id: out.kms_key_id().map(str::to_owned),
            }))
        }
    })
    .await
}

/// The tags of one notebook instance: `ListTags` (ResourceArn; `Tags` of `Key`/`Value`, `NextToken` pages on).
/// <https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTags.html>
async fn read_tags(cx: &CheckContext, notebook: Resource) -> Result<Tags, ScopeError> {
    let mut tags = std::collections::BTreeMap::new();
    let pages = cx.clients.sagemaker().list_tags().resource_arn(&notebook.arn).into_paginator().send();
    cx.gate(Service::SageMaker)
        .pages("ListTags", pages, |page| {
            // Key is required and Value optional in the API model; a tag without a value has the empty one.
            tags.extend(page.tags().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))));
        })
        .await?;
    Ok(Some(tags))
}

/// The check, as the registry lists it.
pub static CHECK: Check =
    Check { keys: KeyRole::Users("SageMaker notebook instance"), ..Check::new(INFO, run, remedy, &[NOTEBOOK_KIND]) };

/// A notebook instance, as the outputs show it.
const NOTEBOOK_KIND: ResourceKind = ResourceKind::listed(NOTEBOOK_TYPE, "SageMaker notebook instance", |region, id| format!("sagemaker/home?region={region}#/notebook-instances/{id}"), ("NOTEBOOK_INSTANCE_NAME", Fill::Everywhere));

/// The ASFF type of a notebook instance.
pub const NOTEBOOK_TYPE: &str = "AwsSageMakerNotebookInstance";

fn remedy(f: &Finding, _: &PlanInput<'_>) -> Remedy {
    Remedy::Manual {
        why: "a notebook instance's VPC and direct internet access cannot be changed: it must be recreated and its data moved, which orgscan never does".to_owned(),
        commands: manual(f),
    }
}

/// A notebook instance's network placement cannot be changed: it is recreated (article, 23).
pub fn manual(f: &Finding) -> Vec<String> {
    let (region, name) = (sh(f.target.region.as_str()), f.resource.id.as_str());
    // Notebook instance names: up to 63 characters (SageMaker API Reference, CreateNotebookInstance).
    let new = sh(&replacement(name, "-vpc", 63));
    let subnet = SUBNET_ID.str(f).filter(|s| !s.is_empty()).map_or_else(|| "SUBNET_ID".to_owned(), sh);
    let name = sh(name);
    vec![
        format!(
            "aws sagemaker describe-notebook-instance --region {region} --notebook-instance-name {name} \
             --query '[InstanceType, RoleArn, KmsKeyId, SecurityGroups]'"
        ),
        format!(
            "aws sagemaker create-notebook-instance --region {region} --notebook-instance-name {new} --instance-type INSTANCE_TYPE \
             --role-arn ROLE_ARN --kms-key-id KMS_KEY_ID --subnet-id {subnet} --security-group-ids SECURITY_GROUP_ID \
             --direct-internet-access Disabled"
        ),
        format!("# give the VPC a NAT gateway if the notebook needs the internet; move the notebooks and data from {name} to {new}, then:"),
        format!("aws sagemaker stop-notebook-instance --region {region} --notebook-instance-name {name}"),
        format!("aws sagemaker delete-notebook-instance --region {region} --notebook-instance-name {name}"),
    ]
}

fn run(cx: &CheckContext) -> BoxFuture<'_, Result<Evaluation, ScopeError>> {
    Box::pin(async move {
        let (notebooks, unreadable) = collect(cx).await?;
        let evaluation = evaluate(&cx.target, &notebooks)?.with_unreadable(INFO, &cx.target, unreadable);
        with_fail_tags(cx, evaluation, DESCRIBE_PARALLELISM, |notebook| read_tags(cx, notebook)).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn n(name: &str, access: Option<&str>, subnet: Option<&str>) -> NotebookInfo {
        NotebookInfo {
            name: name.into(),
            arn: format!("arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/{name}"),
            direct_internet_access: access.map(str::to_owned),
            subnet_id: subnet.map(str::to_owned),
            kms_key_id: None,
        }
    }

    /// The subnet the evaluation wrote is the one the manual steps recreate the notebook in.
    #[test]
    fn the_manual_steps_use_the_subnet_the_evaluation_wrote() {
        let t = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let e = evaluate(&t, &[n("nb", Some("Enabled"), Some("subnet-9")), n("nb-out", Some("Disabled"), None)]).unwrap();
        assert!(manual(&e.findings[0]).iter().any(|c| c.contains("--subnet-id subnet-9")), "{:?}", manual(&e.findings[0]));
        assert!(manual(&e.findings[1]).iter().any(|c| c.contains("--subnet-id SUBNET_ID")), "{:?}", manual(&e.findings[1]));
    }

    #[test]
    fn every_branch_and_the_message_says_which() {
        let t = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let e = evaluate(
            &t,
            &[
                n("good", Some("Disabled"), Some("subnet-1")),
                n("open-in-vpc", Some("Enabled"), Some("subnet-1")),
                n("disabled-no-vpc", Some("Disabled"), None),
                n("open-no-vpc", Some("Enabled"), None),
                n("missing-field", None, Some("subnet-1")),
                n("empty-subnet", Some("Disabled"), Some("")),
            ],
        )
        .unwrap();
        let got: Vec<_> = e.findings.iter().map(|f| (f.resource.id.as_str(), f.status)).collect();
        assert_eq!(
            got,
            [
                ("good", Status::Pass),
                ("open-in-vpc", Status::Fail),
                ("disabled-no-vpc", Status::Fail),
                ("open-no-vpc", Status::Fail),
                ("missing-field", Status::Fail),
                ("empty-subnet", Status::Fail),
            ]
        );
        let m = |i: usize| e.findings[i].message.clone();
        assert!(m(1).contains("direct internet access is enabled") && !m(1).contains("VPC"));
        assert!(m(2).contains("does not run in a VPC") && !m(2).contains("enabled"));
        assert!(m(3).contains("direct internet access is enabled and it does not run in a VPC"));
    }
}
