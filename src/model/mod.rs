//! The leaf model: identities, severities, what a check declares, the service catalogue, findings,
//! coverage, the scan report and errors. It imports nothing else of orgscan; everything else imports it.

pub mod check_info;
pub mod error;
pub mod evidence;
pub mod finding;
pub mod history;
pub mod import;
pub mod keys;
pub mod related;
pub mod report;
pub mod service;
pub mod severity;
pub mod shard;
pub mod target;
pub mod terminal;
pub mod triage;
pub mod verdict;

pub use check_info::CheckInfo;
pub use error::ScopeError;
pub use evidence::Evidence;
pub use finding::{AsffDetails, Finding, FindingBuilder, FindingError, Fingerprint, Resource, ResourceDetails, Status};
pub use history::{Fixed, History, RuleUse, Stale, Suppressions};
pub use keys::{KeyAlias, KeyRefs, KeyUse};
pub use related::Related;
pub use report::{
    AccountInfo, Coverage, CoverageStatus, ErrorEntry, NotEvaluable, Note, OpCounts, Phase, ScanReport, Stats, Stopped, Subject, exit,
};
pub use service::{Rate, Service};
pub use severity::Severity;
pub use shard::{Shard, ShardInfo};
pub use target::{AccountId, Partition, Region, Target};
pub use triage::{BaselineState, FailOn, FailPolicy, Rule, Triage};
pub use verdict::{Compliance, ReportedSeverity, Verdict, Workflow};
