//! Browsing the call log: a user reads their own calls, an admin everyone's.

use std::sync::Arc;

use crate::gateway::call_log::{CallLogEntry, CallLogFilter};
use crate::gateway::ports::CallLogReader;
use crate::kernel::error::{DomainError, Refusal};
use crate::kernel::page::{Page, PageRequest};
use crate::kernel::principal::Principal;

#[derive(Debug, Clone)]
pub struct CallLogs {
    reader: Arc<dyn CallLogReader>,
}

impl CallLogs {
    pub fn new(reader: Arc<dyn CallLogReader>) -> Self {
        Self { reader }
    }

    /// A page of calls, newest first. A user's filter is narrowed to their own calls; naming
    /// another user is refused.
    pub async fn page(
        &self,
        who: &Principal,
        mut filter: CallLogFilter,
        page: PageRequest,
    ) -> Result<Page<CallLogEntry>, DomainError> {
        if !who.is_admin() {
            if filter.user.is_some_and(|user| user != who.user_id()) {
                return Err(DomainError::Forbidden(Refusal::AdminOnly));
            }
            filter.user = Some(who.user_id());
        }
        if filter.status.is_some_and(|status| !(100..=599).contains(&status)) {
            return Err(DomainError::validation(
                "status",
                "out_of_range",
                "must be an HTTP status, 100–599",
            ));
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            return Err(DomainError::validation("from", "out_of_range", "must be before `to`"));
        }
        Ok(self.reader.page(&filter, page).await?)
    }

    /// Every try of one request, oldest first; another user's request is not found.
    pub async fn request(&self, who: &Principal, request_id: &str) -> Result<Vec<CallLogEntry>, DomainError> {
        let user = (!who.is_admin()).then(|| who.user_id());
        let entries = self.reader.by_request(request_id, user).await?;
        if entries.is_empty() {
            return Err(DomainError::NotFound { entity: "request" });
        }
        Ok(entries)
    }
}
