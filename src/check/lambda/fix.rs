//! `orgscan fix` for Lambda: never automatic (a new runtime can break the function); the source article's
//! runtime update (24), with the runtime of the same language supported longest, and the aliases or
//! endpoints that still route to an old runtime moved.

use super::evidence::{ALIASED_VERSIONS, ALIASES, ENDPOINTS, REVISION, RUNTIME, RUNTIME_STATUS, SERVED_REVISIONS};
use super::runtimes::RuntimeTable;
use super::web::RESOURCE_TYPE as WEB_FUNCTION;
use crate::check::remedy::{PlanInput, Remedy, sh};
use crate::model::Finding;

pub(super) fn remedy(f: &Finding, input: &PlanInput<'_>) -> Remedy {
    Remedy::Manual {
        why: "a new runtime can break the function (its code and dependencies must support it), so orgscan never changes one".to_owned(),
        commands: manual(f, &input.settings.lambda_runtimes, input.today),
    }
}

/// The article's runtime update (24), with the runtime of the same language supported longest.
pub fn manual(f: &Finding, table: &RuntimeTable, today: chrono::NaiveDate) -> Vec<String> {
    let (region, name) = (sh(f.target.region.as_str()), sh(&f.resource.id));
    let runtime = RUNTIME.str(f).and_then(|r| table.successor(r, today)).map_or_else(|| "RUNTIME".to_owned(), sh);
    if f.resource.resource_type == WEB_FUNCTION {
        return web_function(f, &region, &name, &runtime);
    }
    let mut out = vec![
        format!("aws lambda get-function-configuration --region {region} --function-name {name} --query 'Runtime'"),
        "# test the code and its dependencies on the new runtime first (e.g. on a published version behind an alias)".to_owned(),
        format!("aws lambda update-function-configuration --region {region} --function-name {name} --runtime {runtime}"),
    ];
    // The aliases that still route to a version on an old runtime: publish the upgraded $LATEST, move them.
    let stale: Vec<&str> = ALIASED_VERSIONS
        .array(f)
        .iter()
        .filter(|v| RUNTIME_STATUS.str_in(v).is_some_and(|s| s != "supported"))
        .flat_map(|v| ALIASES.array_in(v).iter().filter_map(|a| a.as_str()))
        .collect();
    if !stale.is_empty() {
        out.push(format!("aws lambda publish-version --region {region} --function-name {name} --query Version"));
        out.extend(stale.iter().map(|alias| {
            format!("aws lambda update-alias --region {region} --function-name {name} --name {} --function-version NEW_VERSION", sh(alias))
        }));
    }
    out
}

/// A Web Function's revisions are immutable: a new revision on the new runtime, then the endpoints that route
/// to an old one moved to it (an endpoint in `LatestRevision` mode moves by itself once the revision is
/// Active; "Deployment patterns" and "Managing Web Function revisions", Lambda Developer Guide). The code
/// object, execution role and endpoint weights stay the owner's placeholders.
fn web_function(f: &Finding, region: &str, name: &str, runtime: &str) -> Vec<String> {
    let stale: Vec<&serde_json::Value> = SERVED_REVISIONS
        .array(f)
        .iter()
        .filter(|v| RUNTIME_STATUS.str_in(v).is_some_and(|s| s != "supported" && s != "newer"))
        .collect();
    let mut out: Vec<String> = stale
        .iter()
        .filter_map(|v| REVISION.str_in(v))
        .map(|rev| {
            format!(
                "aws lambda-web get-web-function-revision --region {region} --function-name {name} --revision-id {} --query buildConfig",
                sh(rev)
            )
        })
        .collect();
    out.push("# test the code and its dependencies on the new runtime first (e.g. on an endpoint with a small revision weight)".to_owned());
    out.push(format!(
        "aws lambda-web create-web-function-revision --region {region} --function-name {name} \
         --build-config 'codeConfig={{s3Object={{bucket=BUCKET,key=KEY,versionId=VERSION_ID}}}},runtimeConfig={{runtime={runtime}}}' \
         --service-config executionRoleArn=EXECUTION_ROLE_ARN --query revisionId"
    ));
    let mut endpoints: Vec<&str> = stale.iter().flat_map(|v| ENDPOINTS.array_in(v).iter().filter_map(|e| e.as_str())).collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    out.extend(endpoints.iter().map(|e| {
        format!(
            "aws lambda-web update-web-function-endpoint --region {region} --function-name {name} --endpoint-name {} \
             --revision-weights revisionId=NEW_REVISION_ID,weight=100   # not needed for an endpoint in LatestRevision mode",
            sh(e)
        )
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_on_an_old_version_gets_its_commands() {
        let t = crate::model::Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let versions = serde_json::json!([{"version": "1", "aliases": ["prod"], "runtime": "python3.7", "runtime_status": "deprecated"},
            {"version": "2", "aliases": ["canary"], "runtime": "python3.13", "runtime_status": "supported"}]);
        let f = Finding::builder(super::super::INFO, &t)
            .resource("AwsLambdaFunction", "api", "arn:aws:lambda:eu-west-1:123456789012:function:api")
            .evidence("runtime", "python3.12")
            .evidence("aliased_versions", versions)
            .fail("alias prod on python3.7")
            .build()
            .unwrap();
        let today = "2026-12-01".parse().unwrap();
        let c = manual(&f, &RuntimeTable::bundled().unwrap(), today);
        assert!(c.iter().any(|l| l.contains("publish-version") && l.contains("--function-name api")), "{c:?}");
        assert!(c.iter().any(|l| l.contains("update-alias") && l.contains("--name prod")), "{c:?}");
        assert!(!c.iter().any(|l| l.contains("canary")), "a supported alias is left alone: {c:?}");
    }

    #[test]
    fn a_web_function_gets_a_new_revision_and_its_stale_endpoints_moved() {
        use super::super::web::{ServedRevision, WebFunctionInfo, evaluate};
        let t = crate::model::Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let rev =
            |id: &str, e: &str, r: &str| ServedRevision { revision_id: id.into(), endpoints: vec![e.into()], runtime: Some(r.into()) };
        let served = vec![rev("r-new", "live", "nodejs24.x"), rev("r-old", "canary", "nodejs20.x")];
        let wf = WebFunctionInfo {
            name: "api".into(),
            arn: "arn:aws:lambda:eu-west-1:123456789012:web-function/api".into(),
            served,
            kms_keys: vec![],
        };
        let (table, today) = (RuntimeTable::bundled().unwrap(), "2026-12-01".parse().unwrap());
        let e = evaluate(&t, &[wf], &table, today, 90).unwrap();
        let c = manual(&e.findings[0], &table, today);
        assert!(c.iter().any(|l| l.contains("get-web-function-revision") && l.contains("--revision-id r-old")), "{c:?}");
        assert!(!c.iter().any(|l| l.contains("r-new")), "the supported revision is left alone: {c:?}");
        let create = c.iter().find(|l| l.contains("create-web-function-revision")).unwrap();
        assert!(create.contains("--function-name api") && create.contains("runtimeConfig={runtime=nodejs24.x}"), "{create}");
        assert!(c.iter().any(|l| l.contains("update-web-function-endpoint") && l.contains("--endpoint-name canary")), "{c:?}");
        assert!(!c.iter().any(|l| l.contains("update-function-configuration")), "not an Event Function's commands: {c:?}");
    }
}
