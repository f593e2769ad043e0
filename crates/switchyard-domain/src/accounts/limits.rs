//! Rate limits and budgets on a gateway key (set by its owner, within the user's) or on a user
//! (set by an admin). The gateway enforces them (the usage context's `Governor`); here they are
//! values with their rules.

use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::text::currency;

/// The most requests per minute a limit may allow.
pub const MAX_REQUESTS_PER_MINUTE: u32 = 1_000_000;
/// The most tokens per minute a limit may allow.
pub const MAX_TOKENS_PER_MINUTE: u64 = 10_000_000_000;
/// The most calls a key may have in flight.
pub const MAX_CONCURRENCY: u32 = 100_000;

named_enum!(
    /// How long a budget lasts before it starts again: a calendar day, week (from Monday) or
    /// month of the configured time zone, or for ever.
    BudgetPeriod, "period", "invalid_period" {
        Day => "day",
        Week => "week",
        Month => "month",
        AllTime => "all_time",
    }
);

/// An amount that may be spent per period, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Nano-units of `currency`.
    pub amount_nanos: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    pub period: BudgetPeriod,
}

/// What is set on a key or a user; `None` = no limit of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u64>,
    /// Calls in flight at once (keys only).
    pub concurrency: Option<u32>,
    pub budget: Option<Budget>,
}

/// Limits as a caller sent them.
#[derive(Debug, Clone, Default)]
pub struct LimitsInput {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
    pub concurrency: Option<u64>,
    pub budget: Option<BudgetInput>,
}

#[derive(Debug, Clone)]
pub struct BudgetInput {
    pub amount_nanos: i64,
    pub currency: String,
    pub period: String,
}

fn bounded(field: &str, value: Option<u64>, max: u64) -> Result<Option<u64>, DomainError> {
    match value {
        Some(value) if value == 0 || value > max => Err(DomainError::validation(
            field,
            "out_of_range",
            format!("must be between 1 and {max} (or null for no limit)"),
        )),
        other => Ok(other),
    }
}

fn budget(input: Option<BudgetInput>) -> Result<Option<Budget>, DomainError> {
    let Some(input) = input else { return Ok(None) };
    if input.amount_nanos <= 0 {
        return Err(DomainError::validation(
            "budget.amount_nanos",
            "out_of_range",
            "must be more than 0",
        ));
    }
    Ok(Some(Budget {
        amount_nanos: input.amount_nanos,
        currency: currency("budget.currency", &input.currency)?,
        period: BudgetPeriod::parse(&input.period).map_err(|_| {
            DomainError::validation(
                "budget.period",
                "invalid_period",
                "must be day, week, month or all_time",
            )
        })?,
    }))
}

fn within(field: &str, value: Option<u64>, ceiling: Option<u64>) -> Result<(), DomainError> {
    match (value, ceiling) {
        (Some(value), Some(ceiling)) if value > ceiling => Err(DomainError::validation(
            field,
            "above_user_limit",
            format!("must be at most {ceiling}, the limit an admin set on the key's user"),
        )),
        _ => Ok(()),
    }
}

impl Limits {
    /// A user's limits (an admin's): no concurrency, which is per key.
    pub fn for_user(input: LimitsInput) -> Result<Self, DomainError> {
        if input.concurrency.is_some() {
            return Err(DomainError::validation(
                "concurrency",
                "not_allowed",
                "a concurrency limit is set on keys, not users",
            ));
        }
        Ok(Self {
            requests_per_minute: bounded(
                "requests_per_minute",
                input.requests_per_minute,
                u64::from(MAX_REQUESTS_PER_MINUTE),
            )?
            .and_then(|value| u32::try_from(value).ok()),
            tokens_per_minute: bounded("tokens_per_minute", input.tokens_per_minute, MAX_TOKENS_PER_MINUTE)?,
            concurrency: None,
            budget: budget(input.budget)?,
        })
    }

    /// A key's limits (its owner's), each no higher than the user's of the same kind.
    pub fn for_key(input: LimitsInput, user: &Limits) -> Result<Self, DomainError> {
        let requests = bounded(
            "requests_per_minute",
            input.requests_per_minute,
            u64::from(MAX_REQUESTS_PER_MINUTE),
        )?;
        let tokens = bounded("tokens_per_minute", input.tokens_per_minute, MAX_TOKENS_PER_MINUTE)?;
        within("requests_per_minute", requests, user.requests_per_minute.map(u64::from))?;
        within("tokens_per_minute", tokens, user.tokens_per_minute)?;
        let concurrency = bounded("concurrency", input.concurrency, u64::from(MAX_CONCURRENCY))?;
        Ok(Self {
            requests_per_minute: requests.and_then(|value| u32::try_from(value).ok()),
            tokens_per_minute: tokens,
            concurrency: concurrency.and_then(|value| u32::try_from(value).ok()),
            budget: budget(input.budget)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_limits_stay_within_its_users() {
        let user = Limits {
            requests_per_minute: Some(100),
            ..Limits::default()
        };
        let over = LimitsInput {
            requests_per_minute: Some(101),
            ..LimitsInput::default()
        };
        assert!(Limits::for_key(over, &user).is_err());
        let within = LimitsInput {
            requests_per_minute: Some(100),
            tokens_per_minute: Some(5_000),
            concurrency: Some(3),
            budget: Some(BudgetInput {
                amount_nanos: 1_000,
                currency: "usd".into(),
                period: "month".into(),
            }),
        };
        let limits = Limits::for_key(within, &user).unwrap_or_default();
        assert_eq!(limits.requests_per_minute, Some(100));
        assert_eq!(limits.budget.map(|budget| budget.currency), Some("USD".into()));
        let zero = LimitsInput {
            tokens_per_minute: Some(0),
            ..LimitsInput::default()
        };
        assert!(Limits::for_user(zero).is_err());
        let concurrency = LimitsInput {
            concurrency: Some(2),
            ..LimitsInput::default()
        };
        assert!(Limits::for_user(concurrency).is_err());
    }
}
