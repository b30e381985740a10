//! Why a user-service call was refused, and the HTTP status each refusal is answered with.

use std::collections::BTreeMap;

/// Why a call was refused; each kind maps to one HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// 400: the request is readable but wrong (malformed JSON, wrong current password).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 409: clashes with what exists.
    #[error("{0}")]
    Conflict(String),
    /// 422: fields that break a rule, with a message per field.
    #[error("{message}")]
    Invalid {
        /// Summary.
        message: String,
        /// Field name → what is wrong with it.
        fields: BTreeMap<String, String>,
    },
}

impl StoreError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            StoreError::BadRequest(_) => 400,
            StoreError::Unauthorized(_) => 401,
            StoreError::Forbidden(_) => 403,
            StoreError::NotFound(_) => 404,
            StoreError::Conflict(_) => 409,
            StoreError::Invalid { .. } => 422,
        }
    }

    pub(super) fn invalid(field: &str, message: &str) -> Self {
        StoreError::Invalid {
            message: "validation failed".into(),
            fields: BTreeMap::from([(field.to_owned(), message.to_owned())]),
        }
    }
}

pub(super) fn forbidden(message: &str) -> StoreError {
    StoreError::Forbidden(message.to_owned())
}

pub(super) fn unauthorized(message: &str) -> StoreError {
    StoreError::Unauthorized(message.to_owned())
}
