//! The switchyard binary's library half: configuration, telemetry, background-task supervision,
//! start-up and wiring. `main.rs` only parses the command line; black-box tests drive
//! [`startup::Application`] directly.

pub mod background;
pub mod catalog_file;
pub mod cli;
pub mod clock;
pub mod hashing;
pub mod operator;
pub mod secrets;
pub mod settings;
pub mod startup;
pub mod supervisor;
pub mod telemetry;
