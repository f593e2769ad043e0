//! The middleware every request passes through, outermost first: request context (id, client
//! IP), tracing span, metrics, uniform error bodies; innermost, the routing snapshot's refresh
//! after catalog writes.

pub mod error_body;
pub mod metrics;
pub mod request_context;
pub mod root_span;
pub mod routing_refresh;
