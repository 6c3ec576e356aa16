//! `--baseline PREVIOUS.json`: an earlier JSON report of orgscan, read back as findings.
//!
//! Only the fields the comparison needs are read (findings and the stale FAILs it carried forward); the
//! fingerprint of every entry is computed again from its check, account, region and resource id and must
//! match the one written, so an edited or foreign file cannot pass for a baseline.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Entry, Header, Refused, StaleEntry, identify, time};
use crate::model::Finding;
use crate::model::report::REPORT_SCHEMA_VERSIONS_READ;

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

impl Baseline {
    /// Reads and validates `path`. Refuses a file that is not an orgscan JSON report, or one of a schema
    /// version this orgscan does not read, with an error that names the file and what was expected.
    pub fn load(path: &Path) -> Result<Self, String> {
        Self::load_as(path, "--baseline")
    }

    /// [`Self::load`] for another option that reads an earlier report (`orgscan fix --from`): errors name it.
    ///
    /// The file is streamed, never held: one pass reads the header, a second turns each entry into a finding
    /// as it is read, so the memory of reading a report is the findings it keeps (an entry that is ignored
    /// costs nothing once counted), whatever the size of the file.
    pub fn load_as(path: &Path, option: &str) -> Result<Self, String> {
        let shown = path.display();
        let cannot = |e: std::io::Error| format!("cannot read {option} '{shown}': {e}");
        // A FIFO (`--baseline <(aws s3 cp ... -)`) cannot be read twice: it is read once, into memory.
        if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            let text = std::fs::read_to_string(path).map_err(cannot)?;
            return Self::parse_as(path, &text, option);
        }
        let open = || std::fs::File::open(path).map(std::io::BufReader::new).map_err(cannot);
        let header = serde_json::from_reader(open()?);
        let body = |sink: &mut Sink| -> Result<(), serde_json::Error> {
            let reader = open().map_err(<serde_json::Error as serde::de::Error>::custom)?;
            let mut de = serde_json::Deserializer::from_reader(reader);
            (&mut de).deserialize_map(Body(sink))?;
            de.end()
        };
        Self::read(path, option, header, body)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        Self::parse_as(path, text, "--baseline")
    }

    fn parse_as(path: &Path, text: &str, option: &str) -> Result<Self, String> {
        let header = serde_json::from_str(text);
        let body = |sink: &mut Sink| -> Result<(), serde_json::Error> {
            let mut de = serde_json::Deserializer::from_str(text);
            (&mut de).deserialize_map(Body(sink))?;
            de.end()
        };
        Self::read(path, option, header, body)
    }

    /// Validates the header, then reads the body into a [`Sink`].
    fn read(
        path: &Path,
        option: &str,
        header: Result<Header, serde_json::Error>,
        body: impl FnOnce(&mut Sink) -> Result<(), serde_json::Error>,
    ) -> Result<Self, String> {
        let shown = path.display();
        let not_ours =
            |why: &str| format!("{option} '{shown}' is not an orgscan JSON report ({why}); give the --json file of an earlier scan");
        let readable = REPORT_SCHEMA_VERSIONS_READ.join(", ");
        let identity = identify(header).map_err(|refused| match refused {
            Refused::NotJson(e) => not_ours(&format!("not JSON: {e}")),
            Refused::NotOrgscan => not_ours("its tool.name is not \"orgscan\""),
            Refused::NoVersion => not_ours("it has no schema_version"),
            Refused::Newer(version) => format!(
                "{option} '{shown}' has schema version {version}, written by a newer orgscan; this orgscan reads schema \
                 versions {readable}: upgrade orgscan, or give a report it wrote"
            ),
            Refused::Unknown(version) => {
                format!("{option} '{shown}' has schema version {version:?}; this orgscan reads schema versions {readable}")
            }
        })?;
        let mut sink = Sink::default();
        body(&mut sink).map_err(|e| format!("{option} '{shown}' is not a valid orgscan report: {e}"))?;
        let invalid = |why: &str| format!("{option} '{shown}' is not a valid orgscan report: {why}");
        if !sink.saw_findings {
            return Err(invalid("missing field `findings`"));
        }
        let started_at = sink.started_at.ok_or_else(|| invalid("missing field `started_at`"))?;
        let started_at =
            time(&started_at).ok_or_else(|| format!("{option} '{shown}': started_at {started_at:?} is not an RFC 3339 time"))?;
        let warnings = sink.ignored.notes(&format!("{option} '{shown}'"));
        let organization_id = identity.organization_id;
        Ok(Self { path: path.to_owned(), started_at, findings: sink.findings, stale: sink.stale, warnings, organization_id })
    }
}

/// What the body of a report leaves once read: each entry is turned into a finding (or counted as ignored)
/// as soon as it is parsed, so no entry and no text outlives its own parse.
#[derive(Default)]
struct Sink {
    started_at: Option<String>,
    saw_findings: bool,
    findings: Vec<Finding>,
    stale: Vec<(Finding, DateTime<Utc>)>,
    ignored: Causes,
}

impl Sink {
    fn finding(&mut self, e: Entry) {
        match e.to_finding() {
            Ok(f) => self.findings.push(f),
            Err(w) => self.ignored.add(w.replace(&e.fingerprint, "F"), &e.fingerprint),
        }
    }

    fn stale(&mut self, s: StaleEntry) {
        let Some(last_seen) = time(&s.last_seen) else {
            self.ignored.add("a stale entry's last_seen is not a time".into(), &s.entry.fingerprint);
            return;
        };
        match s.entry.to_finding() {
            Ok(f) if f.status.is_open() => self.stale.push((f, last_seen)),
            Ok(_) => self.ignored.add("a stale entry is not a FAIL or WARNING".into(), &s.entry.fingerprint),
            Err(w) => self.ignored.add(w.replace(&s.entry.fingerprint, "F"), &s.entry.fingerprint),
        }
    }
}

/// The report's top-level object (the visitor of `deserialize_map`): `started_at`, `findings` and `stale`
/// (schema 2 on) are read, every other field is skipped without being allocated.
struct Body<'a>(&'a mut Sink);

impl<'de> Visitor<'de> for Body<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an orgscan JSON report (an object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen_stale = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "started_at" if self.0.started_at.is_none() => self.0.started_at = Some(map.next_value()?),
                "findings" if !self.0.saw_findings => {
                    self.0.saw_findings = true;
                    map.next_value_seed(Entries { sink: &mut *self.0, stale: false })?;
                }
                "stale" if !seen_stale => {
                    seen_stale = true;
                    map.next_value_seed(Entries { sink: &mut *self.0, stale: true })?;
                }
                "started_at" | "findings" | "stale" => return Err(A::Error::custom(format!("duplicate field `{key}`"))),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `findings` (or `stale`) array, each element handed to the [`Sink`] as it is parsed.
struct Entries<'a> {
    sink: &'a mut Sink,
    stale: bool,
}

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(if self.stale { "an array of stale entries" } else { "an array of findings" })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.stale {
            while let Some(s) = seq.next_element::<StaleEntry>()? {
                self.sink.stale(s);
            }
        } else {
            while let Some(e) = seq.next_element::<Entry>()? {
                self.sink.finding(e);
            }
        }
        Ok(())
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
