//! sea-orm entities: one module per table. Only this crate sees them.

pub mod api_call_logs;
pub mod api_keys;
pub mod audit_events;
pub mod capabilities;
pub mod categories;
pub mod conversations;
pub mod default_models;
pub mod files;
pub mod message_files;
pub mod messages;
pub mod model_capabilities;
pub mod model_categories;
pub mod model_parameters;
pub mod model_routes;
pub mod models;
pub mod refresh_tokens;
pub mod suppliers;
pub mod system_settings;
pub mod upstream_keys;
pub mod user_model_configs;
pub mod users;
