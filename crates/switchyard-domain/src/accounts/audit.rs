//! The audit trail of admin writes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::kernel::ids::UserId;
use crate::kernel::principal::Admin;

/// One recorded admin action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub actor_id: Option<UserId>,
    /// `user.deactivate`, `user.lock`, `user.role_change`, ...
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub request_id: Option<String>,
    /// A short, secret-free description (`role admin -> user`).
    pub details: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Who is acting and under which request, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The admin user; `None` for the operator's commands.
    pub user_id: Option<UserId>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn new(admin: &Admin, request_id: Option<String>) -> Self {
        Self {
            user_id: admin.user_id(),
            request_id,
        }
    }
}
