//! `hookrelay listen`: a local webhook receiver for developing an integration. It prints one
//! line per webhook, can check signatures, can be told to fail or be slow (to watch a sender
//! retry), and can relay each webhook to the developer's own app.

mod handler;
mod session;
mod session_answer;
mod stats;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hookrelay_receiver::{BasicAuth, Htpasswd, Receiver, Verifier};
use tokio::net::TcpListener;

pub use stats::ListenSummary;

use crate::signing::parse_secrets;
use crate::target::{http_client, Target};
use crate::Output;

/// `hookrelay listen`
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Port to listen on; 0 picks a free one (the Ready line shows which).
    #[arg(long, short, default_value_t = 3000)]
    pub port: u16,

    /// Address to listen on. The default keeps the listener private to this machine.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,

    /// Print each webhook's full body as pretty JSON under its line.
    #[arg(long)]
    pub json: bool,

    /// Require these HTTP Basic credentials (as in a webhook URL `https://user:pass@…`).
    #[arg(long, value_name = "USER:PASS", conflicts_with = "htpasswd")]
    pub basic_auth: Option<String>,

    /// Require credentials from an Apache .htpasswd file (APR1, bcrypt, {SHA}, DES crypt).
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,

    /// Check each webhook's signature (Standard Webhooks, as a hookrelay webhook with signing on
    /// sends it) against this secret, `whsec_…`. Each line then says `signature ok` or
    /// `signature INVALID (why)`, and an invalid one is answered 401 whatever --status or
    /// --fail-first say. Repeat it to accept several secrets, as during a rotation.
    #[arg(long = "signing-secret", value_name = "WHSEC")]
    pub signing_secrets: Vec<String>,

    /// Answer every webhook with this status (LiveChat treats anything but 200 as a failure and
    /// retries).
    #[arg(long, value_name = "CODE", default_value_t = 200, value_parser = clap::value_parser!(u16).range(200..=599))]
    pub status: u16,

    /// Answer the first N webhooks with --fail-status, then normally: watch the retries arrive.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_first: u64,

    /// The status --fail-first answers with.
    #[arg(long, value_name = "CODE", default_value_t = 500, value_parser = clap::value_parser!(u16).range(200..=599))]
    pub fail_status: u16,

    /// Wait this many milliseconds before answering (try more than 10000 to see a sender time
    /// out).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay: u64,

    /// Relay each webhook to your app at this URL, print its answer and answer the sender with
    /// it. Credentials in the URL (`user:pass@`) are sent as Basic auth; otherwise the sender's
    /// Authorization header is passed on. The webhook-* signature headers are passed on as they
    /// came, so your app can verify them.
    #[arg(long, value_name = "URL")]
    pub forward_to: Option<String>,

    /// Receive a running hookrelay server's webhooks over one connection from here, instead of
    /// listening on a port (no public URL needed): while it runs, the license has a session
    /// webhook for each event type, and each delivery is handled as above and its answer
    /// recorded by the server. Reconnects by itself.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,

    /// With --server: a license's API key (or the admin token, with --license). Default: the
    /// credentials file `serve` wrote beside its database in this directory.
    #[arg(
        long,
        env = "HOOKRELAY_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,

    /// With --server and the admin token: the license to listen to.
    #[arg(long, value_name = "ID", requires = "server")]
    pub license: Option<String>,

    /// With --server: only these event types (comma-separated; default: all).
    #[arg(long, value_name = "TYPES", value_delimiter = ',', requires = "server")]
    pub events: Vec<String>,

    /// With --server: only these data types in the bodies (comma-separated; default: all each
    /// event type carries).
    #[arg(long, value_name = "TYPES", value_delimiter = ',', requires = "server")]
    pub data_types: Vec<String>,
}

impl ListenArgs {
    /// The defaults, listening on `port`.
    pub fn on_port(port: u16) -> ListenArgs {
        ListenArgs {
            port,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            json: false,
            basic_auth: None,
            htpasswd: None,
            signing_secrets: Vec::new(),
            status: 200,
            fail_first: 0,
            fail_status: 500,
            delay: 0,
            forward_to: None,
            server: None,
            api_key: None,
            license: None,
            events: Vec::new(),
            data_types: Vec::new(),
        }
    }
}

/// The arguments checked and turned into what the handler uses.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) receiver: Receiver,
    /// Checks signatures when `--signing-secret` was given.
    pub(crate) signatures: Option<Verifier>,
    pub(crate) json: bool,
    pub(crate) status: u16,
    pub(crate) fail_first: u64,
    pub(crate) fail_status: u16,
    pub(crate) delay: Duration,
    pub(crate) forward: Option<(Target, reqwest::Client)>,
}

impl Config {
    fn from_args(args: &ListenArgs) -> anyhow::Result<Config> {
        let auth = match (&args.basic_auth, &args.htpasswd) {
            (Some(user_pass), _) => {
                Some(BasicAuth::from_user_pass(user_pass).context("--basic-auth")?)
            }
            (None, Some(path)) => Some(BasicAuth::Htpasswd(Htpasswd::from_file(path)?)),
            (None, None) => None,
        };
        let receiver = match auth {
            Some(auth) => Receiver::with_basic_auth(auth).realm("hookrelay listen"),
            None => Receiver::open(),
        };
        let mut secrets = parse_secrets(&args.signing_secrets)?.into_iter();
        let signatures = secrets
            .next()
            .map(|first| secrets.fold(Verifier::new(first), Verifier::and));
        let forward = match &args.forward_to {
            Some(url) => Some((Target::parse(url).context("--forward-to")?, http_client()?)),
            None => None,
        };
        Ok(Config {
            receiver,
            signatures,
            json: args.json,
            status: args.status,
            fail_first: args.fail_first,
            fail_status: args.fail_status,
            delay: Duration::from_millis(args.delay),
            forward,
        })
    }

    /// The one-line description of the behaviour, for the Ready banner.
    fn describe(&self, args: &ListenArgs) -> String {
        let mut parts = vec![match &self.forward {
            Some((target, _)) => format!("forwarding to {}", target.url),
            None => format!("answering {}", self.status),
        }];
        if let Some(user_pass) = &args.basic_auth {
            let user = user_pass.split(':').next().unwrap_or_default();
            parts.push(format!("Basic auth as {user}"));
        }
        if let Some(path) = &args.htpasswd {
            parts.push(format!("Basic auth from {}", path.display()));
        }
        if let Some(verifier) = &self.signatures {
            parts.push(format!(
                "checking signatures with {} secret(s)",
                verifier.secret_count()
            ));
        }
        if self.fail_first > 0 {
            parts.push(format!(
                "failing the first {} with {}",
                self.fail_first, self.fail_status
            ));
        }
        if !self.delay.is_zero() {
            parts.push(format!("{} ms delay", self.delay.as_millis()));
        }
        parts.join(", ")
    }
}

/// Runs `hookrelay listen` until `shutdown` completes (the binary passes Ctrl-C), printing to
/// standard output. Returns the summary it printed last.
pub async fn listen(
    args: ListenArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ListenSummary> {
    if args.server.is_some() {
        return session::run(args, Output::stdout(), shutdown).await;
    }
    let address = SocketAddr::new(args.host, args.port);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    listen_on(listener, args, Output::stdout(), shutdown).await
}

/// `listen --server` writing to `out` (for tests and embedding): runs until `shutdown`.
pub async fn listen_to_server(
    args: ListenArgs,
    out: Output,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ListenSummary> {
    session::run(args, out, shutdown).await
}

/// [`listen`] on an already bound listener, writing to `out` (tests use port 0 and a captured
/// output). `args.port` and `args.host` are ignored.
pub async fn listen_on(
    listener: TcpListener,
    args: ListenArgs,
    out: Output,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<ListenSummary> {
    let config = Config::from_args(&args)?;
    let address = listener.local_addr()?;
    out.line(format!(
        "Ready! Listening on http://{address}/ ({}). Press Ctrl-C to stop.",
        config.describe(&args)
    ));
    let stats = Arc::new(stats::Stats::new(address));
    let state = handler::State {
        config: Arc::new(config),
        stats: stats.clone(),
        out: out.clone(),
    };
    let app = handler::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    let summary = stats.summary();
    out.line(summary.to_string());
    Ok(summary)
}
