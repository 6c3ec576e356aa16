//! The benchmarks' moto server (started from the project's .venv, as scripts/moto-env.sh installs it), and
//! small helpers: settings from the environment, and this process's peak RSS.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::estate::BoxError;

pub struct MotoServer {
    child: Child,
    pub endpoint: String,
    pub addr: SocketAddr,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MotoServer {
    pub fn cpu_seconds(&self) -> f64 {
        // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (USER_HZ = 100 on Linux).
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())) else { return 0.0 };
        let after_comm = stat.rsplit_once(')').map(|x| x.1).unwrap_or_default();
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (tick(11) + tick(12)) / 100.0
    }
}

pub fn start_moto() -> Result<MotoServer, BoxError> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash").arg(root.join("scripts/moto-env.sh")).status()?;
    if !status.success() {
        return Err("scripts/moto-env.sh failed".into());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = std::fs::File::create(root.join("target").join(format!("moto-bench-{port}.log")))?;
    // moto_server with the Lambda Web API layer (scripts/moto_lambda_web.py, docs/emulator.md), as the tests use.
    let child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/moto_lambda_web.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env_remove("MOTO_ACCOUNT_ID")
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let server = MotoServer { child, endpoint: format!("http://{addr}"), addr };
    // Readiness: the port accepts connections (polled, bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err("moto_server did not start within 30 s".into());
        }
        std::thread::yield_now();
    }
    Ok(server)
}

pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name).unwrap_or_else(|_| default.to_owned()).split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Peak RSS of this process since the last reset (VmHWM), in MB.
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Resets VmHWM to the current RSS (Linux: writing 5 to /proc/self/clear_refs).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
