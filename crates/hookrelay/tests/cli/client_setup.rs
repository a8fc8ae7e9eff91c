//! How the client connects (flags, environment, the credentials file `serve` wrote), what it says
//! when it cannot, `hookrelay licenses …` with the admin token, and the completion scripts.

use super::client::{hookrelay, Setup};
use super::server::ADMIN;

#[tokio::test]
async fn with_no_flags_the_client_uses_the_credentials_file_beside_the_database() {
    let setup = Setup::start().await;
    let base = setup.server.base.as_str();
    let here = Some(setup.dir.path());

    // In the server's directory: only where the server is, no key, no license.
    let added = hookrelay(
        &[
            "webhooks",
            "add",
            "--url",
            &setup.target,
            "--event-type",
            "chat_ended",
            "--json",
        ],
        &[("HOOKRELAY_SERVER", base)],
        here,
    )
    .await
    .json();
    let first_license = added["license_id"].as_str().unwrap().to_owned();
    assert_ne!(
        first_license, setup.license,
        "the file's license, not the test's"
    );
    let file = std::fs::read_to_string(setup.dir.path().join("hookrelay.db.credentials")).unwrap();
    assert!(
        file.contains(&format!("license_id:  {first_license}")),
        "{file}"
    );

    // Elsewhere, the file beside HOOKRELAY_DATABASE_URL; the server from HOOKRELAY_LISTEN.
    let database = format!("sqlite://{}", setup.database().display());
    let listen = base.trim_start_matches("http://");
    let listed = hookrelay(
        &["webhooks", "list"],
        &[
            ("HOOKRELAY_DATABASE_URL", &database),
            ("HOOKRELAY_LISTEN", listen),
        ],
        Some(std::path::Path::new("/")),
    )
    .await;
    assert!(listed.ok().contains("chat_ended"), "{}", listed.stdout);

    // The file's own key, given as a key, still finds its license in the file.
    let key = file
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim();
    let env = [("HOOKRELAY_SERVER", base), ("HOOKRELAY_API_KEY", key)];
    let by_key = hookrelay(&["webhooks", "list", "--json"], &env, here)
        .await
        .json();
    assert_eq!(by_key["webhooks"][0]["license_id"], first_license.as_str());

    // The file has no admin token (the server's came from its configuration).
    let admin = hookrelay(&["licenses", "list"], &[("HOOKRELAY_SERVER", base)], here).await;
    admin.fails_saying(2, "holds no admin token");
    let nowhere = tempfile::tempdir().unwrap();
    let lost = hookrelay(
        &["webhooks", "list"],
        &[("HOOKRELAY_SERVER", base)],
        Some(nowhere.path()),
    )
    .await;
    lost.fails_saying(2, "no credentials: pass --api-key");
}

#[tokio::test]
async fn refusals_print_the_servers_message_and_usage_errors_exit_2() {
    let setup = Setup::start().await;
    let bad = setup.add("chat_exploded", &[]).await;
    let said = bad.failed(1);
    assert!(
        said.contains("unknown event type `chat_exploded`"),
        "{said}"
    );
    assert!(
        said.contains("field `event_type`") && said.contains("HTTP 422"),
        "{said}"
    );
    assert!(bad.stdout.is_empty(), "{}", bad.stdout);

    let unknown = setup.run(&["webhooks", "test", &"0".repeat(32)]).await;
    unknown.fails_saying(1, "webhook not found");
    let prefix = setup.run(&["webhooks", "enable", "ffff"]).await;
    prefix.fails_saying(1, "starting with `ffff`");
    let closed = setup
        .run(&[
            "webhooks",
            "add",
            "--url",
            "http://127.0.0.1:9/",
            "--event-type",
            "chat_ended",
            "--json",
        ])
        .await
        .json();
    let untested = setup
        .run(&["webhooks", "test", closed["id"].as_str().unwrap()])
        .await;
    untested.fails_saying(1, "the target did not answer HTTP 200");
    assert!(
        untested.stdout.contains("NOT delivered"),
        "{}",
        untested.stdout
    );

    // The admin token works on any license, so it must be told which.
    let base = setup.server.base.as_str();
    let which = hookrelay(
        &["webhooks", "list", "--server", base, "--api-key", ADMIN],
        &[],
        None,
    )
    .await;
    which.fails_saying(2, "--license");
    let env = [
        ("HOOKRELAY_SERVER", base),
        ("HOOKRELAY_API_KEY", ADMIN),
        ("HOOKRELAY_LICENSE", setup.license.as_str()),
    ];
    let by_env = hookrelay(&["webhooks", "list", "--json"], &env, None)
        .await
        .json();
    assert_eq!(by_env["webhooks"][0]["id"], closed["id"], "{by_env}");

    let wrong_key = hookrelay(
        &[
            "webhooks",
            "list",
            "--server",
            base,
            "--api-key",
            "hrk_wrong",
            "--license",
            "1",
        ],
        &[],
        None,
    )
    .await;
    wrong_key.fails_saying(1, "the token is not valid");
    let licenses = setup.run(&["licenses", "list"]).await;
    licenses.fails_saying(1, "with the admin token");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = hookrelay(
        &[
            "webhooks",
            "list",
            "--server",
            &nobody,
            "--api-key",
            "k",
            "--license",
            "1",
        ],
        &[],
        None,
    )
    .await;
    down.fails_saying(1, "no answer from");
    assert!(!down.stderr.contains("--api-key k") && !down.stderr.contains(" k "));
}

/// `hookrelay ARGS` with the admin token.
async fn as_admin(setup: &Setup, args: &[&str]) -> super::client::Run {
    let admin = ["--server", setup.server.base.as_str(), "--api-key", ADMIN];
    let all: Vec<&str> = args.iter().chain(admin.iter()).copied().collect();
    hookrelay(&all, &[], None).await
}

#[tokio::test]
async fn licenses_are_created_and_listed_with_the_admin_token() {
    let setup = Setup::start().await;
    let created = as_admin(
        &setup,
        &[
            "licenses",
            "create",
            "--license-id",
            "4242",
            "--login",
            "acme",
            "--json",
        ],
    )
    .await
    .json();
    assert_eq!(created["license_id"], "4242");
    assert!(created["api_key"].as_str().unwrap().starts_with("hrk_"));
    let shown = as_admin(&setup, &["licenses", "create", "--login", "globex"]).await;
    let out = shown.ok();
    assert!(
        out.contains("api key: hrk_") && out.contains("Copy the API key now"),
        "{out}"
    );

    let listed = as_admin(&setup, &["licenses", "list"]).await;
    let table = listed.ok();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("4242 ") && l.contains("acme")),
        "{table}"
    );
    assert!(
        table.contains(&setup.license) && table.contains("globex"),
        "{table}"
    );
    let all = as_admin(&setup, &["licenses", "list", "--json"])
        .await
        .json();
    assert_eq!(
        all["licenses"].as_array().unwrap().len(),
        4,
        "first start, setup, 2 here: {all}"
    );

    let again = as_admin(&setup, &["licenses", "create", "--license-id", "4242"]).await;
    again.fails_saying(1, "already exists");
}

#[tokio::test]
async fn completions_print_a_script_that_knows_the_client_commands() {
    let bash = hookrelay(&["completions", "bash"], &[], None).await;
    let script = bash.ok();
    assert!(
        script.contains("complete -F"),
        "not a bash completion script"
    );
    for word in [
        "webhooks",
        "deliveries",
        "rotate-secret",
        "recover",
        "--api-key",
        "licenses",
    ] {
        assert!(script.contains(word), "{word} missing");
    }
    for shell in ["zsh", "fish"] {
        let out = hookrelay(&["completions", shell], &[], None).await;
        assert!(out.ok().contains("rotate-secret"), "{shell}");
    }
    let unknown = hookrelay(&["completions", "tcsh"], &[], None).await;
    assert_eq!(unknown.code, 2);
}
