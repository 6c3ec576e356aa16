//! A loopback proxy in front of moto that can hold one request: every request is read whole (head and
//! body), classified by the test, and either passed to moto as it is (moto closes each connection after its
//! answer) or held: never answered (the run must stop with it in flight), or answered once the test
//! releases it. `reached` receives one message each time a request is held. [`spawn`] runs orgscan so that a
//! test can stop it with SIGTERM while a request is held, and wait for it to say so.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What to do with one request.
pub enum Verdict {
    Pass,
    /// Never answered; the connection stays open until the client closes it.
    HoldForever,
    /// Passed on once the `Notify` is notified.
    HoldUntil(Arc<tokio::sync::Notify>),
}

pub struct HoldProxy {
    pub endpoint: String,
    pub reached: tokio::sync::mpsc::UnboundedReceiver<()>,
}

/// Starts the proxy; `decide` sees the request's head and body, both lowercased.
pub async fn start(upstream: &str, decide: impl Fn(&str, &str) -> Verdict + Send + Sync + 'static) -> HoldProxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let (tx, reached) = tokio::sync::mpsc::unbounded_channel();
    let decide = Arc::new(decide);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (upstream, tx, decide) = (upstream.clone(), tx.clone(), decide.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match inbound.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
                let length: usize =
                    text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                while buf.len() < head + length {
                    match inbound.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                match decide(&text, &String::from_utf8_lossy(&buf[head..]).to_ascii_lowercase()) {
                    Verdict::Pass => {}
                    Verdict::HoldForever => {
                        let _ = tx.send(());
                        let _ = inbound.read(&mut chunk).await;
                        return;
                    }
                    Verdict::HoldUntil(gate) => {
                        let _ = tx.send(());
                        gate.notified().await;
                    }
                }
                let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await else { return };
                if up.write_all(&buf).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy(&mut up, &mut inbound).await;
                let _ = inbound.shutdown().await;
            });
        }
    });
    HoldProxy { endpoint, reached }
}

/// A running orgscan whose stderr is read line by line; `acked` completes when it says it received SIGTERM.
pub struct Run {
    child: Child,
    acked: tokio::sync::mpsc::UnboundedReceiver<()>,
    stderr: std::thread::JoinHandle<String>,
    stdout: std::thread::JoinHandle<String>,
}

pub fn spawn(mut cmd: Command) -> Run {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let (tx, acked) = tokio::sync::mpsc::unbounded_channel();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("SIGTERM received") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    Run { child, acked, stderr, stdout }
}

impl Run {
    /// SIGTERM, then the acknowledgement, then the exit: (exit code, stdout, stderr). A run that does not end
    /// within the test's own bound is a hang, reported as such.
    pub async fn terminate(mut self) -> (Option<i32>, String, String) {
        self.sigterm().await;
        self.finish().await
    }

    /// SIGTERM, and the run's acknowledgement of it (on stderr).
    pub async fn sigterm(&mut self) {
        let kill = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        tokio::time::timeout(Duration::from_secs(60), self.acked.recv()).await.expect("SIGTERM acknowledged").expect("stderr open");
    }

    /// The exit: (exit code, stdout, stderr).
    pub async fn finish(mut self) -> (Option<i32>, String, String) {
        let status = tokio::time::timeout(Duration::from_secs(120), tokio::task::spawn_blocking(move || self.child.wait()))
            .await
            .expect("the stopped run ends")
            .unwrap()
            .unwrap();
        (status.code(), self.stdout.join().unwrap(), self.stderr.join().unwrap())
    }
}
