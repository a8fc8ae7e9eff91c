//! A small builder for one OpenAPI operation, so the operation table reads as a list of routes
//! rather than as nested JSON.

use serde_json::{json, Value};

use super::rules;

/// One method on one path.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub value: Value,
}

/// What a path parameter means and the values the server reads, by name (`id` by the path it is
/// in: a delivery's or a webhook's).
fn path_parameter(name: &str, path: &str) -> (&'static str, Value) {
    match name {
        "license_id" => (
            "The license: a string of digits, e.g. `1025707`.",
            rules::license_id(),
        ),
        "id" if path.contains("/deliveries/") => (
            "The delivery's id as the API shows it: `dlv_` and a number, e.g. `dlv_123`.",
            rules::delivery_id(),
        ),
        "id" => ("The webhook's id: 32 lowercase hex.", rules::webhook_id()),
        "visitor_id" => (
            "The visitor's id as LiveChat sends it in `visitor.id`: 1 to 200 characters, no control characters.",
            rules::visitor_id(),
        ),
        "asset" => ("A file of the console, e.g. `app.js`.", json!({"type": "string"})),
        _ => ("A path parameter.", json!({"type": "string"})),
    }
}

impl Op {
    /// Starts an operation; the path's `{parameters}` are declared automatically.
    pub fn new(method: &'static str, path: &'static str, id: &str, tag: &str, summary: &str) -> Op {
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let (description, schema) = path_parameter(name, path);
                json!({
                    "name": name, "in": "path", "required": true,
                    "description": description, "schema": schema,
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

    /// A required JSON body of component `schema`; every route reading one may answer 408 (it came too slowly) and 413
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

    /// An OpenAPI link from the answer `status` to the operation `operation_id`, its parameters
    /// taken from this answer (`$response.body#/...`) or this request (`$request.path.…`): how a
    /// client, and schemathesis's stateful phase, gets from a created resource to its operations.
    pub fn link(mut self, status: u16, operation_id: &str, parameters: Value) -> Op {
        let name = operation_id.to_string();
        self.value["responses"][status.to_string()]["links"][name] =
            json!({"operationId": operation_id, "parameters": parameters});
        self
    }

    /// [`Op::link`] to each of `operation_ids` with the same parameters.
    pub fn links(self, status: u16, operation_ids: &[&str], parameters: Value) -> Op {
        operation_ids
            .iter()
            .fold(self, |op, id| op.link(status, id, parameters.clone()))
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
