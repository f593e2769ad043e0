//! The shared kernel every context builds on: errors, the clock, ids, paging, text rules,
//! settings, health, secrets at rest, closed sets of names, and who is calling (the `Principal`
//! and the proof of admin rights). It depends on no context.

pub mod clock;
pub mod crypto;
pub mod error;
pub mod health;
pub mod ids;
pub mod named;
pub mod page;
pub mod patch;
pub mod ports;
pub mod principal;
pub mod rate;
pub mod settings;
pub mod text;
