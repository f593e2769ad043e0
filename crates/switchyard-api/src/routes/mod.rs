//! Route modules, one per resource, each exporting `configure`.

pub mod health;
pub mod meta;
