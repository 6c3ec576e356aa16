//! The seam between a check and `orgscan fix`: what a check declares to remedy its own FAILs. Each check
//! says, in its own file or folder, what becomes of a FAIL (`Check::remedy`: the API calls orgscan would
//! make, or the manual steps with the source article's commands filled in) and, when it changes anything
//! itself, its [`Changes`]: the steps with their IAM actions, the re-read right before a step, and the call.
//! `fix/` runs the workflow (plan, trust, journal, apply, rescan) through the registry and names no check.
//!
//! The evidence a fix reads is the evidence its check wrote: both name it through one [`EvidenceKey`]
//! constant of the check, so a renamed key changes the writer and the reader together.

use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{CheckContext, CheckSettings};
use crate::model::{Finding, ScopeError, Service, Target};

/// A key of a finding's evidence that a check writes and its own fix (or summary) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceKey(&'static str);

impl EvidenceKey {
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// The key as the report spells it.
    pub const fn name(self) -> &'static str {
        self.0
    }

    pub fn value(self, f: &Finding) -> Option<&Value> {
        f.evidence.get(self.0)
    }

    pub fn str(self, f: &Finding) -> Option<&str> {
        self.value(f).and_then(Value::as_str)
    }

    /// The key in one object of an evidence array (an aliased version, a served revision).
    pub fn str_in(self, v: &Value) -> Option<&str> {
        v.get(self.0).and_then(Value::as_str)
    }

    /// The array under the key (of the finding's evidence, or of one object in it).
    pub fn array(self, f: &Finding) -> &[Value] {
        self.value(f).and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    pub fn array_in(self, v: &Value) -> &[Value] {
        v.get(self.0).and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }
}

/// A step that a step of the same item must have applied first (by this run or, per the journal, an
/// earlier run of the same plan), and why it is not made otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OnlyAfter {
    pub operation: &'static str,
    pub why_not: &'static str,
}

/// One API call that changes a resource, declared by the check that fixes it. Each is journaled on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step {
    pub service: Service,
    /// The API operation, as the journal and the plan name it (`CancelKeyDeletion`).
    pub operation: &'static str,
    pub only_after: Option<OnlyAfter>,
}

impl Step {
    pub const fn new(service: Service, operation: &'static str) -> Self {
        Self { service, operation, only_after: None }
    }

    /// The API operation, as the journal and the plan name it.
    pub fn as_str(self) -> &'static str {
        self.operation
    }

    pub fn service(self) -> Service {
        self.service
    }

    /// The IAM action of the call.
    pub fn iam_action(self) -> String {
        format!("{}:{}", self.service.iam_prefix(), self.operation)
    }
}

/// `--enable-keys` and `--allow-blue-green`: what the operator allows beyond the safe fixes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub enable_keys: bool,
    pub allow_blue_green: bool,
}

/// What becomes of one FAIL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// orgscan makes these calls, in this order, each after reading the resource again.
    Change { steps: Vec<Step>, notes: Vec<String> },
    /// Never automatic: why, and the commands to run by hand.
    Manual { why: String, commands: Vec<String> },
}

/// What a check's plan of one FAIL may use.
pub struct PlanInput<'a> {
    pub options: Options,
    pub settings: &'a CheckSettings,
    /// The date the plan is made (e.g. the runtime supported longest from today).
    pub today: NaiveDate,
}

/// The remedy of a check that has no fix of its own: its `remediation_cli`, by hand.
pub fn no_fix(f: &Finding, _: &PlanInput<'_>) -> Remedy {
    Remedy::Manual { why: "orgscan has no fix for this check".to_owned(), commands: vec![f.check.remediation_cli.to_owned()] }
}

/// Notes of a change, as owned strings.
pub fn notes(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| (*s).to_owned()).collect()
}

/// The resource as read right before a step.
pub struct Probe {
    /// For the journal (`state_before` / `state_after`).
    pub state: Value,
    pub verdict: Verdict,
    /// The resource as AWS named it in the read (its ARN): what the journal records, never the report's word.
    pub arn: String,
    /// What the call names, as read (an id or a name).
    pub id: String,
}

pub enum Verdict {
    /// The step is due: make the call.
    Due,
    /// What the step would achieve holds already (the resource no longer fails): nothing to call.
    Reached(String),
    /// It cannot be changed automatically now (gone, changed since the plan, ...): nothing to call.
    Blocked(String),
}

/// A check's re-read of a finding's resource right before a step.
pub type ProbeFn = for<'a> fn(&'a CheckContext, &'a Finding, Step) -> BoxFuture<'a, Result<Probe, ScopeError>>;

/// A check's call of a step on the resource as its probe read it.
pub type CallFn = for<'a> fn(&'a CheckContext, &'a Finding, Step, &'a Probe) -> BoxFuture<'a, Result<(), ScopeError>>;

/// What a check that changes resources itself declares: its steps, the IAM actions of its calls and of the
/// reads before them, the re-read and the call of each step.
pub struct Changes {
    /// Every step its plans may name.
    pub steps: &'static [Step],
    /// Exactly the IAM actions of the calls and of the reads before them (the remediation role grants the
    /// union of every check's).
    pub iam_actions: &'static [&'static str],
    /// The service-linked roles the service creates with the caller's permission on the first change in an
    /// account: the remediation role needs `iam:CreateServiceLinkedRole` for them, a call orgscan does not make.
    pub service_linked_roles: &'static [ServiceLinkedRole],
    /// Reads the resource of the finding again, as the step needs it, with the check's own code, in the
    /// finding's account and region (`cx` holds that account's credentials).
    pub probe: ProbeFn,
    /// Makes the call of the step on the resource as the probe just read it (never on the report's word).
    /// The caller holds the service's rate-limit permit.
    pub call: CallFn,
    /// The rescan reports the fixed resource under another id (a region-level FAIL becomes the new
    /// resource's finding): the scope's one finding of the check stands for it.
    pub rescan_by_scope: bool,
}

/// A service-linked role a service creates on a change, with the caller's permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLinkedRole {
    /// The statement's id in the remediation policy.
    pub sid: &'static str,
    /// `guardduty.amazonaws.com`.
    pub service_principal: &'static str,
    /// `AWSServiceRoleForAmazonGuardDuty`.
    pub role_name: &'static str,
}

impl ServiceLinkedRole {
    /// The IAM action that creates it.
    pub const IAM_ACTION: &'static str = "iam:CreateServiceLinkedRole";
}

/// Whether `arn` (as AWS answered it) is in the account and region of `target`: a report could name a
/// resource by the ARN of another account's, which a read may answer when that resource's policy allows it
/// (e.g. "To specify a KMS key in a different Amazon Web Services account, you must use the key ARN or alias
/// ARN", KMS API Reference, DescribeKey, `KeyId`). ARN format: `arn:partition:service:region:account-id:resource`
/// (IAM User Guide, "Identify AWS resources with Amazon Resource Names (ARNs)").
pub fn in_scope(arn: &str, target: &Target) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    !resource.is_empty() && partition == target.partition.as_str() && region == target.region.as_str() && account == target.account.as_str()
}

/// The verdict on a resource read in another account or region than the finding's: never changed.
pub fn elsewhere(arn: &str, finding: &Finding) -> Verdict {
    Verdict::Blocked(format!("AWS answered with {arn}, which is not in {} (the finding's account and region): not changed", finding.target))
}

/// A resource that is no longer there: nothing was read, so the journal names what the report named, and
/// nothing is called.
pub fn gone(finding: &Finding, why: &str) -> Probe {
    Probe {
        state: json!({"exists": false}),
        verdict: Verdict::Blocked(why.to_owned()),
        arn: finding.resource.arn.clone(),
        id: String::new(),
    }
}

/// A value for a shell command: as it is when it holds only characters no shell treats specially, else in
/// single quotes (a report file could be edited: what it holds is never run, but may be copied into a shell).
pub fn sh(value: &str) -> String {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=,".contains(&b));
    if plain { value.to_owned() } else { format!("'{}'", value.replace('\'', r"'\''")) }
}

/// A name for the replacement of `name`: `<name><suffix>`, cut to `max` characters (AWS's limit for the name).
pub fn replacement(name: &str, suffix: &str, max: usize) -> String {
    let keep = max.saturating_sub(suffix.len());
    format!("{}{suffix}", name.chars().take(keep).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_shell_characters_are_quoted() {
        for (value, quoted) in [
            ("fn-deprecated", "fn-deprecated"),
            ("arn:aws:kms:eu-west-1:1:key/x", "arn:aws:kms:eu-west-1:1:key/x"),
            ("a b", "'a b'"),
            ("x;rm -rf /", "'x;rm -rf /'"),
            ("it's", r"'it'\''s'"),
            ("", "''"),
        ] {
            assert_eq!(sh(value), quoted, "{value}");
        }
    }

    #[test]
    fn replacement_names_fit_the_limit() {
        assert_eq!(replacement("os-plain", "-enc", 28), "os-plain-enc");
        assert_eq!(replacement(&"d".repeat(28), "-enc", 28).len(), 28);
    }

    #[test]
    fn a_resource_read_is_in_scope_only_in_the_finding_s_partition_account_and_region() {
        let t = Target::new("111111111111".parse().unwrap(), "eu-west-1".parse().unwrap());
        assert!(in_scope("arn:aws:kms:eu-west-1:111111111111:key/k", &t));
        assert!(in_scope("arn:aws:es:eu-west-1:111111111111:domain/d", &t));
        for elsewhere in [
            "arn:aws:kms:eu-west-1:999999999999:key/k",
            "arn:aws:kms:us-east-1:111111111111:key/k",
            "arn:aws-cn:kms:eu-west-1:111111111111:key/k",
            "arn:aws:kms:eu-west-1:111111111111",
            "k",
            "",
        ] {
            assert!(!in_scope(elsewhere, &t), "{elsewhere}");
        }
    }
}
