//! Test support: databases per test, a TCP proxy that can cut a connection, probe routes.

pub mod database;
pub mod probe_routes;
pub mod proxy;
