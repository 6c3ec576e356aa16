//! OpenSearch and Elasticsearch domains encrypt data at rest (Security Hub Opensearch.1 / ES.1).
//!
//! <https://docs.aws.amazon.com/opensearch-service/latest/developerguide/encryption-at-rest.html>

use aws_sdk_securityhub::types as sh;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_with::skip_serializing_none;

pub mod fix;

use super::{Check, CheckContext, Fill, KeyRole, ResourceKind, Evaluation, Tags, collect_findings, resource_level, with_fail_tags};
use super::EvidenceKey;
use crate::model::{AsffDetails, CheckInfo, Finding, FindingBuilder, Rate, Resource, ScopeError, Service, Severity, Target};

pub static INFO: &CheckInfo = &CheckInfo {
    id: "opensearch-encryption-at-rest",
    title: "OpenSearch domains encrypt data at rest",
    severity: Severity::Medium,
    service: Service::OpenSearch,
    // The OpenSearch configuration API publishes no per-call quota; stay modest.
    rate: Rate::new(10, 10),
    // The OpenSearch Service API is authorized under the legacy `es:` prefix (Service Authorization
    // Reference, "Actions defined by Amazon OpenSearch Service"). es:ListTags is called only with `read_tags`
    // (suppression rules on tags), and only for FAILs; declared with the others so the shipped policies grant it.
    iam_actions: &["es:ListDomainNames", "es:DescribeDomains", "es:ListTags"],
    security_hub_controls: &["Opensearch.1", "ES.1"],
    resource_types: &[OPENSEARCH_TYPE, ELASTICSEARCH_TYPE],
    description: "OpenSearch Service (and legacy Elasticsearch) domains can encrypt indices, logs, swap files \
        and automated snapshots at rest with AES-256 and keys held in AWS KMS. Without it, data on the \
        domain's storage is readable by anyone who obtains the underlying volumes or snapshots.",
    remediation: "Enable encryption at rest on the domain (OpenSearch 1.x / Elasticsearch 6.7 and later can \
        enable it in place). Older domains must be recreated with encryption enabled and their data migrated.",
    remediation_cli: "aws opensearch update-domain-config --region REGION --domain-name DOMAIN_NAME --encryption-at-rest-options Enabled=true\n\
        aws es create-elasticsearch-domain --region REGION --domain-name DOMAIN_NAME --encryption-at-rest-options Enabled=true,KmsKeyId=KMS_KEY_ID",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/opensearch-controls.html#opensearch-1",
};

/// The domain's engine version (`OpenSearch_2.11`, `Elasticsearch_5.6`, or "unknown engine"): whether the fix
/// may encrypt it in place.
pub const ENGINE_VERSION: EvidenceKey = EvidenceKey::new("engine_version");

/// The fields of `DescribeDomains` this check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInfo {
    pub name: String,
    pub arn: String,
    /// `OpenSearch_2.11`, `Elasticsearch_7.10`, ...
    pub engine_version: Option<String>,
    /// `EncryptionAtRestOptions.Enabled`; `None` when the options are missing.
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    /// UltraWarm (`ClusterConfig.WarmEnabled`) or cold storage (`ClusterConfig.ColdStorageOptions.Enabled`):
    /// either keeps `orgscan fix` from enabling encryption at rest in place.
    pub warm_or_cold: bool,
    /// A configuration change is in progress (`Processing`).
    pub processing: bool,
}

/// ASFF `EncryptionAtRestOptions` of both domain types.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionAtRestDetails {
    pub enabled: Option<bool>,
    pub kms_key_id: Option<String>,
}

/// ASFF `Resources[].Details.AwsOpenSearchServiceDomain`: the fields this check read.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsOpenSearchServiceDomainDetails {
    pub domain_name: String,
    pub engine_version: Option<String>,
    pub encryption_at_rest_options: Option<EncryptionAtRestDetails>,
}

/// ASFF `Resources[].Details.AwsElasticsearchDomain`: the fields this check read.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsElasticsearchDomainDetails {
    pub domain_name: String,
    /// The version without its `Elasticsearch_` prefix, as ASFF spells it (`7.10`).
    pub elasticsearch_version: Option<String>,
    pub encryption_at_rest_options: Option<EncryptionAtRestDetails>,
}

impl AsffDetails for AwsOpenSearchServiceDomainDetails {
    const KEY: &'static str = "AwsOpenSearchServiceDomain";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let enc = self.encryption_at_rest_options.as_ref().map(|e| {
            sh::AwsOpenSearchServiceDomainEncryptionAtRestOptionsDetails::builder()
                .set_enabled(e.enabled)
                .set_kms_key_id(e.kms_key_id.clone())
                .build()
        });
        let d = sh::AwsOpenSearchServiceDomainDetails::builder()
            .domain_name(&self.domain_name)
            .set_engine_version(self.engine_version.clone())
            .set_encryption_at_rest_options(enc)
            .build();
        sh::ResourceDetails::builder().aws_open_search_service_domain(d).build()
    }
}

impl AsffDetails for AwsElasticsearchDomainDetails {
    const KEY: &'static str = "AwsElasticsearchDomain";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let enc = self.encryption_at_rest_options.as_ref().map(|e| {
            sh::AwsElasticsearchDomainEncryptionAtRestOptions::builder().set_enabled(e.enabled).set_kms_key_id(e.kms_key_id.clone()).build()
        });
        let d = sh::AwsElasticsearchDomainDetails::builder()
            .domain_name(&self.domain_name)
            .set_elasticsearch_version(self.elasticsearch_version.clone())
            .set_encryption_at_rest_options(enc)
            .build();
        sh::ResourceDetails::builder().aws_elasticsearch_domain(d).build()
    }
}

/// The domain's ASFF details, of the type its engine calls for.
fn with_details(b: FindingBuilder, d: &DomainInfo) -> FindingBuilder {
    // The key id is reported only for an encrypted domain (the evidence holds it only then).
    let kms_key_id = d.kms_key_id.clone().filter(|_| d.encrypted == Some(true));
    let encryption =
        (d.encrypted.is_some() || kms_key_id.is_some()).then_some(EncryptionAtRestDetails { enabled: d.encrypted, kms_key_id });
    let domain_name = d.name.clone();
    match d.engine_version.as_deref() {
        Some(v) if v.starts_with("Elasticsearch_") => b.details(AwsElasticsearchDomainDetails {
            domain_name,
            elasticsearch_version: Some(v.strip_prefix("Elasticsearch_").unwrap_or(v).to_owned()),
            encryption_at_rest_options: encryption,
        }),
        engine_version => b.details(AwsOpenSearchServiceDomainDetails {
            domain_name,
            engine_version: engine_version.map(str::to_owned),
            encryption_at_rest_options: encryption,
        }),
    }
}

/// The ASFF resource type follows the engine. The engine version string is authoritative: `EngineType`
/// is not (domains created through the OpenSearch API may report it wrong for Elasticsearch versions).
fn resource_type(engine_version: Option<&str>) -> &'static str {
    match engine_version {
        Some(v) if v.starts_with("Elasticsearch_") => ELASTICSEARCH_TYPE,
        _ => OPENSEARCH_TYPE,
    }
}

/// Pure evaluation: encryption at rest must be explicitly enabled; missing options fail.
pub fn evaluate(target: &Target, domains: &[DomainInfo]) -> Result<Evaluation, ScopeError> {
    let findings = domains.iter().map(|d| {
        let engine = d.engine_version.as_deref().unwrap_or("unknown engine");
        let b = Finding::builder(INFO, target)
            .resource(resource_type(d.engine_version.as_deref()), &d.name, &d.arn)
            .evidence(ENGINE_VERSION.name(), engine)
            .evidence("encryption_at_rest_enabled", d.encrypted);
        let b = with_details(b, d);
        match d.encrypted {
            Some(true) => {
                let b = match &d.kms_key_id {
                    Some(k) => b.evidence("kms_key_id", k.as_str()),
                    None => b,
                };
                b.pass(format!("Domain {} ({engine}) encrypts data at rest", d.name))
            }
            Some(false) => b.fail(format!("Domain {} ({engine}) does not encrypt data at rest", d.name)),
            None => b.fail(format!("Domain {} ({engine}) reports no encryption-at-rest options: data is not encrypted at rest", d.name)),
        }
        .build()
    });
    let mut e = Evaluation::of(collect_findings(findings)?);
    // `EncryptionAtRestOptions.KmsKeyId`: the key the domain's data at rest is encrypted under (a domain
    // encrypted under the AWS managed key `aws/es` names it too; only customer keys can be pending deletion).
    for d in domains.iter().filter(|d| d.encrypted == Some(true)) {
        if let Some(k) = &d.kms_key_id {
            let resource = Resource { resource_type: resource_type(d.engine_version.as_deref()), id: d.name.clone(), arn: d.arn.clone() };
            e = e.with_key_use(INFO, target, &resource, k, "encryption at rest");
        }
    }
    Ok(e)
}

/// `DescribeDomains` accepts at most 5 names per call (AWS API reference).
const DESCRIBE_CHUNK: usize = 5;

async fn collect(cx: &CheckContext) -> Result<(Vec<DomainInfo>, Vec<(Resource, ScopeError)>), ScopeError> {
    let os = cx.clients.opensearch();
    let gate = cx.gate(Service::OpenSearch);
    // No engine filter: both OpenSearch and Elasticsearch domains are listed.
    let out = gate.send("ListDomainNames", os.list_domain_names().send()).await?;
    let names: Vec<String> = out.domain_names().iter().filter_map(|d| d.domain_name().map(str::to_owned)).collect();
    let (mut domains, mut unreadable) = (Vec::with_capacity(names.len()), Vec::new());
    for chunk in names.chunks(DESCRIBE_CHUNK) {
        let out = match gate.call(os.describe_domains().set_domain_names(Some(chunk.to_vec())).send()).await {
            Ok(out) => out,
            Err(e) => {
                // The domains of this call are not evaluable; the other calls' domains still are.
                let err = ScopeError::from_sdk("DescribeDomains", &e);
                if !resource_level(&err) {
                    return Err(err);
                }
                for name in chunk {
                    // Domain ARNs: arn:<partition>:es:<region>:<account>:domain/<name> (Service Authorization Reference).
                    let arn = format!("arn:{}:es:{}:{}:domain/{name}", cx.target.partition, cx.target.region, cx.target.account);
                    unreadable.push((Resource { resource_type: resource_type(None), id: name.clone(), arn }, err.clone()));
                }
                continue;
            }
        };
        domains.extend(out.domain_status_list().iter().map(domain_info));
    }
    Ok((domains, unreadable))
}

fn domain_info(s: &aws_sdk_opensearch::types::DomainStatus) -> DomainInfo {
    let enc = s.encryption_at_rest_options();
    let cluster = s.cluster_config();
    let warm = cluster.and_then(|c| c.warm_enabled()).unwrap_or(false);
    let cold = cluster.and_then(|c| c.cold_storage_options()).is_some_and(|c| c.enabled());
    DomainInfo {
        name: s.domain_name().to_owned(),
        arn: s.arn().to_owned(),
        engine_version: s.engine_version().map(str::to_owned),
        encrypted: enc.and_then(|e| e.enabled()),
        kms_key_id: enc.and_then(|e| e.kms_key_id()).map(str::to_owned),
        warm_or_cold: warm || cold,
        processing: s.processing().unwrap_or(false),
    }
}

/// One domain read again (`orgscan fix` does so right before it changes the domain): `None` when it no
/// longer exists.
pub async fn describe_domain(cx: &CheckContext, name: &str) -> Result<Option<DomainInfo>, ScopeError> {
    let out = match cx.gate(Service::OpenSearch).call(cx.clients.opensearch().describe_domains().domain_names(name).send()).await {
        Ok(out) => out,
        Err(e) if e.as_service_error().and_then(|s| s.meta().code()) == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(ScopeError::from_sdk("DescribeDomains", &e)),
    };
    Ok(out.domain_status_list().iter().find(|s| s.domain_name() == name).map(domain_info))
}

/// Tag reads in flight at once.
const TAG_PARALLELISM: usize = 4;

/// The tags of one domain: `ListTags` (ARN; `TagList` of `Key`/`Value`, not paginated).
/// <https://docs.aws.amazon.com/opensearch-service/latest/APIReference/API_ListTags.html>
async fn read_tags(cx: &CheckContext, domain: Resource) -> Result<Tags, ScopeError> {
    let out = cx.gate(Service::OpenSearch).send("ListTags", cx.clients.opensearch().list_tags().arn(&domain.arn).send()).await?;
    Ok(Some(out.tag_list().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()))
}

/// The check, as the registry lists it.
pub static CHECK: Check = Check {
    changes: Some(&fix::CHANGES),
    keys: KeyRole::Users("OpenSearch domain"),
    ..Check::new(INFO, run, fix::remedy, RESOURCES)
};

/// The two engines' domains, as the outputs show them.
const RESOURCES: &[ResourceKind] = &[
    ResourceKind::listed(OPENSEARCH_TYPE, "OpenSearch domain", console, ("DOMAIN_NAME", Fill::Everywhere)),
    ResourceKind::listed(ELASTICSEARCH_TYPE, "Elasticsearch domain", console, ("DOMAIN_NAME", Fill::Everywhere)),
];

/// The ASFF types of the two engines' domains.
pub const OPENSEARCH_TYPE: &str = "AwsOpenSearchServiceDomain";
pub const ELASTICSEARCH_TYPE: &str = "AwsElasticsearchDomain";

fn console(region: &str, id: &str) -> String {
    format!("aos/home?region={region}#opensearch/domains/{id}")
}

fn run(cx: &CheckContext) -> BoxFuture<'_, Result<Evaluation, ScopeError>> {
    Box::pin(async move {
        let (domains, unreadable) = collect(cx).await?;
        let evaluation = evaluate(&cx.target, &domains)?.with_unreadable(INFO, &cx.target, unreadable);
        with_fail_tags(cx, evaluation, TAG_PARALLELISM, |domain| read_tags(cx, domain)).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn d(name: &str, engine: Option<&str>, encrypted: Option<bool>) -> DomainInfo {
        DomainInfo {
            name: name.into(),
            arn: format!("arn:aws:es:eu-west-1:123456789012:domain/{name}"),
            engine_version: engine.map(str::to_owned),
            encrypted,
            kms_key_id: encrypted.filter(|e| *e).map(|_| "key-1".to_owned()),
            warm_or_cold: false,
            processing: false,
        }
    }

    #[test]
    fn every_branch() {
        let t = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let e = evaluate(
            &t,
            &[
                d("os-enc", Some("OpenSearch_2.11"), Some(true)),
                d("os-plain", Some("OpenSearch_2.11"), Some(false)),
                d("es-plain", Some("Elasticsearch_7.10"), Some(false)),
                d("es-missing", Some("Elasticsearch_6.8"), None),
                d("no-engine", None, Some(true)),
            ],
        )
        .unwrap();
        let got: Vec<_> = e.findings.iter().map(|f| (f.resource.id.as_str(), f.resource.resource_type, f.status)).collect();
        assert_eq!(
            got,
            [
                ("os-enc", "AwsOpenSearchServiceDomain", Status::Pass),
                ("os-plain", "AwsOpenSearchServiceDomain", Status::Fail),
                ("es-plain", "AwsElasticsearchDomain", Status::Fail),
                ("es-missing", "AwsElasticsearchDomain", Status::Fail),
                ("no-engine", "AwsOpenSearchServiceDomain", Status::Pass),
            ]
        );
        assert!(e.findings[3].message.contains("no encryption-at-rest options"));
        assert_eq!(e.findings[0].evidence["kms_key_id"], "key-1");
    }
}
