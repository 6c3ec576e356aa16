//! A loopback TCP proxy that delays every request by a fixed time before forwarding it to moto, as real
//! AWS latency would. It fakes no API: moto answers every call. It records how long moto took to start
//! answering each request (its service time).
//!
//! moto answers with `Connection: close`, so each connection carries exactly one request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Per request: time from forwarding the request to moto's first response byte.
    pub service_times: Vec<Duration>,
}

pub struct DelayProxy {
    pub endpoint: String,
    pub stats: Arc<Mutex<ProxyStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DelayProxy {
    pub async fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let stats = Arc::new(Mutex::new(ProxyStats::default()));
        let s = stats.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = relay(inbound, upstream, delay, s).await;
                });
            }
        });
        Ok(Self { endpoint, stats, task })
    }

    pub fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut self.stats.lock().map(|mut s| std::mem::take(&mut s.service_times)).unwrap_or_default())
    }
}

async fn relay(mut inbound: TcpStream, upstream: SocketAddr, delay: Duration, stats: Arc<Mutex<ProxyStats>>) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = inbound.read(&mut buf).await?;
    if n == 0 {
        return Ok(());
    }
    // The network's share of a real call: paid once per request, before moto sees it.
    tokio::time::sleep(delay).await;
    let mut up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    inbound.set_nodelay(true)?;
    let sent = Instant::now();
    up.write_all(&buf[..n]).await?;
    let (mut in_r, mut in_w) = inbound.into_split();
    let (mut up_r, mut up_w) = up.into_split();
    // The rest of the request body, if it came in more than one read.
    let upload = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut in_r, &mut up_w).await;
    });
    let mut first = vec![0u8; 64 * 1024];
    let m = up_r.read(&mut first).await?;
    if let Ok(mut s) = stats.lock() {
        s.service_times.push(sent.elapsed());
    }
    in_w.write_all(&first[..m]).await?;
    tokio::io::copy(&mut up_r, &mut in_w).await?;
    in_w.shutdown().await?;
    upload.abort();
    Ok(())
}
