//! The `Check` type, what a check may use for one target, and the registry.
//!
//! A check is one file (or folder) that declares everything about itself: its metadata (`CheckInfo`:
//! service, request budget, IAM actions, resource types, remediation), its collection with the SDK, a pure
//! `evaluate` over plain data, its ASFF resource details as a typed struct, and in `CHECK` what the other
//! layers need of it: its resource kinds, its KMS key role, its organization-level read and summary lines
//! ([`declare`]), and its fix ([`remedy`]). Everything else (rate limits, the IAM policies, `orgscan checks`,
//! `orgscan fix`, SARIF rules, docs) is derived from the registry below, and no module outside this one
//! names a check (tests/integration/architecture.rs). Walking accounts, limiting, credentials, rendering and
//! importing live elsewhere.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};

use crate::aws::Clients;
use crate::aws::limits::{Gate, Limits};
use crate::model::{CheckInfo, Finding, FindingError, KeyRefs, KeyUse, NotEvaluable, Rate, Resource, ScopeError, Service, Status, Target};

/// Per-check settings that come from the user (loaded once, shared by every target).
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub lambda_runtimes: Arc<lambda::RuntimeTable>,
    /// `--lambda-warn-days`: a runtime deprecated within this many days of the scan date is a WARNING.
    pub lambda_warn_days: u32,
    /// The follow-up reads (`--shallow` turns them off): the published versions Lambda aliases route to, the
    /// KMS aliases and key dependents, who administers GuardDuty.
    pub deep: bool,
    /// The delegated administrators the checks' organization-level reads found (read by the walker, see
    /// [`DelegatedAdmins`]), by service principal: a principal is absent when they were not read
    /// (`--accounts`, `--this-account`, `--shallow`, or the read failed).
    pub delegated_admins: Arc<BTreeMap<&'static str, std::collections::BTreeSet<crate::model::AccountId>>>,
    /// Read the tags of every FAIL resource (a suppression rule matches on tags); off by default, as it
    /// costs a call per failing resource in most services.
    pub read_tags: bool,
}

impl CheckSettings {
    /// The settings of a scan before the walk (which adds `delegated_admins`).
    pub fn new(lambda_runtimes: lambda::RuntimeTable, lambda_warn_days: u32, deep: bool, read_tags: bool) -> Self {
        Self { lambda_runtimes: Arc::new(lambda_runtimes), lambda_warn_days, deep, delegated_admins: Arc::default(), read_tags }
    }

    /// The settings as the user gave them (`--lambda-runtimes`, `--lambda-warn-days`, `deep` unless
    /// `--shallow`), each checked by the check that owns it: the error names the bad value and what is allowed.
    pub fn load(lambda_runtimes: Option<&std::path::Path>, lambda_warn_days: Option<u32>, deep: bool) -> Result<Self, String> {
        let table = match lambda_runtimes {
            Some(p) => lambda::RuntimeTable::from_path(p)?,
            None => lambda::RuntimeTable::bundled()?,
        };
        Ok(Self::new(table, lambda::warn_days(lambda_warn_days)?, deep, false))
    }

    /// The delegated administrators of `service_principal`, when they were read.
    pub fn delegated_admins(&self, service_principal: &str) -> Option<&std::collections::BTreeSet<crate::model::AccountId>> {
        self.delegated_admins.get(service_principal)
    }
}

/// Everything a check may use for one target.
pub struct CheckContext {
    pub target: Target,
    pub clients: Clients,
    pub limits: Arc<Limits>,
    /// The instant the scan started: date-dependent checks evaluate against it, so one run is consistent.
    pub scan_time: DateTime<Utc>,
    pub settings: CheckSettings,
}

impl CheckContext {
    /// The rate limit and concurrency caps of this target's account, region and `service`: take a permit
    /// before every request and hold it until the response is in (`Gate::pages` does so for every page).
    pub fn gate(&self, service: Service) -> Gate<'_> {
        self.limits.gate(service, &self.target)
    }
}

/// The result of running one check on one target.
#[derive(Debug, Default, PartialEq)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    /// Resources seen but out of the check's scope (e.g. image-packaged Lambda functions).
    pub not_applicable: usize,
    /// Resources listed whose read was denied or failed: reported, never evaluated.
    pub not_evaluable: Vec<NotEvaluable>,
    /// The KMS keys the resources read name in their configuration, and key aliases: the scan links a key
    /// pending deletion to its dependents from these (`scan::dependents`).
    pub keys: KeyRefs,
    /// What could not be read that does not change a verdict (e.g. who administers a detector): the
    /// report's notes for the target's account.
    pub notes: Vec<String>,
}

impl Evaluation {
    /// The findings of a scope, with nothing else to say.
    pub fn of(findings: Vec<Finding>) -> Self {
        Self { findings, ..Self::default() }
    }

    /// Adds the resources of this check that could not be read.
    pub fn with_unreadable(mut self, info: &'static CheckInfo, target: &Target, unreadable: Vec<(Resource, ScopeError)>) -> Self {
        self.not_evaluable.extend(unreadable.into_iter().map(|(resource, error)| NotEvaluable {
            check_id: info.id,
            target: target.clone(),
            resource,
            error,
        }));
        self
    }

    /// Records that `resource` names `key` (an id, ARN or alias, as configured) to protect `purpose`.
    pub fn with_key_use(
        mut self,
        info: &'static CheckInfo,
        target: &Target,
        resource: &Resource,
        key: &str,
        purpose: &'static str,
    ) -> Self {
        if !key.trim().is_empty() {
            self.keys.uses.push(KeyUse {
                check_id: info.id,
                target: target.clone(),
                resource: resource.clone(),
                key: key.to_owned(),
                purpose,
            });
        }
        self
    }
}

/// What one per-resource read found.
pub(crate) enum Described<O> {
    Found(O),
    /// Deleted since it was listed: nothing to evaluate.
    Gone,
    /// Listed, but its read was denied or failed: not evaluable, the rest of the scope still is.
    Unreadable(Resource, ScopeError),
}

/// Whether a failed per-resource read leaves only that resource unread. An expired session fails the
/// whole scope instead, so that it is renewed and the scope run again.
pub(crate) fn resource_level(e: &ScopeError) -> bool {
    !e.is_expired_token()
}

/// How a check collects and evaluates one target: [`Check::run`].
pub type RunFn = for<'a> fn(&'a CheckContext) -> BoxFuture<'a, Result<Evaluation, ScopeError>>;
/// What a check says about the scan as a whole: [`Check::notes`].
pub type NotesFn = fn(&CheckSettings, DateTime<Utc>, &[Finding]) -> Vec<String>;
/// What `orgscan fix` does with a check's FAIL: [`Check::remedy`].
pub type RemedyFn = fn(&Finding, &PlanInput<'_>) -> Remedy;

/// A check: what it declares about itself, and how it runs on one target (collect with the SDK, then a
/// pure `evaluate`). Each check file holds one, as `CHECK`.
pub struct Check {
    pub info: &'static CheckInfo,
    /// Collects and evaluates. An error covers the whole (check, target) scope: no finding of a scope that
    /// errored is reported, so a partial read never passes.
    pub run: RunFn,
    /// What the check has to say about the scan as a whole once every scope ran (the report's notes), e.g.
    /// that its data is stale: [`no_notes`] for most.
    pub notes: NotesFn,
    /// What `orgscan fix` does with one of its FAILs: the calls, or the manual steps ([`remedy::no_fix`]:
    /// the check's `remediation_cli`, by hand).
    pub remedy: RemedyFn,
    /// The changes orgscan makes itself, when `remedy` names any steps.
    pub changes: Option<&'static Changes>,
    /// The kinds of resource it reports, one per `CheckInfo::resource_types` entry, in that order.
    pub resources: &'static [ResourceKind],
    /// What its resources are to the KMS key dependents.
    pub keys: KeyRole,
    /// The organization-level read it needs before the scan, if any.
    pub delegated_admins: Option<&'static DelegatedAdmins>,
    /// The lines it adds to the text summary (each printed after a blank line), from the report's findings;
    /// the function shortens a list to the summary's width. [`declare::no_summary`] for most.
    pub summary: declare::SummaryFn,
    /// The evidence key of the date a WARNING of this check becomes a FAIL (the summary lists the soonest
    /// first), for a check that warns.
    pub due_date: Option<EvidenceKey>,
}

/// A check without notes of its own.
pub fn no_notes(_: &CheckSettings, _: DateTime<Utc>, _: &[Finding]) -> Vec<String> {
    Vec::new()
}

impl Check {
    /// A check with what most checks have: no notes or summary lines of its own, no changes orgscan makes
    /// itself, no role towards KMS keys, no organization-level read and no due date. A check that has any of
    /// them names it and takes the rest from here (`Check { keys: ..., ..Check::new(...) }`).
    pub const fn new(info: &'static CheckInfo, run: RunFn, remedy: RemedyFn, resources: &'static [ResourceKind]) -> Self {
        Check {
            info,
            run,
            notes: no_notes,
            remedy,
            changes: None,
            resources,
            keys: KeyRole::None,
            delegated_admins: None,
            summary: no_summary,
            due_date: None,
        }
    }

    pub fn info(&self) -> &'static CheckInfo {
        self.info
    }

    pub fn run<'a>(&self, cx: &'a CheckContext) -> BoxFuture<'a, Result<Evaluation, ScopeError>> {
        (self.run)(cx)
    }
}

/// Declares each check's module and lists its `CHECK` in `ALL`, in this order.
macro_rules! registry {
    ($($check:ident,)*) => {
        $(pub mod $check;)*
        /// The registry, in the order checks are listed and run.
        pub static ALL: &[&Check] = &[$(&$check::CHECK),*];
    };
}

pub mod declare;
pub mod remedy;

pub use self::declare::{DelegatedAdmins, Fill, KeyRole, ResourceKind, no_summary};
pub use self::remedy::{Changes, EvidenceKey, PlanInput, Remedy, Step};

// The registry: one line per check.
registry! {
    opensearch,
    sagemaker,
    lambda,
    kms,
    guardduty,
}

pub fn ids() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|c| c.info().id)
}

/// The registered check of `id`.
pub fn by_id(id: &str) -> Option<&'static Check> {
    ALL.iter().copied().find(|c| c.info().id == id)
}

/// Every step a fix may make, in registry order.
pub fn fix_steps() -> Vec<Step> {
    ALL.iter().filter_map(|c| c.changes).flat_map(|c| c.steps.iter().copied()).collect()
}

/// Every IAM action of the fixes' calls and of the reads before them, sorted: what the remediation role grants.
pub fn fix_iam_actions() -> Vec<&'static str> {
    sorted(ALL.iter().filter_map(|c| c.changes).flat_map(|c| c.iam_actions.iter().copied()))
}

/// The service-linked roles the fixes' changes make services create, in registry order.
pub fn fix_service_linked_roles() -> Vec<&'static remedy::ServiceLinkedRole> {
    ALL.iter().filter_map(|c| c.changes).flat_map(|c| c.service_linked_roles.iter()).collect()
}

/// The actions the remediation role needs that orgscan does not call itself, sorted.
pub fn fix_implied_iam_actions() -> Vec<&'static str> {
    sorted(fix_service_linked_roles().into_iter().map(|_| remedy::ServiceLinkedRole::IAM_ACTION))
}

fn sorted(actions: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = actions.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Resolves user-given check ids; the error names the bad id and lists the valid ones.
pub fn select(ids_wanted: &[String]) -> Result<Vec<&'static Check>, String> {
    if ids_wanted.is_empty() {
        return Ok(ALL.to_vec());
    }
    let mut out: Vec<&'static Check> = Vec::new();
    for want in ids_wanted {
        let check = ALL
            .iter()
            .find(|c| c.info().id == want)
            .ok_or_else(|| format!("unknown check id '{want}'; valid ids: {}", ids().collect::<Vec<_>>().join(", ")))?;
        if !out.iter().any(|c| c.info().id == check.info().id) {
            out.push(*check);
        }
    }
    Ok(out)
}

/// `Vec<Finding>` from builder results: a finding that does not build is a bug in the check, reported as an
/// internal error of the scope rather than silently dropped.
pub(crate) fn collect_findings(results: impl IntoIterator<Item = Result<Finding, FindingError>>) -> Result<Vec<Finding>, ScopeError> {
    results.into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| ScopeError::internal(e.to_string()))
}

/// Reads every item, `parallelism` at a time (one target's items are independent calls): what was found,
/// and the resources that could not be read. An `Err` ends the scope.
pub(crate) async fn describe_each<T, O, Fut>(
    items: Vec<T>,
    parallelism: usize,
    describe: impl Fn(T) -> Fut,
) -> Result<(Vec<O>, Vec<(Resource, ScopeError)>), ScopeError>
where
    Fut: Future<Output = Result<Described<O>, ScopeError>>,
{
    let outcomes: Vec<Described<O>> = stream::iter(items).map(describe).buffer_unordered(parallelism).try_collect().await?;
    let (mut found, mut unreadable) = (Vec::new(), Vec::new());
    for o in outcomes {
        match o {
            Described::Found(x) => found.push(x),
            Described::Gone => {}
            Described::Unreadable(r, e) => unreadable.push((r, e)),
        }
    }
    Ok((found, unreadable))
}

/// A resource's tags, as a check reads them for [`with_fail_tags`]: `None` when the resource has no tags the
/// check can read (an account-level finding).
pub(crate) type Tags = Option<BTreeMap<String, String>>;

/// Reads the tags of every FAIL of `evaluation`, `parallelism` at a time, when the settings ask for them (a
/// suppression rule matches on tags); never for a PASS, and not at all otherwise. `read` takes its permits
/// from the check's gate like every other call of the check.
///
/// Tags serve suppression matching only, so a tag read that fails (denied, throttled after every retry, the
/// resource gone since) leaves the FAIL as it is, with `tags: None`: a rule on tags does not match it, every
/// other rule still does. It is logged, not made a resource not evaluable: the resource was evaluated, and
/// `not_evaluable` means "neither PASS nor FAIL". An expired session still ends the scope, so it is renewed
/// and the scope run again, as for every other read.
pub(crate) async fn with_fail_tags<Fut>(
    cx: &CheckContext,
    mut evaluation: Evaluation,
    parallelism: usize,
    read: impl Fn(Resource) -> Fut,
) -> Result<Evaluation, ScopeError>
where
    Fut: Future<Output = Result<Tags, ScopeError>>,
{
    if !cx.settings.read_tags {
        return Ok(evaluation);
    }
    let failing: Vec<(usize, Resource)> =
        evaluation.findings.iter().enumerate().filter(|(_, f)| f.status == Status::Fail).map(|(i, f)| (i, f.resource.clone())).collect();
    let read = &read;
    let answers: Vec<(usize, Result<Tags, ScopeError>)> =
        stream::iter(failing).map(|(i, r)| async move { (i, read(r).await) }).buffer_unordered(parallelism.max(1)).collect().await;
    for (i, answer) in answers {
        let finding = &mut evaluation.findings[i];
        match answer {
            Ok(tags) => finding.tags = tags.map(Box::new),
            Err(e) if !resource_level(&e) => return Err(e),
            // The resource's ARN and the AWS error: never a tag, never a credential.
            Err(e) => tracing::warn!(
                target = %cx.target,
                check = finding.check.id,
                resource = %finding.resource.arn,
                code = %e.code,
                "tags not read, the FAIL is kept without tags (suppression rules on tags do not match it): {e}"
            ),
        }
    }
    Ok(evaluation)
}

/// The request budget of `service` per account and region: the stricter of the budgets its checks declare,
/// else the catalogue's own (services no check owns), else a small fallback.
pub fn rate(service: Service) -> Rate {
    ALL.iter()
        .map(|c| c.info())
        .filter(|i| i.service == service)
        .map(|i| i.rate)
        .reduce(Rate::min)
        .or_else(|| service.own_rate())
        .unwrap_or(Rate::FALLBACK)
}

/// Every IAM action the registered checks need, sorted: what the audit role must grant for them.
pub fn iam_actions() -> Vec<&'static str> {
    sorted(ALL.iter().flat_map(|c| c.info().iam_actions.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_metadata_complete() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            let i = c.info();
            assert!(seen.insert(i.id), "duplicate id {}", i.id);
            assert!(i.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", i.id);
            assert!(!i.title.is_empty() && !i.description.is_empty() && !i.remediation.is_empty());
            assert!(i.remediation_cli.starts_with("aws "), "{}", i.id);
            assert!(i.docs_url.starts_with("https://"), "{}", i.id);
            assert!(!i.security_hub_controls.is_empty() && !i.resource_types.is_empty());
        }
        assert_eq!(seen.len(), ALL.len());
    }

    #[test]
    fn declared_budgets_stay_below_the_lambda_and_security_hub_quotas() {
        // Lambda control plane: 15 requests/s per account and region, not adjustable, shared with deploys.
        let lambda = rate(Service::Lambda);
        assert!(lambda.per_second < 15 && lambda.burst < 15);
        // The Lambda Web API is served on Lambda's host: both budgets together stay below that quota.
        let web = rate(Service::LambdaWeb);
        assert!(lambda.per_second + web.per_second < 15 && lambda.burst + web.burst < 15);
        assert_eq!(rate(Service::SecurityHub), Rate::new(10, 30));
        assert!(rate(Service::SecurityHubRead).per_second <= 3);
    }

    #[test]
    fn every_check_declares_its_iam_actions_under_its_service() {
        for c in ALL {
            let i = c.info();
            assert!(!i.iam_actions.is_empty(), "{}", i.id);
            for a in i.iam_actions {
                assert!(a.starts_with(&format!("{}:", i.service.iam_prefix())), "{}: {a}", i.id);
            }
        }
    }

    #[test]
    fn every_fix_declares_the_iam_actions_of_its_steps_and_reads_only_its_own_services() {
        for c in ALL {
            let Some(changes) = c.changes else { continue };
            assert!(!changes.steps.is_empty(), "{}", c.info().id);
            for step in changes.steps {
                assert!(changes.iam_actions.contains(&step.iam_action().as_str()), "{}: {}", c.info().id, step.iam_action());
                if let Some(after) = step.only_after {
                    assert!(changes.steps.iter().any(|s| s.operation == after.operation), "{}: {after:?}", c.info().id);
                }
            }
            for a in changes.iam_actions {
                assert!(changes.steps.iter().any(|s| a.starts_with(&format!("{}:", s.service.iam_prefix()))), "{}: {a}", c.info().id);
            }
        }
        assert_eq!(fix_steps().len(), ALL.iter().filter_map(|c| c.changes).map(|c| c.steps.len()).sum::<usize>());
    }

    #[test]
    fn select_names_the_bad_id_and_the_valid_ones() {
        let err = select(&["no-such-check".into()]).err().unwrap();
        assert!(err.contains("'no-such-check'") && err.contains("kms-key-not-pending-deletion"), "{err}");
        let two = select(&["guardduty-enabled".into(), "guardduty-enabled".into(), "kms-key-not-pending-deletion".into()]);
        let ids: Vec<_> = two.unwrap().iter().map(|c| c.info().id).collect();
        assert_eq!(ids, ["guardduty-enabled", "kms-key-not-pending-deletion"]);
        assert_eq!(select(&[]).unwrap().len(), ALL.len());
    }
}
