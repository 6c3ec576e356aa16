//! No customer-managed KMS key is pending deletion (Security Hub KMS.3).
//!
//! A deleted key cannot be recovered, and neither can the data encrypted under it; the waiting period
//! (7 to 30 days) is the only chance to cancel. <https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html>

use aws_sdk_securityhub::types as sh;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_with::skip_serializing_none;

use super::remedy::{Changes, OnlyAfter, PlanInput, Probe, Remedy, Step, Verdict, elsewhere, gone, in_scope, notes};
use super::{Check, CheckContext, Described, Fill, KeyRole, ResourceKind, Evaluation, Tags, collect_findings, describe_each, resource_level, with_fail_tags};
use crate::aws::limits::Gate;
use crate::model::{AsffDetails, CheckInfo, Finding, KeyAlias, Rate, Resource, ScopeError, Service, Severity, Status, Target};

pub static INFO: &CheckInfo = &CheckInfo {
    id: "kms-key-not-pending-deletion",
    title: "KMS keys are not pending deletion",
    severity: Severity::Critical,
    service: Service::Kms,
    // ListKeys 500/s and DescribeKey 2,000/s per account and region (KMS quotas), shared with the account's
    // cryptographic workloads' management calls.
    rate: Rate::new(100, 100),
    // kms:ListResourceTags is called only with `read_tags` (suppression rules on tags), and only for FAILs;
    // declared with the others so the shipped policies grant it (Service Authorization Reference, "Actions
    // defined by AWS Key Management Service"; a key policy must allow it too, as for DescribeKey).
    // kms:ListAliases only in a region with a key pending deletion: the scan matches resources that name the
    // key by an alias (`scan::dependents`). It is an IAM-only permission, not governed by key policies
    // (KMS Developer Guide, "ListAliases").
    iam_actions: &["kms:ListKeys", "kms:DescribeKey", "kms:ListAliases", "kms:ListResourceTags"],
    security_hub_controls: &["KMS.3"],
    resource_types: &[KEY_TYPE],
    description: "Once a KMS key is deleted it cannot be recovered, and data encrypted under it becomes \
        permanently unrecoverable. A key scheduled for deletion by mistake can be saved only during its \
        waiting period (7 to 30 days).",
    remediation: "If the deletion was not intended, cancel it and re-enable the key. If it was, make sure no \
        data still depends on the key (decrypt or re-encrypt it under another key) before the deletion date.",
    remediation_cli: "aws kms cancel-key-deletion --region REGION --key-id KEY_ID\naws kms enable-key --region REGION --key-id KEY_ID",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/kms-controls.html#kms-3",
};

/// The fields of `DescribeKey` this check reads.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub key_id: String,
    pub arn: String,
    /// `CUSTOMER` or `AWS`.
    pub manager: Option<String>,
    pub state: String,
    pub deletion_date: Option<DateTime<Utc>>,
    pub pending_window_days: Option<i32>,
}

/// ASFF `Resources[].Details.AwsKmsKey`: the fields this check read.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsKmsKeyDetails {
    pub key_id: String,
    pub key_state: Option<String>,
    pub key_manager: Option<String>,
}

impl AsffDetails for AwsKmsKeyDetails {
    const KEY: &'static str = "AwsKmsKey";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let key = sh::AwsKmsKeyDetails::builder()
            .key_id(&self.key_id)
            .set_key_state(self.key_state.clone())
            .set_key_manager(self.key_manager.clone())
            .build();
        sh::ResourceDetails::builder().aws_kms_key(key).build()
    }
}

/// The key states this check fails (`orgscan fix` cancels the deletion of keys in them).
pub const PENDING_STATES: &[&str] = &["PendingDeletion", "PendingReplicaDeletion"];

/// Pure evaluation: customer-managed keys only; pending (replica) deletion fails, every other state passes.
pub fn evaluate(target: &Target, keys: &[KeyInfo], now: DateTime<Utc>) -> Result<Evaluation, ScopeError> {
    let findings = keys.iter().filter(|k| k.manager.as_deref() == Some("CUSTOMER")).map(|k| {
        let b = Finding::builder(INFO, target)
            .resource(KEY_TYPE, &k.key_id, &k.arn)
            .evidence("key_state", k.state.as_str())
            .evidence("key_manager", "CUSTOMER")
            .details(AwsKmsKeyDetails {
                key_id: k.key_id.clone(),
                key_state: Some(k.state.clone()),
                key_manager: Some("CUSTOMER".to_owned()),
            });
        if PENDING_STATES.contains(&k.state.as_str()) {
            let when = match k.deletion_date {
                Some(d) => {
                    // Whole days, rounded up: a key due in 6 days and 23 hours has "7 days left".
                    let days = ((d - now).num_seconds().max(0) + 86_399) / 86_400;
                    format!(" on {} ({days} days left)", d.format("%Y-%m-%d"))
                }
                None => String::new(),
            };
            let b = match k.deletion_date {
                Some(d) => b.evidence("deletion_date", d.to_rfc3339()),
                None => b,
            };
            b.fail(format!(
                "KMS key {} is {} and will be deleted{when}; cancel with `aws kms cancel-key-deletion --key-id {}` if this was not intended",
                k.key_id, k.state, k.key_id
            ))
        } else {
            b.pass(format!("KMS key {} is {}, not pending deletion", k.key_id, k.state))
        }
        .build()
    });
    Ok(Evaluation::of(collect_findings(findings)?))
}

/// Describes keys a few at a time: one target's keys are independent calls.
const DESCRIBE_PARALLELISM: usize = 8;

async fn collect(cx: &CheckContext) -> Result<(Vec<KeyInfo>, Vec<(Resource, ScopeError)>), ScopeError> {
    let kms = cx.clients.kms();
    let gate = cx.gate(Service::Kms);
    let mut listed = Vec::new();
    gate.pages("ListKeys", kms.list_keys().into_paginator().send(), |page| {
        listed.extend(page.keys().iter().filter_map(|k| Some((k.key_id()?.to_owned(), k.key_arn().map(str::to_owned)))));
    })
    .await?;
    describe_each(listed, DESCRIBE_PARALLELISM, |(id, listed_arn)| describe(&kms, gate, &cx.target, id, listed_arn)).await
}

/// One key's `DescribeKey`, under a permit of `gate`.
async fn describe(
    kms: &aws_sdk_kms::Client,
    gate: Gate<'_>,
    target: &Target,
    id: String,
    listed_arn: Option<String>,
) -> Result<Described<KeyInfo>, ScopeError> {
    let arn = listed_arn.unwrap_or_else(|| format!("arn:{}:kms:{}:{}:key/{id}", target.partition, target.region, target.account));
    let out = match gate.call(kms.describe_key().key_id(&id).send()).await {
        Ok(out) => out,
        // Deleted between ListKeys and DescribeKey (its waiting period ended): nothing to evaluate.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found_exception()) => return Ok(Described::Gone),
        Err(e) => {
            // ListKeys lists keys whose key policy does not let the caller describe them ("Unless the
            // key policy explicitly allows it, you cannot use IAM policies to allow access to a KMS
            // key", KMS Developer Guide, "Key policies"): such a key is not evaluable, the others are.
            let err = ScopeError::from_sdk("DescribeKey", &e);
            if resource_level(&err) {
                return Ok(Described::Unreadable(Resource { resource_type: KEY_TYPE, id, arn }, err));
            }
            return Err(err);
        }
    };
    let m = out.key_metadata().ok_or_else(|| ScopeError::new("ResponseError", format!("DescribeKey {id}: no KeyMetadata")))?;
    // AWS always returns both; a key whose state or manager is unknown cannot be judged either way.
    let (Some(state), Some(manager)) = (m.key_state(), m.key_manager()) else {
        return Err(ScopeError::new("ResponseError", format!("DescribeKey {id}: KeyState or KeyManager missing")));
    };
    Ok(Described::Found(KeyInfo {
        key_id: m.key_id().to_owned(),
        arn: m.arn().map(str::to_owned).unwrap_or(arn),
        manager: Some(manager.as_str().to_owned()),
        state: state.as_str().to_owned(),
        deletion_date: m.deletion_date().and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
        pending_window_days: m.pending_deletion_window_in_days(),
    }))
}

/// One key read again (`orgscan fix` does so right before it changes the key): `None` when it no longer
/// exists; a key that cannot be read is an error.
pub async fn describe_key(cx: &CheckContext, key_id: &str) -> Result<Option<KeyInfo>, ScopeError> {
    match describe(&cx.clients.kms(), cx.gate(Service::Kms), &cx.target, key_id.to_owned(), None).await? {
        Described::Found(k) => Ok(Some(k)),
        Described::Gone => Ok(None),
        Described::Unreadable(_, e) => Err(e),
    }
}

/// The tags of one key: `ListResourceTags` (KeyId; `TagKey`/`TagValue`, at most 50 a page, `Truncated` and
/// `NextMarker` page on). <https://docs.aws.amazon.com/kms/latest/APIReference/API_ListResourceTags.html>
async fn read_tags(cx: &CheckContext, key: Resource) -> Result<Tags, ScopeError> {
    let mut tags = std::collections::BTreeMap::new();
    let pages = cx.clients.kms().list_resource_tags().key_id(&key.id).into_paginator().send();
    cx.gate(Service::Kms)
        .pages("ListResourceTags", pages, |page| {
            tags.extend(page.tags().iter().map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())));
        })
        .await?;
    Ok(Some(tags))
}

/// The aliases of the keys pending deletion in this target (`ListAliases`, paginated; `TargetKeyId` is the
/// key id), into the evaluation's key references and each such key's evidence. An alias read that fails
/// leaves the verdicts as they are and is recorded, so the dependents' step says uses by alias were not matched.
/// <https://docs.aws.amazon.com/kms/latest/APIReference/API_ListAliases.html>
async fn read_aliases(cx: &CheckContext, evaluation: &mut Evaluation) -> Result<(), ScopeError> {
    let mut aliases: Vec<(String, String)> = Vec::new();
    let pages = cx.clients.kms().list_aliases().into_paginator().send();
    let read = cx
        .gate(Service::Kms)
        .pages("ListAliases", pages, |page| {
            aliases.extend(page.aliases().iter().filter_map(|a| Some((a.alias_name()?.to_owned(), a.target_key_id()?.to_owned()))));
        })
        .await;
    match read {
        Ok(()) => {}
        Err(e) if resource_level(&e) => {
            tracing::warn!(target = %cx.target, code = %e.code, "KMS aliases not read: resources that name a key pending deletion by alias are not matched: {e}");
            evaluation.notes.push(format!(
                "region {}: the KMS aliases were not read ({}), so a resource that names a key pending deletion by an alias is not linked to it",
                cx.target.region, e.code
            ));
            evaluation.keys.alias_errors.push((cx.target.clone(), e.code));
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    for f in evaluation.findings.iter_mut().filter(|f| f.status == Status::Fail) {
        let mut names: Vec<&str> = aliases.iter().filter(|(_, k)| *k == f.resource.id).map(|(a, _)| a.as_str()).collect();
        names.sort_unstable();
        f.evidence.insert("aliases", names.into());
    }
    let pending: std::collections::HashSet<&str> =
        evaluation.findings.iter().filter(|f| f.status == Status::Fail).map(|f| f.resource.id.as_str()).collect();
    let mine = aliases.iter().filter(|(_, k)| pending.contains(k.as_str()));
    let mine: Vec<KeyAlias> = mine.map(|(alias, key_id)| KeyAlias { target: cx.target.clone(), alias: alias.clone(), key_id: key_id.clone() }).collect();
    evaluation.keys.aliases.extend(mine);
    Ok(())
}

/// The check, as the registry lists it.
pub static CHECK: Check =
    Check { changes: Some(&CHANGES), keys: KeyRole::PendingDeletion, ..Check::new(INFO, run, remedy, &[KEY_KIND]) };

/// The ASFF type of a KMS key.
pub const KEY_TYPE: &str = "AwsKmsKey";

/// A KMS key, as the outputs show it (another check on keys declares this same kind).
pub const KEY_KIND: ResourceKind = ResourceKind::listed(KEY_TYPE, "KMS key", |region, id| format!("kms/home?region={region}#/kms/keys/{id}"), ("KEY_ID", Fill::Everywhere));

/// KMS `CancelKeyDeletion`: "When this operation succeeds, the key state of the KMS key is Disabled. To
/// enable the KMS key, use EnableKey" (KMS API Reference, CancelKeyDeletion).
pub const CANCEL_KEY_DELETION: Step = Step::new(Service::Kms, "CancelKeyDeletion");

/// KMS `EnableKey` ("Sets the key state of a KMS key to enabled", KMS API Reference, EnableKey), only after
/// orgscan cancelled the key's deletion (never a key someone disabled on purpose), and only with
/// `--enable-keys`.
pub const ENABLE_KEY: Step = Step {
    only_after: Some(OnlyAfter {
        operation: CANCEL_KEY_DELETION.operation,
        why_not: "orgscan did not cancel this key's deletion, so it does not enable it",
    }),
    ..Step::new(Service::Kms, "EnableKey")
};

/// `orgscan fix` cancels the deletion (the key is then Disabled), and enables the key with `--enable-keys`.
static CHANGES: Changes = Changes {
    steps: &[CANCEL_KEY_DELETION, ENABLE_KEY],
    iam_actions: &["kms:CancelKeyDeletion", "kms:DescribeKey", "kms:EnableKey"],
    service_linked_roles: &[],
    probe,
    call,
    rescan_by_scope: false,
};

fn remedy(_: &Finding, input: &PlanInput<'_>) -> Remedy {
    let mut steps = vec![CANCEL_KEY_DELETION];
    let mut text =
        vec!["after CancelKeyDeletion a key is Disabled, not usable: what is encrypted under it stays unreadable until it is enabled"];
    if input.options.enable_keys {
        steps.push(ENABLE_KEY);
    } else {
        text.push(
            "without --enable-keys the key stays Disabled; once you know it should be usable: aws kms enable-key --region REGION --key-id KEY_ID",
        );
    }
    Remedy::Change { steps, notes: notes(&text) }
}

/// The key read again right before `step`.
fn probe<'a>(cx: &'a CheckContext, finding: &'a Finding, step: Step) -> BoxFuture<'a, Result<Probe, ScopeError>> {
    Box::pin(reread(cx, finding, step))
}

async fn reread(cx: &CheckContext, finding: &Finding, step: Step) -> Result<Probe, ScopeError> {
    let Some(k) = describe_key(cx, &finding.resource.id).await? else {
        return Ok(gone(finding, "the key no longer exists"));
    };
    let state = serde_json::json!({"key_state": k.state, "deletion_date": k.deletion_date.map(|d| d.to_rfc3339())});
    if !in_scope(&k.arn, &finding.target) {
        return Ok(Probe { state, verdict: elsewhere(&k.arn, finding), id: k.key_id, arn: k.arn });
    }
    let pending = PENDING_STATES.contains(&k.state.as_str());
    let verdict = match (step == CANCEL_KEY_DELETION, k.state.as_str()) {
        (true, _) if pending => Verdict::Due,
        (true, s) => Verdict::Reached(format!("the key is {s}, no longer pending deletion")),
        (_, "Disabled") => Verdict::Due,
        (_, "Enabled") => Verdict::Reached("the key is Enabled already".into()),
        (_, s) => Verdict::Blocked(format!("the key is {s}, not Disabled")),
    };
    // The key id KMS answered for the key it found in this account (its ARN is checked above).
    Ok(Probe { state, verdict, id: k.key_id, arn: k.arn })
}

/// The call of `step` on the key as `read` just read it.
fn call<'a>(cx: &'a CheckContext, _: &'a Finding, step: Step, read: &'a Probe) -> BoxFuture<'a, Result<(), ScopeError>> {
    Box::pin(async move {
        let (kms, id, op) = (cx.clients.kms(), read.id.as_str(), step.as_str());
        if step == CANCEL_KEY_DELETION {
            kms.cancel_key_deletion().key_id(id).send().await.map(drop).map_err(|e| ScopeError::from_sdk(op, &e))
        } else {
            kms.enable_key().key_id(id).send().await.map(drop).map_err(|e| ScopeError::from_sdk(op, &e))
        }
    })
}

fn run(cx: &CheckContext) -> BoxFuture<'_, Result<Evaluation, ScopeError>> {
    Box::pin(async move {
        let (keys, unreadable) = collect(cx).await?;
        let mut evaluation = evaluate(&cx.target, &keys, cx.scan_time)?.with_unreadable(INFO, &cx.target, unreadable);
        if cx.settings.deep && evaluation.findings.iter().any(|f| f.status == Status::Fail) {
            read_aliases(cx, &mut evaluation).await?;
        }
        with_fail_tags(cx, evaluation, DESCRIBE_PARALLELISM, |key| read_tags(cx, key)).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, manager: &str, state: &str, deletion: Option<&str>) -> KeyInfo {
        KeyInfo {
            key_id: id.into(),
            arn: format!("arn:aws:kms:eu-west-1:123456789012:key/{id}"),
            manager: Some(manager.into()),
            state: state.into(),
            deletion_date: deletion.map(|d| DateTime::parse_from_rfc3339(d).unwrap().to_utc()),
            pending_window_days: None,
        }
    }

    fn target() -> Target {
        Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
    }

    #[test]
    fn pending_deletion_of_a_customer_key_fails_with_date_and_days_left() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z").unwrap().to_utc();
        let keys = [
            key("k-pending", "CUSTOMER", "PendingDeletion", Some("2026-12-04T23:00:00Z")),
            key("k-replica", "CUSTOMER", "PendingReplicaDeletion", None),
            key("k-enabled", "CUSTOMER", "Enabled", None),
            key("k-disabled", "CUSTOMER", "Disabled", None),
            key("k-aws", "AWS", "PendingDeletion", Some("2026-12-05T12:00:00Z")),
        ];
        let e = evaluate(&target(), &keys, now).unwrap();
        let got: Vec<_> = e.findings.iter().map(|f| (f.resource.id.as_str(), f.status)).collect();
        assert_eq!(
            got,
            [("k-pending", Status::Fail), ("k-replica", Status::Fail), ("k-enabled", Status::Pass), ("k-disabled", Status::Pass)]
        );
        let m = &e.findings[0].message;
        assert!(m.contains("on 2026-12-04 (7 days left)") && m.contains("cancel-key-deletion --key-id k-pending"), "{m}");
        assert_eq!(e.findings[0].resource.arn, "arn:aws:kms:eu-west-1:123456789012:key/k-pending");
    }

    #[test]
    fn a_key_past_its_date_shows_zero_days_not_negative() {
        let now = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z").unwrap().to_utc();
        let e = evaluate(&target(), &[key("k", "CUSTOMER", "PendingDeletion", Some("2026-12-05T00:00:00Z"))], now).unwrap();
        assert!(e.findings[0].message.contains("(0 days left)"));
    }

    #[test]
    fn a_key_without_a_manager_is_not_reported() {
        let mut k = key("k", "CUSTOMER", "PendingDeletion", None);
        k.manager = None;
        assert!(evaluate(&target(), &[k], Utc::now()).unwrap().findings.is_empty());
    }
}
