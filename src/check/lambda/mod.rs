//! Lambda functions use a supported runtime (Security Hub Lambda.2).
//!
//! A deprecated runtime no longer receives security patches; functions keep running on it, so nothing
//! forces an upgrade. <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html>

pub mod evidence;
pub mod fix;
pub mod runtimes;
mod summary;
pub mod web;

use std::collections::BTreeMap;

use aws_sdk_lambda::types::FunctionVersion;
use aws_sdk_securityhub::types as sh;
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_with::skip_serializing_none;

pub use self::runtimes::{RuntimeState, RuntimeTable, STALE_AFTER_DAYS};
use self::evidence as ev;
pub use self::summary::unknown_runtimes;
use super::{Check, CheckContext, EvidenceKey, Fill, KeyRole, ResourceKind, Described, Evaluation, Tags, collect_findings, describe_each, resource_level, with_fail_tags};
use crate::model::{AsffDetails, CheckInfo, Finding, FindingBuilder, Rate, Resource, ScopeError, Service, Severity, Target};

/// `--lambda-warn-days` when not given, and the largest it may be.
pub const DEFAULT_WARN_DAYS: u32 = 90;
pub const MAX_WARN_DAYS: u32 = 3650;

/// `--lambda-warn-days`, validated: the error names the value and the range.
pub fn warn_days(given: Option<u32>) -> Result<u32, String> {
    match given.unwrap_or(DEFAULT_WARN_DAYS) {
        d if d <= MAX_WARN_DAYS => Ok(d),
        d => Err(format!("invalid --lambda-warn-days {d}: allowed 0 to {MAX_WARN_DAYS} days (0 turns warnings off)")),
    }
}

pub static INFO: &CheckInfo = &CheckInfo {
    id: "lambda-supported-runtime",
    title: "Lambda functions use a supported runtime",
    severity: Severity::Medium,
    service: Service::Lambda,
    // Lambda control plane: 15 requests/s per account and region, not adjustable, shared with deploys.
    rate: Rate::new(8, 8),
    // lambda:ListTags is called only with `read_tags` (suppression rules on tags), and only for FAILs;
    // declared with the others so the shipped policies grant it (Service Authorization Reference, "Actions
    // defined by AWS Lambda").
    // lambda:ListAliases only for functions with a published version on a worse runtime than $LATEST.
    // Web Functions (web.rs): the Lambda Web API's reads, authorized under the same `lambda:` prefix with the
    // operation's name (AWS Lambda Web API Reference; the managed policy AWSLambdaInvokeWebFunctionEndpointAccess
    // grants `lambda:InvokeWebFunctionEndpoint` on `arn:aws:lambda:*:*:web-function/*/endpoint/*`).
    iam_actions: &[
        "lambda:ListFunctions",
        "lambda:ListAliases",
        "lambda:ListTags",
        "lambda:ListWebFunctions",
        "lambda:ListWebFunctionEndpoints",
        "lambda:GetWebFunctionRevision",
    ],
    security_hub_controls: &["Lambda.2"],
    resource_types: &[FUNCTION_TYPE, web::RESOURCE_TYPE],
    description: "Lambda runtimes combine an operating system, a language runtime and libraries. When a runtime \
        is deprecated it no longer receives security updates, yet functions on it keep serving invocations. \
        Functions packaged as container images are out of scope (their runtime is inside the image). The published \
        versions that aliases route to count too: upgrading $LATEST leaves an alias such as prod on its old runtime. \
        Lambda Web Functions count too: the runtimes of the revisions their endpoints route to. \
        A runtime deprecated within --lambda-warn-days (default 90) is a WARNING.",
    remediation: "Move the function to a supported runtime of the same language (test the code on it first), \
        then update the function configuration.",
    remediation_cli: "aws lambda update-function-configuration --region REGION --function-name FUNCTION_NAME --runtime RUNTIME",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/lambda-controls.html#lambda-2",
};

/// ASFF `Resources[].Details.AwsLambdaFunction`: the fields this check read.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsLambdaFunctionDetails {
    pub function_name: String,
    pub runtime: Option<String>,
}

impl AsffDetails for AwsLambdaFunctionDetails {
    const KEY: &'static str = "AwsLambdaFunction";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let f = sh::AwsLambdaFunctionDetails::builder().function_name(&self.function_name).set_runtime(self.runtime.clone()).build();
        sh::ResourceDetails::builder().aws_lambda_function(f).build()
    }
}

/// One version of a function as `ListFunctions` lists it (`$LATEST` or a published version). Environment
/// variables are never copied here: secrets stop at the collection boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// `$LATEST` or the version number.
    pub version: String,
    pub runtime: Option<String>,
    /// `Zip` or `Image`.
    pub package_type: Option<String>,
}

/// A published version that aliases route traffic to, with the aliases' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasedVersion {
    pub aliases: Vec<String>,
    pub version: VersionInfo,
}

/// The fields of `ListFunctions` (and, for some functions, `ListAliases`) this check reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    /// The unqualified ARN (the resource every output names).
    pub arn: String,
    pub latest: VersionInfo,
    /// The published versions that an alias points to, when they were read (see `collect`).
    pub aliased: Vec<AliasedVersion>,
    /// `KMSKeyArn` of any version: the customer key that encrypts its environment variables.
    pub kms_keys: Vec<String>,
}

/// The runtime of one version to evaluate; `None` when out of scope (an image, or no runtime).
fn zip_runtime(v: &VersionInfo) -> Option<&str> {
    match (v.runtime.as_deref(), v.package_type.as_deref()) {
        (_, Some("Image")) | (None, _) | (Some(""), _) => None,
        (Some(r), _) => Some(r),
    }
}

/// "runtime python3.7, deprecated since 2023-12-04".
pub(crate) fn describe(runtime: &str, state: RuntimeState, table: &RuntimeTable) -> String {
    match state {
        RuntimeState::Supported { until } => format!("runtime {runtime}, supported until {until}"),
        RuntimeState::Deprecating { on, days } => {
            format!("runtime {runtime}, which is deprecated on {on} (in {days} days): plan the upgrade before then")
        }
        RuntimeState::Newer => format!(
            "runtime {runtime}, newer than every runtime of its family in orgscan's runtime table (updated {}, newest {}): the table is \
             older than the function, not the runtime",
            table.updated,
            table.newest_of_family(runtime).unwrap_or("none")
        ),
        RuntimeState::Unknown => format!(
            "runtime {runtime}, which is unknown to orgscan's runtime table (updated {}); check it against the AWS Lambda runtimes page",
            table.updated
        ),
        RuntimeState::Deprecated { since } => format!("runtime {runtime}, deprecated since {since}: it no longer receives security updates"),
    }
}

/// The evidence of one version or revision: its runtime, the runtime's state and date, then `more` (which
/// version or revision it is, and what routes to it).
pub(crate) fn state_evidence(runtime: &str, state: RuntimeState, more: [(EvidenceKey, serde_json::Value); 2]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(ev::RUNTIME.name().into(), runtime.into());
    m.insert(ev::RUNTIME_STATUS.name().into(), state.as_str().into());
    if let Some(d) = state.date() {
        m.insert(ev::DEPRECATION_DATE.name().into(), d.to_string().into());
    }
    m.extend(more.map(|(k, v)| (k.name().to_owned(), v)));
    serde_json::Value::Object(m)
}

/// `'live', 'prod'`: the names that route to a version or revision, quoted, and the noun for them in the
/// singular or plural (`alias`/`aliases`, `endpoint`/`endpoints`).
pub(crate) fn quoted<'a>(names: &[String], one: &'a str, many: &'a str) -> (String, &'a str) {
    let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    (list, if names.len() == 1 { one } else { many })
}

/// The finding's verdict from the worst runtime state: deprecated or unknown fails, deprecating warns,
/// supported or newer than the table passes.
pub(crate) fn verdict(b: FindingBuilder, worst: RuntimeState, message: String) -> FindingBuilder {
    match worst {
        RuntimeState::Newer | RuntimeState::Supported { .. } => b.pass(message),
        RuntimeState::Deprecating { .. } => b.warn(message),
        RuntimeState::Unknown | RuntimeState::Deprecated { .. } => b.fail(message),
    }
}

/// Pure evaluation against the table on the scan date. A function is as bad as the worst of its `$LATEST`
/// and the published versions its aliases route to: deprecated or unknown fails, deprecating within
/// `warn_days` is a WARNING, supported passes. Image-packaged or runtime-less functions are not applicable.
pub fn evaluate(
    target: &Target,
    functions: &[FunctionInfo],
    table: &RuntimeTable,
    today: NaiveDate,
    warn_days: u32,
) -> Result<Evaluation, ScopeError> {
    let mut not_applicable = 0;
    let mut results = Vec::new();
    let mut uses = Vec::new();
    let mut unreadable = Vec::new();
    for f in functions {
        let resource = Resource { resource_type: FUNCTION_TYPE, id: f.name.clone(), arn: f.arn.clone() };
        uses.extend(f.kms_keys.iter().map(|k| (resource.clone(), k.clone())));
        let Some(runtime) = zip_runtime(&f.latest) else {
            not_applicable += 1;
            continue;
        };
        let custom: Vec<&str> = std::iter::once(&f.latest)
            .chain(f.aliased.iter().map(|a| &a.version))
            .filter(|v| zip_runtime(v) == Some(CUSTOM_RUNTIME))
            .map(|v| v.version.as_str())
            .collect();
        if !custom.is_empty() {
            unreadable.push((resource, custom_runtime_unreadable(&custom)));
            continue;
        }
        let latest = table.state(runtime, today, warn_days);
        let aliased: Vec<(&AliasedVersion, &str, RuntimeState)> = f
            .aliased
            .iter()
            .filter_map(|a| zip_runtime(&a.version).map(|r| (a, r, table.state(r, today, warn_days))))
            .collect();
        let worst = aliased.iter().map(|(_, _, s)| *s).chain([latest]).max().unwrap_or(latest);
        let mut message = format!("Lambda function {} uses {}", f.name, describe(runtime, latest, table));
        // The aliased versions worse than $LATEST are what an upgrade of $LATEST leaves running.
        for (a, r, s) in aliased.iter().filter(|(_, _, s)| *s > latest) {
            // "alias 'prod' still routes", "aliases 'live', 'prod' still route".
            let (names, what) = quoted(&a.aliases, "alias", "aliases");
            let verb = if a.aliases.len() == 1 { "routes" } else { "route" };
            message.push_str(&format!("; {what} {names} still {verb} to version {} on {}", a.version.version, describe(r, *s, table)));
        }
        let mut b = Finding::builder(INFO, target)
            .resource(resource.resource_type, &resource.id, &resource.arn)
            .evidence(ev::RUNTIME.name(), runtime)
            .evidence(ev::RUNTIME_STATUS.name(), latest.as_str())
            .details(AwsLambdaFunctionDetails { function_name: f.name.clone(), runtime: Some(runtime.to_owned()) });
        if let Some(d) = latest.date() {
            b = b.evidence(ev::DEPRECATION_DATE.name(), d.to_string());
        }
        if !aliased.is_empty() {
            let versions: Vec<serde_json::Value> = aliased
                .iter()
                .map(|(a, r, s)| {
                    state_evidence(r, *s, [(ev::VERSION, a.version.version.clone().into()), (ev::ALIASES, a.aliases.clone().into())])
                })
                .collect();
            b = b.evidence(ev::ALIASED_VERSIONS.name(), versions);
        }
        results.push(verdict(b, worst, message).build());
    }
    let mut e = Evaluation { not_applicable, ..Evaluation::of(collect_findings(results)?) }.with_unreadable(INFO, target, unreadable);
    for (resource, key) in uses {
        e = e.with_key_use(INFO, target, &resource, &key, "environment variables");
    }
    Ok(e)
}

/// `Runtime` of a function on a customer-managed runtime ("Using a customer-managed runtime", Lambda Developer
/// Guide: the function sets `Runtime` to `custom` and names the runtime in `RuntimeConfig { RuntimeArn,
/// RuntimeAlias }`). <https://docs.aws.amazon.com/lambda/latest/dg/cmr-using.html>
pub const CUSTOM_RUNTIME: &str = "custom";

/// The code of a customer-managed runtime whose lifecycle orgscan cannot read (one of orgscan's own codes).
pub const CUSTOM_RUNTIME_CODE: &str = "CustomerManagedRuntimeNotReadable";

/// Why a function on a customer-managed runtime is not evaluable. Its deprecation is not in any AWS table:
/// the publisher sets a `ReleaseLifecycle` on the runtime and its aliases, which consumers read with the
/// Lambda Core API's `GetRuntimeAlias` ("Runtime lifecycle", Lambda Developer Guide,
/// <https://docs.aws.amazon.com/lambda/latest/dg/cmr-lifecycle.html>; "RuntimeReleaseLifecycle", Lambda Core
/// API Reference). The AWS SDK for Rust does not model either read yet: aws-sdk-lambda 1.156.0 drops the
/// function's `RuntimeConfig` (it is not in its `FunctionConfiguration`), and aws-sdk-lambdacore 1.18.0 has
/// only the network-connector operations. So the function is neither passed nor failed (the table's "unknown"
/// would be a false FAIL), and the reason tells how to read the lifecycle by hand.
fn custom_runtime_unreadable(versions: &[&str]) -> ScopeError {
    ScopeError::new(
        CUSTOM_RUNTIME_CODE,
        format!(
            "{} on runtime '{CUSTOM_RUNTIME}' (a customer-managed runtime, whose publisher sets its deprecation): its lifecycle is \
             read with the Lambda Core API (GetRuntimeAlias), which the AWS SDK for Rust does not offer yet; read it with \
             `aws lambda get-function-configuration` (RuntimeConfig) and `aws lambda-core get-runtime-alias` (ReleaseLifecycle)",
            match versions {
                [one] => format!("version {one}"),
                many => format!("versions {}", many.join(", ")),
            }
        ),
    )
}

/// `FunctionArn` of a `ListFunctions` entry without its version qualifier: with `FunctionVersion=ALL`
/// every entry is qualified, `$LATEST` included (`...:function:name:$LATEST`).
fn unqualified(arn: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => arn.strip_suffix(&format!(":{v}")).unwrap_or(arn).to_owned(),
        None => arn.to_owned(),
    }
}

/// Lists every version of every function, then reads the aliases of the functions that need it.
///
/// `ListFunctions` with `FunctionVersion=ALL` lists the published versions too, each with the runtime it
/// was published with ("Set FunctionVersion to ALL to include all published versions of each function in
/// addition to the unpublished version", Lambda API Reference, ListFunctions): up to 50 entries a page, so
/// the extra pages are one per 50 published versions. Only a function with a published version on a
/// runtime worse than its `$LATEST`'s needs `ListAliases` (one call, a page of up to 50 aliases), to learn
/// whether an alias routes to that version (`FunctionVersion`, and `RoutingConfig.AdditionalVersionWeights`
/// for weighted aliases, Lambda API Reference, AliasConfiguration). Both take permits of the Lambda gate.
async fn collect(cx: &CheckContext, table: &RuntimeTable, today: NaiveDate, warn_days: u32) -> Result<CollectedFunctions, ScopeError> {
    let lambda = cx.clients.lambda();
    let gate = cx.gate(Service::Lambda);
    let mut by_name: BTreeMap<String, Listed> = BTreeMap::new();
    // `--shallow`: $LATEST only, as Security Hub's Lambda.2 reads it.
    let all = cx.settings.deep.then_some(FunctionVersion::All);
    let pages = lambda.list_functions().set_function_version(all).into_paginator().send();
    gate.pages("ListFunctions", pages, |page| {
        for f in page.functions() {
            let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) else { continue };
            let v = VersionInfo {
                version: f.version().unwrap_or(LATEST).to_owned(),
                runtime: f.runtime().map(|r| r.as_str().to_owned()),
                package_type: f.package_type().map(|p| p.as_str().to_owned()),
            };
            let e = by_name.entry(name.to_owned()).or_default();
            if let Some(k) = f.kms_key_arn().filter(|k| !k.is_empty() && !e.kms_keys.iter().any(|x| x == k)) {
                e.kms_keys.push(k.to_owned());
            }
            if v.version == LATEST {
                e.latest = Some((unqualified(arn, f.version()), v));
            } else {
                e.published.push(v);
            }
        }
    })
    .await?;
    let mut functions = Vec::new();
    let mut candidates = Vec::new();
    let rank = |v: &VersionInfo| zip_runtime(v).map(|r| table.state(r, today, warn_days));
    for (name, listed) in by_name {
        // A published version without its function's $LATEST was listed mid-deletion: nothing to evaluate.
        let Some((arn, latest)) = listed.latest else { continue };
        let worse: Vec<VersionInfo> = listed.published.into_iter().filter(|v| rank(v) > rank(&latest)).collect();
        let info = FunctionInfo { name, arn, latest, aliased: Vec::new(), kms_keys: listed.kms_keys };
        if worse.is_empty() {
            functions.push(info);
        } else {
            candidates.push((info, worse));
        }
    }
    let (read, unreadable) = describe_each(candidates, ALIAS_PARALLELISM, |(info, worse)| aliases(cx, info, worse)).await?;
    functions.extend(read);
    Ok((functions, unreadable))
}

type CollectedFunctions = (Vec<FunctionInfo>, Vec<(Resource, ScopeError)>);

/// The versions of one function, as listed.
#[derive(Default)]
struct Listed {
    latest: Option<(String, VersionInfo)>,
    published: Vec<VersionInfo>,
    kms_keys: Vec<String>,
}

const LATEST: &str = "$LATEST";

/// `ListAliases` reads in flight at once (each takes a permit of the Lambda budget anyway).
const ALIAS_PARALLELISM: usize = 4;

/// The aliases of `info` that route to one of `worse` (its published versions on a worse runtime than
/// `$LATEST`). A function whose aliases cannot be read is not evaluable: its `$LATEST` alone could pass
/// while production runs a deprecated version.
async fn aliases(cx: &CheckContext, mut info: FunctionInfo, worse: Vec<VersionInfo>) -> Result<Described<FunctionInfo>, ScopeError> {
    let mut routes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let pages = cx.clients.lambda().list_aliases().function_name(&info.name).into_paginator().send();
    let read = cx
        .gate(Service::Lambda)
        .pages("ListAliases", pages, |page| {
            for a in page.aliases() {
                let Some(name) = a.name() else { continue };
                let weighted = a.routing_config().and_then(|r| r.additional_version_weights()).into_iter().flat_map(|w| w.keys());
                for v in a.function_version().into_iter().chain(weighted.map(String::as_str)) {
                    routes.entry(v.to_owned()).or_default().push(name.to_owned());
                }
            }
        })
        .await;
    match read {
        Ok(()) => {}
        Err(e) if e.code == "ResourceNotFoundException" => return Ok(Described::Gone),
        Err(e) if resource_level(&e) => {
            return Ok(Described::Unreadable(Resource { resource_type: FUNCTION_TYPE, id: info.name, arn: info.arn }, e));
        }
        Err(e) => return Err(e),
    }
    for v in worse {
        if let Some(mut names) = routes.remove(&v.version) {
            names.sort();
            names.dedup();
            info.aliased.push(AliasedVersion { aliases: names, version: v });
        }
    }
    Ok(Described::Found(info))
}

/// Tag reads in flight at once: each takes a permit of the Lambda control-plane budget anyway.
const TAG_PARALLELISM: usize = 4;

/// The tags of one function: `ListTags` (Resource = the function's ARN; a map, not paginated).
/// <https://docs.aws.amazon.com/lambda/latest/api/API_ListTags.html>
async fn read_tags(cx: &CheckContext, function: Resource) -> Result<Tags, ScopeError> {
    if function.resource_type == web::RESOURCE_TYPE {
        return web::read_tags(cx, &function).await;
    }
    let out = cx.gate(Service::Lambda).send("ListTags", cx.clients.lambda().list_tags().resource(&function.arn).send()).await?;
    Ok(Some(out.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()))
}

/// The check, as the registry lists it.
pub static CHECK: Check = Check {
    notes: summary::notes,
    keys: KeyRole::Users("Lambda function"),
    summary: summary::summary,
    due_date: Some(ev::DEPRECATION_DATE),
    ..Check::new(INFO, run, fix::remedy, RESOURCES)
};

/// Functions and Web Functions, as the outputs show them.
const RESOURCES: &[ResourceKind] = &[
    ResourceKind::listed(FUNCTION_TYPE, "Lambda function", |region, id| format!("lambda/home?region={region}#/functions/{id}"), ("FUNCTION_NAME", Fill::Everywhere)),
    ResourceKind { asff_type: web::RESOURCE_TYPE, words: "Lambda Web Function", asff_listed: false, console: None, id_placeholder: None },
];

/// The ASFF type of a Lambda function.
pub const FUNCTION_TYPE: &str = "AwsLambdaFunction";

fn run(cx: &CheckContext) -> BoxFuture<'_, Result<Evaluation, ScopeError>> {
    Box::pin(async move {
        let (table, today, warn_days) = (&cx.settings.lambda_runtimes, scan_date(cx.scan_time), cx.settings.lambda_warn_days);
        let (functions, unreadable) = collect(cx, table, today, warn_days).await?;
        let (web_functions, web_unreadable) = web::collect(cx).await?;
        let mut evaluation = evaluate(&cx.target, &functions, table, today, warn_days)?.with_unreadable(INFO, &cx.target, unreadable);
        let w = web::evaluate(&cx.target, &web_functions, table, today, warn_days)?.with_unreadable(INFO, &cx.target, web_unreadable);
        evaluation.findings.extend(w.findings);
        evaluation.not_applicable += w.not_applicable;
        evaluation.not_evaluable.extend(w.not_evaluable);
        evaluation.keys.uses.extend(w.keys.uses);
        with_fail_tags(cx, evaluation, TAG_PARALLELISM, |function| read_tags(cx, function)).await
    })
}

fn scan_date(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

#[cfg(test)]
mod tests;
