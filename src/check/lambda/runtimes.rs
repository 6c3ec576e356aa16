//! The Lambda runtime table: runtime identifiers with their deprecation dates (a data file, replaceable
//! with `--lambda-runtimes PATH`), and what a runtime is on a given date.
//! <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html>

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

/// The bundled runtime table.
pub const BUNDLED_TABLE: &str = include_str!("../../../data/lambda-runtimes.toml");

/// A table last updated more than this many days before the scan date is announced as stale: AWS adds
/// runtimes and moves deprecation dates, so an old table misses both.
pub const STALE_AFTER_DAYS: i64 = 180;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEntry {
    pub id: String,
    pub deprecation: NaiveDate,
    pub block_create: Option<NaiveDate>,
    pub block_update: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeFile {
    updated: NaiveDate,
    source: String,
    runtime: Vec<RuntimeEntry>,
}

/// Runtime identifiers with their deprecation dates, as of `updated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeTable {
    pub updated: NaiveDate,
    pub source: String,
    runtimes: BTreeMap<String, RuntimeEntry>,
}

/// What a runtime is on the scan date, worst last (the order ranks the versions of one function).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuntimeState {
    /// Not in the table, but of a family the table knows and newer than every identifier of that family in
    /// it (`python3.15` when the table stops at `python3.14`): the table is older than the function, and
    /// AWS deprecates the oldest runtimes of a family first. It passes; the report's notes name it.
    Newer,
    Supported { until: NaiveDate },
    /// Deprecated within the warning window (`--lambda-warn-days`): `days` from the scan date.
    Deprecating { on: NaiveDate, days: i64 },
    /// Not in the table: a runtime newer than the table, or a misspelt one. Never read as supported.
    Unknown,
    Deprecated { since: NaiveDate },
}

impl RuntimeState {
    /// The word the evidence and the report's notes use.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeState::Newer => "newer",
            RuntimeState::Supported { .. } => "supported",
            RuntimeState::Deprecating { .. } => "deprecating",
            RuntimeState::Unknown => "unknown",
            RuntimeState::Deprecated { .. } => "deprecated",
        }
    }

    /// The deprecation date, when the table knows the runtime.
    pub fn date(self) -> Option<NaiveDate> {
        match self {
            RuntimeState::Supported { until: d } | RuntimeState::Deprecating { on: d, .. } | RuntimeState::Deprecated { since: d } => Some(d),
            RuntimeState::Unknown | RuntimeState::Newer => None,
        }
    }
}

impl RuntimeTable {
    pub fn bundled() -> Result<Self, String> {
        Self::parse(BUNDLED_TABLE, "the bundled runtime table")
    }

    pub fn from_path(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read Lambda runtime table '{}': {e}", path.display()))?;
        Self::parse(&text, &format!("Lambda runtime table '{}'", path.display()))
    }

    /// Parses a table; errors name the file, and TOML errors carry line and column.
    pub fn parse(text: &str, what: &str) -> Result<Self, String> {
        let file: RuntimeFile = toml::from_str(text).map_err(|e| format!("{what} does not parse: {e}"))?;
        let mut runtimes = BTreeMap::new();
        for r in file.runtime {
            if r.id.trim().is_empty() {
                return Err(format!("{what}: a runtime has an empty id"));
            }
            if let Some(dup) = runtimes.insert(r.id.clone(), r) {
                return Err(format!("{what}: runtime '{}' is listed twice", dup.id));
            }
        }
        if runtimes.is_empty() {
            return Err(format!("{what}: no [[runtime]] entries"));
        }
        Ok(Self { updated: file.updated, source: file.source, runtimes })
    }

    pub fn get(&self, id: &str) -> Option<&RuntimeEntry> {
        self.runtimes.get(id)
    }

    /// `runtime` on `today`: deprecated on or before it; deprecating when due within `warn_days` days
    /// (0: never); supported otherwise; newer when the table does not list it but lists older runtimes of
    /// its family (see [`Self::newest_of_family`]); unknown otherwise.
    pub fn state(&self, runtime: &str, today: NaiveDate, warn_days: u32) -> RuntimeState {
        match self.get(runtime) {
            None if self.newest_of_family(runtime).is_some() => RuntimeState::Newer,
            None => RuntimeState::Unknown,
            Some(e) if e.deprecation <= today => RuntimeState::Deprecated { since: e.deprecation },
            Some(e) => {
                let days = (e.deprecation - today).num_days();
                if days <= i64::from(warn_days) {
                    RuntimeState::Deprecating { on: e.deprecation, days }
                } else {
                    RuntimeState::Supported { until: e.deprecation }
                }
            }
        }
    }

    /// For a runtime the table does not list: the newest identifier of its family in the table, when
    /// `runtime`'s version is above every version of that family there (`python3.15` -> `python3.14`,
    /// `nodejs26.x` -> `nodejs24.x`). `None` for a listed runtime, an unknown family (`custom`, `cobol85`),
    /// an identifier without a version (`provided.al2025`), or a version not above the family's newest
    /// (`python3.9.1`, a misspelling). Families are compared as spelt: `dotnet` and `dotnetcore` are two.
    pub fn newest_of_family(&self, runtime: &str) -> Option<&str> {
        if self.runtimes.contains_key(runtime) {
            return None;
        }
        let (family, version) = family_version(runtime)?;
        let newest = self
            .runtimes
            .keys()
            .filter_map(|id| family_version(id).filter(|(f, _)| *f == family).map(|(_, v)| (v, id.as_str())))
            .max()?;
        (version > newest.0).then_some(newest.1)
    }

    /// Days from the table's `updated` date to `today`, when over [`STALE_AFTER_DAYS`].
    pub fn stale_days(&self, today: NaiveDate) -> Option<i64> {
        let age = (today - self.updated).num_days();
        (age > STALE_AFTER_DAYS).then_some(age)
    }

    /// The runtime of the same language (`python`, `nodejs`, `java`, `dotnet`, `ruby`, `provided`) that stays
    /// supported longest after `today`, to suggest in place of `runtime`; `None` for a language the table
    /// does not know or with no supported runtime left.
    pub fn successor(&self, runtime: &str, today: NaiveDate) -> Option<&str> {
        let lang = language(runtime)?;
        self.runtimes
            .values()
            .filter(|r| language(&r.id) == Some(lang) && r.deprecation > today && r.id != runtime)
            .max_by(|a, b| (a.deprecation, &a.id).cmp(&(b.deprecation, &b.id)))
            .map(|r| r.id.as_str())
    }
}

/// A runtime identifier as its family (the leading lower-case letters) and its version (the numeric
/// dot-separated parts that follow, up to the first part that is not a number): `python3.15` -> (`python`,
/// [3, 15]), `nodejs26.x` -> (`nodejs`, [26]), `java8.al2` -> (`java`, [8]), `ruby4.0` -> (`ruby`, [4, 0]).
/// Identifier shapes from "Lambda runtimes" (Lambda Developer Guide, supported and deprecated runtimes).
fn family_version(runtime: &str) -> Option<(&str, Vec<u32>)> {
    let end = runtime.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(runtime.len());
    let (family, rest) = runtime.split_at(end);
    let version: Vec<u32> = rest.split('.').map_while(|p| p.parse().ok()).collect();
    (!family.is_empty() && !version.is_empty()).then_some((family, version))
}

/// The language of a runtime id, from its leading letters (`python3.12` -> `python`, `java8.al2` -> `java`);
/// `dotnetcore` is .NET, and Go moved to the OS-only `provided` runtimes when `go1.x` was deprecated.
fn language(runtime: &str) -> Option<&str> {
    let end = runtime.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(runtime.len());
    match &runtime[..end] {
        "" => None,
        "dotnetcore" => Some("dotnet"),
        "go" => Some("provided"),
        lang => Some(lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_bundled_table_parses_and_holds_the_seeded_dates() {
        let t = RuntimeTable::bundled().unwrap();
        assert_eq!(t.get("python3.10").unwrap().deprecation, date("2026-10-31"));
        assert_eq!(t.get("nodejs24.x").unwrap().deprecation, date("2028-04-30"));
        assert_eq!(t.get("nodejs24.x").unwrap().block_update, Some(date("2028-07-01")));
        assert_eq!(t.get("go1.x").unwrap().deprecation, date("2024-01-08"));
        for old in ["python2.7", "python3.6", "python3.7", "nodejs14.x", "dotnetcore3.1", "dotnet5.0", "dotnet7", "ruby2.5", "java8"] {
            assert!(t.get(old).is_some_and(|e| e.deprecation < date("2025-01-01")), "{old}");
        }
    }

    #[test]
    fn the_successor_is_the_same_language_supported_longest() {
        let t = RuntimeTable::bundled().unwrap();
        let today = date("2026-11-28");
        assert_eq!(t.successor("python3.8", today), Some("python3.14"));
        assert_eq!(t.successor("nodejs16.x", today), Some("nodejs24.x"));
        assert_eq!(t.successor("dotnetcore3.1", today), Some("dotnet10"));
        assert_eq!(t.successor("go1.x", today).map(|r| r.starts_with("provided")), Some(true));
        assert_eq!(t.successor("cobol85", today), None);
    }

    #[test]
    fn states_on_their_dates_and_the_warning_window() {
        let t = RuntimeTable::bundled().unwrap();
        // python3.10 is deprecated on 2026-10-31.
        assert_eq!(t.state("python3.10", date("2026-10-31"), 90), RuntimeState::Deprecated { since: date("2026-10-31") });
        assert_eq!(t.state("python3.10", date("2026-10-01"), 90), RuntimeState::Deprecating { on: date("2026-10-31"), days: 30 });
        assert_eq!(t.state("python3.10", date("2026-10-01"), 30), RuntimeState::Deprecating { on: date("2026-10-31"), days: 30 });
        assert_eq!(t.state("python3.10", date("2026-10-01"), 29), RuntimeState::Supported { until: date("2026-10-31") });
        assert_eq!(t.state("python3.10", date("2026-10-30"), 0), RuntimeState::Supported { until: date("2026-10-31") });
        assert_eq!(t.state("cobol85", date("2026-10-01"), 90), RuntimeState::Unknown);
        assert_eq!(t.state("python3.15", date("2026-10-01"), 90), RuntimeState::Newer);
        // Worst last: a version on a deprecated runtime outranks an unknown one, which outranks a warning;
        // a runtime newer than the table ranks best.
        let mut v = [
            RuntimeState::Newer,
            RuntimeState::Deprecated { since: date("2020-01-01") },
            RuntimeState::Supported { until: date("2030-01-01") },
            RuntimeState::Unknown,
            RuntimeState::Deprecating { on: date("2027-01-01"), days: 3 },
        ];
        v.sort();
        assert_eq!(v.map(RuntimeState::as_str), ["newer", "supported", "deprecating", "unknown", "deprecated"]);
    }

    #[test]
    fn identifiers_newer_than_their_family_in_the_table_are_told_apart_from_unknown_ones() {
        let t = RuntimeTable::bundled().unwrap();
        // The Lambda API's Runtime enum (aws-sdk-lambda 1.156) already has both.
        assert_eq!(t.newest_of_family("python3.15"), Some("python3.14"));
        assert_eq!(t.newest_of_family("nodejs26.x"), Some("nodejs24.x"));
        assert_eq!(t.newest_of_family("python4.0"), Some("python3.14"));
        assert_eq!(t.newest_of_family("java26"), Some("java25"));
        // Listed, older than the newest, of no known family, without a version, or not a family at all.
        for not_newer in ["python3.14", "python3.9.1", "nodejs23.x", "custom", "cobol85", "provided.al2025", "3.15", ""] {
            assert_eq!(t.newest_of_family(not_newer), None, "{not_newer}");
        }
        assert_eq!(family_version("java8.al2023"), Some(("java", vec![8])));
        assert_eq!(family_version("ruby4.0"), Some(("ruby", vec![4, 0])));
    }

    #[test]
    fn a_table_is_stale_after_180_days() {
        let t = RuntimeTable::bundled().unwrap();
        assert_eq!(t.stale_days(t.updated + chrono::Days::new(180)), None);
        assert_eq!(t.stale_days(t.updated + chrono::Days::new(181)), Some(181));
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        let dup = "updated = \"2026-01-01\"\nsource = \"x\"\n[[runtime]]\nid = \"a\"\ndeprecation = \"2026-01-01\"\n[[runtime]]\nid = \"a\"\ndeprecation = \"2026-01-01\"\n";
        assert!(RuntimeTable::parse(dup, "t").unwrap_err().contains("'a' is listed twice"));
        let unknown_key = "updated = \"2026-01-01\"\nsource = \"x\"\n[[runtime]]\nid = \"a\"\ndeprecated = \"2026-01-01\"\n";
        let err = RuntimeTable::parse(unknown_key, "t").unwrap_err();
        assert!(err.contains("does not parse") && err.contains("line"), "{err}");
        assert!(
            RuntimeTable::parse("updated = \"2026-01-01\"\nsource = \"x\"\nruntime = []\n", "t").unwrap_err().contains("no [[runtime]]")
        );
    }
}
