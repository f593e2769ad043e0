//! Limits as the columns of `api_keys` and `users` (`NULL` = no limit of that kind).

use switchyard_domain::StoreError;
use switchyard_domain::accounts::{Budget, BudgetPeriod, Limits};

/// The columns' values, in the entities' order.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitColumns {
    pub rpm: Option<i32>,
    pub tpm: Option<i64>,
    pub concurrency: Option<i32>,
    pub budget_nanos: Option<i64>,
    pub budget_currency: Option<String>,
    pub budget_period: Option<String>,
}

impl LimitColumns {
    pub fn of(limits: &Limits) -> Self {
        Self {
            rpm: limits.requests_per_minute.and_then(|value| i32::try_from(value).ok()),
            tpm: limits.tokens_per_minute.and_then(|value| i64::try_from(value).ok()),
            concurrency: limits.concurrency.and_then(|value| i32::try_from(value).ok()),
            budget_nanos: limits.budget.as_ref().map(|budget| budget.amount_nanos),
            budget_currency: limits.budget.as_ref().map(|budget| budget.currency.clone()),
            budget_period: limits.budget.as_ref().map(|budget| budget.period.as_str().to_owned()),
        }
    }

    /// The limits; `row` names the row in an error.
    pub fn limits(self, row: &str) -> Result<Limits, StoreError> {
        let budget = match (self.budget_nanos, self.budget_currency, self.budget_period) {
            (Some(amount_nanos), Some(currency), Some(period)) => Some(Budget {
                amount_nanos,
                currency,
                period: BudgetPeriod::parse(&period)
                    .map_err(|_| StoreError::Other(format!("{row} has an unknown budget period {period:?}")))?,
            }),
            _ => None,
        };
        Ok(Limits {
            requests_per_minute: self.rpm.and_then(|value| u32::try_from(value).ok()),
            tokens_per_minute: self.tpm.and_then(|value| u64::try_from(value).ok()),
            concurrency: self.concurrency.and_then(|value| u32::try_from(value).ok()),
            budget,
        })
    }
}
