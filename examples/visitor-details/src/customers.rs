//! The customer database: a local SQLite file the integration looks visitors up in by e-mail.
//!
//! A new file is filled from `customers.sql` (schema and three sample customers) so the example
//! answers the sample webhooks of `hookrelay trigger` out of the box. An existing file is used
//! as it is, so your own rows survive restarts.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};

/// Schema and sample rows, run when the database has no `customers` table yet.
const SEED_SQL: &str = include_str!("../customers.sql");

/// What agents are shown about a known customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub name: String,
    pub age: i64,
    pub position: String,
}

/// The open database. One connection behind a mutex: lookups are single-row primary-key reads
/// that take microseconds, so handlers never wait on each other for long.
pub struct Customers {
    db: Mutex<Connection>,
}

impl Customers {
    /// Opens (or creates) the database at `path`, loading the sample customers into a new one.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Customers> {
        let db = Connection::open(path)?;
        let has_table: bool = db.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'customers')",
            [],
            |row| row.get(0),
        )?;
        if !has_table {
            db.execute_batch(SEED_SQL)?;
        }
        Ok(Customers { db: Mutex::new(db) })
    }

    /// The customer with this e-mail (case-insensitive), if there is one.
    pub fn find(&self, email: &str) -> rusqlite::Result<Option<Customer>> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        db.query_row(
            "SELECT name, age, position FROM customers WHERE email = ?1",
            [email.trim()],
            |row| {
                Ok(Customer {
                    name: row.get(0)?,
                    age: row.get(1)?,
                    position: row.get(2)?,
                })
            },
        )
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_knows_the_sample_visitor_whatever_the_case_of_the_email() {
        let dir = tempfile::tempdir().unwrap();
        let customers = Customers::open(dir.path().join("customers.db")).unwrap();
        let mary = customers.find("Mary.Brown@email.com ").unwrap().unwrap();
        assert_eq!((mary.age, mary.position.as_str()), (36, "Head of Sales"));
        assert_eq!(customers.find("nobody@example.com").unwrap(), None);
    }

    #[test]
    fn an_existing_database_is_not_refilled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customers.db");
        Customers::open(&path)
            .unwrap()
            .db
            .lock()
            .unwrap()
            .execute("DELETE FROM customers", [])
            .unwrap();
        let reopened = Customers::open(&path).unwrap();
        assert_eq!(reopened.find("mary.brown@email.com").unwrap(), None);
    }
}
