//! What a check declares for the layers around it, besides its metadata and its fix: the kinds of resource
//! it reports (the ASFF type, the words, the console link, the placeholder of its commands), what its
//! resources are to the KMS key dependents, the organization-level read it needs before the scan, and the
//! lines it adds to the summary. The outputs, the scanner and the walker read these through the registry,
//! so none of them names a check.

use super::ALL;
use crate::model::Finding;

/// A kind of resource a check reports.
#[derive(Debug, Clone, Copy)]
pub struct ResourceKind {
    /// The ASFF resource type (one of the check's `CheckInfo::resource_types`).
    pub asff_type: &'static str,
    /// In words ("KMS key").
    pub words: &'static str,
    /// Whether ASFF lists the type (AWS Security Hub API Reference, `Resource.Type`); an unlisted one is sent
    /// as `Type: Other` ("Other object in ASFF", AWS Security Hub User Guide).
    pub asff_listed: bool,
    /// The resource in the AWS console, from the region and the percent-encoded id: the path after the
    /// console's host.
    pub console: Option<fn(&str, &str) -> String>,
    /// The placeholder of the check's remediation commands that stands for the resource's id
    /// (`KEY_ID`), and whether the HTML report fills it in every check's commands or only in this kind's.
    pub id_placeholder: Option<(&'static str, Fill)>,
}

impl ResourceKind {
    /// A kind that ASFF lists and the console shows, whose id stands for `id_placeholder` in the commands.
    pub const fn listed(
        asff_type: &'static str,
        words: &'static str,
        console: fn(&str, &str) -> String,
        id_placeholder: (&'static str, Fill),
    ) -> Self {
        ResourceKind { asff_type, words, asff_listed: true, console: Some(console), id_placeholder: Some(id_placeholder) }
    }
}

/// Where an id placeholder is filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// In the commands of every finding.
    Everywhere,
    /// Only in the commands of a finding of this kind of resource.
    OwnKind,
}

/// What a check's resources are to the KMS key dependents (`scan::dependents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    None,
    /// Its resources may name KMS keys in their configuration (`Evaluation::with_key_use`): in words, for
    /// the message of a key pending deletion that no resource of the scan uses.
    Users(&'static str),
    /// Its FAILs are KMS keys pending deletion, linked to the key users' resources that name them.
    PendingDeletion,
}

/// An organization-level read a check needs before the scan, made once by the walker with the caller's
/// credentials: the accounts Organizations registers as delegated administrator of a service
/// (`ListDelegatedAdministrators` with its service principal). The check finds them in
/// `CheckSettings::delegated_admins`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegatedAdmins {
    /// `guardduty.amazonaws.com`.
    pub service_principal: &'static str,
    /// The service, in words, for the log when they cannot be read.
    pub service: &'static str,
    /// The report's note when they cannot be read (the error follows it).
    pub unread_note: &'static str,
}

/// A check's lines of the text summary, from the report's findings; the function given shortens a list to
/// the summary's width.
pub type SummaryFn = fn(&[Finding], &dyn Fn(&str) -> String) -> Vec<String>;

/// The summary lines of a check without any.
pub fn no_summary(_: &[Finding], _: &dyn Fn(&str) -> String) -> Vec<String> {
    Vec::new()
}

/// Every kind of resource the registered checks report, in registry order, each once (two checks on one
/// kind of resource declare it alike: the first declaration stands).
pub fn resource_kinds() -> impl Iterator<Item = &'static ResourceKind> {
    let mut seen: Vec<&str> = Vec::new();
    ALL.iter().flat_map(|c| c.resources.iter()).filter(move |k| {
        let first = !seen.contains(&k.asff_type);
        seen.push(k.asff_type);
        first
    })
}

/// The kind of `asff_type`, when a registered check reports it.
pub fn resource_kind(asff_type: &str) -> Option<&'static ResourceKind> {
    resource_kinds().find(|k| k.asff_type == asff_type)
}

/// A resource type in words ("KMS key"); the type itself when no check reports it.
pub fn type_words(asff_type: &str) -> &str {
    resource_kind(asff_type).map_or(asff_type, |k| k.words)
}

/// The organization-level reads of the registered checks, in registry order, without repeats.
pub fn delegated_admin_reads() -> Vec<&'static DelegatedAdmins> {
    let mut out: Vec<&'static DelegatedAdmins> = Vec::new();
    for r in ALL.iter().filter_map(|c| c.delegated_admins) {
        if !out.iter().any(|o| o.service_principal == r.service_principal) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_s_kinds_are_its_declared_resource_types_and_a_kind_is_declared_alike_everywhere() {
        for c in ALL {
            let kinds: Vec<&str> = c.resources.iter().map(|k| k.asff_type).collect();
            assert_eq!(kinds, c.info().resource_types, "{}", c.info().id);
            for k in c.resources {
                // A second check on the same kind of resource reuses the first one's declaration.
                let first = resource_kind(k.asff_type).unwrap();
                let alike = (first.words, first.asff_listed, first.id_placeholder, first.console.is_some())
                    == (k.words, k.asff_listed, k.id_placeholder, k.console.is_some());
                assert!(alike, "{} declares {} unlike the first check that reports it", c.info().id, k.asff_type);
            }
        }
        let all: Vec<&str> = resource_kinds().map(|k| k.asff_type).collect();
        assert_eq!(all.len(), all.iter().collect::<std::collections::BTreeSet<_>>().len(), "{all:?}");
        assert_eq!(type_words("AwsKmsKey"), "KMS key");
        assert_eq!(type_words("AwsSomethingElse"), "AwsSomethingElse");
        assert_eq!(ALL.iter().filter(|c| c.keys == KeyRole::PendingDeletion).count(), 1);
    }
}
