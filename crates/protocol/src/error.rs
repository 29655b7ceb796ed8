//! The AWS-shaped error every layer returns to the wire.

use std::borrow::Cow;

/// An error answered to the client in the service's protocol.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// Wire error code (`NotFoundException`, `AccessDenied`).
    pub code: Cow<'static, str>,
    /// Human-readable message; never carries secret material.
    pub message: String,
    /// HTTP status.
    pub status: u16,
    /// Whether the client (`Sender`) or the service (`Receiver`) is at fault.
    pub sender_fault: bool,
}

impl AwsError {
    /// An error with a client-fault status.
    pub fn new(
        code: impl Into<Cow<'static, str>>,
        status: u16,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status < 500,
        }
    }

    /// `ValidationException`/`ValidationError` with the given message (400).
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, 400, message)
    }

    /// An internal failure (500) with a generic message; details go to the log, not the client.
    pub fn internal() -> Self {
        let mut e = Self::new(
            "InternalFailure",
            500,
            "We encountered an internal error. Please try again.",
        );
        e.sender_fault = false;
        e
    }

    /// Body could not be decoded (`SerializationException` for JSON protocols).
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", 400, message)
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}
