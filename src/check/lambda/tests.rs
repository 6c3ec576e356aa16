//! Unit tests of the Lambda check's pure evaluation and notes.

use super::summary::notes;
use crate::check::CheckSettings;
use super::*;
use crate::model::Status;

fn v(version: &str, runtime: Option<&str>, package: &str) -> VersionInfo {
    VersionInfo { version: version.into(), runtime: runtime.map(str::to_owned), package_type: Some(package.into()) }
}

fn f(name: &str, runtime: Option<&str>, package: &str) -> FunctionInfo {
    FunctionInfo {
        name: name.into(),
        arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}"),
        latest: v(LATEST, runtime, package),
        aliased: Vec::new(),
        kms_keys: Vec::new(),
    }
}

/// A zip function `name` on `latest` whose `aliases` route to published `version` on `runtime`.
fn aliased(name: &str, latest: &str, aliases: &[&str], version: &str, runtime: &str) -> FunctionInfo {
    let aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
    FunctionInfo { aliased: vec![AliasedVersion { aliases, version: v(version, Some(runtime), "Zip") }], ..f(name, Some(latest), "Zip") }
}

fn target() -> Target {
    Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap())
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn eval(fns: &[FunctionInfo], today: &str, warn_days: u32) -> Evaluation {
    evaluate(&target(), fns, &RuntimeTable::bundled().unwrap(), date(today), warn_days).unwrap()
}

/// The verdict on `function` alone on `today` (90 warning days): `status`, with a message that says `text`.
fn assert_verdict(function: FunctionInfo, today: &str, status: Status, text: &str) {
    let e = eval(&[function], today, 90);
    assert_eq!(e.findings[0].status, status);
    assert!(e.findings[0].message.contains(text), "{}", e.findings[0].message);
}

#[test]
fn deprecation_takes_effect_on_its_date_and_warns_before() {
    // python3.10 is deprecated on 2026-10-31.
    let fns = [f("fn", Some("python3.10"), "Zip")];
    let before = eval(&fns, "2026-07-01", 90);
    assert_eq!(before.findings[0].status, Status::Pass);
    assert!(before.findings[0].message.contains("supported until 2026-10-31"));
    let soon = eval(&fns, "2026-10-01", 90);
    assert_eq!(soon.findings[0].status, Status::Warn);
    assert!(soon.findings[0].message.contains("deprecated on 2026-10-31 (in 30 days)"), "{}", soon.findings[0].message);
    assert_eq!(soon.findings[0].evidence["runtime_status"], "deprecating");
    assert_eq!(eval(&fns, "2026-10-01", 0).findings[0].status, Status::Pass);
    let on = eval(&fns, "2026-10-31", 90);
    assert_eq!(on.findings[0].status, Status::Fail);
    assert!(on.findings[0].message.contains("deprecated since 2026-10-31"));
    assert_eq!(on.findings[0].evidence["runtime_status"], "deprecated");
}

#[test]
fn unknown_runtimes_fail_as_unknown_and_images_are_not_applicable() {
    let fns =
        [f("odd", Some("cobol85"), "Zip"), f("img", None, "Image"), f("img2", Some("python3.12"), "Image"), f("none", None, "Zip")];
    let e = eval(&fns, "2026-11-28", 90);
    assert_eq!(e.not_applicable, 3);
    assert_eq!(e.findings.len(), 1);
    assert_eq!(e.findings[0].status, Status::Fail);
    assert!(e.findings[0].message.contains("unknown to orgscan's runtime table"));
    assert!(!e.findings[0].message.contains("deprecated"));
    assert_eq!(e.findings[0].evidence["runtime_status"], "unknown");
}

#[test]
fn an_alias_on_an_old_version_fails_the_function_and_is_named() {
    let prod = aliased("api", "python3.12", &["live", "prod"], "3", "python3.7");
    let e = eval(&[prod], "2026-11-28", 90);
    let x = &e.findings[0];
    assert_eq!(x.status, Status::Fail);
    assert_eq!(x.resource.arn, "arn:aws:lambda:eu-west-1:123456789012:function:api");
    assert!(x.message.contains("uses runtime python3.12, supported until"), "{}", x.message);
    assert!(x.message.contains("aliases 'live', 'prod' still route to version 3 on runtime python3.7, deprecated since"), "{}", x.message);
    assert_eq!(x.evidence["aliased_versions"][0]["version"], "3");
    assert_eq!(x.evidence["aliased_versions"][0]["runtime_status"], "deprecated");
    // A deprecating aliased version makes a WARNING of a supported $LATEST.
    let soon = aliased("api", "python3.12", &["prod"], "2", "python3.10");
    assert_verdict(soon, "2026-10-01", Status::Warn, "alias 'prod' still routes to version 2 on runtime python3.10");
}

#[test]
fn a_runtime_newer_than_the_table_passes_and_the_notes_name_it() {
    let table = RuntimeTable::bundled().unwrap();
    let e = eval(&[f("new", Some("python3.15"), "Zip"), f("node", Some("nodejs26.x"), "Zip"), f("odd", Some("cobol85"), "Zip")], "2026-12-02", 90);
    let by_id = |id: &str| e.findings.iter().find(|x| x.resource.id == id).unwrap();
    for (id, newest) in [("new", "python3.14"), ("node", "nodejs24.x")] {
        let x = by_id(id);
        assert_eq!(x.status, Status::Pass, "{}", x.message);
        assert_eq!(x.evidence["runtime_status"], "newer");
        assert!(x.message.contains(&format!("newer than every runtime of its family in orgscan's runtime table (updated {}, newest {newest})", table.updated)), "{}", x.message);
        assert!(x.evidence.get("deprecation_date").is_none());
    }
    // An unknown family keeps failing as unknown.
    assert_eq!(by_id("odd").status, Status::Fail);
    let settings = CheckSettings { lambda_runtimes: std::sync::Arc::new(table.clone()), lambda_warn_days: 90, deep: true, delegated_admins: Default::default(), read_tags: false };
    let n = notes(&settings, table.updated.and_hms_opt(0, 0, 0).unwrap().and_utc(), &e.findings);
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0].contains("older than runtimes in use: nodejs26.x, python3.15;"), "{}", n[0]);
    assert_eq!(unknown_runtimes(&e.findings).into_iter().collect::<Vec<_>>(), [("cobol85", 1)]);
    // A newer runtime never makes an alias on a supported one look worse, nor the other way round.
    let mixed = aliased("mixed", "python3.15", &["prod"], "1", "python3.7");
    assert_verdict(mixed, "2026-12-02", Status::Fail, "alias 'prod' still routes to version 1 on runtime python3.7, deprecated since");
}

#[test]
fn a_customer_managed_runtime_is_not_evaluable_never_failed_as_unknown() {
    let mut latest = f("cmr", Some(CUSTOM_RUNTIME), "Zip");
    latest.kms_keys = vec!["arn:aws:kms:eu-west-1:123456789012:key/k1".into()];
    let mixed = aliased("mixed", "python3.13", &["prod"], "4", CUSTOM_RUNTIME);
    let e = eval(&[latest, mixed, f("ok", Some("python3.13"), "Zip")], "2026-12-02", 90);
    assert_eq!(e.findings.len(), 1, "{:?}", e.findings);
    assert_eq!(e.findings[0].resource.id, "ok");
    assert_eq!(e.not_evaluable.len(), 2);
    let n: Vec<(&str, &str, &str)> =
        e.not_evaluable.iter().map(|n| (n.resource.id.as_str(), n.error.code.as_str(), n.error.message.as_str())).collect();
    assert_eq!((n[0].0, n[0].1), ("cmr", CUSTOM_RUNTIME_CODE));
    assert!(n[0].2.starts_with("version $LATEST on runtime 'custom'") && n[0].2.contains("GetRuntimeAlias"), "{}", n[0].2);
    assert_eq!(n[1].0, "mixed");
    assert!(n[1].2.starts_with("version 4 on runtime 'custom'"), "{}", n[1].2);
    assert!(!n[0].2.contains("unknown"));
    assert!(!e.not_evaluable[0].error.transient);
    // Its key is still recorded: the function exists, only its runtime's lifecycle is unread.
    assert_eq!(e.keys.uses.len(), 1);
    assert!(unknown_runtimes(&e.findings).is_empty());
}

#[test]
fn the_keys_of_every_function_are_recorded_images_included() {
    let mut img = f("img", None, "Image");
    img.kms_keys = vec!["arn:aws:kms:eu-west-1:123456789012:key/k1".into()];
    let e = eval(&[img], "2026-11-28", 90);
    assert_eq!(e.keys.uses.len(), 1);
    assert_eq!((e.keys.uses[0].resource.id.as_str(), e.keys.uses[0].purpose), ("img", "environment variables"));
}

#[test]
fn qualified_arns_lose_their_version() {
    assert_eq!(unqualified("arn:aws:lambda:r:1:function:f:$LATEST", Some("$LATEST")), "arn:aws:lambda:r:1:function:f");
    assert_eq!(unqualified("arn:aws:lambda:r:1:function:f", None), "arn:aws:lambda:r:1:function:f");
}

#[test]
fn a_stale_table_is_noted_and_unknown_runtimes_counted() {
    let table = RuntimeTable::bundled().unwrap();
    let settings = CheckSettings { lambda_runtimes: std::sync::Arc::new(table.clone()), lambda_warn_days: 90, deep: true, delegated_admins: Default::default(), read_tags: false };
    let late = (table.updated + chrono::Days::new(200)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    let e = eval(&[f("odd", Some("cobol85"), "Zip"), f("ok", Some("python3.12"), "Zip")], "2026-11-28", 90);
    let n = notes(&settings, late, &e.findings);
    assert_eq!(n.len(), 1, "{n:?}");
    assert!(n[0].contains("200 days before this scan") && n[0].contains("--lambda-runtimes"), "{}", n[0]);
    let fresh = table.updated.and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert!(notes(&settings, fresh, &[]).is_empty());
    assert_eq!(unknown_runtimes(&e.findings).into_iter().collect::<Vec<_>>(), [("cobol85", 1)]);
}
