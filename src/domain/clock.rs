//! Time. The process has one base [`Clock`] (real, or fixed in tests); every tenant has a
//! virtual clock on top of it (offset or frozen instant), stored in its tenants row so all
//! replicas agree.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// The base clock of the process.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests can set and advance.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }
    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|_| Utc::now())
    }
}

/// A tenant's virtual clock.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TenantClock {
    pub offset_seconds: i64,
    pub frozen_at: Option<DateTime<Utc>>,
}

impl TenantClock {
    /// The tenant's now, given the process clock.
    pub fn now(&self, base: &dyn Clock) -> DateTime<Utc> {
        match self.frozen_at {
            Some(t) => t,
            None => base.now() + Duration::seconds(self.offset_seconds),
        }
    }
}
