//! The command-line client of a running server (`hookrelay webhooks|events|deliveries|licenses`):
//! the connection flags every resource command shares, where the server, the key and the license
//! come from, the HTTP calls with their timeout, and how an answer or a refusal is shown.
//!
//! One module per resource turns its subcommands into calls of the `/v1` API; this module owns
//! everything they have in common, so that every command resolves credentials and reports errors
//! the same way.

pub mod credentials;
pub mod deliveries;
pub mod events;
pub mod licenses;
mod table;
pub mod webhooks;

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use reqwest::Method;
use serde_json::Value;

use credentials::Credentials;

/// Every request gives up after this long: a hung server must not hang a script.
const TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the server, shared by every client command (and accepted after the subcommand).
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's URL. Default: http:// and the address `serve` listens on
    /// (HOOKRELAY_LISTEN, else 127.0.0.1:8080).
    #[arg(long, global = true, env = "HOOKRELAY_SERVER", value_name = "URL")]
    server: Option<String>,
    /// The admin token or a license's API key. Default: the credentials file `serve` wrote
    /// beside its database (hookrelay.db.credentials here, or beside HOOKRELAY_DATABASE_URL).
    #[arg(
        long,
        global = true,
        env = "HOOKRELAY_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    api_key: Option<ApiKey>,
    /// The license to work on: needed with the admin token, and with an API key that is not
    /// the one in the credentials file (a key does not name its license).
    #[arg(long, global = true, env = "HOOKRELAY_LICENSE", value_name = "ID")]
    license: Option<String>,
    /// Print the server's JSON answer as it came, for scripts.
    #[arg(long, global = true)]
    json: bool,
}

/// A secret given on the command line; `Debug` never shows it.
#[derive(Clone)]
struct ApiKey(String);

impl std::str::FromStr for ApiKey {
    type Err = String;
    fn from_str(s: &str) -> Result<ApiKey, String> {
        Ok(ApiKey(s.trim().to_owned()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Why a client command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The command cannot be sent as given (exit 2, like a clap usage error).
    #[error("{0}")]
    Usage(String),
    /// The server answered with an error (exit 1).
    #[error("{message}")]
    Refused {
        status: u16,
        message: String,
        field: Option<String>,
    },
    /// No usable answer: connection refused, timeout, not JSON (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl ClientError {
    fn exit_code(&self) -> ExitCode {
        match self {
            ClientError::Usage(_) => ExitCode::from(2),
            ClientError::Refused { .. } | ClientError::Failed(_) => ExitCode::FAILURE,
        }
    }

    fn report(&self) {
        match self {
            ClientError::Refused {
                status,
                message,
                field: Some(field),
            } => eprintln!("error: {message} (field `{field}`, HTTP {status})"),
            ClientError::Refused {
                status, message, ..
            } => {
                eprintln!("error: {message} (HTTP {status})")
            }
            other => eprintln!("error: {other}"),
        }
    }
}

/// What a command needs from the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A license's resources: a key and the license id.
    License,
    /// Admin routes: the admin token.
    Admin,
}

/// A connection ready to call the API.
pub struct Client {
    http: reqwest::Client,
    server: String,
    key: String,
    license: Option<String>,
    /// `--json`: print the server's answers as they came.
    pub json: bool,
}

/// A successful answer: its JSON, and the text as it came (for `--json`).
pub struct Answer {
    pub value: Value,
    pub raw: String,
}

impl Answer {
    /// With `--json`, prints the answer as it came and returns true.
    pub fn print_raw(&self, client: &Client) -> bool {
        if client.json {
            println!("{}", self.raw.trim_end());
        }
        client.json
    }
}

/// Resolves the connection, runs `command` on a fresh runtime and turns its outcome into the
/// exit code, printing an error on stderr.
pub fn run<F, Fut>(connection: &Connection, need: Need, command: F) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), ClientError>>,
{
    let outcome = connect(connection, need).and_then(|client| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Failed(format!("cannot start the runtime: {e}")))?;
        runtime.block_on(command(client))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}

/// Flags and environment first; without a key, the credentials file beside the database.
fn connect(connection: &Connection, need: Need) -> Result<Client, ClientError> {
    let server = match &connection.server {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => credentials::default_server(),
    };
    let (key, license) = match &connection.api_key {
        Some(ApiKey(key)) => {
            // The file names the license of its own key.
            let license = connection.license.clone().or_else(|| {
                Credentials::find()
                    .ok()
                    .filter(|c| c.api_key.as_deref() == Some(key))
                    .and_then(|c| c.license_id)
            });
            (key.clone(), license)
        }
        None => Credentials::find()?.pick(need, connection.license.as_deref())?,
    };
    if need == Need::License && license.is_none() {
        return Err(ClientError::Usage(
            "which license? Pass --license ID (or set HOOKRELAY_LICENSE): the admin token works \
             on every license, and an API key does not name its own"
                .into(),
        ));
    }
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("hookrelay-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientError::Failed(format!("cannot build the HTTP client: {e}")))?;
    Ok(Client {
        http,
        server,
        key,
        license,
        json: connection.json,
    })
}

impl Client {
    /// `/v1/licenses/{license}{rest}`.
    pub fn license_path(&self, rest: &str) -> String {
        let license = self.license.as_deref().unwrap_or_default();
        let encoded = percent_encoding::utf8_percent_encode(license, PATH_SEGMENT);
        format!("/v1/licenses/{encoded}{rest}")
    }

    pub async fn get(&self, path: &str) -> Result<Answer, ClientError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer, ClientError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Answer, ClientError> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Answer, ClientError> {
        self.call(Method::DELETE, path, None).await
    }

    /// One request; a non-2xx answer becomes [`ClientError::Refused`] with the server's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ClientError> {
        self.send(method, path, body.map(|b| b.to_string()), None)
            .await
    }

    /// [`Client::call`] with a body as text and an optional `Idempotency-Key`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.server);
        let mut request = self.http.request(method, &url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.map_err(|e| {
            // `{:#}`: the error and its causes on one line ("…: Connection refused").
            let e = anyhow::Error::from(e);
            ClientError::Failed(format!("no answer from {}: {e:#}", self.server))
        })?;
        let status = response.status().as_u16();
        let raw = response.text().await.map_err(|e| {
            ClientError::Failed(format!("the answer from {} broke off: {e}", self.server))
        })?;
        let value = if raw.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw).map_err(|_| refusal_without_json(status, &raw, &url))?
        };
        if !(200..300).contains(&status) {
            let error = &value["error"];
            return Err(ClientError::Refused {
                status,
                message: error["message"]
                    .as_str()
                    .map_or_else(|| format!("the server answered {raw}"), str::to_owned),
                field: error["field"].as_str().map(str::to_owned),
            });
        }
        Ok(Answer { value, raw })
    }
}

/// An answer that is not JSON: most likely not a hookrelay server at that URL.
fn refusal_without_json(status: u16, raw: &str, url: &str) -> ClientError {
    let text: String = raw.chars().take(200).collect();
    ClientError::Failed(format!(
        "{url} answered HTTP {status} with something that is not JSON (is --server a hookrelay \
         server?): {text}"
    ))
}

/// Characters escaped in a path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// `path?name=value&…` with the given values, percent-encoded.
pub fn with_query(path: String, pairs: Vec<(&str, Option<String>)>) -> String {
    let query: Vec<String> = pairs
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| format!("{name}={}", segment(&v))))
        .collect();
    match query.is_empty() {
        true => path,
        false => format!("{path}?{}", query.join("&")),
    }
}

/// An id from the command line, percent-encoded for a path.
pub fn segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id.trim(), PATH_SEGMENT).to_string()
}
