//! The evidence keys of the Lambda check: written by its evaluations, read by its fix and its summary line.
//! One constant per key, so a rename changes the writer and the readers together.

use crate::check::EvidenceKey;

/// The runtime (of `$LATEST`, of an aliased version, of a served revision; of a Web Function, the worst).
pub const RUNTIME: EvidenceKey = EvidenceKey::new("runtime");
/// The runtime's state in the table: `supported`, `deprecating`, `deprecated`, `unknown`, `newer`.
pub const RUNTIME_STATUS: EvidenceKey = EvidenceKey::new("runtime_status");
/// The runtime's deprecation date, when the table has one.
pub const DEPRECATION_DATE: EvidenceKey = EvidenceKey::new("deprecation_date");
/// The published versions aliases route to: objects of `RUNTIME`, `RUNTIME_STATUS`, `VERSION`, `ALIASES`.
pub const ALIASED_VERSIONS: EvidenceKey = EvidenceKey::new("aliased_versions");
pub const VERSION: EvidenceKey = EvidenceKey::new("version");
pub const ALIASES: EvidenceKey = EvidenceKey::new("aliases");
/// A Web Function's revisions its endpoints route to: objects of `RUNTIME`, `RUNTIME_STATUS`, `REVISION`,
/// `ENDPOINTS`.
pub const SERVED_REVISIONS: EvidenceKey = EvidenceKey::new("served_revisions");
/// A Web Function's revision (at the top level: the one with the worst runtime).
pub const REVISION: EvidenceKey = EvidenceKey::new("revision");
pub const ENDPOINTS: EvidenceKey = EvidenceKey::new("endpoints");
