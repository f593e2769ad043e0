//! Black-box tests: the real server on a random port, over real HTTP, against a fresh real
//! database per test (SQLite by default; the server named by `SWITCHYARD_TEST_DATABASE_URL`
//! when set, PostgreSQL or MySQL/MariaDB). Logs print only when `TEST_LOG` is set.

// The server future nests many middleware layers; its layout needs a deeper query limit.
#![recursion_limit = "256"]
#![expect(
    clippy::expect_used,
    reason = "test set-up that cannot proceed should panic with its reason"
)]

mod accounts;
mod admin;
mod api_keys;
mod capabilities;
mod catalog;
mod catalog_file;
mod categories;
mod cli;
mod conversations;
mod errors;
mod gateway;
mod health;
mod helpers;
mod models;
mod observability;
mod openapi;
mod secrets;
mod security;
mod storage;
mod support;
mod usage;
