//! Route modules, one per resource, each exporting `configure`.

pub mod admin;
pub mod api_keys;
pub mod associations;
pub mod auth;
pub mod capabilities;
pub mod categories;
pub mod chat;
pub mod conversations;
pub mod files;
pub mod gateway;
pub mod health;
pub mod keys;
pub mod limits;
pub mod logs;
pub mod meta;
pub mod model_configs;
pub mod model_parts;
pub mod models;
pub mod stats;
pub mod suppliers;
pub mod users;
