//! A small builder for one OpenAPI operation, so the operation table reads as a list of routes
//! rather than as nested JSON.

use serde_json::{json, Value};

/// One method on one path.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub value: Value,
}

/// What a path parameter means, by name.
fn path_parameter(name: &str) -> &'static str {
    match name {
        "license_id" => "The license: a string of digits, e.g. `1025707`.",
        "id" => "The webhook's id (32 hex) or the delivery's id (`dlv_123`), as the path says.",
        "visitor_id" => "The visitor's id as LiveChat sends it in `visitor.id`.",
        "asset" => "A file of the console, e.g. `app.js`.",
        _ => "A path parameter.",
    }
}

impl Op {
    /// Starts an operation; the path's `{parameters}` are declared automatically.
    pub fn new(method: &'static str, path: &'static str, id: &str, tag: &str, summary: &str) -> Op {
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                json!({
                    "name": name, "in": "path", "required": true,
                    "description": path_parameter(name), "schema": {"type": "string"},
                })
            })
            .collect();
        Op {
            method,
            path,
            value: json!({
                "operationId": id,
                "tags": [tag],
                "summary": summary,
                "parameters": parameters,
                "responses": {},
            }),
        }
    }

    pub fn describe(mut self, text: &str) -> Op {
        self.value["description"] = json!(text);
        self
    }

    /// `Authorization: Bearer` with the admin token or the license's API key.
    pub fn bearer(mut self) -> Op {
        self.value["security"] = json!([{"bearerAuth": []}]);
        self.errors(&[401, 403])
    }

    /// LiveChat v2's HTTP Basic auth, `login:api_key`.
    pub fn basic(mut self) -> Op {
        self.value["security"] = json!([{"v2BasicAuth": []}]);
        self
    }

    /// No credentials in headers.
    pub fn public(mut self) -> Op {
        self.value["security"] = json!([]);
        self
    }

    pub fn query(mut self, name: &str, schema: Value, description: &str) -> Op {
        push(
            &mut self.value["parameters"],
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema}),
        );
        self
    }

    pub fn header(mut self, name: &str, required: bool, schema: Value, description: &str) -> Op {
        push(
            &mut self.value["parameters"],
            json!({"name": name, "in": "header", "required": required, "description": description, "schema": schema}),
        );
        self
    }

    /// A required JSON body of component `schema`.
    /// A required JSON body; every route reading one may answer 408 (it came too slowly) and 413
    /// (it is, or is declared, larger than `max_body_bytes`).
    pub fn json_body(self, schema: &str) -> Op {
        self.body(json!({"application/json": {"schema": reference(schema)}}))
            .errors(&[408, 413])
    }

    /// An optional JSON body of component `schema` (no body: every field takes its default).
    pub fn optional_json_body(mut self, schema: &str) -> Op {
        self.value["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": reference(schema)}}});
        self
    }

    /// A required body with these media types.
    pub fn body(mut self, content: Value) -> Op {
        self.value["requestBody"] = json!({"required": true, "content": content});
        self
    }

    /// A JSON answer of component `schema`.
    pub fn json(self, status: u16, description: &str, schema: &str) -> Op {
        self.answer(
            status,
            description,
            Some(json!({"application/json": {"schema": reference(schema)}})),
        )
    }

    pub fn answer(mut self, status: u16, description: &str, content: Option<Value>) -> Op {
        let mut response = json!({ "description": description });
        if let Some(content) = content {
            response["content"] = content;
        }
        self.value["responses"][status.to_string()] = response;
        self
    }

    /// Error answers, each the shared `{"error": ...}` response of that status.
    pub fn errors(mut self, statuses: &[u16]) -> Op {
        for status in statuses {
            self.value["responses"][status.to_string()] =
                json!({"$ref": format!("#/components/responses/Error{status}")});
        }
        self
    }

    /// Error answers of the LiveChat v2-compatible routes, written v2's way (`V2Error`).
    pub fn v2_errors(mut self, statuses: &[u16]) -> Op {
        for status in statuses {
            self.value["responses"][status.to_string()] =
                json!({"$ref": format!("#/components/responses/V2Error{status}")});
        }
        self
    }
}

pub fn reference(schema: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{schema}") })
}

fn push(list: &mut Value, item: Value) {
    if let Some(items) = list.as_array_mut() {
        items.push(item);
    }
}
