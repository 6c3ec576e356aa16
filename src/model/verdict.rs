//! How every output states a finding: its compliance status, its record state, its workflow state and the
//! severity it is reported with. Declared once here: ASFF, SARIF and OCSF read these, none maps on its own.
//!
//! The scales, side by side:
//!
//! | orgscan | ASFF `Severity.Label` | SARIF `level` / `security-severity` | OCSF `severity_id` |
//! |---|---|---|---|
//! | PASS (any severity) | `INFORMATIONAL` | (not a result) | 1 Informational |
//! | FAIL, low | `LOW` | `note` / 2.0 | 2 Low |
//! | FAIL, medium | `MEDIUM` | `warning` / 5.5 | 3 Medium |
//! | FAIL, high | `HIGH` | `error` / 8.0 | 4 High |
//! | FAIL, critical | `CRITICAL` | `error` / 9.5 | 5 Critical |
//! | WARNING (any severity) | `LOW` | `warning` / the rule's | 2 Low |
//!
//! Status: a FAIL is ASFF `FAILED`/`ACTIVE` and OCSF compliance `Fail` (3) with finding status `New` (1), or
//! `Suppressed` (3) when a suppression rule accepts it (the workflow Security Hub gets, see `securityhub::workflow`);
//! a PASS is `PASSED`/`ARCHIVED` and OCSF `Pass` (1) with status `Resolved` (4), as Security Hub sets
//! `Workflow.Status` to `RESOLVED` for a `PASSED` finding. OCSF ids: OCSF 1.5.0, `compliance.status_id` and
//! the Finding class's `status_id` and `severity_id` enums (schema.ocsf.io, class Compliance Finding, 2003).
//! A WARNING (a runtime about to be deprecated) is ASFF `WARNING`/`ACTIVE` ("WARNING - Some information is
//! missing or this control is not supported given your configuration" is Security Hub's own reading; for a
//! finding that is not failing yet it is the status that keeps it open without counting it as failed, AWS
//! Security Hub API Reference, `Compliance`) and OCSF compliance `Warning` (2), reported at low severity
//! with SARIF `level: warning` whatever the check's severity: it is a notice, not yet a violation.

use super::finding::{Finding, Status};
use super::severity::Severity;

/// The severity a finding is reported with: its check's for a FAIL; informational for a PASS, as Security
/// Hub's own passed control findings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportedSeverity {
    Informational,
    Rated(Severity),
}

impl ReportedSeverity {
    pub fn of(status: Status, severity: Severity) -> Self {
        match status {
            Status::Fail => ReportedSeverity::Rated(severity),
            Status::Warn => ReportedSeverity::Rated(Severity::Low),
            Status::Pass => ReportedSeverity::Informational,
        }
    }

    /// ASFF `Severity.Label`.
    pub fn asff_label(self) -> &'static str {
        match self {
            ReportedSeverity::Informational => "INFORMATIONAL",
            ReportedSeverity::Rated(s) => s.asff_label(),
        }
    }

    /// OCSF `severity_id` and its caption (`severity`).
    pub fn ocsf(self) -> (u8, &'static str) {
        match self {
            ReportedSeverity::Informational => (1, "Informational"),
            ReportedSeverity::Rated(Severity::Low) => (2, "Low"),
            ReportedSeverity::Rated(Severity::Medium) => (3, "Medium"),
            ReportedSeverity::Rated(Severity::High) => (4, "High"),
            ReportedSeverity::Rated(Severity::Critical) => (5, "Critical"),
        }
    }
}

/// The compliance status of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compliance {
    Passed,
    Warning,
    Failed,
}

impl Compliance {
    /// ASFF `Compliance.Status`.
    pub fn asff(self) -> &'static str {
        match self {
            Compliance::Passed => "PASSED",
            Compliance::Warning => "WARNING",
            Compliance::Failed => "FAILED",
        }
    }

    /// OCSF `compliance.status_id` and its caption (`compliance.status`).
    pub fn ocsf(self) -> (u8, &'static str) {
        match self {
            Compliance::Passed => (1, "Pass"),
            Compliance::Warning => (2, "Warning"),
            Compliance::Failed => (3, "Fail"),
        }
    }
}

/// Where a finding stands in a review workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    /// A FAIL or WARNING no rule accepts.
    New,
    /// A FAIL or WARNING a suppression rule accepts.
    Suppressed,
    /// A PASS.
    Resolved,
}

impl Workflow {
    /// OCSF `status_id` and its caption (`status`).
    pub fn ocsf(self) -> (u8, &'static str) {
        match self {
            Workflow::New => (1, "New"),
            Workflow::Suppressed => (3, "Suppressed"),
            Workflow::Resolved => (4, "Resolved"),
        }
    }
}

/// Everything an output says of a finding's status and severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub compliance: Compliance,
    /// ASFF `RecordState`: a PASS is archived, which resolves an earlier FAIL of the same resource.
    pub active: bool,
    pub workflow: Workflow,
    pub severity: ReportedSeverity,
}

impl Verdict {
    pub fn of(f: &Finding) -> Self {
        let severity = ReportedSeverity::of(f.status, f.severity());
        match f.status {
            Status::Fail | Status::Warn => Verdict {
                compliance: if f.status == Status::Fail { Compliance::Failed } else { Compliance::Warning },
                active: true,
                workflow: if f.triage.suppressed.is_some() { Workflow::Suppressed } else { Workflow::New },
                severity,
            },
            Status::Pass => Verdict { compliance: Compliance::Passed, active: false, workflow: Workflow::Resolved, severity },
        }
    }

    /// SARIF `level`: the severity's for a FAIL, `warning` for a WARNING (a PASS is not a SARIF result).
    pub fn sarif_level(f: &Finding) -> &'static str {
        if f.status == Status::Warn { "warning" } else { f.severity().sarif_level() }
    }

    /// ASFF `RecordState`.
    pub fn asff_record_state(self) -> &'static str {
        if self.active { "ACTIVE" } else { "ARCHIVED" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scale_agrees_on_order() {
        let all = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
        let ocsf: Vec<u8> = all.iter().map(|s| ReportedSeverity::Rated(*s).ocsf().0).collect();
        assert_eq!(ocsf, [2, 3, 4, 5]);
        assert_eq!(ReportedSeverity::of(Status::Pass, Severity::Critical).ocsf(), (1, "Informational"));
        assert_eq!(ReportedSeverity::of(Status::Pass, Severity::Critical).asff_label(), "INFORMATIONAL");
        assert_eq!(ReportedSeverity::of(Status::Fail, Severity::Critical).asff_label(), "CRITICAL");
        let sarif: Vec<f64> = all.iter().filter_map(|s| s.sarif_security_severity().parse().ok()).collect();
        assert!(sarif.windows(2).all(|w| w[0] < w[1]), "{sarif:?}");
    }

    #[test]
    fn a_warning_is_open_low_and_its_own_compliance_status() {
        assert_eq!(ReportedSeverity::of(Status::Warn, Severity::Critical), ReportedSeverity::Rated(Severity::Low));
        assert_eq!((Compliance::Warning.asff(), Compliance::Warning.ocsf()), ("WARNING", (2, "Warning")));
        assert!(Status::Warn.is_open() && Status::Fail.is_open() && !Status::Pass.is_open());
        assert_eq!(Status::parse(Status::Warn.as_str()), Some(Status::Warn));
        assert_eq!(Status::parse("WARN"), None);
    }
}
