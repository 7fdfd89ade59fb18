//! A token-bucket rate limiter keyed per tenant (in-process: each replica limits its own
//! share, which is what a per-customer limit in front of a load balancer amounts to).
//!
//! Lock-free per tenant: each bucket is one atomic "theoretical arrival time" (the
//! generic cell rate algorithm, equivalent to a token bucket of `burst` tokens refilled at
//! `rate` per second), moved by compare-and-swap; the map of buckets is sharded and only
//! read once a tenant's bucket exists.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use super::TenantId;

/// Per-tenant buckets.
#[derive(Debug)]
pub struct RateLimiter {
    start: Instant,
    /// Per tenant: nanoseconds since `start` at which its bucket is full again.
    buckets: DashMap<TenantId, Arc<AtomicU64>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            start: Instant::now(),
            buckets: DashMap::new(),
        }
    }
}

impl RateLimiter {
    /// Takes one token for `tenant` at `rate` per second with `burst` capacity.
    /// `rate == 0` means unlimited. On refusal, returns the seconds to wait (≥ 1).
    pub fn check(&self, tenant: TenantId, rate: u32, burst: u32) -> Result<(), u64> {
        if rate == 0 {
            return Ok(());
        }
        let now = self.start.elapsed().as_nanos().min(u128::from(u64::MAX / 2)) as u64;
        let interval = 1_000_000_000 / u64::from(rate);
        let tolerance = interval.saturating_mul(u64::from(burst.max(1)) - 1);
        let bucket = match self.buckets.get(&tenant) {
            Some(b) => b.clone(),
            None => self.buckets.entry(tenant).or_insert_with(|| Arc::new(AtomicU64::new(0))).clone(),
        };
        let mut tat = bucket.load(Ordering::Acquire);
        loop {
            let base = tat.max(now);
            if base - now > tolerance {
                let wait = (base - now - tolerance) as f64 / 1e9;
                return Err(wait.ceil().max(1.0) as u64);
            }
            match bucket.compare_exchange_weak(tat, base + interval, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_limits_one_tenant_only() {
        let l = RateLimiter::default();
        let a = TenantId(uuid::Uuid::new_v4());
        let b = TenantId(uuid::Uuid::new_v4());
        for _ in 0..3 {
            assert!(l.check(a, 1, 3).is_ok());
        }
        assert!(l.check(a, 1, 3).is_err());
        assert!(l.check(b, 1, 3).is_ok());
        assert!(l.check(a, 0, 3).is_ok());
    }
}
