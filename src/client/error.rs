//! Transport errors, classified the way reports count them.

/// Why a request got no usable response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// No response within the timeout.
    #[error("timed out")]
    Timeout,
    /// The connection could not be made or was dropped.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The response body was larger than the limit.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Anything else (bad URL, protocol error).
    #[error("{0}")]
    Other(String),
}

impl ClientError {
    /// The class name used in events.csv and reports.
    pub fn class(&self) -> &'static str {
        match self {
            ClientError::Timeout => "timeout",
            ClientError::Connect(_) => "connect",
            ClientError::BodyTooLarge { .. } => "body_too_large",
            ClientError::Other(_) => "http_error",
        }
    }

    /// Whether trying again may help (connection errors and timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClientError::Timeout | ClientError::Connect(_))
    }
}

/// An error and its sources, one after the other (never the URL: it may hold secrets).
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
