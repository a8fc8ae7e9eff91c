//! The receiver SDK from the outside: `.htpasswd` vectors and cross-checks against the system's
//! own tools, hostile input, the axum extractor over real HTTP, signature verification, and the
//! Visitors API client against a real server. Everything runs on 127.0.0.1 with port 0.

mod extractor;
mod htpasswd_formats;
mod htpasswd_hostile;
mod signatures;
mod visitors_client;

/// Serves `app` on 127.0.0.1 port 0 in the background; returns `http://127.0.0.1:PORT`.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[test]
fn the_readme_mirrors_the_crate_docs() {
    let lib = include_str!("../../src/lib.rs");
    let docs: Vec<&str> = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .map(|l| l.strip_prefix("//! ").unwrap_or(&l[3..]))
        .collect();
    let readme = include_str!("../../README.md").replace("```rust,no_run", "```no_run");
    assert_eq!(readme.trim_end(), docs.join("\n").trim_end());
}
