//! Batching within the `BatchImportFindings` limits, the size bounds it relies on, and the `--asff-dir`
//! batch files.
//!
//! Limits: Security Hub partner guide, "Guidelines for using the BatchImportFindings API" (100 findings and
//! 6 MB per request, 240 KB per finding).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::asff::{AsffFinding, AsffSeverity, MAX_FINDING_BYTES, SizeBound, timestamp};
use crate::files::{create_dir_in_tree, is_dir_in_tree, remove_in_tree, write_in_tree};
use crate::model::{AccountId, Finding, Region, ResourceDetails, ScanReport};

/// At most 100 findings per `BatchImportFindings` request.
pub const MAX_BATCH_FINDINGS: usize = 100;
/// At most 6 MB per request; counted in bytes of JSON with a margin for the request envelope.
pub const MAX_BATCH_BYTES: usize = 6_000_000;
/// Bytes around the findings of one request or file (`{"Findings":[` ... `]}`, `[\n` ... `\n]\n`).
const ENVELOPE_BYTES: usize = 64;
/// Bytes between two findings (`,\n`).
const SEPARATOR_BYTES: usize = 2;

/// Bytes of keys, braces, brackets, colons, commas and quotes of a finding, beyond its string values
/// (the fixed field names take about 600), with room for every array and map element's punctuation.
const STRUCTURE_BYTES: usize = 2_048;

/// A string's worst-case JSON size: every byte escaped as `\u00XX` (6 bytes), plus its quotes.
fn string_bound(s: &str) -> usize {
    6 * s.len() + 2
}

impl AsffFinding {
    /// Size of the finding in bytes of compact JSON (what a request or a batch file holds).
    pub fn json_len(&self) -> usize {
        let mut counter = crate::files::ByteCounter(0);
        match serde_json::to_writer(&mut counter, self) {
            Ok(()) => counter.0,
            Err(_) => usize::MAX,
        }
    }

    /// An upper bound of [`Self::json_len`], computed from the string lengths (and the small `Details`,
    /// measured), without serializing the finding.
    fn compute_size_bound(&self) -> usize {
        let opt = |o: &Option<String>| o.as_deref().map_or(0, string_bound);
        let sev = |v: &AsffSeverity| string_bound(&v.label) + opt(&v.original);
        let list = |v: &[String]| v.iter().map(|x| string_bound(x) + 1).sum::<usize>();
        // `{"<key>":<json>}`: the details' JSON was written when the finding was built.
        let details = |d: &Option<ResourceDetails>| d.as_ref().map_or(0, |d| string_bound(d.key()) + d.json().len() + 3);
        STRUCTURE_BYTES
            + [&self.schema_version, &self.id, &self.product_arn, &self.generator_id, &self.aws_account_id]
                .iter()
                .map(|x| string_bound(x))
                .sum::<usize>()
            + opt(&self.aws_account_name)
            + list(&self.types)
            + string_bound(&self.created_at)
            + string_bound(&self.updated_at)
            + sev(&self.severity)
            + string_bound(&self.title)
            + string_bound(&self.description)
            + string_bound(&self.remediation.recommendation.text)
            + string_bound(&self.remediation.recommendation.url)
            + self.product_fields.iter().map(|(k, v)| string_bound(k) + string_bound(v) + 2).sum::<usize>()
            + string_bound(&self.compliance.status)
            + list(&self.compliance.related_requirements)
            + self
                .resources
                .iter()
                .map(|r| {
                    string_bound(&r.resource_type)
                        + string_bound(&r.id)
                        + string_bound(&r.partition)
                        + string_bound(&r.region)
                        + details(&r.details)
                        + 64
                })
                .sum::<usize>()
            + self.related_findings.iter().map(|r| string_bound(&r.product_arn) + string_bound(&r.id) + 32).sum::<usize>()
            + string_bound(&self.record_state)
            + sev(&self.finding_provider_fields.severity)
            + list(&self.finding_provider_fields.types)
    }

    /// What batching counts for this finding: its size bound (conservative; computed when built).
    pub fn batch_size(&self) -> usize {
        self.size_bound.0.unwrap_or_else(|| self.compute_size_bound())
    }

    /// Keeps the finding under the 240 KB limit: `Details` are dropped rather than the finding failing.
    /// Every constructor ends here. The bound settles it for ordinary findings; only a finding whose bound
    /// exceeds the limit is measured.
    pub(super) fn fit(&mut self) {
        let mut bound = self.compute_size_bound();
        if bound > MAX_FINDING_BYTES && self.json_len() > MAX_FINDING_BYTES {
            for r in &mut self.resources {
                r.details = None;
            }
            bound = self.compute_size_bound().min(self.json_len());
        }
        self.size_bound = SizeBound(Some(bound));
    }
}

/// Splits items of the given JSON sizes into consecutive batches of at most `max_count` items and
/// `max_bytes` bytes (envelope and separators counted). An item larger than `max_bytes` goes alone.
pub fn batch_ranges(sizes: &[usize], max_count: usize, max_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let max_count = max_count.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = ENVELOPE_BYTES;
    for (i, &size) in sizes.iter().enumerate() {
        let n = i - start;
        let add = size.saturating_add(SEPARATOR_BYTES);
        if n > 0 && (n >= max_count || bytes.saturating_add(add) > max_bytes) {
            out.push(start..i);
            start = i;
            bytes = ENVELOPE_BYTES;
        }
        bytes = bytes.saturating_add(add);
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Batches within the `BatchImportFindings` limits: at most 100 findings and 6 MB each.
pub fn batches(findings: Vec<AsffFinding>) -> Vec<Vec<AsffFinding>> {
    let sizes: Vec<usize> = findings.iter().map(AsffFinding::batch_size).collect();
    let ranges = batch_ranges(&sizes, MAX_BATCH_FINDINGS, MAX_BATCH_BYTES);
    let mut rest = findings.into_iter();
    ranges.into_iter().map(|r| rest.by_ref().take(r.len()).collect()).collect()
}

/// A JSON array with one compact finding per line (importable with `aws securityhub batch-import-findings
/// --findings file://...`).
pub fn write_batch(findings: &[AsffFinding], w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(b"[\n")?;
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *w, f)?;
    }
    w.write_all(b"\n]\n")
}

/// Name of the n-th (from 1) batch file of a scope.
pub fn batch_file_name(n: usize) -> String {
    format!("batch-{n:04}.json")
}

fn is_batch_file_name(name: &str) -> bool {
    name.strip_prefix("batch-").and_then(|r| r.strip_suffix(".json")).is_some_and(|d| d.len() >= 4 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Every finding of the report in ASFF, grouped by (account, region) in report order, as the import would
/// send it: `CreatedAt` from the finding's first sighting when the scan had a baseline (else the scan's
/// start), and, with a baseline, an archived copy of every baseline FAIL whose resource is gone.
pub fn by_scope(report: &ScanReport, updated_at: DateTime<Utc>) -> BTreeMap<(AccountId, Region), Vec<AsffFinding>> {
    let started = timestamp(report.started_at);
    let created = |f: &Finding| f.triage.first_seen.map_or_else(|| started.clone(), timestamp);
    let mut out: BTreeMap<(AccountId, Region), Vec<AsffFinding>> = BTreeMap::new();
    for f in &report.findings {
        let a = AsffFinding::from_finding(f, &created(f), updated_at).with_account_name(report.account_name(&f.target.account));
        out.entry((f.target.account.clone(), f.target.region.clone())).or_default().push(a);
    }
    for x in report.history.iter().flat_map(|h| &h.fixed).filter(|x| x.gone) {
        let f = &x.finding;
        let a = AsffFinding::gone(f, &created(f), updated_at).with_account_name(report.account_name(&f.target.account));
        out.entry((f.target.account.clone(), f.target.region.clone())).or_default().push(a);
    }
    out
}

/// `--asff-dir DIR`: `DIR/<account>/<region>/batch-0001.json`, ... for every scope of the report, each file
/// written atomically; batch files left in those directories by an earlier, larger run are removed so the
/// directory holds exactly this run's batches. Returns one error per file that could not be written.
pub fn write_dir(report: &ScanReport, dir: &Path, updated_at: DateTime<Utc>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut scopes = by_scope(report, updated_at);
    // Scopes without findings still get their stale batches removed.
    for c in &report.coverage {
        if let Some(region) = &c.region {
            scopes.entry((c.account.clone(), region.clone())).or_default();
        }
    }
    for ((account, region), findings) in scopes {
        let scope = Path::new(account.as_str()).join(region.as_str());
        let scope_dir = dir.join(&scope);
        let mut written = BTreeSet::new();
        let batches = batches(findings);
        // Nothing is written or removed through a symlink planted in the tree (files::write_in_tree).
        if !batches.is_empty()
            && let Err(e) = create_dir_in_tree(dir, &scope)
        {
            errors.push(format!("cannot create ASFF directory '{}': {e}", scope_dir.display()));
            continue;
        }
        for (i, batch) in batches.iter().enumerate() {
            let name = batch_file_name(i + 1);
            let path = scope_dir.join(&name);
            match write_in_tree(dir, &scope.join(&name), |w| write_batch(batch, w)) {
                Ok(()) => {
                    written.insert(name);
                }
                Err(e) => errors.push(format!("cannot write ASFF batch '{}': {e}", path.display())),
            }
        }
        // A symlinked account or region directory is never listed, so nothing outside the tree is removed.
        if !is_dir_in_tree(dir, &scope) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&scope_dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_batch_file_name(&name)
                && !written.contains(&name)
                && let Err(e) = remove_in_tree(dir, &entry.path())
            {
                errors.push(format!("cannot remove stale ASFF batch '{}': {e}", entry.path().display()));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::model::{Finding, Status};
    use crate::securityhub::testing::{kms, now, target};

    #[test]
    fn a_finding_over_240_kb_drops_its_details_rather_than_fail() {
        use check::opensearch::{AwsOpenSearchServiceDomainDetails, EncryptionAtRestDetails};
        let domain = |kms_key_id: &str| {
            Finding::builder(check::opensearch::INFO, &target())
                .resource("AwsOpenSearchServiceDomain", "d", "arn:aws:es:eu-west-1:123456789012:domain/d")
                .evidence("engine_version", "OpenSearch_2.11")
                .evidence("encryption_at_rest_enabled", true)
                .evidence("kms_key_id", kms_key_id)
                .details(AwsOpenSearchServiceDomainDetails {
                    domain_name: "d".into(),
                    engine_version: Some("OpenSearch_2.11".into()),
                    encryption_at_rest_options: Some(EncryptionAtRestDetails { enabled: Some(true), kms_key_id: Some(kms_key_id.into()) }),
                })
                .pass("encrypted")
                .build()
                .unwrap()
        };
        let huge = "k".repeat(300_000);
        let f = domain(&huge);
        let a = AsffFinding::from_finding(&f, "x", now());
        assert_eq!(a.resources[0].details, None);
        assert!(a.json_len() <= MAX_FINDING_BYTES);
        // A normal-sized one keeps them.
        let small = domain("key-1");
        let a = AsffFinding::from_finding(&small, "x", now());
        assert!(a.resources[0].details.as_ref().is_some_and(|d| d.key() == "AwsOpenSearchServiceDomain"));
    }

    #[test]
    fn the_size_bound_is_never_below_the_real_size() {
        let awkward = "\u{1}\"\\é漢".repeat(50);
        let mut findings = vec![AsffFinding::from_finding(&kms("k", Status::Fail), "2026-11-01T00:00:00.000Z", now())];
        for check in check::ALL {
            let info = check.info();
            let f = Finding::builder(info, &target())
                .resource(info.resource_types[0], &awkward, format!("arn:aws:x:eu-west-1:123456789012:{awkward}"))
                .evidence("runtime", awkward.as_str())
                .evidence("key_state", awkward.as_str())
                .details(check::kms::AwsKmsKeyDetails {
                    key_id: awkward.clone(),
                    key_state: Some(awkward.clone()),
                    key_manager: Some(awkward.clone()),
                })
                .fail(awkward.as_str())
                .build()
                .unwrap();
            findings.push(AsffFinding::from_finding(&f, &awkward, now()));
        }
        for a in &findings {
            assert!(a.batch_size() >= a.json_len(), "{} < {}", a.batch_size(), a.json_len());
            // Not wildly loose for ordinary findings: 100 of them stay far below a 6 MB batch.
        }
        assert!(findings[0].batch_size() * MAX_BATCH_FINDINGS < MAX_BATCH_BYTES / 2);
    }

    #[test]
    fn batches_hold_at_most_100_findings() {
        let sizes = vec![1_000; 250];
        let r = batch_ranges(&sizes, 100, MAX_BATCH_BYTES);
        assert_eq!(r, vec![0..100, 100..200, 200..250]);
        assert_eq!(batch_ranges(&[], 100, 1_000), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(batch_ranges(&[5; 100], 100, MAX_BATCH_BYTES), vec![0..100]);
    }

    #[test]
    fn batches_stay_under_the_byte_limit_and_an_oversized_item_goes_alone() {
        // 100 items of 70 KB would be 7 MB: split by bytes long before the count limit.
        let sizes = vec![70_000; 100];
        let r = batch_ranges(&sizes, 100, MAX_BATCH_BYTES);
        assert!(r.len() >= 2);
        for range in &r {
            let bytes: usize = ENVELOPE_BYTES + sizes[range.clone()].iter().map(|s| s + SEPARATOR_BYTES).sum::<usize>();
            assert!(bytes <= MAX_BATCH_BYTES, "{range:?} holds {bytes} bytes");
        }
        assert_eq!(r.iter().map(|r| r.len()).sum::<usize>(), 100);
        let r = batch_ranges(&[10, 5_000, 10], 100, 1_000);
        assert_eq!(r, vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn batch_files_are_json_arrays_that_read_back_and_convert() {
        let findings: Vec<AsffFinding> =
            (0..3).map(|i| AsffFinding::from_finding(&kms(&format!("k{i}"), Status::Fail), "x", now())).collect();
        let mut buf = Vec::new();
        write_batch(&findings, &mut buf).unwrap();
        let back: Vec<AsffFinding> = serde_json::from_slice(&buf).unwrap();
        assert_eq!(back, findings);
        assert_eq!(buf.len(), "[\n\n]\n".len() + findings.iter().map(|f| f.json_len()).sum::<usize>() + ",\n".len() * 2);
        assert!(is_batch_file_name(&batch_file_name(1)) && is_batch_file_name("batch-12345.json") && !is_batch_file_name("batch-1.json"));
    }
}
