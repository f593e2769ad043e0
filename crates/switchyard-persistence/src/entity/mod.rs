//! sea-orm entities: one module per table. Only this crate sees them.

pub mod system_settings;
