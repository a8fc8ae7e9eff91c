//! Every SQL statement of the PostgreSQL backend, one named function each, grouped by what they
//! touch. Each function takes any client or transaction, so the caller decides what runs inside
//! one transaction. Statements are prepared once per connection and cached.

pub mod accounts;
pub mod deliveries;
pub mod ingest;
pub mod minutes;
pub mod operational;
pub mod retention;
pub mod sessions;
pub mod targets;
pub mod visitors;

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

async fn query<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<Row>, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query_opt(&statement, params).await
}

async fn execute<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<u64, Error> {
    let statement = c.prepare_cached(sql).await?;
    c.execute(&statement, params).await
}
