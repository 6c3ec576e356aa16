//! Lambda Web Functions: the second kind of Lambda function, listed by the Lambda Web API
//! (`ListWebFunctions`), never by `ListFunctions` ("Lambda Web Functions", Lambda Developer Guide,
//! <https://docs.aws.amazon.com/lambda/latest/dg/web-functions.html>). A Web Function serves HTTP through its
//! endpoints; each endpoint routes its traffic to one or two revisions (`revisionWeights`, "Deployment
//! patterns", <https://docs.aws.amazon.com/lambda/latest/dg/web-functions-deployment.html>), and each revision
//! is an immutable snapshot that names its runtime in `buildConfig.runtimeConfig.runtime`
//! (`GetWebFunctionRevision`, AWS Lambda Web API Reference,
//! <https://docs.aws.amazon.com/lambda/latest/lambda-web/API_GetWebFunctionRevision.html>).
//!
//! The revisions an endpoint routes to are the ones that serve: they are judged by the same dated runtime
//! table as the other functions, since "the nodejs24.x Web Function runtime follows the same deprecation cycle
//! as the corresponding Lambda Event Functions runtime" ("Lambda Web Function runtimes",
//! <https://docs.aws.amazon.com/lambda/latest/dg/web-functions-runtimes.html>). A revision no endpoint routes
//! to serves nothing (an old revision kept for a rollback) and is not judged.

use std::collections::BTreeMap;

use aws_sdk_lambdaweb::types::{EndpointState, FunctionState};
use aws_sdk_securityhub::types as sh;
use chrono::NaiveDate;
use serde::Serialize;
use serde_with::skip_serializing_none;

use super::evidence as ev;
use super::runtimes::{RuntimeState, RuntimeTable};
use super::{INFO, describe, quoted, state_evidence, verdict};
use crate::check::{CheckContext, Described, Evaluation, Tags, collect_findings, describe_each, resource_level};
use crate::model::{AsffDetails, Finding, Resource, ScopeError, Service, Target};

/// The resource type of a Web Function in every output. ASFF lists no type for it, so its ASFF resource is
/// `Type: Other` with this name in `Details.Other` (see [`AwsLambdaWebFunctionDetails`]).
pub const RESOURCE_TYPE: &str = "AwsLambdaWebFunction";

/// A revision that at least one endpoint routes traffic to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRevision {
    pub revision_id: String,
    /// The endpoints that route to it, sorted.
    pub endpoints: Vec<String>,
    /// `buildConfig.runtimeConfig.runtime`; `None` if the answer had none (then it is not judged).
    pub runtime: Option<String>,
}

/// The fields of `ListWebFunctions`, `ListWebFunctionEndpoints` and `GetWebFunctionRevision` the check reads.
/// A revision's `serviceConfig.environmentVariables` is never copied: secrets stop at the collection boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFunctionInfo {
    pub name: String,
    pub arn: String,
    /// Sorted by revision id.
    pub served: Vec<ServedRevision>,
    /// `kmsKeyArn` of the served revisions: the customer key that encrypts their code and environment.
    pub kms_keys: Vec<String>,
}

impl WebFunctionInfo {
    fn resource(&self) -> Resource {
        Resource { resource_type: RESOURCE_TYPE, id: self.name.clone(), arn: self.arn.clone() }
    }
}

/// ASFF `Resources[].Details.Other` of a Web Function: ASFF has no details object for this resource type, and
/// "if the resource type is not one of the provided types, set Resource.Type to Other and use the Other object
/// to specify the details" ("Other object in ASFF", AWS Security Hub User Guide,
/// <https://docs.aws.amazon.com/securityhub/latest/userguide/asff-resourcedetails-other.html>): a map of up to
/// 50 string values, keys under 128 and values under 1,024 characters.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsLambdaWebFunctionDetails {
    /// Always [`RESOURCE_TYPE`]: what the resource is, since `Type` only says `Other`.
    pub resource_type: &'static str,
    pub function_name: String,
    /// The runtime of the worst served revision.
    pub runtime: Option<String>,
    /// That revision's id.
    pub revision_id: Option<String>,
}

/// ASFF's bound on an `Other` value: fewer than 1,024 characters.
const MAX_OTHER_VALUE: usize = 1023;

fn bounded(s: &str) -> String {
    s.chars().take(MAX_OTHER_VALUE).collect()
}

impl AsffDetails for AwsLambdaWebFunctionDetails {
    const KEY: &'static str = "Other";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let mut b = sh::ResourceDetails::builder().other("ResourceType", self.resource_type).other("FunctionName", bounded(&self.function_name));
        if let Some(r) = &self.runtime {
            b = b.other("Runtime", bounded(r));
        }
        if let Some(r) = &self.revision_id {
            b = b.other("RevisionId", bounded(r));
        }
        b.build()
    }
}

/// One finding per Web Function, as bad as the worst runtime among the revisions its endpoints route to, with
/// the same verdicts as the other functions: deprecated or unknown fails, deprecating within `warn_days` warns,
/// supported or newer than the table passes. A Web Function no endpoint routes to (no served revision, or none
/// with a runtime) is not applicable.
pub fn evaluate(
    target: &Target,
    functions: &[WebFunctionInfo],
    table: &RuntimeTable,
    today: NaiveDate,
    warn_days: u32,
) -> Result<Evaluation, ScopeError> {
    let mut not_applicable = 0;
    let mut results = Vec::new();
    let mut uses = Vec::new();
    for f in functions {
        let resource = f.resource();
        uses.extend(f.kms_keys.iter().map(|k| (resource.clone(), k.clone())));
        let judged: Vec<(&ServedRevision, &str, RuntimeState)> = f
            .served
            .iter()
            .filter_map(|r| r.runtime.as_deref().filter(|x| !x.is_empty()).map(|x| (r, x, table.state(x, today, warn_days))))
            .collect();
        // The worst, and among equals the first by revision id: deterministic.
        let Some(&(worst_rev, worst_runtime, worst)) = judged.iter().reduce(|a, b| if b.2 > a.2 { b } else { a }) else {
            not_applicable += 1;
            continue;
        };
        let parts: Vec<String> = judged
            .iter()
            .map(|(r, x, s)| {
                let (names, what) = quoted(&r.endpoints, "endpoint", "endpoints");
                format!("revision {} (served by {what} {names}) uses {}", r.revision_id, describe(x, *s, table))
            })
            .collect();
        let message = format!("Lambda Web Function {}: {}", f.name, parts.join("; "));
        let revisions: Vec<serde_json::Value> = judged
            .iter()
            .map(|(r, x, s)| state_evidence(x, *s, [(ev::REVISION, r.revision_id.clone().into()), (ev::ENDPOINTS, r.endpoints.clone().into())]))
            .collect();
        let mut b = Finding::builder(INFO, target)
            .resource(resource.resource_type, &resource.id, &resource.arn)
            .evidence(ev::RUNTIME.name(), worst_runtime)
            .evidence(ev::RUNTIME_STATUS.name(), worst.as_str())
            .evidence(ev::REVISION.name(), worst_rev.revision_id.as_str());
        if let Some(d) = worst.date() {
            b = b.evidence(ev::DEPRECATION_DATE.name(), d.to_string());
        }
        let b = b.evidence(ev::SERVED_REVISIONS.name(), revisions).details(AwsLambdaWebFunctionDetails {
            resource_type: RESOURCE_TYPE,
            function_name: f.name.clone(),
            runtime: Some(worst_runtime.to_owned()),
            revision_id: Some(worst_rev.revision_id.clone()),
        });
        results.push(verdict(b, worst, message).build());
    }
    let mut e = Evaluation { not_applicable, ..Evaluation::of(collect_findings(results)?) };
    for (resource, key) in uses {
        e = e.with_key_use(INFO, target, &resource, &key, "code and environment variables");
    }
    Ok(e)
}

/// Reads of Web Functions in flight at once (each request takes a permit of the Lambda Web budget anyway).
const PARALLELISM: usize = 4;

/// Every Web Function of the target's region, with the runtimes of the revisions its endpoints route to.
///
/// `ListWebFunctions` (up to 50 a page), then per function `ListWebFunctionEndpoints` (up to 50 a page) and one
/// `GetWebFunctionRevision` per revision an endpoint routes to (at most two per endpoint). A failed listing
/// fails the scope, like a failed `ListFunctions`; a function whose endpoints or revisions cannot be read is
/// not evaluable, the others still are. A function being deleted (`state` `Deleting`) is left out.
pub async fn collect(cx: &CheckContext) -> Result<(Vec<WebFunctionInfo>, Vec<(Resource, ScopeError)>), ScopeError> {
    let mut listed = Vec::new();
    let pages = cx.clients.lambdaweb().list_web_functions().into_paginator().send();
    cx.gate(Service::LambdaWeb)
        .pages("ListWebFunctions", pages, |page| {
            for f in page.functions() {
                if *f.state() != FunctionState::Deleting && !f.function_name().is_empty() && !f.function_arn().is_empty() {
                    listed.push((f.function_name().to_owned(), f.function_arn().to_owned()));
                }
            }
        })
        .await?;
    describe_each(listed, PARALLELISM, |(name, arn)| read_one(cx, name, arn)).await
}

async fn read_one(cx: &CheckContext, name: String, arn: String) -> Result<Described<WebFunctionInfo>, ScopeError> {
    let resource = Resource { resource_type: RESOURCE_TYPE, id: name.clone(), arn: arn.clone() };
    let routes = match endpoints(cx, &name).await {
        Ok(r) => r,
        // Deleted since it was listed.
        Err(e) if e.code == "ResourceNotFoundException" => return Ok(Described::Gone),
        Err(e) if resource_level(&e) => return Ok(Described::Unreadable(resource, e)),
        Err(e) => return Err(e),
    };
    let mut served = Vec::new();
    let mut kms_keys: Vec<String> = Vec::new();
    for (revision_id, mut endpoints) in routes {
        // A revision an endpoint names that cannot be read (even one gone since) leaves the function
        // unjudged: its served runtime is unknown, and the other revision alone could pass.
        let out = match revision(cx, &name, &revision_id).await {
            Ok(out) => out,
            Err(e) if resource_level(&e) => return Ok(Described::Unreadable(resource, e)),
            Err(e) => return Err(e),
        };
        if let Some(k) = out.kms_key_arn().filter(|k| !k.is_empty() && !kms_keys.iter().any(|x| x == k)) {
            kms_keys.push(k.to_owned());
        }
        endpoints.sort();
        endpoints.dedup();
        let runtime = out.build_config().and_then(|b| b.runtime_config()).map(|r| r.runtime().to_owned());
        served.push(ServedRevision { revision_id, endpoints, runtime });
    }
    Ok(Described::Found(WebFunctionInfo { name, arn, served, kms_keys }))
}

/// revision id → the endpoints that route to it (`revisionWeights`), of every endpoint not being deleted.
async fn endpoints(cx: &CheckContext, name: &str) -> Result<BTreeMap<String, Vec<String>>, ScopeError> {
    let mut routes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let pages = cx.clients.lambdaweb().list_web_function_endpoints().function_name(name).into_paginator().send();
    cx.gate(Service::LambdaWeb)
        .pages("ListWebFunctionEndpoints", pages, |page| {
            for e in page.endpoints().iter().filter(|e| *e.state() != EndpointState::Deleting) {
                for w in e.revision_weights() {
                    routes.entry(w.revision_id().to_owned()).or_default().push(e.endpoint_name().to_owned());
                }
            }
        })
        .await?;
    Ok(routes)
}

async fn revision(
    cx: &CheckContext,
    name: &str,
    revision_id: &str,
) -> Result<aws_sdk_lambdaweb::operation::get_web_function_revision::GetWebFunctionRevisionOutput, ScopeError> {
    let call = cx.clients.lambdaweb().get_web_function_revision().function_name(name).revision_id(revision_id).send();
    cx.gate(Service::LambdaWeb).send("GetWebFunctionRevision", call).await
}

/// The tags of one Web Function: the Lambda Web API's `ListTags` (`GET /2025-03-07/tags/{resource}`, the
/// function's ARN; a map, not paginated), authorized as `lambda:ListTags`.
pub async fn read_tags(cx: &CheckContext, function: &Resource) -> Result<Tags, ScopeError> {
    let out = cx.gate(Service::LambdaWeb).send("ListTags", cx.clients.lambdaweb().list_tags().resource(&function.arn).send()).await?;
    Ok(Some(out.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()))
}

#[cfg(test)]
#[path = "web_tests.rs"]
mod tests;
