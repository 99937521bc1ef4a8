//! Where the time of day comes from: one injected [`Clock`], read by the store for every
//! timestamp it writes, by the transports for what they stamp (an OAuth client assertion, an
//! NTLM response) and by the server for every decision that depends on "now", so a test can
//! hold time still or move it on without sleeping. Its own crate because the store and the
//! transports, which do not depend on each other, both need it; `outmail-types` reads no clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tells the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The shared handle every part of a server holds.
pub type SharedClock = Arc<dyn Clock>;

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            // A clock before 1970 is a broken clock; 0 keeps ordering sane rather than failing.
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn starting_at(now_ms: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(now_ms)))
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl ManualClock {
    /// A manual clock at the system's time now: for tests that talk to a real peer which
    /// checks timestamps (a token service), and still want to move time on by hand.
    pub fn at_system_time() -> Arc<Self> {
        Self::starting_at(SystemClock.now_ms())
    }
}

/// Now in whole seconds since the Unix epoch, by `clock`.
pub fn unix_seconds(clock: &dyn Clock) -> i64 {
    clock.now_ms().div_euclid(1000)
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::starting_at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(Duration::from_secs(30));
        assert_eq!(clock.now_ms(), 31_000);
        assert_eq!(unix_seconds(clock.as_ref()), 31);
    }

    #[test]
    fn the_system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
