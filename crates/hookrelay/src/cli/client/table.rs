//! Output for people: aligned columns, short ids and times without milliseconds.

use serde_json::Value;

/// Rows printed under a header, each column as wide as its widest cell.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }

    fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                let cells = self.rows.iter().filter_map(|r| r.get(c));
                cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<width$}  "));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// After a page that has a next one: how to ask for it.
pub fn next_page(answer: &Value) {
    if let Some(cursor) = answer["next_cursor"].as_str() {
        println!("More: add --cursor {cursor}");
    }
}

/// The first 8 characters of a long id: enough to tell a license's webhooks apart, and accepted
/// back by the commands as a prefix.
pub fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// `2026-12-04T01:06:09.123Z` → `2026-12-04 01:06:09`; `-` for null.
pub fn time(value: &Value) -> String {
    match value.as_str() {
        Some(t) => t
            .replace('T', " ")
            .split('.')
            .next()
            .unwrap_or(t)
            .to_owned(),
        None => "-".into(),
    }
}

/// A JSON value as a cell: strings bare, null as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `["chat", "visitor"]` → `chat,visitor` (`-` for none).
pub fn list(value: &Value) -> String {
    let items: Vec<String> = value
        .as_array()
        .map(|a| a.iter().map(cell).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_aligned_to_their_widest_cell() {
        let mut table = Table::new(&["ID", "URL"]);
        table.row(vec!["abcdef12".into(), "http://x/".into()]);
        table.row(vec!["a".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "ID        URL\nabcdef12  http://x/\na         -\n"
        );
    }

    #[test]
    fn times_lose_their_milliseconds_and_nulls_are_dashes() {
        assert_eq!(
            time(&json!("2026-12-04T01:06:09.123Z")),
            "2026-12-04 01:06:09"
        );
        assert_eq!(time(&Value::Null), "-");
        assert_eq!(list(&json!([])), "-");
        assert_eq!(list(&json!(["chat", "visitor"])), "chat,visitor");
    }
}
