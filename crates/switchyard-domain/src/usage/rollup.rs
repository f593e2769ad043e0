//! Hourly rollups: a call's figures added into its hour × user × gateway key × model ×
//! supplier × currency (× BYOK) bucket, and into its hour × upstream key bucket. The call-log
//! writer adds a batch's rollups in the transaction that writes its raw rows, so the two never
//! disagree; the statistics read rollups only.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::accounts::api_key::ApiKeyId;
use crate::catalog::ids::{ModelId, SupplierId};
use crate::kernel::ids::UserId;

/// The upper bounds (inclusive, in milliseconds) of the latency histogram's buckets; a last
/// bucket holds everything slower.
pub const LATENCY_BOUNDS_MS: [i64; 10] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000];
/// Buckets in the latency histogram (the bounds and the overflow).
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The error code of a call its client gave up on: logged, not counted as an error.
pub const CLIENT_CLOSED: &str = "client_closed";

/// A call's tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: i64,
    pub completion: i64,
    pub cached_input: i64,
    pub cache_write: i64,
    pub reasoning: i64,
}

impl Tokens {
    /// Prompt and completion (cached, cache-write and reasoning tokens are inside them).
    pub fn total(&self) -> i64 {
        self.prompt.saturating_add(self.completion)
    }
}

/// One call, as the rollups count it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub status_code: u16,
    pub error_code: Option<&'a str>,
    pub tokens: Tokens,
    /// Nano-units of the call's currency.
    pub cost_nanos: i64,
    pub latency_ms: i64,
}

impl Call<'_> {
    /// A refusal or a failure, or a stream that broke after it began; not a client that left.
    pub fn is_error(&self) -> bool {
        self.status_code >= 400 || self.error_code.is_some_and(|code| code != CLIENT_CLOSED)
    }
}

/// What a bucket adds up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measures {
    pub requests: i64,
    pub errors: i64,
    pub tokens: Tokens,
    /// Nano-units of the bucket's currency.
    pub cost_nanos: i64,
    pub latency_ms_sum: i64,
    /// Calls per latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub latency: [i64; LATENCY_BUCKETS],
}

impl Measures {
    /// One call's figures.
    pub fn of(call: &Call<'_>) -> Self {
        let latency_ms = call.latency_ms.max(0);
        let mut latency = [0; LATENCY_BUCKETS];
        let bucket = LATENCY_BOUNDS_MS
            .iter()
            .position(|bound| latency_ms <= *bound)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        latency[bucket] = 1;
        Self {
            requests: 1,
            errors: i64::from(call.is_error()),
            tokens: call.tokens,
            cost_nanos: call.cost_nanos,
            latency_ms_sum: latency_ms,
            latency,
        }
    }

    pub fn add(&mut self, other: &Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.tokens.prompt += other.tokens.prompt;
        self.tokens.completion += other.tokens.completion;
        self.tokens.cached_input += other.tokens.cached_input;
        self.tokens.cache_write += other.tokens.cache_write;
        self.tokens.reasoning += other.tokens.reasoning;
        self.cost_nanos += other.cost_nanos;
        self.latency_ms_sum += other.latency_ms_sum;
        for (sum, add) in self.latency.iter_mut().zip(other.latency) {
            *sum += add;
        }
    }

    /// Errors over requests (0 when there were none).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.errors as f64 / self.requests as f64
    }

    /// The mean latency, when there were calls.
    pub fn mean_latency_ms(&self) -> Option<i64> {
        (self.requests > 0).then(|| self.latency_ms_sum / self.requests)
    }

    /// The `q`-quantile of the latency (0 < q ≤ 1), interpolated inside its histogram bucket:
    /// exact to the bucket, never below its lower bound or above its upper bound. The overflow
    /// bucket answers its lower bound.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<i64> {
        let count: i64 = self.latency.iter().sum();
        if count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * count as f64).ceil().max(1.0);
        let mut below = 0i64;
        for (index, calls) in self.latency.iter().enumerate() {
            if *calls == 0 {
                continue;
            }
            if (below + calls) as f64 >= rank {
                let lower = if index == 0 { 0 } else { LATENCY_BOUNDS_MS[index - 1] };
                let Some(upper) = LATENCY_BOUNDS_MS.get(index) else {
                    return Some(lower);
                };
                let within = (rank - below as f64) / *calls as f64;
                return Some(lower + ((upper - lower) as f64 * within).round() as i64);
            }
            below += calls;
        }
        LATENCY_BOUNDS_MS.last().copied()
    }
}

/// The start of an instant's UTC day.
pub fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::days(1)).unwrap_or(at)
}

/// The start of an instant's hour (UTC).
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// A usage bucket's dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageKey {
    pub hour: DateTime<Utc>,
    pub user: Option<UserId>,
    pub api_key: Option<ApiKeyId>,
    pub model: Option<ModelId>,
    pub supplier: Option<SupplierId>,
    pub currency: Option<String>,
    pub byok: bool,
}

/// An upstream key's bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamUsageKey {
    pub hour: DateTime<Utc>,
    pub upstream_key: Uuid,
    pub supplier: Option<SupplierId>,
    pub currency: Option<String>,
}

/// A bucket's row id: derived from its dimensions, so every writer (every instance) upserts
/// the same row for the same bucket. Its first 48 bits are the bucket's start (seconds, big
/// endian), so ids sort by time: a database that clusters rows by primary key (InnoDB) keeps an
/// hour's rows together, and a period's rows are read from a few pages, not one page each.
fn bucket_id(start: DateTime<Utc>, parts: &[&[u8]]) -> Uuid {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u32).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&start.timestamp().to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&digest[..10]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn id_bytes(id: Option<Uuid>) -> [u8; 16] {
    id.unwrap_or_else(Uuid::nil).into_bytes()
}

impl UsageKey {
    pub fn id(&self) -> Uuid {
        self.id_tagged(b"usage")
    }

    /// The id of a day's bucket (`hour` holding the day's start).
    pub fn day_id(&self) -> Uuid {
        self.id_tagged(b"usage-day")
    }

    /// The id of a per-model bucket (no user, no key): hourly, or daily with `day`.
    pub fn model_id(&self, day: bool) -> Uuid {
        self.id_tagged(if day { b"usage-model-day" } else { b"usage-model" })
    }

    /// The bucket without its user and key: what the per-model rollups sum.
    fn per_model(&self) -> UsageKey {
        UsageKey {
            user: None,
            api_key: None,
            ..self.clone()
        }
    }

    fn id_tagged(&self, tag: &[u8]) -> Uuid {
        bucket_id(
            self.hour,
            &[
                tag,
                &self.hour.timestamp().to_be_bytes(),
                &id_bytes(self.user.map(|id| id.0)),
                &id_bytes(self.api_key.map(|id| id.0)),
                &id_bytes(self.model.map(|id| id.0)),
                &id_bytes(self.supplier.map(|id| id.0)),
                self.currency.as_deref().unwrap_or("").as_bytes(),
                &[u8::from(self.byok)],
            ],
        )
    }
}

impl UpstreamUsageKey {
    pub fn id(&self) -> Uuid {
        bucket_id(
            self.hour,
            &[
                b"upstream",
                &self.hour.timestamp().to_be_bytes(),
                self.upstream_key.as_bytes(),
                &id_bytes(self.supplier.map(|id| id.0)),
                self.currency.as_deref().unwrap_or("").as_bytes(),
            ],
        )
    }
}

/// A batch's buckets, summed before they are written (one upsert per bucket, not per call).
#[derive(Debug, Default)]
pub struct Rollups {
    usage: HashMap<UsageKey, Measures>,
    /// The same buckets by UTC day (`hour` is the day's start): what long periods read.
    daily: HashMap<UsageKey, Measures>,
    /// The buckets without user and key, by hour and by day: what the statistics over everyone
    /// read (a few rows per model, where the full buckets hold one per key and model).
    models: HashMap<UsageKey, Measures>,
    models_daily: HashMap<UsageKey, Measures>,
    upstream: HashMap<UpstreamUsageKey, Measures>,
}

/// A map's buckets with their row ids, in id order (two writers lock rows in the same order).
fn by_id<K>(buckets: &HashMap<K, Measures>, id: impl Fn(&K) -> Uuid) -> Vec<(Uuid, &K, &Measures)> {
    let mut rows: Vec<_> = buckets.iter().map(|(key, sums)| (id(key), key, sums)).collect();
    rows.sort_by_key(|(id, _, _)| *id);
    rows
}

impl Rollups {
    /// Adds a call to its usage bucket, and to its upstream key's when it went to one.
    pub fn add(&mut self, key: UsageKey, upstream_key: Option<Uuid>, call: &Call<'_>) {
        let measures = Measures::of(call);
        if let Some(upstream_key) = upstream_key {
            let upstream = UpstreamUsageKey {
                hour: key.hour,
                upstream_key,
                supplier: key.supplier,
                currency: key.currency.clone(),
            };
            self.upstream.entry(upstream).or_default().add(&measures);
        }
        let day = UsageKey {
            hour: day_of(key.hour),
            ..key.clone()
        };
        self.models.entry(key.per_model()).or_default().add(&measures);
        self.models_daily.entry(day.per_model()).or_default().add(&measures);
        self.daily.entry(day).or_default().add(&measures);
        self.usage.entry(key).or_default().add(&measures);
    }

    /// The daily buckets by row id, in id order.
    pub fn daily(&self) -> Vec<(Uuid, &UsageKey, &Measures)> {
        by_id(&self.daily, UsageKey::day_id)
    }

    /// The usage buckets by row id, in id order.
    pub fn usage(&self) -> Vec<(Uuid, &UsageKey, &Measures)> {
        by_id(&self.usage, UsageKey::id)
    }

    /// The per-model buckets (no user, no key), hourly or daily, in id order.
    pub fn models(&self, day: bool) -> Vec<(Uuid, &UsageKey, &Measures)> {
        let buckets = if day { &self.models_daily } else { &self.models };
        by_id(buckets, |key| key.model_id(day))
    }

    /// The upstream keys' buckets, in id order.
    pub fn upstream(&self) -> Vec<(Uuid, &UpstreamUsageKey, &Measures)> {
        by_id(&self.upstream, UpstreamUsageKey::id)
    }

    pub fn is_empty(&self) -> bool {
        self.usage.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(latency_ms: i64) -> Call<'static> {
        Call {
            status_code: 200,
            error_code: None,
            tokens: Tokens::default(),
            cost_nanos: 0,
            latency_ms,
        }
    }

    #[test]
    fn a_call_lands_in_the_bucket_its_latency_falls_in() {
        assert_eq!(Measures::of(&call(0)).latency[0], 1);
        assert_eq!(Measures::of(&call(100)).latency[0], 1);
        assert_eq!(Measures::of(&call(101)).latency[1], 1);
        assert_eq!(Measures::of(&call(999_999)).latency[LATENCY_BUCKETS - 1], 1);
    }

    #[test]
    fn quantiles_stay_inside_their_bucket() {
        let mut sums = Measures::default();
        for latency in [10, 20, 30, 40, 300, 300, 300, 300, 300, 4000] {
            sums.add(&Measures::of(&call(latency)));
        }
        // Ranks 1–4 are below 100 ms, 5–9 in (250, 500], 10 in (2500, 5000].
        assert_eq!(sums.latency_quantile_ms(0.4), Some(100));
        let median = sums.latency_quantile_ms(0.5).unwrap_or_default();
        assert!((250..=500).contains(&median), "{median}");
        assert!((2_500..=5_000).contains(&sums.latency_quantile_ms(0.95).unwrap_or_default()));
        assert_eq!(sums.mean_latency_ms(), Some(560));
        assert_eq!(Measures::default().latency_quantile_ms(0.5), None);
        let mut slow = Measures::default();
        slow.add(&Measures::of(&call(500_000)));
        assert_eq!(slow.latency_quantile_ms(0.99), Some(120_000));
    }

    #[test]
    fn a_client_that_left_is_no_error_and_a_broken_stream_is() {
        let closed = Call {
            error_code: Some(CLIENT_CLOSED),
            ..call(5)
        };
        assert!(!closed.is_error());
        let broken = Call {
            error_code: Some("upstream_error"),
            ..call(5)
        };
        assert!(broken.is_error());
        assert!(
            Call {
                status_code: 429,
                ..call(5)
            }
            .is_error()
        );
    }

    #[test]
    fn the_same_dimensions_make_the_same_row_and_any_other_another() {
        let at = DateTime::from_timestamp(1_790_000_123, 0).unwrap_or_default();
        let key = UsageKey {
            hour: hour_of(at),
            user: Some(UserId(Uuid::now_v7())),
            api_key: None,
            model: Some(ModelId(Uuid::now_v7())),
            supplier: None,
            currency: Some("USD".into()),
            byok: false,
        };
        assert_eq!(key.hour.timestamp() % 3600, 0);
        assert_eq!(key.id(), key.clone().id());
        assert_ne!(
            key.id(),
            UsageKey {
                byok: true,
                ..key.clone()
            }
            .id()
        );
        assert_ne!(
            key.id(),
            UsageKey {
                currency: None,
                ..key.clone()
            }
            .id()
        );
        let mut rollups = Rollups::default();
        let upstream = Uuid::now_v7();
        rollups.add(key.clone(), Some(upstream), &call(10));
        rollups.add(key.clone(), None, &call(20));
        let usage = rollups.usage();
        assert_eq!(usage.len(), 1);
        assert_eq!(usage[0].2.requests, 2);
        assert_eq!(rollups.upstream()[0].2.requests, 1);
        let daily = rollups.daily();
        assert_eq!(daily[0].2.requests, 2);
        assert_eq!(daily[0].1.hour, day_of(at));
        assert_ne!(daily[0].0, usage[0].0, "a day's row is not an hour's");
        // Ids sort by their bucket's start.
        assert_eq!(usage[0].0.as_bytes()[..6], hour_of(at).timestamp().to_be_bytes()[2..]);
    }

    #[test]
    fn the_per_model_buckets_sum_every_user_and_key_of_a_model() {
        let at = DateTime::from_timestamp(1_790_000_123, 0).unwrap_or_default();
        let model = Some(ModelId(Uuid::now_v7()));
        let key = |user: Uuid, api_key: Uuid| UsageKey {
            hour: hour_of(at),
            user: Some(UserId(user)),
            api_key: Some(ApiKeyId(api_key)),
            model,
            supplier: None,
            currency: Some("USD".into()),
            byok: false,
        };
        let mut rollups = Rollups::default();
        rollups.add(key(Uuid::now_v7(), Uuid::now_v7()), None, &call(10));
        rollups.add(key(Uuid::now_v7(), Uuid::now_v7()), None, &call(20));
        assert_eq!(rollups.usage().len(), 2);
        for day in [false, true] {
            let models = rollups.models(day);
            assert_eq!(models.len(), 1);
            assert_eq!(models[0].2.requests, 2);
            assert_eq!((models[0].1.user, models[0].1.api_key), (None, None));
        }
        assert_eq!(rollups.models(true)[0].1.hour, day_of(at));
        let later = UsageKey {
            hour: hour_of(at) + chrono::TimeDelta::hours(1),
            ..key(Uuid::nil(), Uuid::nil())
        };
        assert!(
            key(Uuid::max(), Uuid::max()).id() < later.id(),
            "an earlier hour's id sorts first"
        );
    }
}
