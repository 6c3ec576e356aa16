//! The release image (Containerfile, scripts/image.sh): built with buildah from the binary these tests built,
//! then run as the engines run it, without a shell: `buildah run --isolation chroot` of the image's own
//! /usr/local/bin/orgscan against moto, the reports written to a mounted directory, and SIGTERM sent to that
//! process mid-scan. buildah is installed by scripts/test.sh (Debian's package); a machine without it fails
//! this test, never skips it.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aws_credential_types::Credentials;
use serde_json::Value;

use crate::support::estate::{Mix, Moto, create_org, seed_org};
use crate::support::{assert_valid, expected_rows, files_under, orgscan, read_json, report_rows, root, stderr, tempdir};

fn buildah(args: &[&str]) -> Output {
    Command::new("buildah").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run buildah ({e}): run the tests with scripts/test.sh, which installs it (apt-get install buildah)")
    })
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// The image, removed when the test ends (also when it fails).
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = buildah(&["rmi", "--force", &self.0]);
    }
}

/// A working container of the image (`buildah from`), removed when the test ends.
struct Container(String);

impl Container {
    fn of(image: &Image) -> Self {
        Container(ok(buildah(&["from", "--pull-never", &image.0]), "buildah from"))
    }

    /// `buildah run` of the image's binary: the host's network (moto on 127.0.0.1), `dir` at /out, and
    /// only the environment given (as an engine passes it: explicit values).
    fn run(&self, dir: &Path, env: &[(String, String)], args: &[&str]) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.args(["run", "--isolation", "chroot", "--network", "host", "-v", &format!("{}:/out", dir.display())]);
        for (k, v) in env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        cmd.arg(&self.0).arg("--").arg("/usr/local/bin/orgscan").args(args);
        cmd
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = buildah(&["rm", &self.0]);
    }
}

fn aws_env(endpoint: &str, creds: &Credentials) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), creds.access_key_id().to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), creds.secret_access_key().to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
    ];
    if let Some(t) = creds.session_token() {
        env.push(("AWS_SESSION_TOKEN".to_owned(), t.to_owned()));
    }
    env
}

/// Every file of the image (paths relative to its root), read through a mount of a working container.
fn files_of(container: &Container) -> Vec<String> {
    let mount = PathBuf::from(ok(buildah(&["mount", &container.0]), "buildah mount"));
    let mut files: Vec<String> =
        files_under(&mount).iter().map(|p| p.strip_prefix(&mount).unwrap().to_string_lossy().into_owned()).collect();
    ok(buildah(&["umount", &container.0]), "buildah umount");
    files.sort();
    files
}

/// The host process running the image's orgscan whose environment holds `marker`: with chroot isolation the
/// container's process is a host process, so SIGTERM goes to it directly, as an engine sends it to PID 1.
fn container_process(marker: &str) -> u32 {
    let found: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            cmdline.split(|b| *b == 0).next() == Some(b"/usr/local/bin/orgscan".as_slice())
                && environ.split(|b| *b == 0).any(|v| v == marker.as_bytes())
        })
        .collect();
    assert_eq!(found.len(), 1, "one process of the image's orgscan with {marker}: {found:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_scans_an_organization_into_a_mounted_directory_and_honours_sigterm() {
    let moto = Moto::from_env();
    let org = create_org(&moto, 3).await.unwrap();
    let (expected, _) = seed_org(&moto, &org, &["us-east-1"], |a, _| Mix::full((a % 3) as u8)).await.unwrap();
    let creds = &org.management_creds;

    // Built by the project's script from the binary these tests built (no release build in the tests).
    let tag = format!("localhost/orgscan-test:{}", std::process::id());
    let o = Command::new("bash")
        .arg(root().join("scripts/image.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_orgscan"), "--tag", &tag, "--version", "test"])
        .output()
        .unwrap();
    let image = Image(ok(o, "scripts/image.sh"));
    assert_eq!(image.0, tag);
    let inspect = ok(buildah(&["inspect", "--format", "{{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.User}}", &image.0]), "inspect");
    assert_eq!(inspect, "[/usr/local/bin/orgscan] 65532:65532");

    // The binary, the CA bundle, the loader and the libraries ldd names: nothing else (no shell).
    let container = Container::of(&image);
    let files = files_of(&container);
    let ldd = String::from_utf8(Command::new("ldd").arg(env!("CARGO_BIN_EXE_orgscan")).output().unwrap().stdout).unwrap();
    let mut wanted: Vec<String> = ldd
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = l.split(" => ").nth(1).unwrap_or(l);
            path.starts_with('/').then(|| path.split(" (").next().unwrap().trim_start_matches('/').to_owned())
        })
        .chain(["etc/ssl/certs/ca-certificates.crt".to_owned(), "usr/local/bin/orgscan".to_owned()])
        .collect();
    wanted.sort();
    assert_eq!(files, wanted, "the image holds exactly the binary, the libraries ldd names and the CA bundle");
    assert!(wanted.iter().any(|f| f.contains("ld-linux")), "{wanted:?}");

    // A full organization scan by the image's binary, its reports in the mounted directory.
    let dir = tempdir();
    // The image runs as 65532, which must be able to write there (Kubernetes: fsGroup).
    Command::new("chmod").arg("0777").arg(dir.path()).status().unwrap();
    let env = aws_env(&moto.endpoint, creds);
    let args = ["scan", "--role-name", "OrgScanAudit", "--quiet", "--regions", "us-east-1"];
    let outputs = ["--json", "/out/orgscan.json", "--sarif", "/out/orgscan.sarif", "--html", "/out/orgscan.html"];
    let o = container.run(dir.path(), &env, &[&args[..], &outputs[..]].concat()).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "FAILs: exit code 1, read by buildah run as an engine reads it: {}", stderr(&o));
    let report = read_json(&dir.path().join("orgscan.json"));
    assert_valid("report.schema.json", &report);
    assert_eq!(report["incomplete"], false);
    assert_eq!(report["scope"]["organization_id"], org.id.as_str());
    assert_eq!(report_rows(&report), expected_rows(&expected), "every account's findings");
    assert_valid("sarif-2.1.0.schema.json", &read_json(&dir.path().join("orgscan.sarif")));
    assert!(std::fs::read_to_string(dir.path().join("orgscan.html")).unwrap().starts_with("<!DOCTYPE html>"));
    // The same scan by the host's binary finds the same: the image changes nothing.
    let host = dir.path().join("host.json");
    let o = orgscan(&moto, creds, &[&args[..], &["--json", host.to_str().unwrap()]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(report_rows(&read_json(&host)), report_rows(&report));

    // SIGTERM mid-scan: GuardDuty points at a listener that accepts and never answers, so the scan is under
    // way (and held) once it connects; then the signal goes to the container's orgscan, which writes what it
    // gathered, marked incomplete, and exits 3 or 4.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let marker = format!("AWS_ENDPOINT_URL_GUARDDUTY=http://{}", hung.local_addr().unwrap());
    let mut env = env.clone();
    env.push(("AWS_ENDPOINT_URL_GUARDDUTY".to_owned(), marker.split_once('=').unwrap().1.to_owned()));
    let stop_args = [&args[..], &["--call-timeout", "600", "--json", "/out/stopped.json"]].concat();
    let mut child = container.run(dir.path(), &env, &stop_args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (_conn, _) = hung.accept().unwrap();
    let pid = container_process(&marker);
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("SIGTERM received"), "{err}");
    let stopped: Value = read_json(&dir.path().join("stopped.json"));
    assert_valid("report.schema.json", &stopped);
    assert_eq!(stopped["incomplete"], true);
    let fails = stopped["findings"].as_array().unwrap().iter().any(|f| f["status"] == "FAIL");
    assert_eq!(status.code(), Some(if fails { 4 } else { 3 }), "{err}");
    let gd: Vec<&Value> = stopped["coverage"].as_array().unwrap().iter().filter(|c| c["check_id"] == "guardduty-enabled").collect();
    assert_eq!(gd.len(), org.all_accounts().len(), "{gd:?}");
    assert!(gd.iter().all(|c| c["status"] == "error" && c["detail"].as_str().unwrap().starts_with("Interrupted")), "{gd:?}");
}
