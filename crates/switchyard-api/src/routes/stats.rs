//! `/api/v1/stats/*` and `/api/v1/models/{id}/stats`: usage read from the hourly rollups. A user
//! sees their own usage, an admin everyone's (and `stats/users`, and the upstream keys). Costs
//! are per currency, never summed across currencies. Each answers JSON, or CSV with
//! `format=csv` (one `cost_<CURRENCY>` column per currency present).

use std::collections::BTreeSet;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::accounts::ApiKeyId;
use switchyard_domain::catalog::{ModelId, SupplierId};
use switchyard_domain::kernel::ids::UserId;
use switchyard_domain::usage::{Dimension, Granularity, Period, SeriesPoint, TableRow, Totals, Tz, UsageFilter, zone};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ErrorBody};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(overview)
        .service(usage)
        .service(keys)
        .service(models)
        .service(users)
        .service(model_stats);
}

/// JSON (the default) or CSV.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatsFormat {
    #[default]
    Json,
    Csv,
}

/// A series' bucket.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketName {
    Hour,
    #[default]
    Day,
}

/// Which keys' usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Gateway keys (`sy-…`).
    #[default]
    Gateway,
    /// The suppliers' upstream keys (admins).
    Upstream,
}

/// A period and what to narrow it to.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// The period's start (RFC 3339), rounded down to the hour; default seven days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// The period's end (RFC 3339), rounded up to the hour; default now. At most 400 days after `from`.
    pub to: Option<DateTime<Utc>>,
    /// Only this user's usage (admins; a user's own id is allowed).
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    #[param(inline)]
    pub format: Option<StatsFormat>,
}

/// A time series' period, buckets and filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// The period's start (RFC 3339), rounded down to the hour; default seven days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// The period's end (RFC 3339), rounded up to the hour; default now.
    pub to: Option<DateTime<Utc>>,
    /// `day` (the default; calendar days of `tz`) or `hour` (at most 31 days of them).
    #[param(inline)]
    pub bucket: Option<BucketName>,
    /// An IANA time zone for day buckets (default `UTC`).
    pub tz: Option<String>,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    #[param(inline)]
    pub format: Option<StatsFormat>,
}

/// A period, the kind of key and a filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyStatsQuery {
    /// `gateway` (the default) or `upstream` (admins; the filters do not apply).
    #[param(inline)]
    pub kind: Option<KeyKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub user_id: Option<Uuid>,
    pub model_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    #[param(inline)]
    pub format: Option<StatsFormat>,
}

/// A model's usage: its period, day buckets in a zone.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ModelStatsQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// An IANA time zone for the day buckets (default `UTC`).
    pub tz: Option<String>,
    #[param(inline)]
    pub format: Option<StatsFormat>,
}

fn filter(user: Option<Uuid>, key: Option<Uuid>, model: Option<Uuid>, supplier: Option<Uuid>) -> UsageFilter {
    UsageFilter {
        user: user.map(UserId),
        api_key: key.map(ApiKeyId),
        model: model.map(ModelId),
        supplier: supplier.map(SupplierId),
    }
}

fn time_zone(name: Option<&str>) -> Result<Tz, ApiError> {
    Ok(match name {
        Some(name) => zone(name)?,
        None => Tz::UTC,
    })
}

/// A cost in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostBody {
    /// ISO 4217.
    pub currency: String,
    /// Nano-units of the currency.
    pub nanos: i64,
    /// The same amount in the currency's units, as a decimal string.
    pub amount: String,
}

/// Latency over the calls, in milliseconds; `null` when there were none. Quantiles come from a
/// fixed-bucket histogram (bounds 100, 250, 500 ms, 1, 2.5, 5, 10, 30, 60, 120 s), interpolated
/// inside their bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyBody {
    pub mean: Option<i64>,
    pub p50: Option<i64>,
    pub p95: Option<i64>,
}

/// Figures over a set of calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalsBody {
    pub requests: i64,
    /// Refusals, failures and streams that broke (a client that went away is no error).
    pub errors: i64,
    /// `errors / requests`, 0 without requests.
    pub error_rate: f64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_input_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub latency_ms: LatencyBody,
    /// Per currency, by currency code.
    pub cost: Vec<CostBody>,
}

impl From<&Totals> for TotalsBody {
    fn from(totals: &Totals) -> Self {
        let measures = &totals.measures;
        Self {
            requests: measures.requests,
            errors: measures.errors,
            error_rate: measures.error_rate(),
            prompt_tokens: measures.tokens.prompt,
            completion_tokens: measures.tokens.completion,
            total_tokens: measures.tokens.total(),
            cached_input_tokens: measures.tokens.cached_input,
            cache_write_tokens: measures.tokens.cache_write,
            reasoning_tokens: measures.tokens.reasoning,
            latency_ms: LatencyBody {
                mean: measures.mean_latency_ms(),
                p50: measures.latency_quantile_ms(0.5),
                p95: measures.latency_quantile_ms(0.95),
            },
            cost: totals
                .cost
                .iter()
                .map(|cost| CostBody {
                    currency: cost.currency.clone(),
                    nanos: cost.nanos,
                    amount: cost.amount(),
                })
                .collect(),
        }
    }
}

/// A period's totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewBody {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub totals: TotalsBody,
}

/// One bucket of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointBody {
    /// The bucket's start, in UTC (midnight in the series' zone for day buckets).
    pub start: DateTime<Utc>,
    pub totals: TotalsBody,
}

impl From<&SeriesPoint> for PointBody {
    fn from(point: &SeriesPoint) -> Self {
        Self {
            start: point.start,
            totals: (&point.totals).into(),
        }
    }
}

/// A time series: every bucket of the period, empty ones included.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesBody {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `hour` or `day`.
    pub bucket: String,
    pub tz: String,
    pub data: Vec<PointBody>,
}

/// One row of a table: a user, key, model or supplier.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowBody {
    /// `null` for calls without one (a refusal before a model or key was known).
    pub id: Option<Uuid>,
    /// Its name now; `null` when unknown.
    pub name: Option<String>,
    pub totals: TotalsBody,
}

impl From<&TableRow> for RowBody {
    fn from(row: &TableRow) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
            totals: (&row.totals).into(),
        }
    }
}

/// Rows most requests first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableBody {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub data: Vec<RowBody>,
}

/// A model's usage: its totals and its days.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatsBody {
    pub model_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub totals: TotalsBody,
    pub tz: String,
    pub days: Vec<PointBody>,
}

/// A name as a CSV cell a spreadsheet will not run: one that starts like a formula (`=`, `+`,
/// `-`, `@`, a tab or a return) gets a leading `'` (key names are their owners' words).
fn inert(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{name}")
    } else {
        name.to_owned()
    }
}

/// CSV with a column per figure and one `cost_<CURRENCY>` column per currency present.
fn csv(file: &str, leading: &[&str], rows: Vec<(Vec<String>, &Totals)>) -> Result<HttpResponse, ApiError> {
    let currencies: BTreeSet<&str> = rows
        .iter()
        .flat_map(|(_, totals)| totals.cost.iter().map(|cost| cost.currency.as_str()))
        .collect();
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = leading.iter().map(|name| (*name).to_owned()).collect();
    header.extend(
        [
            "requests",
            "errors",
            "error_rate",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cached_input_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "latency_mean_ms",
            "latency_p50_ms",
            "latency_p95_ms",
        ]
        .iter()
        .map(|name| (*name).to_owned()),
    );
    header.extend(currencies.iter().map(|currency| format!("cost_{currency}")));
    writer.write_record(&header).map_err(ApiError::internal)?;
    let optional = |value: Option<i64>| value.map(|value| value.to_string()).unwrap_or_default();
    for (mut record, totals) in rows {
        let measures = &totals.measures;
        record.extend([
            measures.requests.to_string(),
            measures.errors.to_string(),
            format!("{:.4}", measures.error_rate()),
            measures.tokens.prompt.to_string(),
            measures.tokens.completion.to_string(),
            measures.tokens.total().to_string(),
            measures.tokens.cached_input.to_string(),
            measures.tokens.cache_write.to_string(),
            measures.tokens.reasoning.to_string(),
            optional(measures.mean_latency_ms()),
            optional(measures.latency_quantile_ms(0.5)),
            optional(measures.latency_quantile_ms(0.95)),
        ]);
        for currency in &currencies {
            record.push(
                totals
                    .cost
                    .iter()
                    .find(|cost| cost.currency == *currency)
                    .map(|cost| cost.amount())
                    .unwrap_or_else(|| "0.000000000".to_owned()),
            );
        }
        writer.write_record(&record).map_err(ApiError::internal)?;
    }
    let body = writer.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("content-disposition", format!("attachment; filename=\"{file}.csv\"")))
        .body(body))
}

fn table_response(
    file: &str,
    period: Period,
    rows: &[TableRow],
    format: Option<StatsFormat>,
) -> Result<HttpResponse, ApiError> {
    if format == Some(StatsFormat::Csv) {
        return csv(
            file,
            &["id", "name"],
            rows.iter()
                .map(|row| {
                    let leading = vec![
                        row.id.map(|id| id.to_string()).unwrap_or_default(),
                        row.name.as_deref().map(inert).unwrap_or_default(),
                    ];
                    (leading, &row.totals)
                })
                .collect(),
        );
    }
    Ok(HttpResponse::Ok().json(TableBody {
        from: period.from,
        to: period.to,
        data: rows.iter().map(RowBody::from).collect(),
    }))
}

fn series_rows(points: &[SeriesPoint]) -> Vec<(Vec<String>, &Totals)> {
    points
        .iter()
        .map(|point| {
            (
                vec![point.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)],
                &point.totals,
            )
        })
        .collect()
}

/// Requests, errors, tokens, latency and cost per currency over a period.
#[utoipa::path(tag = "stats", security(("bearer_jwt" = [])), params(StatsQuery),
    responses(
        (status = 200, description = "The period's totals", content((OverviewBody = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Another user's usage, asked by a user", body = ErrorBody),
        (status = 422, description = "A bad period", body = ErrorBody)))]
#[get("/api/v1/stats/overview")]
async fn overview(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let period = state.usage.period(query.from, query.to)?;
    let filter = filter(query.user_id, query.api_key_id, query.model_id, query.supplier_id);
    let totals = state.usage.overview(&user.0, filter, period).await?;
    if query.format == Some(StatsFormat::Csv) {
        let leading = vec![
            period.from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            period.to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ];
        return csv("overview", &["from", "to"], vec![(leading, &totals)]);
    }
    Ok(HttpResponse::Ok().json(OverviewBody {
        from: period.from,
        to: period.to,
        totals: (&totals).into(),
    }))
}

/// A time series in hour or day buckets of a time zone, every bucket present.
#[utoipa::path(tag = "stats", security(("bearer_jwt" = [])), params(SeriesQuery),
    responses(
        (status = 200, description = "The series", content((SeriesBody = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Another user's usage, asked by a user", body = ErrorBody),
        (status = 422, description = "A bad period, time zone, or too many hour buckets", body = ErrorBody)))]
#[get("/api/v1/stats/usage")]
async fn usage(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<SeriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let period = state.usage.period(query.from, query.to)?;
    let tz = time_zone(query.tz.as_deref())?;
    let granularity = match query.bucket.unwrap_or_default() {
        BucketName::Hour => Granularity::Hour,
        BucketName::Day => Granularity::Day,
    };
    let filter = filter(query.user_id, query.api_key_id, query.model_id, query.supplier_id);
    let points = state.usage.series(&user.0, filter, period, granularity, tz).await?;
    if query.format == Some(StatsFormat::Csv) {
        return csv("usage", &["start"], series_rows(&points));
    }
    Ok(HttpResponse::Ok().json(SeriesBody {
        from: period.from,
        to: period.to,
        bucket: granularity.as_str().to_owned(),
        tz: tz.name().to_owned(),
        data: points.iter().map(PointBody::from).collect(),
    }))
}

/// Usage per gateway key (a user's own keys; an admin's, everyone's), or per upstream key
/// (admins, `kind=upstream`).
#[utoipa::path(tag = "stats", security(("bearer_jwt" = [])), params(KeyStatsQuery),
    responses(
        (status = 200, description = "One row per key", content((TableBody = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Upstream keys or another user's usage, asked by a user", body = ErrorBody),
        (status = 422, description = "A bad period", body = ErrorBody)))]
#[get("/api/v1/stats/keys")]
async fn keys(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<KeyStatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let period = state.usage.period(query.from, query.to)?;
    let rows = match query.kind.unwrap_or_default() {
        KeyKind::Gateway => {
            let filter = filter(query.user_id, None, query.model_id, query.supplier_id);
            state.usage.table(&user.0, filter, period, Dimension::ApiKey).await?
        }
        KeyKind::Upstream => {
            let admin = user.0.admin()?;
            state.usage.upstream_keys(&admin, period).await?
        }
    };
    table_response("keys", period, &rows, query.format)
}

/// Usage per model.
#[utoipa::path(tag = "stats", security(("bearer_jwt" = [])), params(StatsQuery),
    responses(
        (status = 200, description = "One row per model", content((TableBody = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Another user's usage, asked by a user", body = ErrorBody),
        (status = 422, description = "A bad period", body = ErrorBody)))]
#[get("/api/v1/stats/models")]
async fn models(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let period = state.usage.period(query.from, query.to)?;
    let filter = filter(query.user_id, query.api_key_id, query.model_id, query.supplier_id);
    let rows = state.usage.table(&user.0, filter, period, Dimension::Model).await?;
    table_response("models", period, &rows, query.format)
}

/// Usage per user (admins).
#[utoipa::path(tag = "stats", security(("bearer_jwt" = [])), params(StatsQuery),
    responses(
        (status = 200, description = "One row per user", content((TableBody = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A bad period", body = ErrorBody)))]
#[get("/api/v1/stats/users")]
async fn users(
    state: web::Data<AppState>,
    user: AdminUser,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let period = state.usage.period(query.from, query.to)?;
    let filter = filter(query.user_id, query.api_key_id, query.model_id, query.supplier_id);
    let rows = state
        .usage
        .table(&user.principal, filter, period, Dimension::User)
        .await?;
    table_response("users", period, &rows, query.format)
}

/// A model's usage (a user's own; an admin's, everyone's): totals and day buckets.
#[utoipa::path(tag = "stats", security(("bearer_jwt" = [])), params(("model_id" = Uuid, Path, description = "The model's id"), ModelStatsQuery),
    responses(
        (status = 200, description = "The model's usage", content((ModelStatsBody = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "A bad period or time zone", body = ErrorBody)))]
#[get("/api/v1/models/{model_id:[0-9a-fA-F-]+}/stats")]
async fn model_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    model_id: web::Path<Uuid>,
    query: web::Query<ModelStatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let model = state.catalog.get_model(&user.0, ModelId(*model_id)).await?;
    let period = state.usage.period(query.from, query.to)?;
    let tz = time_zone(query.tz.as_deref())?;
    let filter = UsageFilter {
        model: Some(model.model.id),
        ..UsageFilter::default()
    };
    let days = state
        .usage
        .series(&user.0, filter, period, Granularity::Day, tz)
        .await?;
    if query.format == Some(StatsFormat::Csv) {
        return csv("model", &["start"], series_rows(&days));
    }
    let totals = Totals::of_points(&days);
    Ok(HttpResponse::Ok().json(ModelStatsBody {
        model_id: model.model.id.0,
        from: period.from,
        to: period.to,
        totals: (&totals).into(),
        tz: tz.name().to_owned(),
        days: days.iter().map(PointBody::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_looks_like_a_formula_is_not_one_in_the_csv() {
        assert_eq!(inert("=HYPERLINK(\"http://evil\")"), "'=HYPERLINK(\"http://evil\")");
        assert_eq!(inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert("-1+2"), "'-1+2");
        assert_eq!(inert("my app"), "my app");
    }
}
