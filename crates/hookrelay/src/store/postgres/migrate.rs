//! Schema migrations: numbered SQL files embedded in the binary, applied in order at start.
//!
//! Several nodes may start at once against an empty database, so the whole run happens in one
//! transaction that first takes a transaction-scoped advisory lock: the first node migrates, the
//! others wait for it and then find nothing left to do. The lock key is derived from the schema
//! so that independent schemas in one database (the test suite's) do not wait for each other.

use tokio_postgres::Client;

/// Every migration, in order: (version, name, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "schema", include_str!("migrations/0001_schema.sql")),
    (
        2,
        "visitor_details",
        include_str!("migrations/0002_visitor_details.sql"),
    ),
    (3, "targets", include_str!("migrations/0003_targets.sql")),
    (4, "signing", include_str!("migrations/0004_signing.sql")),
    (
        5,
        "retention",
        include_str!("migrations/0005_retention.sql"),
    ),
    (
        6,
        "operational",
        include_str!("migrations/0006_operational.sql"),
    ),
    (7, "sessions", include_str!("migrations/0007_sessions.sql")),
    (
        8,
        "dashboard",
        include_str!("migrations/0008_dashboard.sql"),
    ),
];

/// Brings the schema up to date; refuses a database written by a newer hookrelay.
pub async fn run(client: &mut Client) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('hookrelay.migrate.' || current_schema()))",
        &[],
    )
    .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        anyhow::bail!(
            "the database was written by a newer hookrelay (schema {current}, this one knows {latest})"
        );
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| anyhow::anyhow!("migration {version} ({name}): {e}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tracing::info!(version, name, "applied a database migration");
    }
    tx.commit().await?;
    Ok(())
}
