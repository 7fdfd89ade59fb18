//! Emulator controls around the dialect routes: the request journal.

pub mod journal;
