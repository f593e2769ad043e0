//! What must not be lost: a stream the client abandons, traffic while the database is cut, and
//! entries spilled before a restart.
