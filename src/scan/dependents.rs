//! "What breaks if this key is deleted?": the one step after the scan that links each KMS key pending
//! deletion to the resources of the same scan whose configuration names it. Data encrypted under a deleted
//! key cannot be decrypted again ("Deleting a KMS key is destructive and potentially dangerous. It deletes
//! the key material and all metadata associated with the KMS key and is irreversible. After a KMS key is
//! deleted, you can no longer decrypt the data that was encrypted under that KMS key", KMS Developer Guide,
//! "Deleting AWS KMS keys").
//!
//! The checks only record what they read (`Evaluation::keys`: a resource names a key by id, ARN, alias or
//! alias ARN; a key's aliases); no check depends on another. The links:
//! - a key ARN names that key; a key id or an alias names a key of the resource's own account and Region
//!   (the services resolve them there), an alias through the `ListAliases` of that Region;
//! - a multi-Region key (`mrk-` id) is one key in several Regions: a resource that names any of its
//!   replicas depends on the key material too, so it is linked from every Region's copy (KMS Developer
//!   Guide, "Multi-Region keys in AWS KMS": related multi-Region keys share key material and key id).
//!
//! A key whose possible dependents could not all be read (a scope of a check that reads key users that
//! errored, was closed by policy or not run; a resource not evaluable; aliases not read) says where.

use std::collections::{BTreeSet, HashMap};

use crate::check::{self, KeyRole, declare::type_words};
use crate::model::{AccountId, CheckInfo, CoverageStatus, Fingerprint, KeyRefs, KeyUse, Region, Related, ScanReport, Status, Target};

/// The checks whose resources can name a KMS key (each declares it, `KeyRole::Users`), with their resources in
/// words, in registry order.
fn key_users() -> Vec<(&'static CheckInfo, &'static str)> {
    check::ALL
        .iter()
        .filter_map(|c| match c.keys {
            KeyRole::Users(words) => Some((c.info(), words)),
            _ => None,
        })
        .collect()
}

/// "No OpenSearch domain, SageMaker notebook instance or Lambda function": the key users' resources, in words.
fn no_user() -> String {
    let words: Vec<&str> = key_users().into_iter().map(|(_, w)| w).collect();
    match words.split_last() {
        Some((last, [])) => format!("No {last}"),
        Some((last, rest)) => format!("No {} or {last}", rest.join(", ")),
        None => "No resource".to_owned(),
    }
}

/// A key as a use resolves it: account, Region and key id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct KeyAt {
    account: AccountId,
    region: Region,
    key_id: String,
}

/// Resolves what a resource's configuration names to a key; `None` for an alias that is not among the
/// aliases read (not a key pending deletion there, or aliases not read) or an unparsable reference.
fn resolve(u: &KeyUse, aliases: &HashMap<(&AccountId, &Region, &str), &str>) -> Option<KeyAt> {
    let (account, region, resource) = match u.key.strip_prefix("arn:") {
        // arn:PARTITION:kms:REGION:ACCOUNT:key/ID or :alias/NAME
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [_, "kms", region, account, resource] = parts[..] else { return None };
            (account.parse::<AccountId>().ok()?, region.parse::<Region>().ok()?, resource)
        }
        None => (u.target.account.clone(), u.target.region.clone(), u.key.as_str()),
    };
    let key_id = match resource.strip_prefix("key/") {
        Some(id) => id.to_owned(),
        None if resource.starts_with("alias/") => (*aliases.get(&(&account, &region, resource))?).to_owned(),
        None => resource.to_owned(),
    };
    Some(KeyAt { account, region, key_id })
}

/// Links every KMS FAIL of `report` to its dependents among `keys.uses`, in its evidence, message and
/// `related`.
pub(super) fn link(report: &mut ScanReport, keys: &KeyRefs) {
    // The check whose FAILs are keys pending deletion (it declares it, `KeyRole::PendingDeletion`).
    let Some(kms) = check::ALL.iter().find(|c| c.keys == KeyRole::PendingDeletion).map(|c| c.info().id) else {
        return;
    };
    if !report.findings.iter().any(|f| f.check.id == kms && f.status == Status::Fail) {
        return;
    }
    let aliases: HashMap<(&AccountId, &Region, &str), &str> =
        keys.aliases.iter().map(|a| ((&a.target.account, &a.target.region, a.alias.as_str()), a.key_id.as_str())).collect();
    let resolved: Vec<(&KeyUse, KeyAt)> = keys.uses.iter().filter_map(|u| Some((u, resolve(u, &aliases)?))).collect();
    // Indexed once, so each key pending deletion looks at its own account's uses and gaps only.
    let mut by_key: HashMap<(&AccountId, &str), Vec<(&KeyUse, &KeyAt)>> = HashMap::new();
    for (u, k) in &resolved {
        by_key.entry((&k.account, k.key_id.as_str())).or_default().push((u, k));
    }
    let gaps = Gaps::of(report, keys);
    let fingerprints: HashMap<(&str, &Target, &str), Fingerprint> =
        report.findings.iter().map(|f| ((f.check.id, &f.target, f.resource.id.as_str()), f.fingerprint())).collect();
    let mut links: Vec<(usize, Vec<Related>, Vec<String>)> = Vec::new();
    for (i, f) in report.findings.iter().enumerate().filter(|(_, f)| f.check.id == kms && f.status == Status::Fail) {
        let multi_region = f.resource.id.starts_with("mrk-");
        let uses = by_key.get(&(&f.target.account, f.resource.id.as_str())).map_or(&[][..], Vec::as_slice);
        let mut related: Vec<Related> = uses
            .iter()
            .filter(|(_, k)| multi_region || k.region == f.target.region)
            .map(|(u, _)| Related {
                account: u.target.account.clone(),
                region: u.target.region.clone(),
                resource_type: u.resource.resource_type.to_owned(),
                resource_id: u.resource.id.clone(),
                arn: u.resource.arn.clone(),
                check_id: u.check_id.to_owned(),
                finding: fingerprints.get(&(u.check_id, &u.target, u.resource.id.as_str())).map(ToString::to_string),
                purpose: u.purpose.to_owned(),
            })
            .collect();
        related.sort();
        related.dedup();
        links.push((i, related, gaps.near(&f.target, multi_region)));
    }
    for (i, related, unread) in links {
        let f = &mut report.findings[i];
        let mut message = f.message.trim_end().trim_end_matches('.').to_owned();
        if related.is_empty() {
            if unread.is_empty() {
                message.push_str(&format!(". {} of this scan uses it", no_user()));
            }
        } else {
            let names: Vec<String> = related.iter().map(|r| r.describe(type_words(&r.resource_type))).collect();
            message.push_str(&format!(
                ". Used by {} resource(s) of this scan, whose data encrypted under it becomes unrecoverable: {}",
                related.len(),
                names.join("; ")
            ));
        }
        if !unread.is_empty() {
            message.push_str(&format!(". Resources that may use it could not be read: {}", unread.join("; ")));
        }
        f.message = message;
        f.evidence.insert("dependents", related.iter().map(|r| r.arn.clone()).collect::<Vec<_>>().into());
        if !unread.is_empty() {
            f.evidence.insert("dependents_unread", unread.into());
        }
        f.related = related;
    }
}

/// Where resources that could use a key were not read, by account: the key users' scopes not evaluated
/// (with their region, `None` for the whole account), their resources not evaluable, aliases not read; and
/// the key users not run at all.
struct Gaps<'a> {
    not_run: Vec<String>,
    by_account: HashMap<&'a AccountId, Vec<(Option<&'a Region>, String)>>,
}

impl<'a> Gaps<'a> {
    fn of(report: &'a ScanReport, keys: &'a KeyRefs) -> Self {
        let run: BTreeSet<&str> = report.checks.iter().map(|c| c.id).collect();
        let not_run =
            key_users().iter().filter(|(c, _)| !run.contains(c.id)).map(|(c, _)| format!("the {} check was not run", c.id)).collect();
        let users: BTreeSet<&str> = key_users().iter().map(|(c, _)| c.id).collect();
        let mut by_account: HashMap<&AccountId, Vec<(Option<&Region>, String)>> = HashMap::new();
        for c in report.coverage.iter().filter(|c| users.contains(c.check_id)) {
            let why = match &c.status {
                CoverageStatus::Evaluated { .. } => continue,
                CoverageStatus::Error(e) => format!("not evaluated ({})", e.code),
                s => s.skip_reason().unwrap_or_else(|| s.as_str().to_owned()),
            };
            let region = c.region.as_ref().map_or("every region".to_owned(), |r| format!("region {r}"));
            by_account
                .entry(&c.account)
                .or_default()
                .push((c.region.as_ref(), format!("{} in account {}, {region}: {why}", c.check_id, c.account)));
        }
        for n in report.not_evaluable.iter().filter(|n| users.contains(n.check_id)) {
            let text = format!(
                "{} {} in region {} could not be read ({})",
                type_words(n.resource.resource_type),
                n.resource.id,
                n.target.region,
                n.error.code
            );
            by_account.entry(&n.target.account).or_default().push((Some(&n.target.region), text));
        }
        for (t, code) in &keys.alias_errors {
            let text =
                format!("the KMS aliases of region {} were not read ({code}): a resource naming the key by alias is not matched", t.region);
            by_account.entry(&t.account).or_default().push((Some(&t.region), text));
        }
        Self { not_run, by_account }
    }

    /// The gaps that could hide a dependent of a key of `key_target`: in its account and Region (every
    /// Region for a multi-Region key), sorted, without repeats.
    fn near(&self, key_target: &Target, multi_region: bool) -> Vec<String> {
        let here = self.by_account.get(&key_target.account).into_iter().flatten();
        let here = here.filter(|(r, _)| r.is_none_or(|r| multi_region || r == &key_target.region)).map(|(_, t)| t.clone());
        let out: BTreeSet<String> = self.not_run.iter().cloned().chain(here).collect();
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resource;

    fn target(region: &str) -> Target {
        Target::new("123456789012".parse().unwrap(), region.parse().unwrap())
    }

    fn key_use(region: &str, key: &str) -> KeyUse {
        KeyUse {
            check_id: check::lambda::INFO.id,
            target: target(region),
            resource: Resource { resource_type: "AwsLambdaFunction", id: "f".into(), arn: "arn:f".into() },
            key: key.into(),
            purpose: "environment variables",
        }
    }

    #[test]
    fn the_message_of_a_key_nobody_uses_names_the_key_users_resources() {
        assert_eq!(no_user(), "No OpenSearch domain, SageMaker notebook instance or Lambda function");
    }

    #[test]
    fn every_form_of_a_key_reference_resolves() {
        let t = target("eu-west-1");
        let aliases = HashMap::from([((&t.account, &t.region, "alias/app"), "k-1")]);
        let at = |u: &KeyUse| resolve(u, &aliases).map(|k| (k.account.to_string(), k.region.to_string(), k.key_id));
        let want = Some(("123456789012".to_owned(), "eu-west-1".to_owned(), "k-1".to_owned()));
        assert_eq!(at(&key_use("eu-west-1", "k-1")), want);
        assert_eq!(at(&key_use("eu-west-1", "arn:aws:kms:eu-west-1:123456789012:key/k-1")), want);
        assert_eq!(at(&key_use("eu-west-1", "alias/app")), want);
        assert_eq!(at(&key_use("eu-west-1", "arn:aws:kms:eu-west-1:123456789012:alias/app")), want);
        // Another account's key by ARN; an alias of another region is not this one's.
        assert_eq!(at(&key_use("eu-west-1", "arn:aws:kms:eu-west-1:210987654321:key/k-1")).map(|k| k.0), Some("210987654321".into()));
        assert_eq!(at(&key_use("us-east-1", "alias/app")), None);
        assert_eq!(at(&key_use("eu-west-1", "arn:aws:s3:::bucket")), None);
    }
}
