//! What an output path accepts (README "Failure behaviour"): outputs that are one file, or an input, or inside
//! an output directory, are refused before any AWS call, compared as files, not strings; `-` is stdout for
//! `--json` only; a symlink is written through and a FIFO in place, never replaced; nothing is written or
//! deleted through a symlink planted in `--asff-dir`.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use serde_json::Value;

use crate::support::estate::{Mix, Moto, seeded_account};
use crate::support::{aws_command, stderr, tempdir};

/// `orgscan scan --this-account ARGS` in `cwd` against a refusing endpoint: (exit code, stderr).
fn refused_in(cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = aws_command(env!("CARGO_BIN_EXE_orgscan"), "http://127.0.0.1:9", &Moto::root_credentials());
    let o = cmd.current_dir(cwd).args(["scan", "--this-account", "--regions", "eu-west-1"]).args(args).output().unwrap();
    (o.status.code(), stderr(&o))
}

#[test]
fn outputs_that_are_one_file_or_an_input_or_stdout_where_it_cannot_be_are_refused_before_any_aws_call() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::create_dir(d.join("sarif")).unwrap();
    std::fs::write(d.join("rules.toml"), "").unwrap();
    std::fs::write(d.join("scan.toml"), "").unwrap();
    std::fs::write(d.join("old.json"), "{}").unwrap();
    std::os::unix::fs::symlink(d.join("rules.toml"), d.join("rules-link.toml")).unwrap();
    std::os::unix::fs::symlink(d.join("nowhere/x.json"), d.join("dangling.json")).unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--json", "r.json", "--html", "./sub/../r.json"], &["--json 'r.json' and --html './sub/../r.json' are the same file"]),
        (&["--json", "r.json", "--sarif", "./r.json"], &["are the same file"]),
        (&["--json", "rules.toml", "--suppressions", "rules.toml"], &["--json 'rules.toml' is the --suppressions file"]),
        (&["--json", "rules-link.toml", "--suppressions", "./rules.toml"], &["is the --suppressions file"]),
        (&["--html", "sub/../scan.toml", "--config", "scan.toml"], &["is the --config file"]),
        (&["--sarif", "old.json", "--baseline", "./old.json"], &["--sarif 'old.json' is the --baseline file"]),
        (&["--json", "sarif/r.json", "--sarif-dir", "sarif"], &["--json 'sarif/r.json' is inside --sarif-dir 'sarif'"]),
        (&["--json", "sub/../sarif/r.json", "--sarif-dir", "./sarif/"], &["is inside --sarif-dir"]),
        (&["--html", "-"], &["invalid --html '-': only --json writes to stdout"]),
        (&["--sarif", "-"], &["invalid --sarif '-': only --json writes to stdout"]),
        (&["--sarif-dir", "-"], &["invalid --sarif-dir '-'", "cannot go to stdout"]),
        (&["--ocsf-dir", "-"], &["invalid --ocsf-dir '-'"]),
        (&["--asff-dir", "-"], &["invalid --asff-dir '-'"]),
        (&["--json", "dangling.json"], &["invalid --json", "dangling.json", "a symlink to nothing that exists"]),
        (&["--json", "sub"], &["is a directory"]),
    ];
    for (args, needles) in cases {
        let (code, err) = refused_in(d, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: expected {n:?} in: {err}");
        }
        assert!(!err.contains("GetCallerIdentity") && !err.contains("dispatch"), "{args:?} reached AWS: {err}");
    }
    // Nothing was created: no file (or directory) named `-`, the inputs as they were.
    assert!(!d.join("-").exists(), "a file named '-' was created");
    assert_eq!(std::fs::read_to_string(d.join("old.json")).unwrap(), "{}");
    assert!(std::fs::symlink_metadata(d.join("rules-link.toml")).unwrap().file_type().is_symlink());
    // The documented read-before-write case stays allowed: --baseline and --json may be one file.
    let (code, err) = refused_in(d, &["--baseline", "old.json", "--json", "./old.json"]);
    assert!(!err.contains("same file") && !err.contains("is the --baseline file"), "{code:?}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_is_written_through_a_fifo_in_place_and_asff_dir_never_follows_a_planted_symlink() {
    let moto = Moto::from_env();
    let (account, creds) = seeded_account(&moto, &["eu-west-1"], |_| Mix::light(1)).await.unwrap();
    let dir = tempdir();
    let d = dir.path();
    // --sarif names a symlink: the file it points to gets the SARIF, the link stays a link.
    std::fs::write(d.join("real.sarif"), "old").unwrap();
    std::os::unix::fs::symlink(d.join("real.sarif"), d.join("link.sarif")).unwrap();
    // --json names a FIFO: its reader gets the whole report, and it stays a FIFO.
    let fifo = d.join("report.pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(fifo).unwrap().read_to_string(&mut s).unwrap();
            s
        })
    };
    // --asff-dir: the account's directory is a symlink planted to a directory outside the tree, holding a
    // file named like a stale batch and a file of its own.
    let asff = d.join("asff");
    let outside = d.join("outside");
    std::fs::create_dir_all(outside.join("eu-west-1")).unwrap();
    std::fs::write(outside.join("eu-west-1/batch-0002.json"), "not orgscan's").unwrap();
    std::fs::write(outside.join("keep.txt"), "keep").unwrap();
    std::fs::create_dir(&asff).unwrap();
    std::os::unix::fs::symlink(&outside, asff.join(&account)).unwrap();

    let link = d.join("link.sarif");
    let args = [
        "scan",
        "--this-account",
        "--regions",
        "eu-west-1",
        "--json",
        fifo.to_str().unwrap(),
        "--sarif",
        link.to_str().unwrap(),
        "--asff-dir",
        asff.to_str().unwrap(),
    ];
    let o = aws_command(env!("CARGO_BIN_EXE_orgscan"), &moto.endpoint, &creds).args(args).output().unwrap();
    let err = stderr(&o);
    let json = reader.join().unwrap();
    // The ASFF scope behind the symlink is refused (exit 5), everything else is written.
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("symlink inside the output directory"), "{err}");
    let report: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("the FIFO's reader got a whole report: {e}: {json}"));
    assert_eq!(report["tool"]["name"], "orgscan");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    assert!(std::fs::symlink_metadata(d.join("link.sarif")).unwrap().file_type().is_symlink(), "the symlink was replaced");
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(d.join("real.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Nothing outside the tree was written or deleted.
    assert_eq!(std::fs::read_to_string(outside.join("eu-west-1/batch-0002.json")).unwrap(), "not orgscan's");
    assert_eq!(std::fs::read_to_string(outside.join("keep.txt")).unwrap(), "keep");
    let names: Vec<_> = std::fs::read_dir(outside.join("eu-west-1")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
}
