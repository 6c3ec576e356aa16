//! What a check concludes about one resource, and the identity that ties it across runs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::check_info::CheckInfo;
use super::evidence::Evidence;
use super::related::Related;
use super::severity::Severity;
use super::target::Target;
use super::triage::Triage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
    /// Not failing yet, but about to (a Lambda runtime deprecating within `--lambda-warn-days`): reported
    /// as open everywhere, and failing the scan only with `--fail-on-warning`.
    #[serde(rename = "WARNING")]
    Warn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARNING",
        }
    }

    /// The status of `as_str`; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PASS" => Some(Status::Pass),
            "FAIL" => Some(Status::Fail),
            "WARNING" => Some(Status::Warn),
            _ => None,
        }
    }

    /// A FAIL or a WARNING: what every output lists as open, the baseline compares and a suppression rule
    /// may accept.
    pub fn is_open(self) -> bool {
        self != Status::Pass
    }
}

/// The resource a finding is about. `resource_type` is the ASFF resource type name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub resource_type: &'static str,
    /// The resource's own id (domain name, function name, key id, detector id, account id).
    pub id: String,
    /// The ARN as AWS returns it (for an account: `arn:<partition>:iam::<account>:root`).
    pub arn: String,
}

/// One check's verdict on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub check: &'static CheckInfo,
    pub target: Target,
    pub resource: Resource,
    pub status: Status,
    pub message: String,
    /// The values the verdict was based on (never secrets: checks copy only the fields they evaluate).
    pub evidence: Evidence,
    /// The resource as ASFF `Resources[].Details` describe it, typed by the check (see [`AsffDetails`]).
    pub details: Option<ResourceDetails>,
    /// The resource's tags, read only for FAILs and only when a suppression rule matches on tags; `None`
    /// when not read. Used for matching only: no output prints them. Boxed: most findings have none, and a
    /// merge may hold a million findings.
    pub tags: Option<Box<BTreeMap<String, String>>>,
    /// Baseline state, first sighting and suppression (set after the scan, see [`Triage`]).
    pub triage: Triage,
    /// Other resources of the scan linked with this one (for a KMS key pending deletion: the resources
    /// that use it), set after the scan by `scan::dependents`; sorted.
    pub related: Vec<Related>,
}

impl Finding {
    pub fn builder(check: &'static CheckInfo, target: &Target) -> FindingBuilder {
        FindingBuilder {
            check,
            target: target.clone(),
            resource: None,
            status: None,
            message: None,
            evidence: Evidence::new(),
            details: None,
            tags: None,
        }
    }

    pub fn severity(&self) -> Severity {
        self.check.severity
    }

    /// Stable identity of (check, partition, account, region, resource id): identical across runs, so it
    /// serves as the ASFF `Id` and the SARIF fingerprint. Never change the input layout: it is a contract.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.check.id, &self.target, &self.resource.id)
    }

    /// Deterministic output order: check, account, region, resource.
    pub fn sort_key(&self) -> (&str, &str, &str, &str, &str) {
        (self.check.id, self.target.account.as_str(), self.target.region.as_str(), self.resource.id.as_str(), self.resource.arn.as_str())
    }
}

/// The identity of a finding across runs: SHA-256 of (check, partition, account, region, resource id), for a
/// finding or a resource that could not be evaluated. Kept as its 32 bytes (a copy, compared and hashed as
/// bytes, ordered as its hex is); written as 64 lowercase hexadecimal digits wherever it is shown: the JSON
/// report's `fingerprint`, the ASFF `Id`, SARIF's `primaryLocationLineHash`, the fix journal. A public
/// contract: never change the input layout.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(check_id: &str, target: &Target, resource_id: &str) -> Self {
        let mut h = Sha256::new();
        for part in [check_id, target.partition.as_str(), target.account.as_str(), target.region.as_str(), resource_id] {
            h.update(part.as_bytes());
            // A separator that cannot occur in any part keeps ("a","bc") and ("ab","c") apart.
            h.update([0u8]);
        }
        Self(h.finalize().into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = String;

    /// 64 hexadecimal digits, either case; the error names the value (cut to 80 characters) and what is allowed.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{}' is not a fingerprint: expected 64 hexadecimal digits", s.chars().take(80).collect::<String>());
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FindingError {
    #[error("finding of {0} has no resource")]
    NoResource(&'static str),
    #[error("finding of {0} has no status")]
    NoStatus(&'static str),
    #[error("finding of {0} has no message")]
    NoMessage(&'static str),
    #[error("finding of {0} has a resource with an empty id or ARN")]
    EmptyResource(&'static str),
}

/// Builds a [`Finding`]; a finding without a resource, status or message does not build.
#[derive(Debug)]
pub struct FindingBuilder {
    check: &'static CheckInfo,
    target: Target,
    resource: Option<Resource>,
    status: Option<Status>,
    message: Option<String>,
    evidence: Evidence,
    details: Option<ResourceDetails>,
    tags: Option<BTreeMap<String, String>>,
}

impl FindingBuilder {
    pub fn resource(mut self, resource_type: &'static str, id: impl Into<String>, arn: impl Into<String>) -> Self {
        self.resource = Some(Resource { resource_type, id: id.into(), arn: arn.into() });
        self
    }

    pub fn status(mut self, status: Status) -> Self {
        self.status = Some(status);
        self
    }

    pub fn pass(self, message: impl Into<String>) -> Self {
        self.status(Status::Pass).message(message)
    }

    pub fn fail(self, message: impl Into<String>) -> Self {
        self.status(Status::Fail).message(message)
    }

    pub fn warn(self, message: impl Into<String>) -> Self {
        self.status(Status::Warn).message(message)
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn evidence(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.evidence.insert(key, value.into());
        self
    }

    /// The resource's ASFF details (a check's own typed struct).
    pub fn details(mut self, details: impl AsffDetails) -> Self {
        self.details = ResourceDetails::new(details);
        self
    }

    /// The resource's tags (read for suppression rules that match on tags).
    pub fn tags(mut self, tags: Option<BTreeMap<String, String>>) -> Self {
        self.tags = tags;
        self
    }

    pub fn build(self) -> Result<Finding, FindingError> {
        let id = self.check.id;
        let resource = self.resource.ok_or(FindingError::NoResource(id))?;
        if resource.id.is_empty() || resource.arn.is_empty() {
            return Err(FindingError::EmptyResource(id));
        }
        let message = self.message.filter(|m| !m.trim().is_empty()).ok_or(FindingError::NoMessage(id))?;
        Ok(Finding {
            check: self.check,
            target: self.target,
            resource,
            status: self.status.ok_or(FindingError::NoStatus(id))?,
            message,
            // At its exact size: a vector grown pair by pair keeps spare room, and a merge may hold a million
            // findings.
            evidence: {
                let mut e = self.evidence;
                e.shrink_to_fit();
                e
            },
            details: self.details,
            tags: self.tags.map(Box::new),
            triage: Triage::default(),
            related: Vec::new(),
        })
    }
}

/// ASFF `Resources[].Details` of one resource type, declared as a typed struct by the check that reports
/// it (only the fields the check read), so the ASFF writer embeds it without knowing any check. Field names
/// and types follow the AWS Security Hub API Reference, `ResourceDetails`.
pub trait AsffDetails: serde::Serialize + fmt::Debug + Send + Sync + 'static {
    /// The member of `ResourceDetails` this struct fills (`AwsKmsKey`, `AwsLambdaFunction`, ...).
    const KEY: &'static str;
    /// The same details as the SDK's `ResourceDetails`, for `BatchImportFindings`.
    fn to_sdk(&self) -> aws_sdk_securityhub::types::ResourceDetails;
}

/// The SDK half of [`AsffDetails`], object-safe.
trait SdkDetails: fmt::Debug + Send + Sync {
    fn to_sdk(&self) -> aws_sdk_securityhub::types::ResourceDetails;
}

impl<T: AsffDetails> SdkDetails for T {
    fn to_sdk(&self) -> aws_sdk_securityhub::types::ResourceDetails {
        AsffDetails::to_sdk(self)
    }
}

/// A finding's `Resources[].Details`: serialized once, when the finding is built (as `{"<KEY>": {...}}`),
/// and convertible to the SDK's type. Details read back from a file keep their JSON only.
///
/// One pointer wide (the parts are boxed): a finding without details pays 8 bytes for them, not 56.
#[derive(Clone)]
pub struct ResourceDetails(Box<DetailsParts>);

#[derive(Clone)]
struct DetailsParts {
    key: String,
    json: Box<RawValue>,
    sdk: Option<Arc<dyn SdkDetails>>,
}

impl ResourceDetails {
    /// `None` only if the details do not serialize (a derived `Serialize` of plain fields never fails):
    /// the finding is then reported without details rather than lost.
    pub fn new<T: AsffDetails>(details: T) -> Option<Self> {
        let json = serde_json::value::to_raw_value(&details).ok()?;
        Some(Self(Box::new(DetailsParts { key: T::KEY.to_owned(), json, sdk: Some(Arc::new(details)) })))
    }

    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// The compact JSON of the details (without the key).
    pub fn json(&self) -> &str {
        self.0.json.get()
    }

    /// The SDK form; `None` for details read back from a file.
    pub fn to_sdk(&self) -> Option<aws_sdk_securityhub::types::ResourceDetails> {
        self.0.sdk.as_ref().map(|d| d.to_sdk())
    }
}

impl fmt::Debug for ResourceDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceDetails").field("key", &self.0.key).field("json", &self.0.json.get()).finish()
    }
}

impl PartialEq for ResourceDetails {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key && self.0.json.get() == other.0.json.get()
    }
}

impl Serialize for ResourceDetails {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(&self.0.key, &self.0.json)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for ResourceDetails {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct One;
        impl<'de> Visitor<'de> for One {
            type Value = ResourceDetails;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with one resource details member")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (key, json) =
                    map.next_entry::<String, Box<RawValue>>()?.ok_or_else(|| serde::de::Error::custom("empty resource details"))?;
                if map.next_key::<String>()?.is_some() {
                    return Err(serde::de::Error::custom("more than one resource details member"));
                }
                Ok(ResourceDetails(Box::new(DetailsParts { key, json, sdk: None })))
            }
        }
        d.deserialize_map(One)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::service::{Rate, Service};

    /// A check for the model's own tests (the model imports no check).
    pub(crate) static KMS: &CheckInfo = &CheckInfo {
        id: "kms-key-not-pending-deletion",
        title: "t",
        severity: Severity::Critical,
        service: Service::Kms,
        rate: Rate::new(1, 1),
        iam_actions: &[],
        security_hub_controls: &[],
        resource_types: &["AwsKmsKey"],
        description: "d",
        remediation: "r",
        remediation_cli: "aws",
        docs_url: "https://x",
    };

    fn target() -> Target {
        Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
    }

    fn finding(resource_id: &str) -> Finding {
        Finding::builder(KMS, &target())
            .resource("AwsKmsKey", resource_id, format!("arn:aws:kms:eu-west-1:123456789012:key/{resource_id}"))
            .fail("pending deletion")
            .build()
            .unwrap()
    }

    #[test]
    fn a_finding_without_resource_or_message_does_not_build() {
        let b = Finding::builder(KMS, &target());
        assert_eq!(b.fail("x").build().unwrap_err(), FindingError::NoResource("kms-key-not-pending-deletion"));
        let b = Finding::builder(KMS, &target()).resource("AwsKmsKey", "k", "arn");
        assert_eq!(b.fail("  ").build().unwrap_err(), FindingError::NoMessage("kms-key-not-pending-deletion"));
        let b = Finding::builder(KMS, &target()).resource("AwsKmsKey", "", "arn");
        assert_eq!(b.fail("m").build().unwrap_err(), FindingError::EmptyResource("kms-key-not-pending-deletion"));
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_resources() {
        let a = finding("k1");
        // Pinned value: the fingerprint is a public contract (ASFF Id, SARIF fingerprint) and must never drift.
        // sha256("kms-key-not-pending-deletion\0aws\0123456789012\0eu-west-1\0k1\0"), computed independently.
        assert_eq!(a.fingerprint().to_string(), "42e19f61b1f06c95c15c46e25179bf135380294d821db7baab3bc538694e49ae");
        assert_eq!(a.fingerprint(), finding("k1").fingerprint());
        assert_eq!(a.fingerprint().to_string().parse(), Ok(a.fingerprint()), "its hex reads back");
        assert_ne!(a.fingerprint(), finding("k2").fingerprint());
        let mut moved = finding("k1");
        moved.target.region = "eu-west-2".parse().unwrap();
        assert_ne!(a.fingerprint(), moved.fingerprint());
        // Status and message do not take part: a fixed resource keeps its identity.
        let mut fixed = finding("k1");
        fixed.status = Status::Pass;
        fixed.message = "fixed".into();
        assert_eq!(a.fingerprint(), fixed.fingerprint());
    }
}
