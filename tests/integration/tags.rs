//! Tags of FAIL resources (`CheckSettings::read_tags`, set when suppression rules match on tags): read for
//! FAILs only, one read per failing resource; not at all when off; a failed read keeps the FAIL, without tags.
//! aws-smithy-mocks for the SDK shapes and faults (no server), moto end to end for every check.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::list_keys::ListKeysOutput;
use aws_sdk_kms::operation::list_resource_tags::{ListResourceTagsError, ListResourceTagsOutput};
use aws_sdk_kms::types::{KeyListEntry, KeyManagerType, KeyMetadata, KeyState};
use aws_sdk_lambda::operation::list_functions::ListFunctionsOutput;
use aws_sdk_lambda::operation::list_tags::{ListTagsError, ListTagsOutput};
use aws_sdk_lambda::types::{FunctionConfiguration, PackageType, Runtime};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use orgscan::aws::ClientFactory;
use orgscan::aws::limits::Limits;
use orgscan::check::lambda::RuntimeTable;
use orgscan::check::{CheckContext, CheckSettings, Evaluation};
use orgscan::model::{AccountId, Finding, ScanReport, Service, Status, Target};

use crate::support::estate::{Moto, ensure_lambda_role, zip_function};
use crate::support::{err_meta, plan};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A check context whose every call is answered by `rules` (nothing reaches a network), with SDK retries
/// quick enough for throttling tests, and its factory (for the call statistics).
/// `ListWebFunctions` answering an empty region.
pub(crate) fn no_web_functions() -> Rule {
    mock!(aws_sdk_lambdaweb::Client::list_web_functions).then_output(|| {
        aws_sdk_lambdaweb::operation::list_web_functions::ListWebFunctionsOutput::builder().set_functions(Some(Vec::new())).build().unwrap()
    })
}

pub(crate) fn mocked(rules: &[&Rule], read_tags: bool) -> (CheckContext, ClientFactory) {
    let cfg = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Moto::root_credentials()))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(2).with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .build();
    let mut mocks = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        mocks = mocks.with_rule(r);
    }
    // The Lambda check also lists Web Functions: none here, unless a test's own rule (matched first) says so.
    mocks = mocks.with_rule(&no_web_functions());
    let factory = ClientFactory::from_sdk_config(cfg).with_interceptor(mocks);
    let account: AccountId = ACCOUNT.parse().unwrap();
    let config = factory.account_config(&account, SharedCredentialsProvider::new(Moto::root_credentials()));
    let target = Target::new(account, REGION.parse().unwrap());
    let cx = CheckContext {
        clients: factory.clients(&config, &target.region),
        target,
        limits: Arc::new(Limits::with_rates(orgscan::check::rate)),
        scan_time: chrono::Utc::now(),
        settings: CheckSettings {
            lambda_runtimes: Arc::new(RuntimeTable::bundled().unwrap()),
            lambda_warn_days: 90,
            deep: true,
            delegated_admins: Default::default(),
            read_tags,
        },
    };
    (cx, factory)
}

fn by_id<'a>(e: &'a Evaluation, id: &str) -> &'a Finding {
    e.findings.iter().find(|f| f.resource.id == id).unwrap_or_else(|| panic!("no finding for {id}: {:?}", e.findings))
}

fn calls(factory: &ClientFactory, service: &str, op: &str) -> (u64, u64) {
    factory.stats().snapshot().get(&(service.to_owned(), op.to_owned())).map(|c| (c.calls, c.attempts)).unwrap_or((0, 0))
}

// KMS with mocks: two customer keys, one pending deletion (FAIL), one enabled (PASS).

fn kms_keys() -> (Rule, Rule, Rule) {
    let list = mock!(aws_sdk_kms::Client::list_keys).then_output(|| {
        ListKeysOutput::builder()
            .keys(KeyListEntry::builder().key_id("k-pending").build())
            .keys(KeyListEntry::builder().key_id("k-enabled").build())
            .build()
    });
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_compute_output(|req| {
        let id = req.key_id().unwrap_or_default();
        let state = if id == "k-pending" { KeyState::PendingDeletion } else { KeyState::Enabled };
        let m = KeyMetadata::builder()
            .key_id(id)
            .arn(format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}"))
            .key_manager(KeyManagerType::Customer)
            .key_state(state)
            .build()
            .unwrap();
        DescribeKeyOutput::builder().key_metadata(m).build()
    });
    // With a key pending deletion the check reads the region's aliases (for its dependents): one alias.
    let aliases = mock!(aws_sdk_kms::Client::list_aliases).then_output(|| {
        aws_sdk_kms::operation::list_aliases::ListAliasesOutput::builder()
            .aliases(aws_sdk_kms::types::AliasListEntry::builder().alias_name("alias/app").target_key_id("k-pending").build())
            .build()
    });
    (list, describe, aliases)
}

fn kms_tag(k: &str, v: &str) -> aws_sdk_kms::types::Tag {
    aws_sdk_kms::types::Tag::builder().tag_key(k).tag_value(v).build().unwrap()
}

#[tokio::test]
async fn kms_reads_the_tags_of_failing_keys_only_and_pages_through_them() {
    let (list, describe, aliases) = kms_keys();
    // Two pages: `Truncated` with a `NextMarker`, then the rest.
    let first = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some("k-pending") && r.marker().is_none())
        .then_output(|| ListResourceTagsOutput::builder().tags(kms_tag("env", "sandbox")).truncated(true).next_marker("m1").build());
    let second = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some("k-pending") && r.marker() == Some("m1"))
        .then_output(|| ListResourceTagsOutput::builder().tags(kms_tag("owner", "team-a")).truncated(false).build());
    // Any other tag read (a PASS key's) would be answered here, and counted.
    let other = mock!(aws_sdk_kms::Client::list_resource_tags)
        .match_requests(|r| r.key_id() != Some("k-pending"))
        .then_output(|| ListResourceTagsOutput::builder().build());
    let (cx, factory) = mocked(&[&list, &describe, &aliases, &first, &second, &other], true);

    let e = orgscan::check::kms::CHECK.run(&cx).await.unwrap();
    let pending = by_id(&e, "k-pending");
    assert_eq!(pending.status, Status::Fail);
    assert_eq!(pending.tags.as_deref(), Some(&tags(&[("env", "sandbox"), ("owner", "team-a")])));
    let enabled = by_id(&e, "k-enabled");
    assert_eq!((enabled.status, &enabled.tags), (Status::Pass, &None), "a PASS has no tags read");
    assert_eq!((first.num_calls(), second.num_calls(), other.num_calls()), (1, 1, 0));
    assert_eq!(calls(&factory, "KMS", "ListResourceTags"), (2, 2), "both pages are counted in the statistics");
}

#[tokio::test]
async fn kms_makes_no_tag_call_when_tags_are_not_asked_for() {
    let (list, describe, aliases) = kms_keys();
    let tag_reads = mock!(aws_sdk_kms::Client::list_resource_tags).then_output(|| ListResourceTagsOutput::builder().build());
    let (cx, factory) = mocked(&[&list, &describe, &aliases, &tag_reads], false);

    let e = orgscan::check::kms::CHECK.run(&cx).await.unwrap();
    assert_eq!(by_id(&e, "k-pending").status, Status::Fail);
    assert!(e.findings.iter().all(|f| f.tags.is_none()));
    // The aliases of the pending key, read once for the region: in its evidence and the key references.
    assert_eq!(aliases.num_calls(), 1);
    assert_eq!(by_id(&e, "k-pending").evidence["aliases"], serde_json::json!(["alias/app"]));
    assert!(by_id(&e, "k-enabled").evidence.get("aliases").is_none());
    assert_eq!(e.keys.aliases.iter().map(|a| (a.alias.as_str(), a.key_id.as_str())).collect::<Vec<_>>(), [("alias/app", "k-pending")]);
    assert_eq!(tag_reads.num_calls(), 0);
    assert_eq!(calls(&factory, "KMS", "ListResourceTags"), (0, 0));
}

#[tokio::test]
async fn a_denied_kms_tag_read_keeps_the_fail_without_tags_and_an_expired_session_ends_the_scope() {
    // A key policy that allows DescribeKey but not ListResourceTags: the FAIL stays, nothing else changes.
    let (list, describe, aliases) = kms_keys();
    let denied = mock!(aws_sdk_kms::Client::list_resource_tags).then_error(|| {
        ListResourceTagsError::generic(err_meta(
            "AccessDeniedException",
            "User: arn:aws:sts::111122223333:assumed-role/OrgScanAudit/s is not authorized to perform: kms:ListResourceTags",
        ))
    });
    let (cx, _) = mocked(&[&list, &describe, &aliases, &denied], true);
    let e = orgscan::check::kms::CHECK.run(&cx).await.unwrap();
    let pending = by_id(&e, "k-pending");
    assert_eq!((pending.status, &pending.tags), (Status::Fail, &None));
    assert_eq!(e.findings.len(), 2);
    assert!(e.not_evaluable.is_empty(), "the key was evaluated: {:?}", e.not_evaluable);
    assert_eq!(denied.num_calls(), 1);

    // An expired session is no resource's problem: the scope ends, to be renewed and run again (as for a
    // describe), rather than every FAIL of a dead session silently losing its tags.
    let (list, describe, aliases) = kms_keys();
    let expired = mock!(aws_sdk_kms::Client::list_resource_tags).then_error(|| {
        ListResourceTagsError::generic(err_meta("ExpiredTokenException", "The security token included in the request is expired"))
    });
    let (cx, _) = mocked(&[&list, &describe, &aliases, &expired], true);
    let err = orgscan::check::kms::CHECK.run(&cx).await.unwrap_err();
    assert!(err.is_expired_token(), "{err}");
}

// Lambda with mocks: one function on a deprecated runtime (FAIL), one on a supported one (PASS), one image.

fn lambda_functions() -> Rule {
    let f = |name: &str, runtime: Option<&str>, package: PackageType| {
        let mut b = FunctionConfiguration::builder()
            .function_name(name)
            .function_arn(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"))
            .package_type(package);
        if let Some(r) = runtime {
            b = b.runtime(Runtime::from(r));
        }
        b.build()
    };
    mock!(aws_sdk_lambda::Client::list_functions).then_output(move || {
        ListFunctionsOutput::builder()
            .functions(f("fn-old", Some("python3.8"), PackageType::Zip))
            .functions(f("fn-new", Some("python3.12"), PackageType::Zip))
            .functions(f("fn-image", None, PackageType::Image))
            .build()
    })
}

const OLD_ARN: &str = "arn:aws:lambda:eu-west-1:111122223333:function:fn-old";

#[tokio::test]
async fn lambda_reads_the_tags_of_failing_functions_only_by_their_arn() {
    let functions = lambda_functions();
    let of_old = mock!(aws_sdk_lambda::Client::list_tags)
        .match_requests(|r| r.resource() == Some(OLD_ARN))
        .then_output(|| ListTagsOutput::builder().tags("env", "sandbox").build());
    let others = mock!(aws_sdk_lambda::Client::list_tags)
        .match_requests(|r| r.resource() != Some(OLD_ARN))
        .then_output(|| ListTagsOutput::builder().build());
    let (cx, factory) = mocked(&[&functions, &of_old, &others], true);

    let e = orgscan::check::lambda::CHECK.run(&cx).await.unwrap();
    let old = by_id(&e, "fn-old");
    assert_eq!((old.status, old.tags.as_deref()), (Status::Fail, Some(&tags(&[("env", "sandbox")]))));
    let new = by_id(&e, "fn-new");
    assert_eq!((new.status, &new.tags), (Status::Pass, &None));
    assert_eq!((of_old.num_calls(), others.num_calls()), (1, 0), "one call per FAIL, none for the PASS or the image");
    assert_eq!(calls(&factory, "Lambda", "ListTags"), (1, 1));
}

#[tokio::test]
async fn lambda_makes_no_tag_call_when_tags_are_not_asked_for() {
    let functions = lambda_functions();
    let tag_reads = mock!(aws_sdk_lambda::Client::list_tags).then_output(|| ListTagsOutput::builder().build());
    let (cx, _) = mocked(&[&functions, &tag_reads], false);
    let e = orgscan::check::lambda::CHECK.run(&cx).await.unwrap();
    assert_eq!(by_id(&e, "fn-old").status, Status::Fail);
    assert!(e.findings.iter().all(|f| f.tags.is_none()));
    assert_eq!(tag_reads.num_calls(), 0);
}

#[tokio::test]
async fn a_lambda_tag_read_throttled_past_its_retries_keeps_the_fail_without_tags() {
    let functions = lambda_functions();
    let throttled = mock!(aws_sdk_lambda::Client::list_tags)
        .then_error(|| ListTagsError::generic(err_meta("TooManyRequestsException", "Rate exceeded")));
    let (cx, factory) = mocked(&[&functions, &throttled], true);
    let e = orgscan::check::lambda::CHECK.run(&cx).await.unwrap();
    let old = by_id(&e, "fn-old");
    assert_eq!((old.status, &old.tags), (Status::Fail, &None));
    assert_eq!(e.findings.len(), 2);
    assert_eq!(e.not_applicable, 1);
    assert!(e.not_evaluable.is_empty());
    assert_eq!(calls(&factory, "Lambda", "ListTags"), (1, 2), "retried once (max attempts 2), then given up");
}

// End to end against moto: tagged resources of every check, each failing and passing.

/// A scan of the account with tags read, as suppression rules on tags ask.
async fn scan_with_tags(moto: &Moto, creds: &aws_credential_types::Credentials) -> ScanReport {
    let mut plan = plan(&["--this-account", "--regions", REGION]);
    plan.settings.read_tags = true;
    match orgscan::run_scan(&plan, moto.factory(creds), std::future::pending(), &mut orgscan::scan::Silent).await {
        Ok(r) => r,
        Err(e) => panic!("scan did not start: {e}"),
    }
}

fn finding<'a>(r: &'a ScanReport, check: &str, id: &str) -> &'a Finding {
    r.findings.iter().find(|f| f.check.id == check && f.resource.id == id).unwrap_or_else(|| panic!("no {check} finding for {id}"))
}

fn api_calls(r: &ScanReport, service: &str, op: &str) -> u64 {
    r.stats.api.get(&(service.to_owned(), op.to_owned())).map(|c| c.calls).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_reads_the_tags_of_its_fails_from_moto() {
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    let cfg = moto.sdk_config(&creds, REGION);
    let sandbox = tags(&[("env", "sandbox")]);

    // KMS: a tagged key pending deletion (FAIL), a tagged enabled key (PASS), an untagged pending one.
    let kms = aws_sdk_kms::Client::new(&cfg);
    let mut keys = Vec::new();
    for (tagged, pending) in [(true, true), (true, false), (false, true)] {
        let mut req = kms.create_key();
        if tagged {
            req = req.tags(kms_tag("env", "sandbox"));
        }
        let id = req.send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
        if pending {
            kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
        }
        keys.push(id);
    }

    // Lambda: a tagged function on a deprecated runtime (FAIL), a tagged one on a supported runtime (PASS).
    let role = ensure_lambda_role(&moto, &creds).await.unwrap();
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    for (name, runtime) in [("fn-old", "python3.8"), ("fn-new", "python3.12")] {
        zip_function(&lambda, name, &role, runtime).tags("env", "sandbox").send().await.unwrap();
    }

    // OpenSearch: a tagged unencrypted domain (FAIL).
    let os = aws_sdk_opensearch::Client::new(&cfg);
    let os_tag = aws_sdk_opensearch::types::Tag::builder().key("env").value("sandbox").build().unwrap();
    os.create_domain().domain_name("os-plain").engine_version("OpenSearch_2.11").tag_list(os_tag).send().await.unwrap();

    // SageMaker: a tagged notebook with direct internet access (FAIL).
    let sm = aws_sdk_sagemaker::Client::new(&cfg);
    sm.create_notebook_instance()
        .notebook_instance_name("nb-open")
        .instance_type(aws_sdk_sagemaker::types::InstanceType::MlT2Medium)
        .role_arn(&role)
        .direct_internet_access(aws_sdk_sagemaker::types::DirectInternetAccess::Enabled)
        .tags(aws_sdk_sagemaker::types::Tag::builder().key("env").value("sandbox").build())
        .send()
        .await
        .unwrap();

    // GuardDuty: a tagged disabled detector (FAIL); a region without one is the next test.
    let gd = aws_sdk_guardduty::Client::new(&cfg);
    let detector = gd.create_detector().enable(false).tags("env", "sandbox").send().await.unwrap().detector_id().unwrap().to_owned();

    let r = scan_with_tags(&moto, &creds).await;
    assert!(r.errors.is_empty() && r.not_evaluable.is_empty(), "{:?} {:?}", r.errors, r.not_evaluable);

    let kms_check = "kms-key-not-pending-deletion";
    let pending = finding(&r, kms_check, &keys[0]);
    assert_eq!((pending.status, pending.tags.as_deref()), (Status::Fail, Some(&sandbox)), "a key pending deletion with env=sandbox");
    let enabled = finding(&r, kms_check, &keys[1]);
    assert_eq!((enabled.status, &enabled.tags), (Status::Pass, &None), "a PASS has no tags read, tagged or not");
    let untagged = finding(&r, kms_check, &keys[2]);
    assert_eq!((untagged.status, untagged.tags.as_deref()), (Status::Fail, Some(&BTreeMap::new())), "read, and empty: not None");
    // One call per FAIL on a key: these two, and any other check's FAIL on a key of this region.
    let key_fails = r.failures().filter(|f| f.check.service == Service::Kms).count() as u64;
    assert!(key_fails >= 2, "{key_fails}");
    assert_eq!(api_calls(&r, "KMS", "ListResourceTags"), key_fails, "one call per failing key");

    let old = finding(&r, "lambda-supported-runtime", "fn-old");
    assert_eq!((old.status, old.tags.as_deref()), (Status::Fail, Some(&sandbox)));
    let new = finding(&r, "lambda-supported-runtime", "fn-new");
    assert_eq!((new.status, &new.tags), (Status::Pass, &None));
    assert_eq!(api_calls(&r, "Lambda", "ListTags"), 1);

    let domain = finding(&r, "opensearch-encryption-at-rest", "os-plain");
    assert_eq!((domain.status, domain.tags.as_deref()), (Status::Fail, Some(&sandbox)));
    assert_eq!(api_calls(&r, "OpenSearch", "ListTags"), 1);

    let notebook = finding(&r, "sagemaker-notebook-no-direct-internet", "nb-open");
    assert_eq!((notebook.status, notebook.tags.as_deref()), (Status::Fail, Some(&sandbox)));
    assert_eq!(api_calls(&r, "SageMaker", "ListTags"), 1);

    // GuardDuty's detector tags come with GetDetector: no call of their own.
    let disabled = finding(&r, "guardduty-enabled", &detector);
    assert_eq!((disabled.status, disabled.tags.as_deref()), (Status::Fail, Some(&sandbox)));
    assert_eq!(api_calls(&r, "GuardDuty", "GetDetector"), 1);

    // The same account without tags asked for: no tag call at all, no tags.
    let plain = crate::support::scan_with(moto.factory(&creds), &["--this-account", "--regions", REGION]).await;
    assert_eq!(plain.findings.len(), r.findings.len());
    assert!(plain.findings.iter().all(|f| f.tags.is_none()));
    for (service, op) in [("KMS", "ListResourceTags"), ("Lambda", "ListTags"), ("OpenSearch", "ListTags"), ("SageMaker", "ListTags")] {
        assert_eq!(api_calls(&plain, service, op), 0, "{service} {op}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_without_a_detector_fails_on_the_account_without_tags() {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let mut plan = plan(&["--this-account", "--regions", REGION, "--checks", "guardduty-enabled"]);
    plan.settings.read_tags = true;
    let r = orgscan::run_scan(&plan, moto.factory(&creds), std::future::pending(), &mut orgscan::scan::Silent).await.unwrap();
    let f = finding(&r, "guardduty-enabled", &account);
    // The account's tags live in Organizations and are not read: `None`, so a rule on tags does not match.
    assert_eq!((f.status, f.resource.resource_type, &f.tags), (Status::Fail, "AwsAccount", &None));
}
