//! sea-orm entities: one module per table. Only this crate sees them.

pub mod api_keys;
pub mod audit_events;
pub mod capabilities;
pub mod categories;
pub mod refresh_tokens;
pub mod suppliers;
pub mod system_settings;
pub mod upstream_keys;
pub mod users;
