//! The client's defaults: the credentials file `serve` writes at first start beside its database
//! (found the way `serve` names it, from HOOKRELAY_DATABASE_URL or the default database), and the
//! server's address from HOOKRELAY_LISTEN. With these, `hookrelay webhooks list` works with no
//! flags in the directory where `hookrelay serve` was started.

use super::{ClientError, Need};
use crate::config::Config;

/// What the credentials file holds; a later block (a later first start) wins.
#[derive(Default)]
pub struct Credentials {
    path: String,
    pub admin_token: Option<String>,
    pub license_id: Option<String>,
    pub api_key: Option<String>,
}

impl Credentials {
    /// Reads the file `serve` would write for this environment's database.
    pub fn find() -> Result<Credentials, ClientError> {
        let database_url = std::env::var("HOOKRELAY_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| Config::defaults().database_url);
        let path = crate::bootstrap::credentials_path(&database_url);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ClientError::Usage(format!(
                "no credentials: pass --api-key KEY (or set HOOKRELAY_API_KEY), or run where \
                 `hookrelay serve` keeps its database; {path}: {e}"
            ))
        })?;
        Ok(Credentials::parse(path, &text))
    }

    /// Parses `name: value` lines as `bootstrap` writes them.
    fn parse(path: String, text: &str) -> Credentials {
        let mut found = Credentials {
            path,
            ..Credentials::default()
        };
        for line in text.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
            match name.trim() {
                "admin token" => found.admin_token = value,
                "license_id" => found.license_id = value,
                "api key" => found.api_key = value,
                _ => {}
            }
        }
        found
    }

    /// The key and license for `need`: the license's own API key for its resources, the admin
    /// token for admin routes and for another license than the file's.
    pub fn pick(
        self,
        need: Need,
        license: Option<&str>,
    ) -> Result<(String, Option<String>), ClientError> {
        let own_license = match license {
            None => true,
            Some(id) => self.license_id.as_deref() == Some(id),
        };
        let own_key = match (need, own_license) {
            (Need::License, true) => self.api_key.clone(),
            _ => None,
        };
        let license = license.map(str::to_owned).or(self.license_id.clone());
        if let Some(key) = own_key {
            return Ok((key, license));
        }
        match self.admin_token {
            Some(token) => Ok((token, license)),
            None => Err(ClientError::Usage(format!(
                "{} holds no admin token (the server's admin token was given in its \
                 configuration): pass --api-key with the admin token",
                self.path
            ))),
        }
    }
}

/// `http://` and the address `serve` listens on in this environment.
pub fn default_server() -> String {
    let listen = std::env::var("HOOKRELAY_LISTEN")
        .ok()
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| Config::defaults().listen);
    let host = match listen.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}", listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "admin token: hra_old\nlicense_id:  111\nlogin:       admin\n\
                        api key:     hrk_one\ntoken:       t\nadmin token: hra_new\n";

    #[test]
    fn the_license_key_serves_its_license_and_the_admin_token_the_rest() {
        let c = || Credentials::parse("f".into(), FILE);
        let (key, license) = c().pick(Need::License, None).unwrap();
        assert_eq!((key.as_str(), license.as_deref()), ("hrk_one", Some("111")));
        let (key, license) = c().pick(Need::License, Some("222")).unwrap();
        assert_eq!((key.as_str(), license.as_deref()), ("hra_new", Some("222")));
        let (key, _) = c().pick(Need::Admin, None).unwrap();
        assert_eq!(key, "hra_new");
    }

    #[test]
    fn without_an_admin_token_admin_commands_are_a_usage_error() {
        let c = Credentials::parse("f".into(), "license_id: 1\napi key: hrk_x\n");
        assert!(matches!(
            c.pick(Need::Admin, None),
            Err(ClientError::Usage(m)) if m.contains("no admin token")
        ));
    }
}
