//! Emulator controls: what an operator or a test suite uses to steer the emulated vendors
//! (faults and latency injected into a tenant's traffic).

pub mod faults;
