//! `/openapi/v2` and `/openapi/v3`: just enough for `kubectl apply` to
//! validate without `--validate=false`.

use serde_json::json;

use super::api::{Reply, Request};
use super::catalog::ResourceType;

pub fn serve(_types: &[ResourceType], rest: &str, _req: &Request) -> Option<Reply> {
    match rest {
        // kubectl asks for the protobuf form; an empty message is an empty
        // document, in which no kind has a schema to check against.
        "/v2" => Some(Reply::Bytes(
            200,
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            vec![],
        )),
        "/v3" => Some(Reply::Json(200, json!({"paths": {}}))),
        _ => None,
    }
}
