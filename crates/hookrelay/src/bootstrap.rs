//! First start: the admin token and a first license, created once, printed once and saved to a
//! file readable only by the owner.

use std::io::Write;
use std::sync::Arc;

use crate::config::Config;
use crate::domain::secret;
use crate::store::Store;

const ADMIN_HASH_KEY: &str = "admin_token_sha256";

/// Returns the admin token's hash, creating the token and a first license on first start.
pub async fn prepare(store: &Arc<dyn Store>, config: &Config) -> anyhow::Result<[u8; 32]> {
    let mut first_start = Vec::new();
    let admin_hash = match &config.admin_token {
        Some(token) => secret::hash(token),
        None => {
            let token = secret::new_admin_token();
            let proposed = hex::encode(secret::hash(&token));
            let stored = store.init_setting(ADMIN_HASH_KEY, &proposed).await?;
            if stored == proposed {
                first_start.push(format!("admin token: {token}"));
            }
            let bytes = hex::decode(&stored)?;
            bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("the stored admin token hash is damaged"))?
        }
    };
    if store.license_count().await? == 0 {
        let api_key = secret::new_api_key();
        let license = crate::domain::license::License {
            license_id: crate::domain::license::new_license_id(),
            login: "admin".into(),
            token: secret::random_hex(16),
            api_key_hash: secret::hash(&api_key),
            created_at: crate::domain::now_ms(),
        };
        match store.create_license(license.clone()).await {
            Ok(()) => {
                first_start.push(format!("license_id:  {}", license.license_id));
                first_start.push(format!("login:       {}", license.login));
                first_start.push(format!("api key:     {api_key}"));
                first_start.push(format!("token:       {}", license.token));
            }
            // Several nodes started at once on one PostgreSQL database: another one won.
            Err(crate::store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !first_start.is_empty() {
        announce(config, &first_start);
    }
    Ok(admin_hash)
}

/// Prints the new secrets once and saves them next to the database.
fn announce(config: &Config, lines: &[String]) {
    let path = credentials_path(&config.database_url);
    let saved = save(&path, lines);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\nFirst start: these credentials are shown only now.");
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    match saved {
        Ok(()) => {
            let _ = writeln!(out, "Saved to {path} (readable only by you).\n");
        }
        Err(e) => {
            let _ = writeln!(out, "Could not save them to {path}: {e}. Copy them now.\n");
        }
    }
}

/// Where the first start's credentials are saved: beside a SQLite file, else in the working
/// directory. The command-line client reads them from the same place.
pub(crate) fn credentials_path(database_url: &str) -> String {
    match database_url.strip_prefix("sqlite://") {
        Some(db) => format!("{db}.credentials"),
        None => "hookrelay.credentials".into(),
    }
}

fn save(path: &str, lines: &[String]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    for line in lines {
        writeln!(file, "{line}")?;
    }
    Ok(())
}
