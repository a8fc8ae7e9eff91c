//! The board started as a real process: webhooks posted over HTTP on 127.0.0.1, the event stream
//! and the page read the way a browser reads them.

use std::process::Stdio;
use std::time::Duration;

use livechat_webhooks::{sample, DataTypes, EventType};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const SEED_HTPASSWD: &str = "livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n";
const WAIT: Duration = Duration::from_secs(10);

/// The `statusboard` binary with the seed's `.htpasswd`, on a free port.
struct Board {
    base: String,
    client: reqwest::Client,
    /// Kept open: the board logs each webhook to it.
    _output: Lines<BufReader<ChildStdout>>,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Board {
    async fn start() -> Board {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join(".htpasswd");
        std::fs::write(&htpasswd, SEED_HTPASSWD).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_statusboard"))
            .arg("--port=0")
            .arg("--htpasswd")
            .arg(&htpasswd)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // "statusboard: board on http://127.0.0.1:PORT/, webhooks to …"
        let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
        let banner = tokio::time::timeout(WAIT, output.next_line())
            .await
            .expect("no banner within 10 s")
            .unwrap()
            .expect("the board exited");
        let base = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .expect("the banner names the board's URL")
            .trim_end_matches([',', '/'])
            .to_owned();
        Board {
            base,
            client: reqwest::Client::new(),
            _output: output,
            _child: child,
            _dir: dir,
        }
    }

    async fn post_webhook(&self, password: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/webhooks", self.base))
            .basic_auth("livechat", Some(password))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path`, as `livechat` with `password` or without credentials.
    async fn get(&self, path: &str, password: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(password) = password {
            request = request.basic_auth("livechat", Some(password));
        }
        request.send().await.unwrap()
    }

    /// Opens the event stream as the page does (after logging in).
    async fn open_stream(&self) -> EventStream {
        let response = self.get("/events", Some("password")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream {
            response,
            buffer: String::new(),
        }
    }
}

/// A server-sent event stream, read event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// The next event that carries data: its name and its JSON (keep-alive comments skipped).
    async fn next_event(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(str::to_owned)
                };
                if let (Some(event), Some(data)) = (field("event: "), field("data: ")) {
                    return (event, serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("no event within 10 s")
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

fn webhook(event_type: EventType) -> Value {
    sample::payload(
        event_type,
        DataTypes::all_for(event_type),
        sample::LICENSE_ID,
        sample::TOKEN,
    )
}

#[tokio::test]
async fn a_queued_visitor_appears_at_once_on_an_open_board() {
    let board = Board::start().await;
    let mut stream = board.open_stream().await;

    let response = board
        .post_webhook("password", &webhook(EventType::VisitorQueued))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let (event, visitor) = stream.next_event().await;
    assert_eq!(
        event, "queued",
        "a new visitor is a `queued` event, which beeps"
    );
    assert_eq!(visitor["name"], "Mary Brown");
    assert_eq!(visitor["email"], "mary.brown@email.com");
    assert_eq!(visitor["visitor_id"], "S126126161.O136OJPO1");
    assert_eq!(visitor["license_id"], "1025707");
}

#[tokio::test]
async fn a_board_opened_later_is_shown_the_recent_visitors_without_a_beep() {
    let board = Board::start().await;
    let mut queued = webhook(EventType::VisitorQueued);
    queued["visitor"]["name"] = json!("Early Bird");
    assert_eq!(
        board.post_webhook("password", &queued).await.status(),
        StatusCode::OK
    );

    let mut stream = board.open_stream().await;

    let (event, visitor) = stream.next_event().await;
    assert_eq!(event, "recent");
    assert_eq!(visitor["name"], "Early Bird");
}

#[tokio::test]
async fn other_events_are_answered_200_but_not_shown() {
    let board = Board::start().await;
    let mut stream = board.open_stream().await;
    let mut queued = webhook(EventType::VisitorQueued);
    queued["visitor"]["name"] = json!("Second In");

    for event_type in [EventType::ChatStarted, EventType::TicketCreated] {
        let response = board.post_webhook("password", &webhook(event_type)).await;
        assert_eq!(response.status(), StatusCode::OK, "{event_type}");
    }
    board.post_webhook("password", &queued).await;

    // The first thing on the board is the queued visitor posted after the other events.
    let (_, visitor) = stream.next_event().await;
    assert_eq!(visitor["name"], "Second In");
}

#[tokio::test]
async fn wrong_credentials_get_401_and_the_visitor_is_not_shown() {
    let board = Board::start().await;
    let mut refused = webhook(EventType::VisitorQueued);
    refused["visitor"]["name"] = json!("Intruder");

    let response = board.post_webhook("letmein", &refused).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"Statusboard\""
    );
    let mut accepted = webhook(EventType::VisitorQueued);
    accepted["visitor"]["name"] = json!("Customer");
    board.post_webhook("password", &accepted).await;

    let mut stream = board.open_stream().await;
    let (_, first) = stream.next_event().await;
    assert_eq!(
        first["name"], "Customer",
        "the refused webhook reached the board"
    );
}

#[tokio::test]
async fn the_board_and_its_stream_need_the_same_login_as_the_webhook() {
    let board = Board::start().await;
    for path in ["/", "/events"] {
        for password in [None, Some("wrong")] {
            let response = board.get(path, password).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {password:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_page_listens_to_the_stream_and_beeps_with_web_audio() {
    let board = Board::start().await;

    let page = board.get("/", Some("password")).await;

    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"new EventSource("events")"#), "{html}");
    assert!(html.contains(r#"addEventListener("queued""#), "{html}");
    assert!(html.contains("new AudioContext()"), "{html}");
    assert!(
        !html.contains(".innerHTML ="),
        "visitor data must be set as text"
    );
}
