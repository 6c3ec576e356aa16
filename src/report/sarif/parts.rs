//! The pieces of a SARIF log: rule descriptors, severity bands, the pseudo-path of a resource, and the
//! encoding checked against GitHub's size limit.

use std::collections::BTreeMap;
use std::io::Write;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString, PhysicalLocation, PropertyBag, Region as SarifRegion,
    ReportingConfiguration, ReportingDescriptor, ResultLevel, Run, Sarif,
};

use super::{Limits, SCHEMA_URI, SarifError, SarifFile, VERSION};
use crate::check;
use crate::model::{CheckInfo, Finding, Related, Severity, Verdict};

/// One `reportingDescriptor` per check, all from its static metadata.
pub(super) fn rule(c: &CheckInfo) -> ReportingDescriptor {
    let controls = c.security_hub_controls.join(", ");
    let help_text = format!(
        "{}\n\nRemediation: {}\n\n{}\n\nSecurity Hub control: {controls}. Documentation: {}",
        c.description, c.remediation, c.remediation_cli, c.docs_url
    );
    let help_markdown = format!(
        "{}\n\n**Remediation.** {}\n\n```sh\n{}\n```\n\nSecurity Hub control: {}. See the [AWS documentation]({}).",
        c.description,
        c.remediation,
        c.remediation_cli,
        c.security_hub_controls.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
        c.docs_url
    );
    let mut props = BTreeMap::new();
    // GitHub reads `security-severity` to rank security alerts (the bands: `Severity::sarif_security_severity`).
    props.insert("security-severity".to_owned(), json!(security_severity(c.severity)));
    // The checks read the resource's own configuration: no heuristics, so a FAIL is a fact.
    props.insert("precision".to_owned(), json!("very-high"));
    props.insert("security_hub_controls".to_owned(), json!(c.security_hub_controls));
    ReportingDescriptor::builder()
        .id(c.id)
        .name(pascal_case(c.id))
        .short_description(text(c.title))
        .full_description(text(c.description))
        .help(MultiformatMessageString::builder().text(help_text).markdown(help_markdown).build())
        .help_uri(c.docs_url)
        .default_configuration(ReportingConfiguration::builder().level(json!(level_str(c.severity))).build())
        .properties(
            PropertyBag::builder()
                .tags(vec!["security".to_owned(), "aws".to_owned(), c.service.as_str().to_owned()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

/// A plain text `message`: SARIF 2.1.0 §3.11.6 reads `[text](target)` in plain text as an embedded link, so
/// every literal `[` and `]` (and a backslash, which would escape them) is escaped with a backslash: a resource
/// name such as `[click](https://example.com)` stays text in a viewer.
pub(super) fn message(text: impl AsRef<str>) -> Message {
    let mut out = String::with_capacity(text.as_ref().len());
    for c in text.as_ref().chars() {
        if matches!(c, '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    Message::builder().text(out).build()
}

pub(super) fn text(s: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s).build()
}

/// `reportingDescriptor.name` is a readable identifier without spaces, conventionally Pascal case.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut cs = w.chars();
            cs.next().map(|c| c.to_ascii_uppercase().to_string() + cs.as_str()).unwrap_or_default()
        })
        .collect()
}

/// GitHub's `security-severity` of a check (declared with the other scales in `model::severity`).
pub fn security_severity(s: Severity) -> &'static str {
    s.sarif_security_severity()
}

/// A result's `level` (see `model::verdict`).
pub(super) fn level(f: &Finding) -> ResultLevel {
    match Verdict::sarif_level(f) {
        "error" => ResultLevel::Error,
        "warning" => ResultLevel::Warning,
        _ => ResultLevel::Note,
    }
}

pub(super) fn level_str(s: Severity) -> &'static str {
    s.sarif_level()
}

/// Everything but RFC 3986 "unreserved" characters is percent-encoded, so a resource id can never add a
/// path segment (`/`), a query (`?`), a fragment (`#`) or a scheme (`:`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn segment(s: &str) -> String {
    match s {
        // Dot segments would be removed by URI normalisation (RFC 3986 §5.2.4) and merge two locations.
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => utf8_percent_encode(s, SEGMENT).to_string(),
    }
}

/// The stable relative pseudo-path of a finding: `aws/<account>/<region>/<service>/<resource-id>`; an
/// account-level finding (resource type `AwsAccount`, e.g. GuardDuty without a detector) stops at the
/// service. Relative, without a scheme: GitHub rejects absolute URIs that do not match the checkout.
pub fn artifact_uri(f: &Finding) -> String {
    uri_of(f.target.account.as_str(), f.target.region.as_str(), f.check.service.as_str(), f.resource.resource_type, &f.resource.id)
}

/// Where a resource is in SARIF: line 1 of its pseudo-file `uri` (GitHub needs a line to anchor an alert; a
/// resource is one "line" of its pseudo-file), and the resource by id and ARN as a logical location of kind
/// "resource" (one of the well-known values of `logicalLocation.kind`).
pub(super) fn resource_place(uri: String, id: &str, arn: &str) -> (PhysicalLocation, Vec<LogicalLocation>) {
    let physical = PhysicalLocation::builder()
        .artifact_location(ArtifactLocation::builder().uri(uri).build())
        .region(SarifRegion::builder().start_line(1).build())
        .build();
    let logical = LogicalLocation::builder().name(id.to_owned()).fully_qualified_name(arn.to_owned()).kind("resource").build();
    (physical, vec![logical])
}

/// SARIF §3.27.22 `relatedLocations`, each with an `id` unique in the result and a message: a KMS key's
/// dependents, at the pseudo-paths their own results have.
pub(super) fn related_locations(f: &Finding) -> Vec<Location> {
    f.related
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (physical, logical) = resource_place(related_uri(r), &r.resource_id, &r.arn);
            Location::builder()
                .id(i64::try_from(i).unwrap_or(i64::MAX))
                .physical_location(physical)
                .logical_locations(logical)
                .message(message(r.describe(check::declare::type_words(&r.resource_type))))
                .build()
        })
        .collect()
}

/// The pseudo-path of a resource linked with a finding (see [`artifact_uri`]): the same path its own
/// finding has, when the check that read it is known.
fn related_uri(r: &Related) -> String {
    let service = check::ALL.iter().map(|c| c.info()).find(|i| i.id == r.check_id).map_or("unknown", |i| i.service.as_str());
    uri_of(r.account.as_str(), r.region.as_str(), service, &r.resource_type, &r.resource_id)
}

fn uri_of(account: &str, region: &str, service: &str, resource_type: &str, id: &str) -> String {
    let mut uri = format!("aws/{}/{}/{}", segment(account), segment(region), segment(service));
    if resource_type != crate::model::check_info::ACCOUNT_RESOURCE_TYPE {
        uri.push('/');
        uri.push_str(&segment(id));
    }
    uri
}

pub(super) fn encode(file_name: String, runs: Vec<Run>, limits: &Limits, hint: &'static str) -> Result<SarifFile, SarifError> {
    let results = runs.iter().map(|r| r.results.as_ref().map_or(0, Vec::len)).sum();
    let run_count = runs.len();
    let log = Sarif::builder().schema(SCHEMA_URI).version(Value::from(VERSION)).runs(runs).build();
    let mut bytes = serde_json::to_vec_pretty(&log).map_err(|e| SarifError::Serialize(e.to_string()))?;
    bytes.push(b'\n');
    // Deflate grows incompressible input by at most 5 bytes per 64 KiB block plus an 18-byte gzip frame,
    // so a file 1% under the limit fits without compressing it (compressing tens of MB takes a while).
    if bytes.len() + bytes.len() / 100 + 64 > limits.gzip_bytes {
        let gz = gzip_len(&bytes).map_err(|e| SarifError::Serialize(e.to_string()))?;
        if gz > limits.gzip_bytes {
            return Err(SarifError::TooLarge {
                what: format!("SARIF {file_name} ({results} results in {run_count} run(s))"),
                gzip_bytes: gz,
                max: limits.gzip_bytes,
                hint,
            });
        }
    }
    Ok(SarifFile { file_name, bytes, runs: run_count, results })
}

/// The size of `bytes` gzip-compressed at the default level, as the upload-sarif action compresses.
pub fn gzip_len(bytes: &[u8]) -> std::io::Result<usize> {
    let mut gz = flate2::write::GzEncoder::new(crate::files::ByteCounter(0), flate2::Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::model::Target;

    fn finding(info: &'static CheckInfo, rtype: &'static str, id: &str) -> Finding {
        let t = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        Finding::builder(info, &t).resource(rtype, id, format!("arn:aws:x:eu-west-1:123456789012:{id}")).fail("bad").build().unwrap()
    }

    #[test]
    fn uris_are_relative_and_encode_every_reserved_character() {
        let f = finding(check::lambda::INFO, "AwsLambdaFunction", "fn-1_a.b~c");
        assert_eq!(artifact_uri(&f), "aws/123456789012/eu-west-1/lambda/fn-1_a.b~c");
        let f = finding(check::lambda::INFO, "AwsLambdaFunction", "a b/c?d#e:f%g\u{e9}");
        assert_eq!(artifact_uri(&f), "aws/123456789012/eu-west-1/lambda/a%20b%2Fc%3Fd%23e%3Af%25g%C3%A9");
        assert_eq!(artifact_uri(&finding(check::kms::INFO, "AwsKmsKey", "..")), "aws/123456789012/eu-west-1/kms/%2E%2E");
        let gd = finding(check::guardduty::INFO, "AwsAccount", "123456789012");
        assert_eq!(artifact_uri(&gd), "aws/123456789012/eu-west-1/guardduty");
    }

    #[test]
    fn severities_map_to_github_bands() {
        assert_eq!(pascal_case("kms-key-not-pending-deletion"), "KmsKeyNotPendingDeletion");
        let bands = [(Severity::Critical, 9.0, 10.0), (Severity::High, 7.0, 8.9), (Severity::Medium, 4.0, 6.9), (Severity::Low, 0.1, 3.9)];
        for (s, lo, hi) in bands {
            let v: f64 = security_severity(s).parse().unwrap();
            assert!(v >= lo && v <= hi, "{s}: {v}");
        }
        assert_eq!(level_str(Severity::Critical), "error");
        assert_eq!(level_str(Severity::Medium), "warning");
        assert_eq!(level_str(Severity::Low), "note");
    }

    #[test]
    fn gzip_len_measures_compressed_size() {
        let zeros = vec![b'0'; 1_000_000];
        let n = gzip_len(&zeros).unwrap();
        assert!(n > 18 && n < 10_000, "{n}");
    }

    #[test]
    fn square_brackets_in_a_message_are_text_never_an_embedded_link() {
        let a: crate::model::AccountId = "123456789012".parse().unwrap();
        let t = crate::model::Target::new(a.clone(), "eu-west-1".parse().unwrap());
        let id = "[click](https://example.com) \\[x\\]";
        let f = crate::model::Finding::builder(crate::check::kms::INFO, &t)
            .resource("AwsKmsKey", id, format!("arn:aws:kms:eu-west-1:123456789012:key/{id}"))
            .fail(format!("key {id} is pending deletion"))
            .build()
            .unwrap();
        let r = crate::model::ScanReport {
            findings: vec![f],
            ..crate::model::ScanReport::new(crate::model::Subject::Account(a), vec![crate::check::kms::INFO])
        };
        let file = super::super::render_file(&r, &super::super::SarifOptions::default(), &super::super::Limits::GITHUB).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&file.bytes).unwrap();
        let text = v["runs"][0]["results"][0]["message"]["text"].as_str().unwrap();
        // SARIF 2.1.0 §3.11.6: literal brackets (and the backslash that would escape them) escaped.
        assert!(text.contains("key \\[click\\](https://example.com) \\\\\\[x\\\\\\] is pending deletion"), "{text}");
        let unescaped = text.char_indices().filter(|&(i, c)| matches!(c, '[' | ']') && !text[..i].ends_with('\\')).count();
        assert_eq!(unescaped, 0, "{text}");
    }
}
