//! Reads one shard's JSON report back into a scan report: the public sections (findings, errors, resources
//! not evaluable, notes, statistics, the Security Hub import) and the `shard` section (the checks run, the
//! organization's accounts, structured coverage, ASFF details and tags). Every value is validated: a file
//! that is not a shard report of this orgscan is refused with its path and what was expected.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Entry, Header, Refused, check_info, identify};
use crate::json::shard::{JsonFindingExtra, JsonScope, JsonShard};
use crate::model::report::REPORT_SCHEMA_VERSION;
use crate::model::{
    AccountId, AccountInfo, Coverage, CoverageStatus, ErrorEntry, NotEvaluable, Note, OpCounts, Region, Resource, ScanReport, ScopeError,
    Shard, ShardInfo, Subject, Target,
};

/// One shard's report, read back.
#[derive(Debug)]
pub struct Part {
    pub path: PathBuf,
    pub report: ScanReport,
    pub shard: ShardInfo,
    /// The regions it visited.
    pub regions: Vec<Region>,
    /// Where its own findings start in `report.findings`: the findings of the parts read before it come first
    /// when they were given to [`load`] to append to (so that a merge holds one list, never two).
    pub first: usize,
}

impl Part {
    /// This part's own findings.
    pub fn own_findings(&self) -> &[crate::model::Finding] {
        self.report.findings.get(self.first..).unwrap_or_default()
    }
}

std::thread_local! {
    /// The list the findings of the report being read are appended to (see [`load`]): set for one read.
    static APPEND_TO: std::cell::Cell<Vec<crate::model::Finding>> = const { std::cell::Cell::new(Vec::new()) };
}

#[derive(Deserialize)]
struct File {
    scope: Scope,
    started_at: String,
    finished_at: String,
    incomplete: bool,
    #[serde(deserialize_with = "findings_as_read")]
    findings: Vec<crate::model::Finding>,
    errors: Vec<JsonError>,
    not_evaluable: Vec<JsonNotEvaluable>,
    notes: Vec<JsonNote>,
    stats: Stats,
    #[serde(default)]
    security_hub: Option<crate::json::security_hub::read::JsonSecurityHub>,
    shard: Option<JsonShard>,
}

#[derive(Deserialize)]
struct Scope {
    kind: String,
    account_id: Option<String>,
    organization_id: Option<String>,
}

#[derive(Deserialize)]
struct JsonError {
    account_id: String,
    region: Option<String>,
    check_id: Option<String>,
    code: String,
    message: String,
}

#[derive(Deserialize)]
struct JsonNotEvaluable {
    check_id: String,
    account_id: String,
    region: String,
    resource_type: String,
    resource_id: String,
    resource_arn: String,
    code: String,
    message: String,
}

#[derive(Deserialize)]
struct JsonNote {
    account_id: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct Stats {
    accounts: usize,
    accounts_scanned: usize,
    accounts_failed: usize,
    api_calls_by_operation: BTreeMap<String, OpCounts>,
    duration_ms: u64,
}

/// The `findings` array, each entry checked and turned into a finding as soon as it is parsed (an entry's
/// strings never outlive it), with no triage: that is the merge's to make, over the whole organization (see
/// `super::merge`).
fn findings_as_read<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<crate::model::Finding>, D::Error> {
    struct Findings;
    impl<'de> serde::de::Visitor<'de> for Findings {
        type Value = Vec<crate::model::Finding>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of findings")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = APPEND_TO.take();
            out.reserve(seq.size_hint().unwrap_or(0));
            while let Some(e) = seq.next_element::<Entry>()? {
                let mut f = e.to_finding().map_err(serde::de::Error::custom)?;
                f.triage = Default::default();
                out.push(f);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Findings)
}

pub(super) fn time(s: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| format!("{what} {s:?} is not an RFC 3339 time"))
}

fn region(s: &Option<String>) -> Result<Option<Region>, String> {
    s.as_deref().map(str::parse).transpose()
}

/// Reads and validates the shard report at `path`. Its findings are appended to `findings` (those of the parts
/// read before it, or an empty list), which becomes the part's `report.findings`; its own start at `first`.
pub fn load(path: &Path, findings: Vec<crate::model::Finding>) -> Result<Part, String> {
    let first = findings.len();
    APPEND_TO.set(findings);
    let part = read(path, first);
    // A report refused before its findings were read leaves the list here: drop it, as the merge stops.
    drop(APPEND_TO.take());
    part
}

fn read(path: &Path, first: usize) -> Result<Part, String> {
    let shown = path.display();
    let open = || std::fs::File::open(path).map(std::io::BufReader::new).map_err(|e| format!("cannot read shard report '{shown}': {e}"));
    // Streamed, never held: one pass reads the header, a second turns each entry into a finding as it is
    // parsed (see `findings_as_read`), so the file's text never sits in memory.
    // A FIFO (or `<(...)`) cannot be read twice: it is read once, into memory.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read shard report '{shown}': {e}"))?;
        let file = || serde_json::from_str(&text).map_err(|e| format!("not a valid orgscan report: {e}"));
        return parse(path, first, serde_json::from_str(&text), file).map_err(|e| format!("shard report '{shown}': {e}"));
    }
    let header = serde_json::from_reader(open()?);
    let file = || open().and_then(|r| serde_json::from_reader(r).map_err(|e| format!("not a valid orgscan report: {e}")));
    parse(path, first, header, file).map_err(|e| format!("shard report '{shown}': {e}"))
}

/// Checks the `header`, then reads the rest with `read_file` (each entry becomes a finding as it is parsed, see
/// `findings_as_read`): the peak memory of a merge is the merged findings, not the files' text.
fn parse(
    path: &Path,
    first: usize,
    header: Result<Header, serde_json::Error>,
    read_file: impl FnOnce() -> Result<File, String>,
) -> Result<Part, String> {
    // The one header check, then the merge's own policy: exactly this orgscan's schema and version.
    let other_version = |version: &str| {
        format!(
            "schema version {version}; orgscan merge joins reports of schema version {REPORT_SCHEMA_VERSION} only (run every shard with this orgscan)"
        )
    };
    let identity = identify(header).map_err(|refused| match refused {
        Refused::NotJson(e) => format!("not an orgscan JSON report ({e}); give the --json file of `orgscan scan --shard`"),
        Refused::NotOrgscan => "not an orgscan JSON report (its tool.name is not \"orgscan\")".to_owned(),
        Refused::NoVersion => other_version("none"),
        Refused::Newer(version) | Refused::Unknown(version) => other_version(&version),
    })?;
    if identity.version != REPORT_SCHEMA_VERSION {
        return Err(other_version(identity.version));
    }
    let (tool, ours) = (identity.tool_version, env!("CARGO_PKG_VERSION"));
    if tool != ours {
        return Err(format!(
            "written by orgscan {tool}; this is orgscan {ours}: merge with the version that scanned, so that every output is the same"
        ));
    }
    let file = read_file()?;
    let shard = file.shard.ok_or("it has no shard section: it is not the report of a sharded scan (orgscan scan --shard INDEX/COUNT)")?;
    let info = shard_info(&shard)?;

    let subject = match (file.scope.kind.as_str(), file.scope.account_id, file.scope.organization_id) {
        ("organization", Some(caller), Some(id)) => Subject::Organization { id, caller: caller.parse()? },
        ("accounts", Some(caller), None) => Subject::Accounts { caller: caller.parse()? },
        (kind, _, _) => return Err(format!("scope kind '{kind}' cannot be sharded (expected organization or accounts)")),
    };
    let mut checks = Vec::new();
    for id in &shard.checks {
        checks.push(check_info(id)?);
    }
    let mut report = ScanReport::new(subject, checks);
    report.started_at = time(&file.started_at, "started_at")?;
    report.finished_at = time(&file.finished_at, "finished_at")?;
    report.incomplete = file.incomplete;
    report.partial = info.partial.clone();

    let mut extra: HashMap<String, JsonFindingExtra> = shard.findings.into_iter().map(|x| (x.fingerprint.clone(), x)).collect();
    let mut findings = file.findings;
    let own = findings.get_mut(first..).unwrap_or_default();
    if !extra.is_empty() {
        for f in own.iter_mut() {
            if let Some(x) = extra.remove(&f.fingerprint().to_string()) {
                (f.details, f.tags) = (x.details, x.tags.map(Box::new));
            }
        }
    }
    for c in &shard.coverage {
        report.coverage.push(coverage(c)?);
    }
    for e in file.errors {
        report.errors.push(ErrorEntry {
            account: e.account_id.parse()?,
            region: region(&e.region)?,
            check_id: e.check_id.as_deref().map(check_info).transpose()?.map(|i| i.id),
            error: ScopeError::new(e.code, e.message),
        });
    }
    for n in file.not_evaluable {
        let info = check_info(&n.check_id)?;
        let resource_type = info
            .resource_types
            .iter()
            .copied()
            .find(|t| *t == n.resource_type)
            .ok_or_else(|| format!("resource type '{}' is not one of {}'s", n.resource_type, info.id))?;
        report.not_evaluable.push(NotEvaluable {
            check_id: info.id,
            target: Target::new(n.account_id.parse()?, n.region.parse()?),
            resource: Resource { resource_type, id: n.resource_id, arn: n.resource_arn },
            error: ScopeError::new(n.code, n.message),
        });
    }
    for n in file.notes {
        report.notes.push(Note { account: n.account_id.as_deref().map(str::parse).transpose()?, text: n.text });
    }
    for a in shard.accounts {
        report.accounts.insert(a.account_id.parse()?, AccountInfo { name: a.name, ou_path: a.ou_path, ous: a.ous });
    }
    let s = &mut report.stats;
    (s.accounts, s.accounts_scanned, s.accounts_failed, s.duration_ms) =
        (file.stats.accounts, file.stats.accounts_scanned, file.stats.accounts_failed, file.stats.duration_ms);
    for (op, counts) in file.stats.api_calls_by_operation {
        let (service, name) = op.split_once(':').ok_or_else(|| format!("API operation '{op}' is not SERVICE:OPERATION"))?;
        s.api.insert((service.to_owned(), name.to_owned()), counts);
    }
    let regions = shard.regions.iter().map(|r| r.parse()).collect::<Result<Vec<Region>, String>>()?;
    s.regions = regions.len();
    s.security_hub = file.security_hub.map(crate::json::security_hub::read::JsonSecurityHub::into_report).transpose()?;
    report.sort();
    // Its own findings in order (those of earlier parts are already).
    crate::model::report::sort_findings(findings.get_mut(first..).unwrap_or_default());
    report.findings = findings;
    Ok(Part { path: path.to_owned(), report, shard: info, regions, first })
}

fn shard_info(s: &JsonShard) -> Result<ShardInfo, String> {
    let shard = Shard::new(s.index, s.count, &format!("shard {}/{}", s.index, s.count))?;
    let selection = s.selection.accounts.iter().map(|a| a.parse()).collect::<Result<Vec<AccountId>, String>>()?;
    let info = ShardInfo::new(shard, selection, s.partial.clone());
    if info.digest != s.selection.digest {
        return Err(format!("its selection digest {} does not match its own account list (digest {})", s.selection.digest, info.digest));
    }
    Ok(info)
}

fn coverage(c: &JsonScope) -> Result<Coverage, String> {
    let info = check_info(&c.check_id)?;
    let missing = |field: &str| format!("coverage of {} in {} ({}) has no {field}", info.id, c.account_id, c.status);
    let error = || -> Result<ScopeError, String> {
        Ok(ScopeError::new(c.code.clone().ok_or_else(|| missing("code"))?, c.message.clone().unwrap_or_default()))
    };
    let status = match c.status.as_str() {
        "evaluated" => CoverageStatus::Evaluated {
            resources: c.resources.ok_or_else(|| missing("resources"))?,
            not_applicable: c.not_applicable.ok_or_else(|| missing("not_applicable"))?,
            not_evaluable: c.not_evaluable.ok_or_else(|| missing("not_evaluable"))?,
        },
        "skipped" => CoverageStatus::Skipped { reason: c.reason.clone().ok_or_else(|| missing("reason"))? },
        "closed_by_policy" => {
            CoverageStatus::ClosedByPolicy { action: c.action.clone().ok_or_else(|| missing("action"))?, error: error()? }
        }
        "error" => CoverageStatus::Error(error()?),
        other => return Err(format!("coverage status '{other}' is not evaluated, skipped, closed_by_policy or error")),
    };
    Ok(Coverage { check_id: info.id, account: c.account_id.parse()?, region: region(&c.region)?, status })
}
