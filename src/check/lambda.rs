//! Lambda functions use a supported runtime (Security Hub Lambda.2).
//!
//! A deprecated runtime no longer receives security patches; functions keep running on it, so nothing
//! forces an upgrade. <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html>

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_securityhub::types as sh;
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Check, CheckContext, Evaluation, Tags, collect_findings, with_fail_tags};
use crate::model::{AsffDetails, CheckInfo, Finding, Rate, Resource, ScopeError, Service, Severity, Target};

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
    iam_actions: &["lambda:ListFunctions", "lambda:ListTags"],
    security_hub_controls: &["Lambda.2"],
    resource_types: &["AwsLambdaFunction"],
    description: "Lambda runtimes combine an operating system, a language runtime and libraries. When a runtime \
        is deprecated it no longer receives security updates, yet functions on it keep serving invocations. \
        Functions packaged as container images are out of scope (their runtime is inside the image).",
    remediation: "Move the function to a supported runtime of the same language (test the code on it first), \
        then update the function configuration.",
    remediation_cli: "aws lambda update-function-configuration --region REGION --function-name FUNCTION_NAME --runtime RUNTIME",
    docs_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/lambda-controls.html#lambda-2",
};

/// The bundled runtime table (a data file, replaceable with `--lambda-runtimes PATH`).
pub const BUNDLED_TABLE: &str = include_str!("../../data/lambda-runtimes.toml");

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeEntry {
    pub id: String,
    pub deprecation: NaiveDate,
    pub block_create: Option<NaiveDate>,
    pub block_update: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeFile {
    updated: NaiveDate,
    source: String,
    runtime: Vec<RuntimeEntry>,
}

/// Runtime identifiers with their deprecation dates, as of `updated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeTable {
    pub updated: NaiveDate,
    pub source: String,
    runtimes: BTreeMap<String, RuntimeEntry>,
}

impl RuntimeTable {
    pub fn bundled() -> Result<Self, String> {
        Self::parse(BUNDLED_TABLE, "the bundled runtime table")
    }

    pub fn from_path(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read Lambda runtime table '{}': {e}", path.display()))?;
        Self::parse(&text, &format!("Lambda runtime table '{}'", path.display()))
    }

    /// Parses a table; errors name the file, and TOML errors carry line and column.
    pub fn parse(text: &str, what: &str) -> Result<Self, String> {
        let file: RuntimeFile = toml::from_str(text).map_err(|e| format!("{what} does not parse: {e}"))?;
        let mut runtimes = BTreeMap::new();
        for r in file.runtime {
            if r.id.trim().is_empty() {
                return Err(format!("{what}: a runtime has an empty id"));
            }
            if let Some(dup) = runtimes.insert(r.id.clone(), r) {
                return Err(format!("{what}: runtime '{}' is listed twice", dup.id));
            }
        }
        if runtimes.is_empty() {
            return Err(format!("{what}: no [[runtime]] entries"));
        }
        Ok(Self { updated: file.updated, source: file.source, runtimes })
    }

    pub fn get(&self, id: &str) -> Option<&RuntimeEntry> {
        self.runtimes.get(id)
    }

    /// The runtime of the same language (`python`, `nodejs`, `java`, `dotnet`, `ruby`, `provided`) that stays
    /// supported longest after `today`, to suggest in place of `runtime`; `None` for a language the table
    /// does not know or with no supported runtime left.
    pub fn successor(&self, runtime: &str, today: NaiveDate) -> Option<&str> {
        let lang = language(runtime)?;
        self.runtimes
            .values()
            .filter(|r| language(&r.id) == Some(lang) && r.deprecation > today && r.id != runtime)
            .max_by(|a, b| (a.deprecation, &a.id).cmp(&(b.deprecation, &b.id)))
            .map(|r| r.id.as_str())
    }
}

/// The language of a runtime id, from its leading letters (`python3.12` -> `python`, `java8.al2` -> `java`);
/// `dotnetcore` is .NET, and Go moved to the OS-only `provided` runtimes when `go1.x` was deprecated.
fn language(runtime: &str) -> Option<&str> {
    let end = runtime.find(|c: char| !c.is_ascii_lowercase()).unwrap_or(runtime.len());
    match &runtime[..end] {
        "" => None,
        "dotnetcore" => Some("dotnet"),
        "go" => Some("provided"),
        lang => Some(lang),
    }
}

/// ASFF `Resources[].Details.AwsLambdaFunction`: the fields this check read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsLambdaFunctionDetails {
    pub function_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

impl AsffDetails for AwsLambdaFunctionDetails {
    const KEY: &'static str = "AwsLambdaFunction";

    fn to_sdk(&self) -> sh::ResourceDetails {
        let f = sh::AwsLambdaFunctionDetails::builder().function_name(&self.function_name).set_runtime(self.runtime.clone()).build();
        sh::ResourceDetails::builder().aws_lambda_function(f).build()
    }
}

/// The fields of `ListFunctions` this check reads. Environment variables are never copied here: secrets
/// stop at the collection boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    /// `Zip` or `Image`.
    pub package_type: Option<String>,
}

/// Pure evaluation against the table on the scan date: deprecated on or before that date fails; not in the
/// table fails as unknown; image-packaged or runtime-less functions are not applicable.
pub fn evaluate(target: &Target, functions: &[FunctionInfo], table: &RuntimeTable, today: NaiveDate) -> Result<Evaluation, ScopeError> {
    let mut not_applicable = 0;
    let mut results = Vec::new();
    for f in functions {
        let runtime = match (&f.runtime, f.package_type.as_deref()) {
            (_, Some("Image")) | (None, _) => {
                not_applicable += 1;
                continue;
            }
            (Some(r), _) if r.is_empty() => {
                not_applicable += 1;
                continue;
            }
            (Some(r), _) => r,
        };
        let b = Finding::builder(INFO, target)
            .resource("AwsLambdaFunction", &f.name, &f.arn)
            .evidence("runtime", runtime.as_str())
            .details(AwsLambdaFunctionDetails { function_name: f.name.clone(), runtime: Some(runtime.clone()) });
        let b = match table.get(runtime) {
            None => b.fail(format!(
                "Lambda function {} uses runtime {runtime}, which is unknown to orgscan's runtime table (updated {}); check it against the AWS Lambda runtimes page",
                f.name, table.updated
            )),
            Some(e) => {
                let b = b.evidence("deprecation_date", e.deprecation.to_string());
                if e.deprecation <= today {
                    b.fail(format!(
                        "Lambda function {} uses runtime {runtime}, deprecated since {}: it no longer receives security updates",
                        f.name, e.deprecation
                    ))
                } else {
                    b.pass(format!("Lambda function {} uses runtime {runtime}, supported until {}", f.name, e.deprecation))
                }
            }
        };
        results.push(b.build());
    }
    Ok(Evaluation { findings: collect_findings(results)?, not_applicable, not_evaluable: Vec::new() })
}

async fn collect(cx: &CheckContext) -> Result<Vec<FunctionInfo>, ScopeError> {
    let lambda = cx.clients.lambda();
    let mut out = Vec::new();
    // ListFunctions already carries Runtime and PackageType: no per-function call is needed.
    cx.gate(Service::Lambda)
        .pages("ListFunctions", lambda.list_functions().into_paginator().send(), |page| {
            for f in page.functions() {
                let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) else { continue };
                out.push(FunctionInfo {
                    name: name.to_owned(),
                    arn: arn.to_owned(),
                    runtime: f.runtime().map(|r| r.as_str().to_owned()),
                    package_type: f.package_type().map(|p| p.as_str().to_owned()),
                });
            }
        })
        .await?;
    Ok(out)
}

/// Tag reads in flight at once: each takes a permit of the Lambda control-plane budget anyway.
const TAG_PARALLELISM: usize = 4;

/// The tags of one function: `ListTags` (Resource = the function's ARN; a map, not paginated).
/// <https://docs.aws.amazon.com/lambda/latest/api/API_ListTags.html>
async fn read_tags(cx: &CheckContext, function: Resource) -> Result<Tags, ScopeError> {
    let out = {
        let _permit = cx.gate(Service::Lambda).permit().await;
        cx.clients.lambda().list_tags().resource(&function.arn).send().await.map_err(|e| ScopeError::from_sdk("ListTags", &e))?
    };
    Ok(Some(out.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()))
}

/// The check, as the registry lists it.
pub static CHECK: Check = Check { info: INFO, run };

fn run(cx: &CheckContext) -> BoxFuture<'_, Result<Evaluation, ScopeError>> {
    Box::pin(async move {
        let functions = collect(cx).await?;
        let evaluation = evaluate(&cx.target, &functions, &cx.settings.lambda_runtimes, scan_date(cx.scan_time))?;
        with_fail_tags(cx, evaluation, TAG_PARALLELISM, |function| read_tags(cx, function)).await
    })
}

fn scan_date(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn f(name: &str, runtime: Option<&str>, package: &str) -> FunctionInfo {
        FunctionInfo {
            name: name.into(),
            arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}"),
            runtime: runtime.map(str::to_owned),
            package_type: Some(package.into()),
        }
    }

    fn target() -> Target {
        Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_bundled_table_parses_and_holds_the_seeded_dates() {
        let t = RuntimeTable::bundled().unwrap();
        assert_eq!(t.get("python3.10").unwrap().deprecation, date("2026-10-31"));
        assert_eq!(t.get("nodejs24.x").unwrap().deprecation, date("2028-04-30"));
        assert_eq!(t.get("nodejs24.x").unwrap().block_update, Some(date("2028-07-01")));
        assert_eq!(t.get("go1.x").unwrap().deprecation, date("2024-01-08"));
        for old in ["python2.7", "python3.6", "python3.7", "nodejs14.x", "dotnetcore3.1", "dotnet5.0", "dotnet7", "ruby2.5", "java8"] {
            assert!(t.get(old).is_some_and(|e| e.deprecation < date("2025-01-01")), "{old}");
        }
    }

    #[test]
    fn the_successor_is_the_same_language_supported_longest() {
        let t = RuntimeTable::bundled().unwrap();
        let today = date("2026-11-28");
        assert_eq!(t.successor("python3.8", today), Some("python3.14"));
        assert_eq!(t.successor("nodejs16.x", today), Some("nodejs24.x"));
        assert_eq!(t.successor("dotnetcore3.1", today), Some("dotnet10"));
        assert_eq!(t.successor("go1.x", today).map(|r| r.starts_with("provided")), Some(true));
        assert_eq!(t.successor("cobol85", today), None);
    }

    #[test]
    fn deprecation_takes_effect_on_its_date() {
        let t = RuntimeTable::bundled().unwrap();
        let fns = [f("fn", Some("python3.10"), "Zip")];
        let before = evaluate(&target(), &fns, &t, date("2026-10-30")).unwrap();
        assert_eq!(before.findings[0].status, Status::Pass);
        assert!(before.findings[0].message.contains("supported until 2026-10-31"));
        let on = evaluate(&target(), &fns, &t, date("2026-10-31")).unwrap();
        assert_eq!(on.findings[0].status, Status::Fail);
        assert!(on.findings[0].message.contains("deprecated since 2026-10-31"));
    }

    #[test]
    fn unknown_runtimes_fail_and_images_are_not_applicable() {
        let t = RuntimeTable::bundled().unwrap();
        let fns =
            [f("odd", Some("cobol85"), "Zip"), f("img", None, "Image"), f("img2", Some("python3.12"), "Image"), f("none", None, "Zip")];
        let e = evaluate(&target(), &fns, &t, date("2026-11-28")).unwrap();
        assert_eq!(e.not_applicable, 3);
        assert_eq!(e.findings.len(), 1);
        assert_eq!(e.findings[0].status, Status::Fail);
        assert!(e.findings[0].message.contains("unknown to orgscan's runtime table"));
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        let dup = "updated = \"2026-01-01\"\nsource = \"x\"\n[[runtime]]\nid = \"a\"\ndeprecation = \"2026-01-01\"\n[[runtime]]\nid = \"a\"\ndeprecation = \"2026-01-01\"\n";
        assert!(RuntimeTable::parse(dup, "t").unwrap_err().contains("'a' is listed twice"));
        let unknown_key = "updated = \"2026-01-01\"\nsource = \"x\"\n[[runtime]]\nid = \"a\"\ndeprecated = \"2026-01-01\"\n";
        let err = RuntimeTable::parse(unknown_key, "t").unwrap_err();
        assert!(err.contains("does not parse") && err.contains("line"), "{err}");
        assert!(
            RuntimeTable::parse("updated = \"2026-01-01\"\nsource = \"x\"\nruntime = []\n", "t").unwrap_err().contains("no [[runtime]]")
        );
    }
}
