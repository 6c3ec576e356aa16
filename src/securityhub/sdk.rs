//! The SDK form of the ASFF wire types, for `BatchImportFindings`.

use aws_sdk_securityhub::types as sh;

use super::asff::{AsffFinding, AsffResource};
use crate::model::ResourceDetails;

impl AsffFinding {
    /// The SDK form, for `BatchImportFindings`.
    pub fn to_sdk(&self) -> sh::AwsSecurityFinding {
        let severity = || {
            sh::Severity::builder()
                .label(sh::SeverityLabel::from(self.severity.label.as_str()))
                .set_original(self.severity.original.clone())
                .build()
        };
        let fp = &self.finding_provider_fields;
        sh::AwsSecurityFinding::builder()
            .schema_version(&self.schema_version)
            .id(&self.id)
            .product_arn(&self.product_arn)
            .generator_id(&self.generator_id)
            .aws_account_id(&self.aws_account_id)
            .set_aws_account_name(self.aws_account_name.clone())
            .set_types(Some(self.types.clone()))
            .created_at(&self.created_at)
            .updated_at(&self.updated_at)
            .severity(severity())
            .title(&self.title)
            .description(&self.description)
            .remediation(
                sh::Remediation::builder()
                    .recommendation(
                        sh::Recommendation::builder()
                            .text(&self.remediation.recommendation.text)
                            .url(&self.remediation.recommendation.url)
                            .build(),
                    )
                    .build(),
            )
            .set_product_fields(Some(self.product_fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            .compliance(
                sh::Compliance::builder()
                    .status(sh::ComplianceStatus::from(self.compliance.status.as_str()))
                    .set_related_requirements(Some(self.compliance.related_requirements.clone()))
                    .build(),
            )
            .set_resources(Some(self.resources.iter().map(AsffResource::to_sdk).collect()))
            .set_related_findings((!self.related_findings.is_empty()).then(|| {
                self.related_findings.iter().map(|r| sh::RelatedFinding::builder().product_arn(&r.product_arn).id(&r.id).build()).collect()
            }))
            .record_state(sh::RecordState::from(self.record_state.as_str()))
            .finding_provider_fields(
                sh::FindingProviderFields::builder()
                    .severity(
                        sh::FindingProviderSeverity::builder()
                            .label(sh::SeverityLabel::from(fp.severity.label.as_str()))
                            .set_original(fp.severity.original.clone())
                            .build(),
                    )
                    .set_types(Some(fp.types.clone()))
                    .build(),
            )
            .build()
    }
}

impl AsffResource {
    pub fn to_sdk(&self) -> sh::Resource {
        sh::Resource::builder()
            .r#type(&self.resource_type)
            .id(&self.id)
            .partition(sh::Partition::from(self.partition.as_str()))
            .region(&self.region)
            .set_details(self.details.as_ref().and_then(ResourceDetails::to_sdk))
            .build()
    }
}
