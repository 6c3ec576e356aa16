//! `--baseline PREVIOUS.json`: an earlier JSON report of orgscan, read back as findings.
//!
//! Only the fields the comparison needs are read (findings and the stale FAILs it carried forward); the
//! fingerprint of every entry is computed again from its check, account, region and resource id and must
//! match the one written, so an edited or foreign file cannot pass for a baseline.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::check;
use crate::model::report::{REPORT_SCHEMA_VERSION, REPORT_SCHEMA_VERSIONS_READ};
use crate::model::{AccountId, Finding, Region, Status, Target};

/// A baseline, validated and ready to compare.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub path: PathBuf,
    pub started_at: DateTime<Utc>,
    /// Every finding of the baseline (PASS and FAIL), with `triage.first_seen` as the file has it.
    pub findings: Vec<Finding>,
    /// The FAILs the baseline carried forward as stale, with when each was last read.
    pub stale: Vec<(Finding, DateTime<Utc>)>,
    /// Entries left out (unknown check, bad fingerprint), in words, one per cause with its count (at most
    /// [`MAX_CAUSES`] causes, then one line for the rest); they become notes of the report.
    pub warnings: Vec<String>,
    /// The organization the baseline is a report of (`scope.organization_id`), if any.
    pub organization_id: Option<String>,
}

/// Causes of ignored entries named one by one; the rest are counted together, so a huge file of bad entries
/// gives a few notes, not one per entry.
pub const MAX_CAUSES: usize = 10;

/// The identity fields of a report, read before the rest (every other field is skipped, not allocated).
#[derive(Deserialize)]
struct Header {
    schema_version: Option<serde_json::Value>,
    tool: Option<Tool>,
    #[serde(default)]
    scope: Option<HeaderScope>,
}

#[derive(Deserialize)]
struct Tool {
    name: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct HeaderScope {
    organization_id: Option<String>,
}

#[derive(Deserialize)]
struct File {
    started_at: String,
    findings: Vec<Entry>,
    /// Written from schema version 2 on.
    #[serde(default)]
    stale: Vec<StaleEntry>,
}

/// One finding of a JSON report, as written (`orgscan merge` reads shard reports with it too).
#[derive(Deserialize)]
pub struct Entry {
    check_id: String,
    status: String,
    account_id: String,
    region: String,
    resource_type: String,
    resource_id: String,
    resource_arn: String,
    message: String,
    fingerprint: String,
    #[serde(default)]
    evidence: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    first_seen: Option<String>,
    /// Schema 3: the resources linked with this one.
    #[serde(default)]
    related: Vec<crate::model::Related>,
}

#[derive(Deserialize)]
struct StaleEntry {
    #[serde(flatten)]
    entry: Entry,
    last_seen: String,
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

impl Baseline {
    /// Reads and validates `path`. Refuses a file that is not an orgscan JSON report, or one of a schema
    /// version this orgscan does not read, with an error that names the file and what was expected.
    pub fn load(path: &Path) -> Result<Self, String> {
        Self::load_as(path, "--baseline")
    }

    /// [`Self::load`] for another option that reads an earlier report (`orgscan fix --from`): errors name it.
    pub fn load_as(path: &Path, option: &str) -> Result<Self, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {option} '{shown}': {e}"))?;
        Self::parse_as(path, &text, option)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        Self::parse_as(path, text, "--baseline")
    }

    fn parse_as(path: &Path, text: &str, option: &str) -> Result<Self, String> {
        let shown = path.display();
        let not_ours =
            |why: &str| format!("{option} '{shown}' is not an orgscan JSON report ({why}); give the --json file of an earlier scan");
        // Read in two passes over the text, never as a whole JSON tree: the header, then the typed entries.
        let header: Header = serde_json::from_str(text).map_err(|e| not_ours(&format!("not JSON: {e}")))?;
        let tool = header.tool.as_ref().and_then(|t| t.name.as_ref()).and_then(|v| v.as_str());
        if tool != Some("orgscan") {
            return Err(not_ours("its tool.name is not \"orgscan\""));
        }
        let version = header.schema_version.as_ref().and_then(|v| v.as_str()).ok_or_else(|| not_ours("it has no schema_version"))?;
        let readable = REPORT_SCHEMA_VERSIONS_READ.join(", ");
        match version.parse::<u32>() {
            Ok(_) if REPORT_SCHEMA_VERSIONS_READ.contains(&version) => {}
            Ok(v) if v > REPORT_SCHEMA_VERSION.parse::<u32>().unwrap_or(u32::MAX) => {
                return Err(format!(
                    "{option} '{shown}' has schema version {version}, written by a newer orgscan; this orgscan reads schema \
                     versions {readable}: upgrade orgscan, or give a report it wrote"
                ));
            }
            _ => return Err(format!("{option} '{shown}' has schema version {version:?}; this orgscan reads schema versions {readable}")),
        }
        let file: File = serde_json::from_str(text).map_err(|e| format!("{option} '{shown}' is not a valid orgscan report: {e}"))?;
        let started_at = time(&file.started_at)
            .ok_or_else(|| format!("{option} '{shown}': started_at {:?} is not an RFC 3339 time", file.started_at))?;
        let mut ignored = Causes::default();
        let mut findings = Vec::new();
        for e in file.findings {
            match e.to_finding() {
                Ok(f) => findings.push(f),
                Err(w) => ignored.add(w.replace(&e.fingerprint, "F"), &e.fingerprint),
            }
        }
        let mut stale = Vec::new();
        for s in file.stale {
            let Some(last_seen) = time(&s.last_seen) else {
                ignored.add("a stale entry's last_seen is not a time".into(), &s.entry.fingerprint);
                continue;
            };
            match s.entry.to_finding() {
                Ok(f) if f.status.is_open() => stale.push((f, last_seen)),
                Ok(_) => ignored.add("a stale entry is not a FAIL or WARNING".into(), &s.entry.fingerprint),
                Err(w) => ignored.add(w.replace(&s.entry.fingerprint, "F"), &s.entry.fingerprint),
            }
        }
        let warnings = ignored.notes(&format!("{option} '{shown}'"));
        let organization_id = header.scope.and_then(|s| s.organization_id);
        Ok(Self { path: path.to_owned(), started_at, findings, stale, warnings, organization_id })
    }
}

/// Ignored entries counted by cause (the cause's words, with `F` for the entry's own fingerprint), each with
/// its first entry's fingerprint as an example.
#[derive(Default)]
struct Causes {
    by_cause: std::collections::BTreeMap<String, (usize, String)>,
    other: usize,
}

impl Causes {
    fn add(&mut self, cause: String, fingerprint: &str) {
        let n = self.by_cause.len();
        match self.by_cause.get_mut(&cause) {
            Some((count, _)) => *count += 1,
            None if n < MAX_CAUSES => {
                // A fingerprint from a file is shown cut short: it is only an example.
                self.by_cause.insert(cause, (1, fingerprint.chars().take(64).collect()));
            }
            None => self.other += 1,
        }
    }

    fn notes(self, file: &str) -> Vec<String> {
        let mut notes: Vec<String> = self
            .by_cause
            .into_iter()
            .map(|(cause, (n, example))| {
                format!("{file}: {n} entr{} ignored: {cause} (first: F = {example:?})", if n == 1 { "y" } else { "ies" })
            })
            .collect();
        if self.other > 0 {
            notes.push(format!("{file}: {} more entries ignored for other causes", self.other));
        }
        notes
    }
}

impl Entry {
    /// The finding this entry describes (triage as written: `first_seen` only), its fingerprint checked.
    pub fn to_finding(&self) -> Result<Finding, String> {
        let info = check::ALL
            .iter()
            .map(|c| c.info())
            .find(|i| i.id == self.check_id)
            .ok_or_else(|| format!("finding {} is of check '{}', which this orgscan does not have", self.fingerprint, self.check_id))?;
        let account: AccountId = self.account_id.parse()?;
        let region: Region = self.region.parse()?;
        let resource_type =
            info.resource_types.iter().copied().find(|t| *t == self.resource_type).ok_or_else(|| {
                format!("finding {} has resource type '{}', not one of {}", self.fingerprint, self.resource_type, info.id)
            })?;
        let status = Status::parse(&self.status)
            .ok_or_else(|| format!("finding {} has status '{}' (expected PASS, FAIL or WARNING)", self.fingerprint, self.status))?;
        let mut b = Finding::builder(info, &Target::new(account, region))
            .resource(resource_type, &self.resource_id, &self.resource_arn)
            .status(status)
            .message(&self.message);
        for (k, v) in &self.evidence {
            b = b.evidence(k, v.clone());
        }
        let mut f = b.build().map_err(|e| e.to_string())?;
        if f.fingerprint() != self.fingerprint {
            return Err(format!("finding {} does not match its check, account, region and resource id", self.fingerprint));
        }
        f.triage.first_seen = self.first_seen.as_deref().and_then(time);
        f.related = self.related.clone();
        Ok(f)
    }
}
