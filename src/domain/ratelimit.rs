//! A token-bucket rate limiter keyed per tenant (in-process: each replica limits its own
//! share, which is what a per-customer limit in front of a load balancer amounts to).

use std::time::Instant;

use dashmap::DashMap;

use super::TenantId;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Per-tenant token buckets.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: DashMap<TenantId, Bucket>,
}

impl RateLimiter {
    /// Takes one token for `tenant` at `rate` per second with `burst` capacity.
    /// `rate == 0` means unlimited. On refusal, returns the seconds to wait (≥ 1).
    pub fn check(&self, tenant: TenantId, rate: u32, burst: u32) -> Result<(), u64> {
        if rate == 0 {
            return Ok(());
        }
        let cap = f64::from(burst.max(1));
        let now = Instant::now();
        let mut b = self.buckets.entry(tenant).or_insert(Bucket { tokens: cap, last: now });
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * f64::from(rate)).min(cap);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / f64::from(rate);
            Err(wait.ceil().max(1.0) as u64)
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
