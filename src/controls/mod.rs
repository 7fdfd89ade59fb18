//! Emulator controls: what an operator or a test suite uses to steer and watch the emulated
//! vendors (faults and latency injected into a tenant's traffic; the request journal).

pub mod caches;
pub mod faults;
pub mod journal;
