//! Failures as the API server reports them: a `Status` object with a code,
//! a reason and details that kubectl turns into its messages.

use serde_json::{Value, json};

use super::catalog::ResourceType;

/// A failure answered as a Kubernetes `Status` object.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
        }
    }

    fn about(mut self, ty: &ResourceType, name: &str) -> ApiError {
        let mut details = json!({"name": name, "kind": ty.plural});
        if !ty.group.is_empty() {
            details["group"] = json!(ty.group);
        }
        self.details = Some(details);
        self
    }

    pub fn not_found(ty: &ResourceType, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource_name(ty)),
        )
        .about(ty, name)
    }

    pub fn already_exists(ty: &ResourceType, name: &str) -> ApiError {
        let message = format!("{} \"{name}\" already exists", resource_name(ty));
        ApiError::new(409, "AlreadyExists", message).about(ty, name)
    }

    pub fn conflict(ty: &ResourceType, name: &str) -> ApiError {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            resource_name(ty)
        );
        ApiError::new(409, "Conflict", message).about(ty, name)
    }

    /// `why` reads `field: what is wrong`; kubectl prints it from the
    /// causes, as "The Kind \"name\" is invalid: field: what is wrong".
    pub fn invalid(ty: &ResourceType, name: &str, why: &str) -> ApiError {
        let message = format!("{} \"{name}\" is invalid: {why}", ty.kind);
        let (field, detail) = why.split_once(": ").unwrap_or(("", why));
        let mut error = ApiError::new(422, "Invalid", message).about(ty, name);
        let details = error.details.as_mut().expect("set by about");
        details["kind"] = json!(ty.kind);
        details["causes"] =
            json!([{"reason": "FieldValueInvalid", "message": detail, "field": field}]);
        error
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// `pods` or `deployments.apps`, as the API server names resources in errors.
fn resource_name(ty: &ResourceType) -> String {
    if ty.group.is_empty() {
        ty.plural.clone()
    } else {
        format!("{}.{}", ty.plural, ty.group)
    }
}
