//! Switchyard's domain: the types, rules and ports every other crate builds on.
//!
//! This crate does no IO. Whatever touches the outside world (database, network, clock,
//! files, environment) is reached through a port trait defined here and implemented in an
//! outer crate; see `docs/architecture.md`.

pub mod accounts;
mod admin;
pub mod api_key;
pub mod audit;
pub mod capability;
pub mod catalog;
pub mod catalog_file;
pub mod catalog_import;
pub mod category;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod health;
pub mod identity;
pub mod model;
pub mod model_catalog;
pub mod page;
pub mod parameter;
pub mod password;
pub mod ports;
pub mod settings;
pub mod supplier;
mod text;
pub mod token;
pub mod user;

pub use clock::{Clock, ManualClock};
pub use error::{AuthFailure, ConflictKind, DomainError, Refusal, StoreError};
pub use health::{DependencyHealth, HealthProbe, PoolStats};
pub use settings::{SettingKey, SettingsRepo};
