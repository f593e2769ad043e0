//! A call-log entry as a row, and as a line of the spill file (its own versioned shape, so a
//! file written by one release is read by the next).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::ApiKeyId;
use switchyard_domain::catalog::{ModelId, SupplierId};
use switchyard_domain::gateway::{CallLogEntry, Endpoint, Usage};
use switchyard_domain::kernel::ids::UserId;
use switchyard_domain::usage::{Call, Tokens, UsageKey, hour_of};
use uuid::Uuid;

use crate::entity::api_call_logs;

/// Cuts text to a column's length (in characters).
fn fit(text: Option<String>, max: usize) -> Option<String> {
    text.map(|text| match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text,
    })
}

fn millis(value: i64) -> i32 {
    i32::try_from(value.max(0)).unwrap_or(i32::MAX)
}

/// The row of an entry. Text is cut to its column (an entry is never refused for its length).
pub fn to_row(entry: &CallLogEntry) -> api_call_logs::ActiveModel {
    let usage = entry.usage;
    api_call_logs::ActiveModel {
        id: Set(entry.id),
        request_id: Set(fit(Some(entry.request_id.clone()), 128).unwrap_or_default()),
        user_id: Set(entry.user_id.map(|id| id.0)),
        api_key_id: Set(entry.api_key_id.map(|id| id.0)),
        model_id: Set(entry.model_id.map(|id| id.0)),
        supplier_id: Set(entry.supplier_id.map(|id| id.0)),
        upstream_key_id: Set(entry.upstream_key_id),
        upstream_model: Set(fit(entry.upstream_model.clone(), 128)),
        endpoint: Set(entry.endpoint.as_str().to_owned()),
        stream: Set(entry.stream),
        status_code: Set(i16::try_from(entry.status_code).unwrap_or(i16::MAX)),
        error_code: Set(fit(entry.error_code.clone(), 48)),
        error_summary: Set(fit(entry.error_summary.clone(), 300)),
        prompt_tokens: Set(usage.prompt_tokens),
        completion_tokens: Set(usage.completion_tokens),
        cached_input_tokens: Set(usage.cached_input_tokens),
        cache_write_tokens: Set(usage.cache_write_tokens),
        reasoning_tokens: Set(usage.reasoning_tokens),
        estimated: Set(usage.estimated),
        cost_nanos: Set(entry.cost_nanos),
        currency: Set(fit(entry.currency.clone(), 3)),
        time_to_first_token_ms: Set(entry.time_to_first_token_ms.map(millis)),
        latency_ms: Set(millis(entry.latency_ms)),
        client_ip: Set(fit(entry.client_ip.clone(), 45)),
        attempt: Set(i16::try_from(entry.attempt).unwrap_or(i16::MAX)),
        byok: Set(entry.byok),
        created_at: Set(entry.created_at),
    }
}

/// The usage bucket an entry adds to.
pub fn usage_key(entry: &CallLogEntry) -> UsageKey {
    UsageKey {
        hour: hour_of(entry.created_at),
        user: entry.user_id,
        api_key: entry.api_key_id,
        model: entry.model_id,
        supplier: entry.supplier_id,
        // As the row keeps it.
        currency: fit(entry.currency.clone(), 3),
        byok: entry.byok,
    }
}

/// An entry as the rollups count it.
pub fn call(entry: &CallLogEntry) -> Call<'_> {
    let usage = entry.usage;
    Call {
        status_code: entry.status_code,
        error_code: entry.error_code.as_deref(),
        tokens: Tokens {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            cached_input: usage.cached_input_tokens,
            cache_write: usage.cache_write_tokens,
            reasoning: usage.reasoning_tokens,
        },
        cost_nanos: entry.cost_nanos,
        // As the row keeps it.
        latency_ms: i64::from(millis(entry.latency_ms)),
    }
}

/// An entry read back from its row.
pub fn from_row(row: api_call_logs::Model) -> Option<CallLogEntry> {
    Some(CallLogEntry {
        id: row.id,
        request_id: row.request_id,
        user_id: row.user_id.map(UserId),
        api_key_id: row.api_key_id.map(ApiKeyId),
        model_id: row.model_id.map(ModelId),
        supplier_id: row.supplier_id.map(SupplierId),
        upstream_key_id: row.upstream_key_id,
        upstream_model: row.upstream_model,
        endpoint: Endpoint::parse(&row.endpoint).ok()?,
        stream: row.stream,
        status_code: u16::try_from(row.status_code).unwrap_or(0),
        error_code: row.error_code,
        error_summary: row.error_summary,
        usage: Usage {
            prompt_tokens: row.prompt_tokens,
            completion_tokens: row.completion_tokens,
            cached_input_tokens: row.cached_input_tokens,
            cache_write_tokens: row.cache_write_tokens,
            reasoning_tokens: row.reasoning_tokens,
            estimated: row.estimated,
        },
        cost_nanos: row.cost_nanos,
        currency: row.currency,
        time_to_first_token_ms: row.time_to_first_token_ms.map(i64::from),
        latency_ms: i64::from(row.latency_ms),
        client_ip: row.client_ip,
        attempt: u16::try_from(row.attempt).unwrap_or(1),
        byok: row.byok,
        created_at: row.created_at,
    })
}

/// One line of the spill file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpillLine {
    /// The shape's version.
    pub v: u8,
    pub id: Uuid,
    pub request_id: String,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    pub upstream_key_id: Option<Uuid>,
    pub upstream_model: Option<String>,
    pub endpoint: String,
    pub stream: bool,
    pub status_code: u16,
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub estimated: bool,
    pub cost_nanos: i64,
    pub currency: Option<String>,
    pub time_to_first_token_ms: Option<i64>,
    pub latency_ms: i64,
    pub client_ip: Option<String>,
    /// Absent in lines written before attempts were counted.
    #[serde(default = "first_attempt")]
    pub attempt: u16,
    #[serde(default)]
    pub byok: bool,
    pub created_at: DateTime<Utc>,
}

fn first_attempt() -> u16 {
    1
}

impl SpillLine {
    pub fn new(entry: &CallLogEntry) -> Self {
        let usage = entry.usage;
        Self {
            v: 1,
            id: entry.id,
            request_id: entry.request_id.clone(),
            user_id: entry.user_id.map(|id| id.0),
            api_key_id: entry.api_key_id.map(|id| id.0),
            model_id: entry.model_id.map(|id| id.0),
            supplier_id: entry.supplier_id.map(|id| id.0),
            upstream_key_id: entry.upstream_key_id,
            upstream_model: entry.upstream_model.clone(),
            endpoint: entry.endpoint.as_str().to_owned(),
            stream: entry.stream,
            status_code: entry.status_code,
            error_code: entry.error_code.clone(),
            error_summary: entry.error_summary.clone(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_input_tokens: usage.cached_input_tokens,
            cache_write_tokens: usage.cache_write_tokens,
            reasoning_tokens: usage.reasoning_tokens,
            estimated: usage.estimated,
            cost_nanos: entry.cost_nanos,
            currency: entry.currency.clone(),
            time_to_first_token_ms: entry.time_to_first_token_ms,
            latency_ms: entry.latency_ms,
            client_ip: entry.client_ip.clone(),
            attempt: entry.attempt,
            byok: entry.byok,
            created_at: entry.created_at,
        }
    }

    /// The entry; `None` for an endpoint this release does not know.
    pub fn into_entry(self) -> Option<CallLogEntry> {
        Some(CallLogEntry {
            id: self.id,
            request_id: self.request_id,
            user_id: self.user_id.map(UserId),
            api_key_id: self.api_key_id.map(ApiKeyId),
            model_id: self.model_id.map(ModelId),
            supplier_id: self.supplier_id.map(SupplierId),
            upstream_key_id: self.upstream_key_id,
            upstream_model: self.upstream_model,
            endpoint: Endpoint::parse(&self.endpoint).ok()?,
            stream: self.stream,
            status_code: self.status_code,
            error_code: self.error_code,
            error_summary: self.error_summary,
            usage: Usage {
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.completion_tokens,
                cached_input_tokens: self.cached_input_tokens,
                cache_write_tokens: self.cache_write_tokens,
                reasoning_tokens: self.reasoning_tokens,
                estimated: self.estimated,
            },
            cost_nanos: self.cost_nanos,
            currency: self.currency,
            time_to_first_token_ms: self.time_to_first_token_ms,
            latency_ms: self.latency_ms,
            client_ip: self.client_ip,
            attempt: self.attempt,
            byok: self.byok,
            created_at: self.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        assert_eq!(fit(Some("ééé".into()), 2).as_deref(), Some("éé"));
        assert_eq!(fit(Some("ab".into()), 2).as_deref(), Some("ab"));
        assert_eq!(fit(None, 2), None);
        assert_eq!(millis(-5), 0);
        assert_eq!(millis(i64::MAX), i32::MAX);
    }
}
