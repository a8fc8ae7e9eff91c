//! A TCP proxy in front of PostgreSQL that a test can cut and restore, to take the database away
//! from one server without stopping the PostgreSQL that other tests (and people) share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    /// Bumped on each cut: every open connection ends.
    generation: watch::Sender<u64>,
}

impl Proxy {
    /// Starts forwarding 127.0.0.1:port to `target` (host:port).
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let (c, g) = (cut.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let mut ended = g.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = ended.changed() => {}
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            generation,
        }
    }

    /// Closes every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// `url` with its host and port replaced by the proxy's, and the host:port it pointed at.
pub fn through(url: &str, proxy_port: u16) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_host(Some("127.0.0.1")).unwrap();
    parsed.set_port(Some(proxy_port)).unwrap();
    parsed.to_string()
}

/// The host:port a PostgreSQL URL points at.
pub fn target_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432)
    )
}

/// A server on a fresh PostgreSQL schema reached through a [`Proxy`] the test can cut, with the
/// test configuration changed by `tweak`.
pub async fn server_behind_a_proxy(
    tweak: impl FnOnce(&mut hookrelay::config::Config),
) -> (crate::harness::TestServer, Proxy) {
    let dir = tempfile::tempdir().unwrap();
    let direct = crate::backend::postgres_url(dir.path());
    crate::backend::prepare(&direct, dir.path()).await;
    let proxy = Proxy::start(target_of(&direct)).await;
    let mut config = crate::harness::test_config(dir.path());
    config.database_url = through(&direct, proxy.port);
    tweak(&mut config);
    (
        crate::harness::TestServer::start_in(dir, config).await,
        proxy,
    )
}
