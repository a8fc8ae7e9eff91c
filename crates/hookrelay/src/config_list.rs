//! A list setting, written either as a TOML array or as one comma-separated string (the
//! environment's form).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StringList {
    List(Vec<String>),
    Joined(String),
}

impl StringList {
    pub(super) fn items(&self) -> Vec<String> {
        match self {
            StringList::List(v) => v.iter().map(|s| s.trim().to_string()).collect(),
            StringList::Joined(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }
    }
}
