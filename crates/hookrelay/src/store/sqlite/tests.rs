//! Tests of opening and migrating the SQLite file.
use super::connection::*;
use super::*;

#[test]
fn a_version_1_database_is_migrated_to_the_current_version_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let conn = connect(path.to_str().unwrap(), READER_CACHE_KIB).unwrap();
    conn.execute_batch(&format!(
        "BEGIN; {}; PRAGMA user_version = 1; COMMIT;",
        MIGRATIONS[0]
    ))
    .unwrap();
    conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')", [])
        .unwrap();
    migrate(&conn).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(queries::setting(&conn, "k").unwrap().as_deref(), Some("v"));
    assert!(queries::visitor_details_of(&conn, "1", "S1")
        .unwrap()
        .is_empty());
    migrate(&conn).unwrap(); // running again changes nothing
}

#[tokio::test]
async fn a_second_store_on_the_same_file_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.db");
    let path = path.to_str().unwrap();
    let first = SqliteStore::open(path).await.unwrap();
    let err = match SqliteStore::open(path).await {
        Ok(_) => panic!("a second store opened the same file"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("another hookrelay process") && err.contains("PostgreSQL"),
        "{err}"
    );
    first.close().await;
    let again = SqliteStore::open(path).await.unwrap();
    again.close().await;
}

#[test]
fn a_database_from_a_newer_hookrelay_is_refused() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    let err = migrate(&conn).unwrap_err().to_string();
    assert!(err.contains("newer hookrelay"), "{err}");
}
