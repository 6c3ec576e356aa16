//! A loopback proxy in front of moto that can hold one request: every request is read whole (head and
//! body), classified by the test, and either passed to moto as it is (moto closes each connection after its
//! answer) or held: never answered (the run must stop with it in flight), or answered once the test
//! releases it. `reached` receives one message each time a request is held.

use std::sync::Arc;

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
