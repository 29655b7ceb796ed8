//! The store's one error type.

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// An [`Expect`](crate::Expect) did not hold; nothing was written.
    #[error("write conflict: an expectation on the current version failed")]
    Conflict,
    /// The backend could not be reached or did not complete the operation (I/O, locks held too
    /// long, connection lost, retries exhausted); the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data or the database file is damaged or not what this version expects.
    #[error("store data corrupt: {0}")]
    Corrupt(String),
    /// The caller passed something the store cannot accept (a bad URL, a NUL in a key).
    #[error("invalid store argument: {0}")]
    InvalidArgument(String),
    /// The backend rejected the operation for another reason (an SQL error).
    #[error("store backend error: {0}")]
    Backend(String),
}
