//! Slow and idle clients on real sockets: a client cannot hold a connection by trickling its
//! headers or its body, by staying idle, or by opening more connections than the cap.

use std::time::{Duration, Instant};

use hookrelay_story::story;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestServer, ADMIN};

/// A server whose edge gives up on slow clients after about a second.
async fn impatient_server(tweak: impl FnOnce(&mut hookrelay::config::Config)) -> TestServer {
    TestServer::start_with(|c| {
        c.header_read_timeout = Duration::from_secs(1);
        c.keep_alive_timeout = Duration::from_secs(1);
        c.body_read_timeout = Duration::from_secs(1);
        tweak(c);
    })
    .await
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Writes `bytes` one at a time, `gap` apart, until the server closes the connection (or all
/// is sent); returns how long the server let it go on, and everything it answered.
async fn trickle(stream: TcpStream, bytes: &[u8], gap: Duration) -> (Duration, String) {
    let started = Instant::now();
    let (mut read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    });
    for byte in bytes {
        if reader.is_finished() || write.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(gap).await;
    }
    tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the server kept the connection open after everything was sent")
        .unwrap()
}

/// A request header that takes 30 s to trickle at 100 ms a byte.
fn endless_header() -> Vec<u8> {
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 300));
    head
}

#[story]
async fn clients_trickling_their_headers_are_cut_at_the_header_read_timeout() {
    let server = impatient_server(|_| {}).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let stream = connect(&server).await;
        slow.push(tokio::spawn(async move {
            trickle(stream, &endless_header(), Duration::from_millis(100)).await
        }));
    }
    for client in slow {
        let (held, answer) = client.await.unwrap();
        assert!(held < Duration::from_secs(3), "held for {held:?}");
        assert!(!answer.contains("200 OK"), "{answer}");
    }
    // The server still answers others.
    assert_eq!(server.get("/healthz", "").await.0, 200);
}

#[story]
async fn a_body_that_trickles_is_answered_408_at_the_body_read_timeout() {
    let server = impatient_server(|_| {}).await;
    let stream = connect(&server).await;
    let mut request = format!(
        "POST /v1/licenses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 300\r\n\r\n"
    )
    .into_bytes();
    let (mut read, mut write) = stream.into_split();
    write.write_all(&request).await.unwrap();
    request.clear();
    let started = Instant::now();
    let body = tokio::spawn(async move {
        for _ in 0..300 {
            if write.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), read.read(&mut answer))
        .await
        .expect("no answer while the body trickled")
        .unwrap();
    body.abort();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
}

#[story]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let server = impatient_server(|c| c.header_read_timeout = Duration::from_secs(10)).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the idle connection stayed open")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let held = started.elapsed();
    assert!(
        held >= Duration::from_millis(800) && held < Duration::from_secs(3),
        "closed after {held:?}"
    );
}

#[story]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = impatient_server(|c| {
        c.max_connections = Some(2);
        c.header_read_timeout = Duration::from_secs(10);
        c.keep_alive_timeout = Duration::from_secs(10);
    })
    .await;
    let first = connect(&server).await;
    let _second = connect(&server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The third is taken by the kernel, not served.
    let mut third = connect(&server).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let waited =
        tokio::time::timeout(Duration::from_millis(700), third.read_to_end(&mut answer)).await;
    assert!(waited.is_err(), "served beyond the cap: {answer:?}");
    drop(first);
    tokio::time::timeout(Duration::from_secs(3), third.read_to_end(&mut answer))
        .await
        .expect("not served once a connection closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[story]
async fn clients_that_never_read_their_answers_are_cut_and_do_not_hold_up_a_stop() {
    let server = impatient_server(|_| {}).await;
    let address = server.base.trim_start_matches("http://").parse().unwrap();
    let mut stalled = Vec::new();
    for _ in 0..3 {
        // A small receive window and 40 pipelined requests for a 100 KB answer, never read: the
        // server's writes stall once the socket buffers are full.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(address).await.unwrap();
        let request = "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(40);
        stream.write_all(request.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    // Long enough for every stalled answer to have hit the full buffers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(8), server.stop())
        .await
        .expect("the server waited on clients that never read instead of stopping");
    // Idle after their last request, each connection closes, gets its close grace (1 s) to finish
    // writing, and is then dropped.
    assert!(stopping.elapsed() < Duration::from_secs(8));
    drop(stalled);
}
