//! The one injectable clock: production reads the system time, tests and dev mode move it.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock shifted by an offset that tests (or dev mode) can advance.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset_millis: AtomicI64,
}

impl ManualClock {
    /// A clock at system time.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Move the clock forward (or back) by `millis`.
    pub fn advance_millis(&self, millis: i64) {
        self.offset_millis.fetch_add(millis, Ordering::SeqCst);
    }

    /// The current offset from system time.
    #[must_use]
    pub fn offset_millis(&self) -> i64 {
        self.offset_millis.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let off = chrono::Duration::milliseconds(self.offset_millis());
        Utc::now().checked_add_signed(off).unwrap_or_else(Utc::now)
    }
}

#[cfg(test)]
mod tests {
    use super::{Clock, ManualClock};

    #[test]
    fn advancing_moves_now_forward() {
        let c = ManualClock::new();
        let before = c.now();
        c.advance_millis(3_600_000);
        assert!(c.now() - before >= chrono::Duration::minutes(59));
    }
}
