//! The limit store shared by every instance: Redis, one atomic Lua script per check (one round
//! trip), another per settlement. Redis holds only counters and in-flight reservations: the
//! spend budgets start from is the database's (the rollups), seeded into Redis when its key is
//! missing, so a Redis restart loses no spend.
//!
//! Every key is under `redis.key_prefix`; every key of one script is read and written by that
//! script alone, so no two checks interleave. Times are the caller's clock (milliseconds), not
//! Redis's, so that every instance counts with the same arithmetic as the in-memory store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use switchyard_domain::usage::{
    BudgetState, BudgetWindow, Check, LimitStore, LimitStoreError, Rate, RateState, Settlement, Verdict, limits::state,
};

/// How long a command may take before Redis counts as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a seeded spend is believed before it is read from the database again: spend whose
/// settlement never reached Redis (an outage, a call let through while failing open) is in the
/// database once its call is logged, so the running total heals by itself within this.
const SPENT_TTL_MS: i64 = 5 * 60 * 1000;

const CHECK: &str = r"
local now = tonumber(ARGV[1])
local window = 60000
local a = 2
local k = 1
local nrates = tonumber(ARGV[a]); a = a + 1
local rates = {}
local refused_index, refused_wait = -1, -1
for i = 1, nrates do
  local per = tonumber(ARGV[a]); local amount = tonumber(ARGV[a + 1]); a = a + 2
  local interval = window / per
  local stored = redis.call('GET', KEYS[k])
  local tat = now
  if stored then tat = math.max(tonumber(stored), now) end
  local new = tat + amount * interval
  local ahead = new - now
  if ahead > window + 0.000001 then
    local wait = math.max(1, math.ceil(ahead - window))
    if wait > refused_wait then refused_index = i - 1; refused_wait = wait end
  end
  rates[i] = {KEYS[k], new, interval}
  k = k + 1
end
if refused_index >= 0 then return {1, refused_index, refused_wait} end
local has_lease = tonumber(ARGV[a]); a = a + 1
local lease = nil
if has_lease == 1 then
  local max = tonumber(ARGV[a]); local id = ARGV[a + 1]; local expires = tonumber(ARGV[a + 2]); a = a + 3
  local key = KEYS[k]; k = k + 1
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= max then return {2} end
  lease = {key, id, expires}
end
local nbudgets = tonumber(ARGV[a]); a = a + 1
local reservation_expires = tonumber(ARGV[a]); a = a + 1
local unseeded = {}
local refused = nil
local budgets = {}
for j = 1, nbudgets do
  -- The member (`reservation:amount`) is written by the caller: Lua would print a large
  -- amount in exponent form.
  local limit = tonumber(ARGV[a]); local reserve = tonumber(ARGV[a + 1]); local member = ARGV[a + 2]; a = a + 3
  local spent_key = KEYS[k]; local held_key = KEYS[k + 1]; k = k + 2
  local spent = redis.call('GET', spent_key)
  if not spent then
    table.insert(unseeded, j - 1)
  else
    redis.call('ZREMRANGEBYSCORE', held_key, '-inf', now)
    local reserved = 0
    for _, held in ipairs(redis.call('ZRANGE', held_key, 0, -1)) do
      reserved = reserved + tonumber(string.match(held, ':(%-?%d+)$'))
    end
    if refused == nil and tonumber(spent) + reserved + reserve > limit then
      refused = {3, j - 1, tonumber(spent), reserved}
    end
    budgets[j] = {held_key, member}
  end
end
if #unseeded > 0 then
  local answer = {4}
  for _, index in ipairs(unseeded) do table.insert(answer, index) end
  return answer
end
if refused then return refused end
local answer = {0}
for _, rate in ipairs(rates) do
  local ahead = rate[2] - now
  redis.call('SET', rate[1], string.format('%.3f', rate[2]), 'PX', math.ceil(ahead) + 1000)
  table.insert(answer, math.max(0, math.floor((window - ahead) / rate[3] + 0.000001)))
  table.insert(answer, math.ceil(ahead))
end
if lease then
  redis.call('ZADD', lease[1], lease[3], lease[2])
  redis.call('PEXPIRE', lease[1], math.max(1, lease[3] - now) + 60000)
end
for _, budget in ipairs(budgets) do
  redis.call('ZADD', budget[1], reservation_expires, budget[2])
  redis.call('PEXPIRE', budget[1], math.max(1, reservation_expires - now) + 60000)
end
return answer
";

const SETTLE: &str = r"
local now = tonumber(ARGV[1])
local a = 2
local k = 1
local nrates = tonumber(ARGV[a]); a = a + 1
for i = 1, nrates do
  local interval = tonumber(ARGV[a]); local delta = tonumber(ARGV[a + 1]); a = a + 2
  local stored = redis.call('GET', KEYS[k])
  if stored then
    local tat = tonumber(stored) + delta * interval
    if tat > now then
      redis.call('SET', KEYS[k], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
    else
      redis.call('DEL', KEYS[k])
    end
  end
  k = k + 1
end
local has_lease = tonumber(ARGV[a]); a = a + 1
if has_lease == 1 then
  redis.call('ZREM', KEYS[k], ARGV[a]); a = a + 1; k = k + 1
end
local member = ARGV[a]; a = a + 1
local nbudgets = tonumber(ARGV[a]); a = a + 1
for j = 1, nbudgets do
  local cost = tonumber(ARGV[a]); a = a + 1
  local spent_key = KEYS[k]; local held_key = KEYS[k + 1]; k = k + 2
  redis.call('ZREM', held_key, member)
  if redis.call('EXISTS', spent_key) == 1 then
    redis.call('INCRBY', spent_key, cost)
  end
end
return 1
";

/// Rates, slots and budgets in Redis.
#[derive(Clone)]
pub struct RedisLimitStore {
    connection: ConnectionManager,
    prefix: String,
    check: Arc<Script>,
    settle: Arc<Script>,
    /// Whether the last command reached Redis (its outages are logged once, and its return).
    reachable: Arc<AtomicBool>,
}

impl std::fmt::Debug for RedisLimitStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimitStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimitStore {
    /// A store that connects on first use and reconnects by itself; it never fails to start
    /// (a Redis that is down is the configured fail-open or fail-closed until it is back).
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|error| {
            format!("redis.url is not a Redis URL ({error}); use redis://host:6379 or rediss://host:6380")
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| format!("cannot set up the Redis connection: {error}"))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            check: Arc::new(Script::new(CHECK)),
            settle: Arc::new(Script::new(SETTLE)),
            reachable: Arc::new(AtomicBool::new(true)),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn spent_key(&self, budget: &str) -> String {
        self.key(&format!("{budget}:spent"))
    }

    fn held_key(&self, budget: &str) -> String {
        self.key(&format!("{budget}:held"))
    }

    /// Takes one from the rate of `per_minute` stored under `name`, with the gateway's rate
    /// script (a burst of `per_minute`, then one every `60 / per_minute` seconds): `None` when
    /// taken, else how many milliseconds until one is free.
    pub(crate) async fn take_one(&self, name: &str, per_minute: u32) -> Result<Option<u64>, LimitStoreError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut invocation = self.check.prepare_invoke();
        // One rate taking 1, no lease, no budgets.
        invocation
            .arg(now_ms)
            .arg(1)
            .key(self.key(name))
            .arg(per_minute)
            .arg(1)
            .arg(0)
            .arg(0)
            .arg(0);
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = self.outcome(invocation.invoke_async(&mut connection).await)?;
        match verdict(&answer)? {
            Verdict::Admitted(_) => Ok(None),
            Verdict::RateRefused { retry_after_ms, .. } => Ok(Some(retry_after_ms)),
            other => Err(LimitStoreError(format!(
                "the rate script answered {other:?} for one rate"
            ))),
        }
    }

    /// Notes how a command went: logs an outage when it starts and when it ends.
    fn outcome<T>(&self, outcome: redis::RedisResult<T>) -> Result<T, LimitStoreError> {
        match outcome {
            Ok(value) => {
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!("Redis answers again; limits are shared across instances again");
                }
                Ok(value)
            }
            Err(error) => {
                if error.kind() == redis::ErrorKind::Io
                    || error.is_timeout()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                {
                    if self.reachable.swap(false, Ordering::Relaxed) {
                        tracing::warn!(%error, "Redis is unreachable; until it is back the gateway's limits follow limits.on_store_failure and the attempt limits count in each instance");
                    }
                } else {
                    tracing::error!(%error, "Redis refused a limit script");
                }
                Err(LimitStoreError(format!("Redis: {error}")))
            }
        }
    }
}

fn verdict(answer: &[i64]) -> Result<Verdict, LimitStoreError> {
    let unreadable = || LimitStoreError(format!("the limit script answered {answer:?}"));
    let at = |index: usize| answer.get(index).copied().ok_or_else(unreadable);
    let index = |value: i64| usize::try_from(value).map_err(|_| unreadable());
    Ok(match at(0)? {
        0 => Verdict::Admitted(
            answer[1..]
                .chunks(2)
                .map(|pair| RateState {
                    remaining: u64::try_from(pair[0]).unwrap_or(0),
                    reset_ms: pair.get(1).and_then(|reset| u64::try_from(*reset).ok()).unwrap_or(0),
                })
                .collect(),
        ),
        1 => Verdict::RateRefused {
            index: index(at(1)?)?,
            retry_after_ms: u64::try_from(at(2)?).unwrap_or(1),
        },
        2 => Verdict::ConcurrencyRefused,
        3 => Verdict::BudgetRefused {
            index: index(at(1)?)?,
            state: BudgetState {
                spent_nanos: at(2)?,
                reserved_nanos: at(3)?,
            },
        },
        4 => Verdict::Unseeded(
            answer[1..]
                .iter()
                .map(|value| index(*value))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(unreadable()),
    })
}

#[async_trait]
impl LimitStore for RedisLimitStore {
    async fn check(&self, check: &Check) -> Result<Verdict, LimitStoreError> {
        let mut invocation = self.check.prepare_invoke();
        invocation.arg(check.now_ms).arg(check.rates.len());
        for (rate, amount) in &check.rates {
            invocation.key(self.key(&rate.key())).arg(rate.per_minute).arg(*amount);
        }
        match &check.lease {
            Some(lease) => {
                invocation
                    .key(self.key(&lease.key))
                    .arg(1)
                    .arg(lease.max)
                    .arg(lease.id.to_string())
                    .arg(lease.expires_ms);
            }
            None => {
                invocation.arg(0);
            }
        }
        invocation.arg(check.budgets.len()).arg(check.reservation_expires_ms);
        for (window, reserve) in &check.budgets {
            let key = window.key();
            invocation
                .key(self.spent_key(&key))
                .key(self.held_key(&key))
                .arg(window.limit_nanos)
                .arg(*reserve)
                .arg(format!("{}:{reserve}", check.reservation));
        }
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = self.outcome(invocation.invoke_async(&mut connection).await)?;
        verdict(&answer)
    }

    async fn seed(&self, budgets: &[(BudgetWindow, i64)], now_ms: i64) -> Result<(), LimitStoreError> {
        let mut pipe = redis::pipe();
        for (window, spent) in budgets {
            let key = self.spent_key(&window.key());
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(*spent).arg("NX");
            let ttl = match window.end {
                Some(end) => (end.timestamp_millis() - now_ms).clamp(1, SPENT_TTL_MS),
                None => SPENT_TTL_MS,
            };
            set.arg("PX").arg(ttl);
            pipe.add_command(set).ignore();
        }
        let mut connection = self.connection.clone();
        self.outcome(pipe.query_async::<()>(&mut connection).await)
    }

    async fn peek(&self, rates: &[Rate], now_ms: i64) -> Result<Vec<RateState>, LimitStoreError> {
        if rates.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = rates.iter().map(|rate| self.key(&rate.key())).collect();
        let mut connection = self.connection.clone();
        let stored: Vec<Option<String>> = self.outcome(connection.mget(&keys).await)?;
        let now = now_ms as f64;
        Ok(rates
            .iter()
            .zip(stored)
            .map(|(rate, stored)| {
                let tat = stored.and_then(|value| value.parse::<f64>().ok()).unwrap_or(now);
                state(tat, now, rate.interval_ms())
            })
            .collect())
    }

    async fn budget(&self, key: &str, now_ms: i64) -> Result<Option<BudgetState>, LimitStoreError> {
        let mut connection = self.connection.clone();
        let (spent, held): (Option<i64>, Vec<String>) = self.outcome(
            redis::pipe()
                .get(self.spent_key(key))
                .zrangebyscore(self.held_key(key), format!("({now_ms}"), "+inf")
                .query_async(&mut connection)
                .await,
        )?;
        Ok(spent.map(|spent_nanos| BudgetState {
            spent_nanos,
            reserved_nanos: held
                .iter()
                .filter_map(|member| {
                    member
                        .rsplit_once(':')
                        .and_then(|(_, amount)| amount.parse::<i64>().ok())
                })
                .sum(),
        }))
    }

    fn settle(&self, settlement: Settlement) {
        let mut keys: Vec<String> = Vec::new();
        let mut args: Vec<String> = vec![settlement.now_ms.to_string(), settlement.tokens.len().to_string()];
        for (rate, delta) in &settlement.tokens {
            keys.push(self.key(&rate.key()));
            args.push(rate.interval_ms().to_string());
            args.push(delta.to_string());
        }
        match &settlement.lease {
            Some((key, id)) => {
                keys.push(self.key(key));
                args.push("1".to_owned());
                args.push(id.to_string());
            }
            None => args.push("0".to_owned()),
        }
        args.push(format!("{}:{}", settlement.reservation, settlement.reserved_nanos));
        args.push(settlement.budgets.len().to_string());
        for (key, cost) in &settlement.budgets {
            keys.push(self.spent_key(key));
            keys.push(self.held_key(key));
            args.push(cost.to_string());
        }
        let store = self.clone();
        // Settling never holds up the answer; an outage loses the settlement (a slot or a
        // reservation then frees itself when it expires, and the spend is in the database).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "a limit settlement outside the runtime was dropped; its slot and reservation expire by themselves"
            );
            return;
        };
        runtime.spawn(async move {
            let mut invocation = store.settle.prepare_invoke();
            for key in &keys {
                invocation.key(key);
            }
            for arg in &args {
                invocation.arg(arg);
            }
            let mut connection = store.connection.clone();
            let outcome: redis::RedisResult<i64> = invocation.invoke_async(&mut connection).await;
            let _ = store.outcome(outcome);
        });
    }
}
