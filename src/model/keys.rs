//! The KMS keys that resources name in their configuration, as the checks that read those resources found
//! them, and the keys' aliases: what `scan::dependents` joins into a key's dependents.

use super::finding::Resource;
use super::target::Target;

/// A resource that names a KMS key in its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The check that read the resource.
    pub check_id: &'static str,
    pub target: Target,
    pub resource: Resource,
    /// The key as the configuration names it: a key id, a key ARN, an alias name (`alias/x`) or an alias ARN.
    pub key: String,
    /// What the key protects, in words (`encryption at rest`, `environment variables`).
    pub purpose: &'static str,
}

/// An alias of a KMS key, as `ListAliases` returns it in the key's account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAlias {
    pub target: Target,
    /// `alias/...`.
    pub alias: String,
    pub key_id: String,
}

/// What a check learned about keys in one target, besides its findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRefs {
    pub uses: Vec<KeyUse>,
    pub aliases: Vec<KeyAlias>,
    /// Targets whose aliases could not be read (with the AWS error code): a use by alias there is not matched.
    pub alias_errors: Vec<(Target, String)>,
}

impl KeyRefs {
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty() && self.aliases.is_empty() && self.alias_errors.is_empty()
    }

    pub fn extend(&mut self, other: KeyRefs) {
        self.uses.extend(other.uses);
        self.aliases.extend(other.aliases);
        self.alias_errors.extend(other.alias_errors);
    }
}
