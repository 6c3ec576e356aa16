//! `orgscan fix` for OpenSearch: encryption at rest enabled in place (`UpdateDomainConfig`, a blue/green
//! deployment, only with `--allow-blue-green`) on an engine that allows it; otherwise the source article's
//! create-migrate-delete steps, by hand.

use futures::future::BoxFuture;
use serde_json::json;

use super::{ENGINE_VERSION, describe_domain};
use crate::check::CheckContext;
use crate::check::remedy::{Changes, PlanInput, Probe, Remedy, Step, Verdict, elsewhere, gone, in_scope, notes, replacement, sh};
use crate::model::{Finding, ScopeError, Service};

/// OpenSearch `UpdateDomainConfig` with `EncryptionAtRestOptions.Enabled=true` ("Can only be used when
/// creating a new domain or enabling encryption at rest for the first time on an existing domain",
/// OpenSearch Service API Reference, EncryptionAtRestOptions). It starts a blue/green deployment (Developer
/// Guide, "Making configuration changes": "Enabling encryption of data at rest").
pub const UPDATE_DOMAIN_CONFIG: Step = Step::new(Service::OpenSearch, "UpdateDomainConfig");

pub(super) static CHANGES: Changes = Changes {
    steps: &[UPDATE_DOMAIN_CONFIG],
    iam_actions: &["es:DescribeDomains", "es:UpdateDomainConfig"],
    service_linked_roles: &[],
    probe,
    call,
    rescan_by_scope: false,
};

pub(super) fn remedy(f: &Finding, input: &PlanInput<'_>) -> Remedy {
    let engine = ENGINE_VERSION.str(f).unwrap_or("unknown engine");
    if !in_place_encryption_allowed(engine) {
        Remedy::Manual {
            why: format!(
                "{engine} cannot enable encryption at rest on an existing domain (that needs OpenSearch or Elasticsearch 6.7 or later): recreate it encrypted and move the data"
            ),
            commands: manual(f),
        }
    } else if !input.options.allow_blue_green {
        Remedy::Manual {
            why: "enabling encryption at rest on an existing domain starts a blue/green deployment (a copy of the cluster, data migrated, then switched over); orgscan does it only with --allow-blue-green".to_owned(),
            commands: manual(f),
        }
    } else {
        Remedy::Change {
            steps: vec![UPDATE_DOMAIN_CONFIG],
            notes: notes(&[
                "UpdateDomainConfig starts a blue/green deployment: the domain stays available but runs twice its nodes until the data is migrated; \
                 encryption at rest cannot be turned off again; the AWS managed key aws/es is used",
                "a domain with UltraWarm or cold storage enabled, or a change in progress, is refused (read right before the change)",
            ]),
        }
    }
}

/// Whether AWS enables encryption at rest on an existing domain of this engine version: "Enabling it on
/// existing domains requires either OpenSearch or Elasticsearch 6.7 or later" (OpenSearch Service Developer
/// Guide, "Encryption of data at rest for Amazon OpenSearch Service").
pub fn in_place_encryption_allowed(engine_version: &str) -> bool {
    if engine_version.starts_with("OpenSearch_") {
        return true;
    }
    let Some(v) = engine_version.strip_prefix("Elasticsearch_") else { return false };
    let mut parts = v.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (6, 7),
        (Some(Ok(major)), None) => major > 6,
        _ => false,
    }
}

/// The article's create-migrate-delete steps for a domain that cannot, or may not, be encrypted in place.
pub fn manual(f: &Finding) -> Vec<String> {
    let (region, name) = (sh(f.target.region.as_str()), f.resource.id.as_str());
    let engine = ENGINE_VERSION.str(f).unwrap_or("unknown engine");
    // Domain names: 3 to 28 characters (OpenSearch Service API Reference, CreateDomain).
    let new = sh(&replacement(name, "-enc", 28));
    let name = sh(name);
    let es = engine.starts_with("Elasticsearch_");
    let mut steps = vec![if es {
        format!(
            "aws es describe-elasticsearch-domain --region {region} --domain-name {name} --query 'DomainStatus.EncryptionAtRestOptions'"
        )
    } else {
        format!("aws opensearch describe-domain --region {region} --domain-name {name} --query 'DomainStatus.EncryptionAtRestOptions'")
    }];
    if in_place_encryption_allowed(engine) {
        steps.push(format!(
            "aws opensearch update-domain-config --region {region} --domain-name {name} --encryption-at-rest-options Enabled=true   # starts a blue/green deployment; or recreate the domain:"
        ));
    }
    let create = match engine.strip_prefix("Elasticsearch_") {
        Some(v) => format!(
            "aws es create-elasticsearch-domain --region {region} --domain-name {new} --elasticsearch-version {} \
             --elasticsearch-cluster-config InstanceType=INSTANCE_TYPE,InstanceCount=INSTANCE_COUNT \
             --ebs-options EBSEnabled=true,VolumeType=VOLUME_TYPE,VolumeSize=VOLUME_SIZE \
             --access-policies file://source-domain-access-policy.json \
             --vpc-options SubnetIds=SUBNET_ID,SecurityGroupIds=SECURITY_GROUP_ID --encryption-at-rest-options Enabled=true,KmsKeyId=KMS_KEY_ID",
            sh(v)
        ),
        None => format!(
            "aws opensearch create-domain --region {region} --domain-name {new} --engine-version {} \
             --cluster-config InstanceType=INSTANCE_TYPE,InstanceCount=INSTANCE_COUNT \
             --ebs-options EBSEnabled=true,VolumeType=VOLUME_TYPE,VolumeSize=VOLUME_SIZE \
             --access-policies file://source-domain-access-policy.json \
             --vpc-options SubnetIds=SUBNET_ID,SecurityGroupIds=SECURITY_GROUP_ID --encryption-at-rest-options Enabled=true,KmsKeyId=KMS_KEY_ID",
            sh(if engine.starts_with("OpenSearch_") { engine } else { "ENGINE_VERSION" })
        ),
    };
    steps.push(create);
    steps.push(format!("# move the data from {name} to {new} (snapshot and restore, or reindex), point the clients at {new}, then:"));
    steps.push(if es {
        format!("aws es delete-elasticsearch-domain --region {region} --domain-name {name}")
    } else {
        format!("aws opensearch delete-domain --region {region} --domain-name {name}")
    });
    steps
}

/// The domain read again right before the change.
fn probe<'a>(cx: &'a CheckContext, finding: &'a Finding, _: Step) -> BoxFuture<'a, Result<Probe, ScopeError>> {
    Box::pin(async move {
        let Some(d) = describe_domain(cx, &finding.resource.id).await? else {
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
    })
}

/// `UpdateDomainConfig` on the domain as `read` just named it.
fn call<'a>(cx: &'a CheckContext, _: &'a Finding, step: Step, read: &'a Probe) -> BoxFuture<'a, Result<(), ScopeError>> {
    Box::pin(async move {
        let enc = aws_sdk_opensearch::types::EncryptionAtRestOptions::builder().enabled(true).build();
        cx.clients
            .opensearch()
            .update_domain_config()
            .domain_name(&read.id)
            .encryption_at_rest_options(enc)
            .send()
            .await
            .map(drop)
            .map_err(|e| ScopeError::from_sdk(step.as_str(), &e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evidence the evaluation writes is what the fix reads: a FAIL of an engine that allows it becomes
    /// the change (with --allow-blue-green), one that does not stays manual, naming its engine.
    #[test]
    fn the_fix_reads_the_engine_the_evaluation_wrote() {
        use crate::check::lambda::RuntimeTable;
        use crate::check::remedy::Options;
        use crate::check::{CheckSettings, opensearch};
        let t = crate::model::Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let domain = |name: &str, engine: &str| opensearch::DomainInfo {
            name: name.into(),
            arn: format!("arn:aws:es:eu-west-1:123456789012:domain/{name}"),
            engine_version: Some(engine.into()),
            encrypted: Some(false),
            kms_key_id: None,
            warm_or_cold: false,
            processing: false,
        };
        let e = opensearch::evaluate(&t, &[domain("new", "OpenSearch_2.11"), domain("old", "Elasticsearch_5.6")]).unwrap();
        let settings = CheckSettings::new(RuntimeTable::bundled().unwrap(), 90, true, false);
        let options = Options { enable_keys: false, allow_blue_green: true };
        let input = PlanInput { options, settings: &settings, today: "2026-12-01".parse().unwrap() };
        let Remedy::Change { steps, .. } = remedy(&e.findings[0], &input) else { panic!("OpenSearch_2.11 is encrypted in place") };
        assert_eq!(steps, [UPDATE_DOMAIN_CONFIG]);
        let Remedy::Manual { why, commands } = remedy(&e.findings[1], &input) else { panic!("Elasticsearch 5.6 cannot be encrypted in place") };
        assert!(why.starts_with("Elasticsearch_5.6 cannot enable encryption at rest"), "{why}");
        assert!(commands.iter().any(|c| c.contains("--elasticsearch-version 5.6")), "{commands:?}");
    }

    #[test]
    fn in_place_encryption_needs_opensearch_or_elasticsearch_6_7() {
        for ok in ["OpenSearch_1.0", "OpenSearch_2.11", "Elasticsearch_6.7", "Elasticsearch_7.10", "Elasticsearch_8"] {
            assert!(in_place_encryption_allowed(ok), "{ok}");
        }
        for no in ["Elasticsearch_6.5", "Elasticsearch_5.6", "Elasticsearch_2.3", "unknown engine", "Elasticsearch_x"] {
            assert!(!in_place_encryption_allowed(no), "{no}");
        }
    }
}
