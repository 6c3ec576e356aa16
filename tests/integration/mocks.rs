//! Faults moto cannot express, injected with aws-smithy-mocks. Most tests are hybrids: the mock rules
//! answer only the calls they match and every other call passes through to moto over HTTP.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::operation::list_keys::{ListKeysError, ListKeysOutput};
use aws_sdk_kms::types::KeyListEntry;
use aws_sdk_lambda::operation::list_functions::ListFunctionsError;
use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
use aws_sdk_organizations::types::{Account, AccountState};
use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleOutput};
use aws_smithy_mocks::{MockResponseInterceptor, mock};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use orgscan::aws::ClientFactory;
use orgscan::model::{CoverageStatus, exit};

use crate::support::estate::{Mix, Moto, create_org, org_with_one_member, seed_account, seed_region};
use crate::support::{err_meta, passthrough as interceptor, quick_factory as factory, scan_with, sts_credentials};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_role_cannot_be_assumed_is_one_error_and_every_other_account_completes() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 3).await.unwrap();
    for account in org.all_accounts() {
        let creds = if account == org.management { org.management_creds.clone() } else { moto.assume(&account).await.unwrap() };
        seed_region(&moto, &creds, &account, "eu-west-3", Mix::guardduty_only(0), "").await.unwrap();
    }
    let denied = org.members[1].0.clone();
    let d = denied.clone();
    let rule = mock!(aws_sdk_sts::Client::assume_role)
        .match_requests(move |r| r.role_arn().is_some_and(|a| a.contains(&d)))
        .then_error(|| AssumeRoleError::generic(err_meta("AccessDenied", "User is not authorized to perform: sts:AssumeRole")));
    let f = factory(&moto, &org.management_creds, 2).with_interceptor(interceptor(&[&rule]));

    // Every reachable account passes: the only problem is the denied account, so the exit code is 3.
    let report = scan_with(f.clone(), &["--regions", "eu-west-3", "--checks", "guardduty-enabled"]).await;
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let e = &report.errors[0];
    assert_eq!((e.account.as_str(), e.region.as_ref(), e.check_id), (denied.as_str(), None, None));
    assert_eq!(e.error.code, "AccessDenied");
    assert!(e.error.message.contains(&denied) && e.error.message.contains("role/OrganizationAccountAccessRole"), "{}", e.error.message);
    let passed: BTreeSet<String> = report.findings.iter().map(|f| f.target.account.to_string()).collect();
    let others: BTreeSet<String> = org.all_accounts().into_iter().filter(|a| *a != denied).collect();
    assert_eq!(passed, others);
    assert!(report.findings.iter().all(|f| f.status == orgscan::model::Status::Pass));
    let denied_cov: Vec<_> = report.coverage.iter().filter(|c| c.account.as_str() == denied).collect();
    assert_eq!(denied_cov.len(), 1);
    assert!(matches!(&denied_cov[0].status, CoverageStatus::Error(e) if e.code == "AccessDenied"));
    assert_eq!((report.stats.accounts_scanned, report.stats.accounts_failed), (3, 1));

    // Where something fails as well, the exit code is 4 (FAILs and incomplete) and the denied account is still reported.
    let report = scan_with(f, &["--regions", "eu-north-1", "--checks", "guardduty-enabled"]).await;
    assert_eq!(report.exit_code(), exit::FAILED_INCOMPLETE, "FAILs found, one account not scanned");
    assert_eq!(report.failures().count(), 3);
    assert_eq!(report.errors.len(), 1);
}

/// A fresh moto account seeded in ca-central-1, its credentials, and the ids of its KMS keys pending deletion.
async fn account_with_keys() -> (Moto, aws_credential_types::Credentials, Vec<String>) {
    let moto = Moto::from_env();
    let (account, creds) = moto.fresh_account().await.unwrap();
    let expected = seed_account(&moto, &creds, &account, &["ca-central-1"], |_| Mix::light(0)).await.unwrap();
    let keys = expected.iter().filter(|e| e.check_id == "kms-key-not-pending-deletion").map(|e| e.resource_id.clone()).collect();
    (moto, creds, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_until_it_succeeds_and_past_max_attempts_is_a_scope_error() {
    let (moto, creds, keys) = account_with_keys().await;

    // ListKeys is throttled twice, then answers with the real keys (DescribeKey goes to moto).
    let k = keys.clone();
    let list = mock!(aws_sdk_kms::Client::list_keys)
        .sequence()
        .error(|| ListKeysError::generic(err_meta("ThrottlingException", "Rate exceeded")))
        .times(2)
        .output(move || {
            ListKeysOutput::builder().set_keys(Some(k.iter().map(|id| KeyListEntry::builder().key_id(id).build()).collect())).build()
        })
        .build();
    let f = factory(&moto, &creds, 3).with_interceptor(interceptor(&[&list]));
    let report = scan_with(f, &["--this-account", "--regions", "ca-central-1", "--checks", "kms-key-not-pending-deletion"]).await;
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.findings.len(), keys.len(), "a finding for every seeded key");
    assert_eq!(report.exit_code(), exit::FAILED, "one seeded key is pending deletion");
    let list_keys = report.stats.api[&("KMS".to_owned(), "ListKeys".to_owned())];
    assert_eq!((list_keys.calls, list_keys.attempts), (1, 3));
    assert_eq!(report.stats.retries(), 2);

    // DescribeKey stays throttled: after --max-attempts each key is not evaluable, with the code; nothing else.
    let describe =
        mock!(aws_sdk_kms::Client::describe_key).then_error(|| DescribeKeyError::generic(err_meta("ThrottlingException", "Rate exceeded")));
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&describe]));
    let report =
        scan_with(f, &["--this-account", "--regions", "ca-central-1", "--checks", "kms-key-not-pending-deletion,lambda-supported-runtime"])
            .await;
    let kms: Vec<_> = report.coverage.iter().filter(|c| c.check_id == "kms-key-not-pending-deletion").collect();
    assert!(
        matches!(&kms[0].status, CoverageStatus::Evaluated { resources: 0, not_evaluable, .. } if *not_evaluable == keys.len()),
        "{kms:?}"
    );
    assert_eq!(report.not_evaluable.len(), keys.len());
    assert!(report.not_evaluable.iter().all(|n| n.error.code == "ThrottlingException" && n.resource.resource_type == "AwsKmsKey"));
    assert!(report.findings.iter().all(|f| f.check.id == "lambda-supported-runtime"), "no KMS finding from an unread key");
    assert_eq!(report.findings.len(), 2, "Lambda still completes");
    assert!(report.errors.is_empty());
    assert_eq!(report.exit_code(), exit::FAILED_INCOMPLETE, "the deprecated Lambda runtime still fails, and keys went unread");
}

/// Passes calls to a mock interceptor only in one region: the inputs do not carry the region, the config does.
#[derive(Debug)]
pub(crate) struct InRegion {
    pub(crate) region: &'static str,
    pub(crate) inner: MockResponseInterceptor,
}

impl InRegion {
    fn applies(&self, cfg: &ConfigBag) -> bool {
        cfg.load::<aws_types::region::Region>().is_some_and(|r| r.as_ref() == self.region)
    }
}

/// Each listed hook of `Intercept` (with its context type), passed on to `inner` for a request in the region.
macro_rules! in_region_hooks {
    ($($hook:ident: $context:ty;)*) => {
        $(
            fn $hook(&self, c: $context, rc: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
                if self.applies(cfg) { self.inner.$hook(c, rc, cfg) } else { Ok(()) }
            }
        )*
    };
}

impl Intercept for InRegion {
    fn name(&self) -> &'static str {
        "InRegion"
    }

    in_region_hooks! {
        read_before_serialization: &BeforeSerializationInterceptorContextRef<'_>;
        modify_before_transmit: &mut BeforeTransmitInterceptorContextMut<'_>;
        modify_before_attempt_completion: &mut FinalizerInterceptorContextMut<'_>;
    }
}

fn reject_both(code: &'static str, message: &'static str) -> MockResponseInterceptor {
    let kms = mock!(aws_sdk_kms::Client::list_keys).then_error(move || ListKeysError::generic(err_meta(code, message)));
    let lambda = mock!(aws_sdk_lambda::Client::list_functions).then_error(move || ListFunctionsError::generic(err_meta(code, message)));
    interceptor(&[&kms, &lambda])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_tokens_in_opt_in_regions_and_scp_denied_scopes_are_skipped_but_other_denies_are_errors() {
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    const TOKEN: &str = "The security token included in the request is invalid.";
    const SCP: &str = "User is not authorized to perform: kms:ListKeys with an explicit deny in a service control policy";
    let only_kms_denied = {
        let kms = mock!(aws_sdk_kms::Client::list_keys).then_error(|| ListKeysError::generic(err_meta("AccessDeniedException", SCP)));
        interceptor(&[&kms])
    };
    let f = factory(&moto, &creds, 2)
        .with_interceptor(InRegion { region: "af-south-1", inner: reject_both("UnrecognizedClientException", TOKEN) })
        .with_interceptor(InRegion { region: "eu-south-2", inner: reject_both("AccessDeniedException", SCP) });

    let checks = "kms-key-not-pending-deletion,lambda-supported-runtime";
    let report = scan_with(f.clone(), &["--this-account", "--regions", "af-south-1,eu-south-2,eu-west-1", "--checks", checks]).await;
    let status = |region: &str| -> Vec<String> {
        report
            .coverage
            .iter()
            .filter(|c| c.region.as_ref().is_some_and(|r| r.as_str() == region))
            .map(|c| match c.status.skip_reason() {
                Some(reason) => format!("skipped: {reason}"),
                None => c.status.as_str().to_owned(),
            })
            .collect()
    };
    assert_eq!(status("af-south-1"), vec!["skipped: region not enabled for this account (UnrecognizedClientException)"; 2]);
    assert_eq!(
        status("eu-south-2"),
        vec!["skipped: closed by a service control policy: kms:ListKeys is denied (AccessDeniedException)"; 2]
    );
    assert_eq!(status("eu-west-1"), ["evaluated", "evaluated"]);
    assert_eq!(report.exit_code(), exit::OK, "skipped scopes are neither errors nor failures: {:?}", report.errors);

    // The same rejected token in a region that needs no opt-in means bad credentials: an error, not a skip.
    let f = factory(&moto, &creds, 2)
        .with_interceptor(InRegion { region: "us-west-2", inner: reject_both("UnrecognizedClientException", TOKEN) });
    let report = scan_with(f, &["--this-account", "--regions", "us-west-2", "--checks", checks]).await;
    assert!(report.coverage.iter().all(|c| matches!(&c.status, CoverageStatus::Error(e) if e.code == "UnrecognizedClientException")));
    assert_eq!(report.exit_code(), exit::INCOMPLETE);

    // An SCP that denies one check's calls in a region closes that scope only, whatever the other check did
    // there: skipped by policy with the denied action; the other is evaluated; the scan is complete.
    let f = factory(&moto, &creds, 2).with_interceptor(InRegion { region: "eu-west-1", inner: only_kms_denied });
    let report = scan_with(f.clone(), &["--this-account", "--regions", "eu-west-1", "--checks", checks]).await;
    let kms = report.coverage.iter().find(|c| c.check_id == "kms-key-not-pending-deletion").unwrap();
    assert!(matches!(&kms.status, CoverageStatus::ClosedByPolicy { action, .. } if action == "kms:ListKeys"), "{kms:?}");
    let lambda = report.coverage.iter().find(|c| c.check_id == "lambda-supported-runtime").unwrap();
    assert_eq!(lambda.status.as_str(), "evaluated");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.exit_code(), exit::OK);
    // --scp-denied error: every deny counts as incomplete.
    let report = scan_with(f, &["--this-account", "--regions", "eu-west-1", "--checks", checks, "--scp-denied", "error"]).await;
    let kms = report.coverage.iter().find(|c| c.check_id == "kms-key-not-pending-deletion").unwrap();
    assert!(matches!(&kms.status, CoverageStatus::Error(e) if e.code == "AccessDeniedException"), "{kms:?}");
    assert_eq!(report.exit_code(), exit::INCOMPLETE);

    // A deny that is not an SCP's (an identity-based policy) is an error: the role is wrong there.
    const IAM: &str = "User is not authorized to perform: kms:ListKeys with an explicit deny in an identity-based policy";
    let iam_denied = {
        let kms = mock!(aws_sdk_kms::Client::list_keys).then_error(|| ListKeysError::generic(err_meta("AccessDeniedException", IAM)));
        interceptor(&[&kms])
    };
    let f = factory(&moto, &creds, 2).with_interceptor(InRegion { region: "eu-west-1", inner: iam_denied });
    let report = scan_with(f, &["--this-account", "--regions", "eu-west-1", "--checks", checks]).await;
    let kms = report.coverage.iter().find(|c| c.check_id == "kms-key-not-pending-deletion").unwrap();
    assert!(matches!(&kms.status, CoverageStatus::Error(e) if e.code == "AccessDeniedException"), "{kms:?}");
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
}

#[tokio::test]
async fn list_accounts_pages_through_an_empty_page_in_the_middle() {
    let page = |ids: &[(&str, AccountState)], next: Option<&str>| {
        let accounts: Vec<Account> =
            ids.iter().map(|(id, st)| Account::builder().id(*id).name(format!("n{id}")).state(st.clone()).build()).collect();
        ListAccountsOutput::builder().set_accounts(Some(accounts)).set_next_token(next.map(str::to_owned)).build()
    };
    let p1 = page(&[("111111111111", AccountState::Active), ("222222222222", AccountState::Suspended)], Some("t1"));
    let p2 = page(&[], Some("t2"));
    let p3 = page(&[("333333333333", AccountState::Active)], None);
    let r1 =
        mock!(aws_sdk_organizations::Client::list_accounts).match_requests(|r| r.next_token().is_none()).then_output(move || p1.clone());
    let r2 = mock!(aws_sdk_organizations::Client::list_accounts)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_output(move || p2.clone());
    let r3 = mock!(aws_sdk_organizations::Client::list_accounts)
        .match_requests(|r| r.next_token() == Some("t2"))
        .then_output(move || p3.clone());
    let f = mocked(&[&r1, &r2, &r3]);
    let me: orgscan::model::AccountId = "999999999999".parse().unwrap();
    let clients = f.central_clients(&me).unwrap();
    let limits = orgscan::aws::limits::Limits::with_rates(orgscan::check::rate);
    let target = orgscan::model::Target::new(me, f.home_region());
    let accounts = orgscan::org::list_accounts(&clients, &limits, &target).await.unwrap();
    let got: Vec<(&str, &str)> = accounts.accounts.iter().map(|a| (a.id.as_str(), a.state.as_str())).collect();
    assert_eq!(got, [("111111111111", "ACTIVE"), ("222222222222", "SUSPENDED"), ("333333333333", "ACTIVE")]);
    assert_eq!(f.stats().snapshot()[&("Organizations".to_owned(), "ListAccounts".to_owned())].calls, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_whose_pages_repeat_items_gives_one_finding_per_resource() {
    let (moto, creds, keys) = account_with_keys().await;
    assert!(keys.len() >= 2);
    // Two ListKeys pages, the second repeating every key of the first (DescribeKey goes to moto).
    let entries = |ks: &[String]| ks.iter().map(|id| KeyListEntry::builder().key_id(id).build()).collect::<Vec<_>>();
    let (first, second) = (entries(&keys), entries(&keys));
    let p1 = mock!(aws_sdk_kms::Client::list_keys)
        .match_requests(|r| r.marker().is_none())
        .then_output(move || ListKeysOutput::builder().set_keys(Some(first.clone())).truncated(true).next_marker("m1").build());
    let p2 = mock!(aws_sdk_kms::Client::list_keys)
        .match_requests(|r| r.marker() == Some("m1"))
        .then_output(move || ListKeysOutput::builder().set_keys(Some(second.clone())).truncated(false).build());
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&p1, &p2]));
    let report = scan_with(f, &["--this-account", "--regions", "ca-central-1", "--checks", "kms-key-not-pending-deletion"]).await;
    assert_eq!((p1.num_calls(), p2.num_calls()), (1, 1));
    let mut fingerprints: Vec<String> = report.findings.iter().map(|f| f.fingerprint().to_string()).collect();
    let n = fingerprints.len();
    fingerprints.sort();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), n, "no fingerprint twice");
    assert_eq!(n, keys.len(), "one finding per key");
}

/// A client factory whose every request is answered by `rules` (aws-smithy-mocks), with no network.
fn mocked(rules: &[&aws_smithy_mocks::Rule]) -> ClientFactory {
    let cfg = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(Moto::root_credentials()))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .build();
    ClientFactory::from_sdk_config(cfg).with_interceptor(interceptor(rules))
}

#[tokio::test]
async fn list_accounts_takes_a_repeated_account_once_and_rejects_an_id_that_is_not_12_digits_by_name() {
    let account = |id: &str| Account::builder().id(id).name(format!("n{id}")).state(AccountState::Active).build();
    let p1 =
        ListAccountsOutput::builder().set_accounts(Some(vec![account("111111111111"), account("22222222222x")])).next_token("t1").build();
    // The second page repeats the first's account.
    let p2 = ListAccountsOutput::builder().set_accounts(Some(vec![account("111111111111"), account("333333333333")])).build();
    let r1 =
        mock!(aws_sdk_organizations::Client::list_accounts).match_requests(|r| r.next_token().is_none()).then_output(move || p1.clone());
    let r2 = mock!(aws_sdk_organizations::Client::list_accounts)
        .match_requests(|r| r.next_token() == Some("t1"))
        .then_output(move || p2.clone());
    let f = mocked(&[&r1, &r2]);
    let me: orgscan::model::AccountId = "999999999999".parse().unwrap();
    let clients = f.central_clients(&me).unwrap();
    let limits = orgscan::aws::limits::Limits::with_rates(orgscan::check::rate);
    let target = orgscan::model::Target::new(me, f.home_region());
    let listed = orgscan::org::list_accounts(&clients, &limits, &target).await.unwrap();
    let ids: Vec<&str> = listed.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["111111111111", "333333333333"]);
    assert_eq!(listed.rejected.len(), 1, "{:?}", listed.rejected);
    assert!(listed.rejected[0].contains("\"22222222222x\" is not 12 digits"), "{:?}", listed.rejected);
}

#[tokio::test]
async fn a_listing_whose_every_page_carries_a_new_token_is_cut_with_an_error_naming_the_operation() {
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = n.clone();
    let endless = mock!(aws_sdk_organizations::Client::list_accounts).then_output(move || {
        let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ListAccountsOutput::builder().set_accounts(Some(Vec::new())).next_token(format!("t{i}")).build()
    });
    let f = mocked(&[&endless]);
    let me: orgscan::model::AccountId = "999999999999".parse().unwrap();
    let clients = f.central_clients(&me).unwrap();
    // A bound of 200 pages (the default, MAX_PAGES, is 10,000) and no rate to wait for: the bound is tested.
    let fast = |_| orgscan::model::Rate { per_second: 1_000_000, burst: 1_000_000 };
    let limits = orgscan::aws::limits::Limits::with_rates(fast).with_max_pages(200);
    let target = orgscan::model::Target::new(me, f.home_region());
    let err = orgscan::org::list_accounts(&clients, &limits, &target).await.unwrap_err();
    assert_eq!(err.code, "TooManyPages");
    assert!(err.message.contains("ListAccounts"), "{err}");
    assert!(err.message.contains("200 pages"), "{err}");
    assert_eq!(n.load(std::sync::atomic::Ordering::Relaxed), 201, "one page past the bound, no more");
}

/// Records the access key id of every request signed with SigV4.
#[derive(Debug, Default, Clone)]
struct KeysSeen(Arc<Mutex<BTreeSet<String>>>);

impl Intercept for KeysSeen {
    fn name(&self) -> &'static str {
        "KeysSeen"
    }

    fn read_before_transmit(
        &self,
        c: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(auth) = c.request().headers().get("authorization")
            && let Some(rest) = auth.split("Credential=").nth(1)
            && let Some(key) = rest.split('/').next()
        {
            self.0.lock().unwrap().insert(key.to_owned());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_during_the_scan_are_refreshed_before_use() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 1).await.unwrap();
    let member = org.members[0].0.clone();
    seed_region(&moto, &moto.assume(&member).await.unwrap(), &member, "eu-west-1", Mix::guardduty_only(0), "").await.unwrap();
    // Two real sessions of the member account; the first one expires one second after it is issued.
    let first = moto.assume(&member).await.unwrap();
    let second = moto.assume(&member).await.unwrap();
    let (a, b) = (sts_credentials(&first, Duration::from_secs(1)), sts_credentials(&second, Duration::from_secs(3600)));
    let assume = mock!(aws_sdk_sts::Client::assume_role)
        .sequence()
        .output(move || AssumeRoleOutput::builder().credentials(a.clone()).build())
        .output(move || AssumeRoleOutput::builder().credentials(b.clone()).build())
        .build();
    let seen = KeysSeen::default();
    let f = factory(&moto, &org.management_creds, 2).with_interceptor(interceptor(&[&assume])).with_interceptor(seen.clone());
    let report = scan_with(f, &["--accounts", &member, "--regions", "eu-west-1", "--checks", "guardduty-enabled"]).await;

    assert_eq!(report.errors, vec![], "no ExpiredToken, no error");
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].status, orgscan::model::Status::Pass);
    assert_eq!(assume.num_calls(), 2, "the expiring session was replaced");
    let keys = seen.0.lock().unwrap().clone();
    assert!(keys.contains(second.access_key_id()), "the member's calls use the fresh session: {keys:?}");
    assert!(!keys.contains(first.access_key_id()), "the expiring session is never used: {keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_mid_scan_renews_the_session_and_runs_the_scope_once_more() {
    let moto = Moto::from_env();
    let (org, member, creds) = org_with_one_member(&moto).await.unwrap();
    let expected = seed_account(&moto, &creds, &member, &["eu-west-1"], |_| Mix::light(0)).await.unwrap();
    let keys = expected.iter().filter(|e| e.check_id == "kms-key-not-pending-deletion").count();
    let expired = mock!(aws_sdk_kms::Client::list_keys)
        .sequence()
        .error(|| ListKeysError::generic(err_meta("ExpiredTokenException", "The security token included in the request is expired")))
        .times(1)
        .build();
    let f = factory(&moto, &org.management_creds, 3).with_interceptor(interceptor(&[&expired]));
    let report = scan_with(f, &["--accounts", &member, "--regions", "eu-west-1", "--checks", "kms-key-not-pending-deletion"]).await;
    assert_eq!(report.errors, vec![]);
    assert_eq!(report.findings.len(), keys, "the scope was evaluated after the renewal");
    assert_eq!(expired.num_calls(), 1);
    let calls = |service: &str, op: &str| report.stats.api.get(&(service.to_owned(), op.to_owned())).map(|c| c.calls);
    assert_eq!(calls("STS", "AssumeRole"), Some(2), "the session was assumed again");
    assert_eq!(calls("KMS", "ListKeys"), Some(2), "the call was made once more, and only once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_in_a_region_the_account_confirmed_enabled_is_an_error_not_a_skip() {
    use aws_sdk_account::operation::list_regions::ListRegionsOutput;
    use aws_sdk_account::types::{Region as AccountRegion, RegionOptStatus};
    let moto = Moto::from_env();
    let (_account, creds) = moto.fresh_account().await.unwrap();
    // The account's own ListRegions says af-south-1 is enabled (moto does not implement the Account API).
    let regions = mock!(aws_sdk_account::Client::list_regions).then_output(|| {
        ListRegionsOutput::builder()
            .regions(AccountRegion::builder().region_name("af-south-1").region_opt_status(RegionOptStatus::Enabled).build())
            .regions(AccountRegion::builder().region_name("eu-west-1").region_opt_status(RegionOptStatus::EnabledByDefault).build())
            .build()
    });
    let f = factory(&moto, &creds, 2).with_interceptor(interceptor(&[&regions])).with_interceptor(InRegion {
        region: "af-south-1",
        inner: reject_both("UnrecognizedClientException", "The security token included in the request is invalid."),
    });
    let report = scan_with(f, &["--this-account", "--checks", "kms-key-not-pending-deletion,lambda-supported-runtime"]).await;
    let regions: BTreeSet<String> = report.coverage.iter().filter_map(|c| c.region.as_ref().map(|r| r.to_string())).collect();
    assert_eq!(regions, BTreeSet::from(["af-south-1".to_owned(), "eu-west-1".to_owned()]), "the account's own region list is used");
    for c in report.coverage.iter().filter(|c| c.region.as_ref().is_some_and(|r| r.as_str() == "af-south-1")) {
        assert!(matches!(&c.status, CoverageStatus::Error(e) if e.code == "UnrecognizedClientException"), "{c:?}");
    }
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_that_evaluates_nothing_never_exits_0() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 2).await.unwrap();
    // prod-eu is empty in a two-member organization: no account matches.
    let report = scan_with(factory(&moto, &org.management_creds, 2), &["--ou", org.ou("prod-eu"), "--regions", "eu-west-1"]).await;
    assert!(report.coverage.is_empty() && report.findings.is_empty());
    assert_eq!(report.exit_code(), exit::INCOMPLETE);
    assert!(orgscan::report::text::render(&report).contains("NOTHING EVALUATED"));
}
