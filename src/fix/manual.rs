//! The manual steps of what orgscan never changes itself: the source article's commands (26 AWS Security
//! Best Practices, part 4) with the resource's region, name and what the finding knows filled in; what only
//! the owner knows stays a placeholder in capitals.

use chrono::NaiveDate;

use crate::check::lambda::RuntimeTable;
use crate::model::Finding;

/// A value for a shell command: as it is when it holds only characters no shell treats specially, else in
/// single quotes (a report file could be edited: what it holds is never run, but may be copied into a shell).
pub fn sh(value: &str) -> String {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=,".contains(&b));
    if plain { value.to_owned() } else { format!("'{}'", value.replace('\'', r"'\''")) }
}

fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
    f.evidence.get(key).and_then(|v| v.as_str())
}

/// A name for the replacement of `name`: `<name><suffix>`, cut to `max` characters (AWS's limit for the name).
fn replacement(name: &str, suffix: &str, max: usize) -> String {
    let keep = max.saturating_sub(suffix.len());
    format!("{}{suffix}", name.chars().take(keep).collect::<String>())
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
pub fn opensearch(f: &Finding) -> Vec<String> {
    let (region, name) = (sh(f.target.region.as_str()), f.resource.id.as_str());
    let engine = evidence(f, "engine_version").unwrap_or("unknown engine");
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

/// A notebook instance's network placement cannot be changed: it is recreated (article, 23).
pub fn sagemaker(f: &Finding) -> Vec<String> {
    let (region, name) = (sh(f.target.region.as_str()), f.resource.id.as_str());
    // Notebook instance names: up to 63 characters (SageMaker API Reference, CreateNotebookInstance).
    let new = sh(&replacement(name, "-vpc", 63));
    let subnet = evidence(f, "subnet_id").filter(|s| !s.is_empty()).map_or_else(|| "SUBNET_ID".to_owned(), sh);
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

/// The article's runtime update (24), with the runtime of the same language supported longest.
pub fn lambda(f: &Finding, table: &RuntimeTable, today: NaiveDate) -> Vec<String> {
    let (region, name) = (sh(f.target.region.as_str()), sh(&f.resource.id));
    let runtime = evidence(f, "runtime").and_then(|r| table.successor(r, today)).map_or_else(|| "RUNTIME".to_owned(), sh);
    if f.resource.resource_type == crate::check::lambda::web::RESOURCE_TYPE {
        return web_function(f, &region, &name, &runtime);
    }
    let mut out = vec![
        format!("aws lambda get-function-configuration --region {region} --function-name {name} --query 'Runtime'"),
        "# test the code and its dependencies on the new runtime first (e.g. on a published version behind an alias)".to_owned(),
        format!("aws lambda update-function-configuration --region {region} --function-name {name} --runtime {runtime}"),
    ];
    // The aliases that still route to a version on an old runtime: publish the upgraded $LATEST, move them.
    let aliased = f.evidence.get("aliased_versions").and_then(|v| v.as_array()).into_iter().flatten();
    let stale: Vec<&str> = aliased
        .filter(|v| v.get("runtime_status").and_then(|s| s.as_str()).is_some_and(|s| s != "supported"))
        .flat_map(|v| v.get("aliases").and_then(|a| a.as_array()).into_iter().flatten().filter_map(|a| a.as_str()))
        .collect();
    if !stale.is_empty() {
        out.push(format!("aws lambda publish-version --region {region} --function-name {name} --query Version"));
        out.extend(stale.iter().map(|alias| {
            format!("aws lambda update-alias --region {region} --function-name {name} --name {} --function-version NEW_VERSION", sh(alias))
        }));
    }
    out
}

/// A Web Function's revisions are immutable: a new revision on the new runtime, then the endpoints that route
/// to an old one moved to it (an endpoint in `LatestRevision` mode moves by itself once the revision is
/// Active; "Deployment patterns" and "Managing Web Function revisions", Lambda Developer Guide). The code
/// object, execution role and endpoint weights stay the owner's placeholders.
fn web_function(f: &Finding, region: &str, name: &str, runtime: &str) -> Vec<String> {
    let served = f.evidence.get("served_revisions").and_then(|v| v.as_array()).into_iter().flatten();
    let stale: Vec<&serde_json::Value> =
        served.filter(|v| v.get("runtime_status").and_then(|s| s.as_str()).is_some_and(|s| s != "supported" && s != "newer")).collect();
    let mut out: Vec<String> = stale
        .iter()
        .filter_map(|v| v.get("revision").and_then(|r| r.as_str()))
        .map(|rev| {
            format!(
                "aws lambda-web get-web-function-revision --region {region} --function-name {name} --revision-id {} --query buildConfig",
                sh(rev)
            )
        })
        .collect();
    out.push("# test the code and its dependencies on the new runtime first (e.g. on an endpoint with a small revision weight)".to_owned());
    out.push(format!(
        "aws lambda-web create-web-function-revision --region {region} --function-name {name} \
         --build-config 'codeConfig={{s3Object={{bucket=BUCKET,key=KEY,versionId=VERSION_ID}}}},runtimeConfig={{runtime={runtime}}}' \
         --service-config executionRoleArn=EXECUTION_ROLE_ARN --query revisionId"
    ));
    let mut endpoints: Vec<&str> =
        stale.iter().flat_map(|v| v.get("endpoints").and_then(|e| e.as_array()).into_iter().flatten().filter_map(|e| e.as_str())).collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    out.extend(endpoints.iter().map(|e| {
        format!(
            "aws lambda-web update-web-function-endpoint --region {region} --function-name {name} --endpoint-name {} \
             --revision-weights revisionId=NEW_REVISION_ID,weight=100   # not needed for an endpoint in LatestRevision mode",
            sh(e)
        )
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_shell_characters_are_quoted() {
        assert_eq!(sh("fn-deprecated"), "fn-deprecated");
        assert_eq!(sh("arn:aws:kms:eu-west-1:1:key/x"), "arn:aws:kms:eu-west-1:1:key/x");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("x;rm -rf /"), "'x;rm -rf /'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh(""), "''");
    }

    #[test]
    fn an_alias_on_an_old_version_gets_its_commands() {
        let t = crate::model::Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let versions = serde_json::json!([{"version": "1", "aliases": ["prod"], "runtime": "python3.7", "runtime_status": "deprecated"},
            {"version": "2", "aliases": ["canary"], "runtime": "python3.13", "runtime_status": "supported"}]);
        let f = Finding::builder(crate::check::lambda::INFO, &t)
            .resource("AwsLambdaFunction", "api", "arn:aws:lambda:eu-west-1:123456789012:function:api")
            .evidence("runtime", "python3.12")
            .evidence("aliased_versions", versions)
            .fail("alias prod on python3.7")
            .build()
            .unwrap();
        let today = "2026-12-01".parse().unwrap();
        let c = lambda(&f, &RuntimeTable::bundled().unwrap(), today);
        assert!(c.iter().any(|l| l.contains("publish-version") && l.contains("--function-name api")), "{c:?}");
        assert!(c.iter().any(|l| l.contains("update-alias") && l.contains("--name prod")), "{c:?}");
        assert!(!c.iter().any(|l| l.contains("canary")), "a supported alias is left alone: {c:?}");
    }

    #[test]
    fn a_web_function_gets_a_new_revision_and_its_stale_endpoints_moved() {
        use crate::check::lambda::web::{ServedRevision, WebFunctionInfo, evaluate};
        let t = crate::model::Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let rev =
            |id: &str, e: &str, r: &str| ServedRevision { revision_id: id.into(), endpoints: vec![e.into()], runtime: Some(r.into()) };
        let served = vec![rev("r-new", "live", "nodejs24.x"), rev("r-old", "canary", "nodejs20.x")];
        let wf = WebFunctionInfo {
            name: "api".into(),
            arn: "arn:aws:lambda:eu-west-1:123456789012:web-function/api".into(),
            served,
            kms_keys: vec![],
        };
        let (table, today) = (RuntimeTable::bundled().unwrap(), "2026-12-01".parse().unwrap());
        let e = evaluate(&t, &[wf], &table, today, 90).unwrap();
        let c = lambda(&e.findings[0], &table, today);
        assert!(c.iter().any(|l| l.contains("get-web-function-revision") && l.contains("--revision-id r-old")), "{c:?}");
        assert!(!c.iter().any(|l| l.contains("r-new")), "the supported revision is left alone: {c:?}");
        let create = c.iter().find(|l| l.contains("create-web-function-revision")).unwrap();
        assert!(create.contains("--function-name api") && create.contains("runtimeConfig={runtime=nodejs24.x}"), "{create}");
        assert!(c.iter().any(|l| l.contains("update-web-function-endpoint") && l.contains("--endpoint-name canary")), "{c:?}");
        assert!(!c.iter().any(|l| l.contains("update-function-configuration")), "not an Event Function's commands: {c:?}");
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

    #[test]
    fn replacement_names_fit_the_limit() {
        assert_eq!(replacement("os-plain", "-enc", 28), "os-plain-enc");
        assert_eq!(replacement(&"d".repeat(28), "-enc", 28).len(), 28);
    }
}
