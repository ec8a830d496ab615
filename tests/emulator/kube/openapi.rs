//! `/openapi/v2` and `/openapi/v3`: just enough for `kubectl apply` to
//! validate without `--validate=false`. kubectl checks `fieldValidation`
//! support in the v3 index (empty: not found, so it validates on the
//! client) and then looks each kind up in the v2 document; a kind without
//! a schema there passes.

use serde_json::json;

use super::api::Reply;

/// `rest` is the path after `/openapi`.
pub fn serve(rest: &str) -> Option<Reply> {
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
