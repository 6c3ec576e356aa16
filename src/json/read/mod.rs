//! Reading a JSON report back, the one reader of the format `json` writes: a baseline (`--baseline`,
//! `orgscan fix --from`, the S3 history) and a shard report (`orgscan merge`) go through the same header check
//! ([`identify`]) and the same finding entries ([`Entry`]), each with its own policy on what it accepts.
//!
//! Every reader streams: one pass reads the header, a second turns each entry into a finding as it is
//! parsed, so the text of a file never sits in memory (a FIFO, which cannot be read twice, is read once).

pub mod baseline;
pub mod shard;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::check;
use crate::model::report::{REPORT_SCHEMA_VERSION, REPORT_SCHEMA_VERSIONS_READ};
use crate::model::{AccountId, CheckInfo, Finding, Region, Status, Target};

/// The identity fields of a report, read before the rest (every other field is skipped, not allocated).
#[derive(Deserialize)]
pub struct Header {
    schema_version: Option<serde_json::Value>,
    tool: Option<Tool>,
    #[serde(default)]
    scope: Option<HeaderScope>,
}

#[derive(Deserialize)]
struct Tool {
    name: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct HeaderScope {
    organization_id: Option<String>,
}

/// One finding of a JSON report, as written (a baseline's, a shard report's, `orgscan fix --from`'s).
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
    pub(super) fingerprint: String,
    #[serde(default)]
    evidence: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    first_seen: Option<String>,
    /// Schema 3: the resources linked with this one.
    #[serde(default)]
    related: Vec<crate::model::Related>,
}

#[derive(Deserialize)]
pub(super) struct StaleEntry {
    #[serde(flatten)]
    pub(super) entry: Entry,
    pub(super) last_seen: String,
}

/// An RFC 3339 time.
pub(super) fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// What a report's header says it is, once [`identify`] accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// One of [`REPORT_SCHEMA_VERSIONS_READ`].
    pub version: &'static str,
    /// `tool.version` (`none` when absent).
    pub tool_version: String,
    /// `scope.organization_id`, for a report of an organization.
    pub organization_id: Option<String>,
}

/// Why a header is refused; each reader words it for its option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The file is not JSON (the parser's words).
    NotJson(String),
    /// `tool.name` is not `orgscan`.
    NotOrgscan,
    /// No `schema_version` string.
    NoVersion,
    /// A schema version after this orgscan's: written by a newer orgscan.
    Newer(String),
    /// Any other version.
    Unknown(String),
}

/// The one header check of every reader: an orgscan JSON report of a schema version this orgscan reads.
pub fn identify(header: Result<Header, serde_json::Error>) -> Result<Identity, Refused> {
    let header = header.map_err(|e| Refused::NotJson(e.to_string()))?;
    let tool = header.tool.as_ref();
    if tool.and_then(|t| t.name.as_ref()).and_then(|v| v.as_str()) != Some("orgscan") {
        return Err(Refused::NotOrgscan);
    }
    let version = header.schema_version.as_ref().and_then(|v| v.as_str()).ok_or(Refused::NoVersion)?;
    let Some(known) = REPORT_SCHEMA_VERSIONS_READ.iter().find(|v| **v == version) else {
        return Err(match version.parse::<u32>() {
            Ok(v) if v > REPORT_SCHEMA_VERSION.parse::<u32>().unwrap_or(u32::MAX) => Refused::Newer(version.to_owned()),
            _ => Refused::Unknown(version.to_owned()),
        });
    };
    Ok(Identity {
        version: known,
        tool_version: tool.and_then(|t| t.version.as_ref()).and_then(|v| v.as_str()).unwrap_or("none").to_owned(),
        organization_id: header.scope.and_then(|s| s.organization_id),
    })
}

/// The registered check of `id`.
pub(super) fn check_info(id: &str) -> Result<&'static CheckInfo, String> {
    check::ALL.iter().map(|c| c.info()).find(|i| i.id == id).ok_or_else(|| format!("check '{id}' is not one of this orgscan's checks"))
}

impl Entry {
    /// The finding this entry describes (triage as written: `first_seen` only), its fingerprint checked.
    pub fn to_finding(&self) -> Result<Finding, String> {
        let info = check_info(&self.check_id)
            .map_err(|_| format!("finding {} is of check '{}', which this orgscan does not have", self.fingerprint, self.check_id))?;
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
        if f.fingerprint().to_string() != self.fingerprint {
            return Err(format!("finding {} does not match its check, account, region and resource id", self.fingerprint));
        }
        f.triage.first_seen = self.first_seen.as_deref().and_then(time);
        f.related = self.related.clone();
        Ok(f)
    }
}
