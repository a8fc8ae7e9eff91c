//! `hookrelay backup` as an operator runs it: a real `hookrelay serve` on a temporary SQLite file
//! keeps taking events over HTTP while `hookrelay backup` copies the file, then a second server
//! started on the copy must serve every license, webhook, event and delivery that was answered 202
//! before the backup started.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::process::Command;

use super::server::{get, post, receiver, sqlite_url, strings, Server, ADMIN};
use super::HOOKRELAY;

/// Events stored before the load starts, so that the copy takes a while: per license.
const PRELOADED_BATCHES: usize = 10;
const BATCH: usize = 500;
/// Each event goes to both webhooks of its license.
const WEBHOOKS_PER_LICENSE: usize = 2;

/// Runs `hookrelay backup ARGS` with `env` added, to completion.
async fn backup(args: &[&str], env: &[(&str, &str)]) -> Output {
    let run = Command::new(HOOKRELAY)
        .arg("backup")
        .args(args)
        .env_remove("HOOKRELAY_DATABASE_URL")
        .envs(env.iter().copied())
        .output();
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("backup did not finish in 2 minutes")
        .unwrap()
}

/// A license with its API key and the ids of its webhooks.
#[derive(Clone)]
struct Tenant {
    id: String,
    key: String,
    webhooks: HashSet<String>,
}

async fn tenant(client: &reqwest::Client, base: &str, target: &str) -> Tenant {
    let url = format!("{base}/v1/licenses");
    let (status, license) = post(client, url, ADMIN, json!({})).await;
    assert_eq!(status, 201, "{license}");
    let id = license["license_id"].as_str().unwrap().to_owned();
    let key = license["api_key"].as_str().unwrap().to_owned();
    let mut webhooks = HashSet::new();
    for n in 0..WEBHOOKS_PER_LICENSE {
        let url = format!("{base}/v1/licenses/{id}/webhooks");
        let body = json!({"url": format!("{target}?n={n}"), "event_type": "visitor_queued",
                          "data_types": ["visitor"]});
        let (status, webhook) = post(client, url, &key, body).await;
        assert_eq!(status, 201, "{webhook}");
        webhooks.insert(webhook["id"].as_str().unwrap().to_owned());
    }
    Tenant { id, key, webhooks }
}

/// One event answered 202: its id, how many deliveries it made, when the answer came.
struct Accepted {
    event_id: String,
    deliveries: u64,
    answered: Instant,
    took: Duration,
}

/// Posts events one at a time until `stop`, remembering each one answered 202.
async fn produce(
    client: reqwest::Client,
    base: String,
    tenant: Tenant,
    name: String,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<Accepted>>>,
) {
    let url = format!("{base}/v1/licenses/{}/events", tenant.id);
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body =
            json!({"event_type": "visitor_queued", "visitor": {"id": format!("{name}-{i}")}});
        let sent = Instant::now();
        let (status, answer) = post(&client, url.clone(), &tenant.key, body).await;
        if status == 202 {
            accepted.lock().unwrap().push(Accepted {
                event_id: answer["event_id"].as_str().unwrap().to_owned(),
                deliveries: answer["deliveries"].as_u64().unwrap(),
                answered: Instant::now(),
                took: sent.elapsed(),
            });
        }
    }
}

/// Every delivery of a license on `base`, counted by event.
async fn deliveries_by_event(
    client: &reqwest::Client,
    base: &str,
    tenant: &Tenant,
) -> HashMap<String, u64> {
    let mut by_event = HashMap::new();
    let mut cursor = String::new();
    loop {
        let url = format!(
            "{base}/v1/licenses/{}/deliveries?limit=500{cursor}",
            tenant.id
        );
        let page = get(client, url, &tenant.key).await;
        for delivery in page["deliveries"].as_array().unwrap() {
            let event = delivery["event_id"].as_str().unwrap().to_owned();
            *by_event.entry(event).or_insert(0) += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return by_event,
        }
    }
}

/// The number printed after `name` in the backup's report ("  deliveries  1234").
fn printed(report: &str, name: &str) -> u64 {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(name))
        .unwrap_or_else(|| panic!("no `{name}` in the report:\n{report}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs a backup of `source` to `to` that must fail; returns what it said.
async fn refusal(source: &str, to: &Path, flags: &[&str]) -> String {
    let mut args = vec!["--database-url", source, "--to", to.to_str().unwrap()];
    args.extend_from_slice(flags);
    let output = backup(&args, &[]).await;
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{report}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_serves_everything_accepted_before_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let (database, copy) = (dir.path().join("hookrelay.db"), dir.path().join("copy.db"));
    let server = Server::start(&database).await;
    let (target, _receiver) = receiver().await;
    let client = reqwest::Client::new();
    let tenants = [
        tenant(&client, &server.base, &target).await,
        tenant(&client, &server.base, &target).await,
    ];

    // Events already stored: every one answered 202 before the backup starts.
    let mut before: Vec<(usize, String, u64)> = Vec::new();
    for (t, tenant) in tenants.iter().enumerate() {
        for b in 0..PRELOADED_BATCHES {
            let events: Vec<Value> = (0..BATCH)
                .map(|i| json!({"event_type": "visitor_queued", "visitor": {"id": format!("B{b}-{i}")}}))
                .collect();
            let url = format!("{}/v1/licenses/{}/events/batch", server.base, tenant.id);
            let body = json!({ "events": events });
            let (status, answer) = post(&client, url, &tenant.key, body).await;
            assert_eq!(status, 202, "{answer}");
            for event in answer["events"].as_array().unwrap() {
                let id = event["event_id"].as_str().unwrap().to_owned();
                before.push((t, id, event["deliveries"].as_u64().unwrap()));
            }
        }
    }

    // Four producers keep posting single events before, during and after the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Vec<Arc<Mutex<Vec<Accepted>>>> = (0..tenants.len())
        .map(|_| Arc::new(Mutex::new(Vec::new())))
        .collect();
    let mut producers = Vec::new();
    for p in 0..4 {
        let t = p % tenants.len();
        producers.push(tokio::spawn(produce(
            client.clone(),
            server.base.clone(),
            tenants[t].clone(),
            format!("P{p}"),
            stop.clone(),
            accepted[t].clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let output = backup(
        &[
            "--database-url",
            &sqlite_url(&database),
            "--to",
            copy.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for producer in producers {
        producer.await.unwrap();
    }
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}{errors}");
    assert!(report.contains("integrity check ok"), "{report}");
    assert_eq!(mode(&copy), 0o600, "the copy holds secrets");

    let mut during = 0;
    let (mut slowest_before, mut slowest_during) = (Duration::ZERO, Duration::ZERO);
    for (t, accepted) in accepted.iter().enumerate() {
        for a in accepted.lock().unwrap().iter() {
            if a.answered < started {
                before.push((t, a.event_id.clone(), a.deliveries));
                slowest_before = slowest_before.max(a.took);
            } else if a.answered < ended {
                during += 1;
                slowest_during = slowest_during.max(a.took);
            }
        }
    }
    eprintln!(
        "backup of {} deliveries under load: {:.2} s; {during} events accepted meanwhile, the \
         slowest in {} ms (before it: {} ms)\n{report}",
        printed(&report, "deliveries"),
        (ended - started).as_secs_f64(),
        slowest_during.as_millis(),
        slowest_before.as_millis(),
    );
    assert!(
        during > 0,
        "the server accepted no event while the backup ran"
    );

    // A second server on the copy, with the same admin token and API keys.
    let restored = Server::start(&copy).await;
    let licenses = get(&client, format!("{}/v1/licenses", restored.base), ADMIN).await;
    let listed = strings(&licenses["licenses"], "license_id");
    assert_eq!(listed.len() as u64, printed(&report, "licenses"));
    let mut events_in_copy = 0;
    let mut deliveries_in_copy = 0;
    for (t, tenant) in tenants.iter().enumerate() {
        assert!(listed.contains(&tenant.id), "{licenses}");
        let url = format!("{}/v1/licenses/{}/webhooks", restored.base, tenant.id);
        let webhooks = get(&client, url, &tenant.key).await;
        let ids = strings(&webhooks["webhooks"], "id");
        assert_eq!(ids, tenant.webhooks);

        let by_event = deliveries_by_event(&client, &restored.base, tenant).await;
        let missing: Vec<&String> = before
            .iter()
            .filter(|(owner, id, n)| *owner == t && by_event.get(id) != Some(n))
            .map(|(_, id, _)| id)
            .collect();
        assert!(
            missing.is_empty(),
            "{} events accepted before the backup lack deliveries in the copy, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        // A consistent snapshot: no event with only some of its deliveries.
        let torn = by_event
            .values()
            .filter(|n| **n != WEBHOOKS_PER_LICENSE as u64)
            .count();
        assert_eq!(torn, 0, "events whose deliveries were cut in two");
        events_in_copy += by_event.len() as u64;
        deliveries_in_copy += by_event.values().sum::<u64>();
    }
    assert_eq!(events_in_copy, printed(&report, "events"));
    assert_eq!(deliveries_in_copy, printed(&report, "deliveries"));
    assert_eq!(
        printed(&report, "webhooks"),
        (tenants.len() * WEBHOOKS_PER_LICENSE) as u64
    );
}

#[tokio::test]
async fn backup_refuses_to_overwrite_an_existing_file_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let (database, existing) = (
        dir.path().join("hookrelay.db"),
        dir.path().join("backup.db"),
    );
    let _server = Server::start(&database).await;
    std::fs::write(&existing, "an older backup").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    let source = sqlite_url(&database);
    let to = existing.to_str().unwrap();

    let errors = refusal(&source, &existing, &[]).await;
    assert!(errors.contains("already exists"), "{errors}");
    assert!(errors.contains("--force"), "{errors}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"an older backup");

    let errors = refusal(&source, &database, &["--force"]).await;
    assert!(errors.contains("is the database being copied"), "{errors}");

    let busy = dir.path().join("busy.db");
    let _other = Server::start(&busy).await;
    let errors = refusal(&source, &busy, &["--force"]).await;
    assert!(
        errors.contains("a hookrelay server is running on"),
        "{errors}"
    );

    let forced = backup(&["--database-url", &source, "--to", to, "--force"], &[]).await;
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(std::fs::read(&existing)
        .unwrap()
        .starts_with(b"SQLite format 3\0"));
    assert_eq!(mode(&existing), 0o600, "the copy holds secrets");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn backup_of_a_postgres_database_points_at_pg_dump_and_pg_restore() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("backup.db");
    // From the environment, as `serve` reads it.
    let url = "postgres://hookrelay:s3cret-password@localhost:5432/hookrelay";
    let output = backup(
        &["--to", to.to_str().unwrap()],
        &[("HOOKRELAY_DATABASE_URL", url)],
    )
    .await;
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(errors.contains("pg_dump -Fc"), "{errors}");
    assert!(errors.contains("pg_restore"), "{errors}");
    assert!(!errors.contains("s3cret-password"), "{errors}");
    assert!(!to.exists());
}
