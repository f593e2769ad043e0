//! The routing snapshot: every routable model by name, with what the gateway needs to call it
//! (its routes, their suppliers' protocols, base URLs and decrypted keys) and to describe it
//! (capabilities, modalities, limits, prices). Built from the catalog in a few queries, held in
//! memory and swapped whole, so that no request reads the database.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::catalog::capability::Modality;
use crate::catalog::ids::{ModelId, SupplierId};
use crate::catalog::model::{ModelDetail, ModelType, Pricing, SubType};
use crate::catalog::parameter::ParameterSpec;
use crate::catalog::supplier::{Protocol, Supplier};
use crate::catalog::suppliers::upstream_key_slot;
use crate::gateway::byok::user_key_slot;
use crate::gateway::health::KeyHealth;
use crate::gateway::pool::{KeyPool, PoolKey, Strategy, route_order};
use crate::gateway::ports::RoutingRows;
use crate::kernel::crypto::SecretCipher;
use crate::kernel::ids::UserId;

/// One way to reach a model.
#[derive(Debug, Clone)]
pub struct RouteTarget {
    pub supplier_id: SupplierId,
    pub supplier_name: String,
    pub protocol: Protocol,
    pub base_url: String,
    pub key_required: bool,
    /// The supplier's name for the model.
    pub upstream_model: String,
    pub is_primary: bool,
    pub priority: i32,
    pub weight: i32,
    /// The route's prices (its overrides over the model's).
    pub pricing: Pricing,
    /// The supplier's key pool (shared by its routes).
    pub pool: Arc<KeyPool>,
}

impl RouteTarget {
    /// Whether the route can take a call now: its supplier needs no key, or a key is in
    /// rotation.
    pub fn ready(&self, now: i64) -> bool {
        if self.pool.is_empty() {
            return !self.key_required;
        }
        self.pool
            .keys
            .iter()
            .any(|key| key.health.availability(now) == crate::gateway::health::Availability::Ready)
    }
}

/// A model the gateway can call, with what `/v1/models` says about it.
#[derive(Debug, Clone)]
pub struct RoutableModel {
    pub id: ModelId,
    pub name: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
    pub model_type: ModelType,
    pub sub_type: SubType,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub api_version: Option<String>,
    pub pricing: Pricing,
    /// Names of its active, live capabilities.
    pub capabilities: Vec<String>,
    pub input_types: BTreeSet<Modality>,
    pub output_types: BTreeSet<Modality>,
    /// Its typed parameters: the ranges a request's values must keep to.
    pub parameters: Vec<ParameterSpec>,
    /// Models to try, in order, when every route of this one failed.
    pub fallback_models: Vec<String>,
    /// Names of its live, active categories (for `auto:<category>`).
    pub categories: Vec<String>,
    /// Usable routes by priority (the primary first among equals).
    pub routes: Vec<RouteTarget>,
    /// The catalog's `rate_limit_per_minute`: requests per minute across every caller.
    pub rate_limit_per_minute: Option<u32>,
    /// Calls so far: which route of the best priority goes first (kept across refreshes).
    pub turns: Arc<AtomicUsize>,
}

impl RoutableModel {
    /// Its cheapest route's price of a million input and a million output tokens, in
    /// micro-units of the route's currency.
    pub fn cheapest(&self) -> i64 {
        self.routes
            .iter()
            .map(|route| route.pricing.input.saturating_add(route.pricing.output))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// The routes in the order one call tries them.
    pub fn route_order(&self) -> Vec<usize> {
        let priorities: Vec<(i32, u32)> = self
            .routes
            .iter()
            .map(|route| (route.priority, u32::try_from(route.weight).unwrap_or(0)))
            .collect();
        route_order(&priorities, self.turns.fetch_add(1, Ordering::Relaxed))
    }
}

/// Which strategy each supplier's pool uses: its own by name, or the default.
#[derive(Debug, Clone, Default)]
pub struct KeySelection {
    pub default: Option<Strategy>,
    pub by_supplier: HashMap<String, Strategy>,
}

impl KeySelection {
    fn of(&self, supplier: &str) -> Strategy {
        self.by_supplier
            .get(supplier)
            .copied()
            .or(self.default)
            .unwrap_or(Strategy::RoundRobin)
    }
}

/// A user's enabled config of a model, its key decrypted (bring your own key).
pub struct UserRoute {
    pub id: Uuid,
    pub secret: SecretString,
    pub custom_endpoint: Option<String>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f64>,
    pub priority: i32,
    /// Its last use, kept across refreshes by the config's id.
    pub last_use: Arc<LastUse>,
}

impl UserRoute {
    /// A call goes with it now (Unix ms).
    pub fn used(&self, now: i64) {
        self.last_use.at.fetch_max(now, Ordering::Relaxed);
    }
}

/// When a user's config was last used here, and what of it was written.
#[derive(Debug, Default)]
pub struct LastUse {
    /// Unix ms; 0 = not since start.
    at: AtomicI64,
    flushed: AtomicI64,
}

impl LastUse {
    /// The last use when it is newer than the one written, marking it written: `(at, before)`.
    pub fn take(&self) -> Option<(i64, i64)> {
        let at = self.at.load(Ordering::Acquire);
        let before = self.flushed.swap(at, Ordering::AcqRel);
        (at > before).then_some((at, before))
    }

    /// Gives back a taken use that could not be written.
    pub fn restore(&self, (at, before): (i64, i64)) {
        let _ = self
            .flushed
            .compare_exchange(at, before, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl std::fmt::Debug for UserRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRoute")
            .field("id", &self.id)
            .field("custom_endpoint", &self.custom_endpoint)
            .finish_non_exhaustive()
    }
}

/// Every routable model by name, every supplier's key pool, and users' own configs.
#[derive(Debug, Default)]
pub struct RoutingSnapshot {
    models: BTreeMap<String, Arc<RoutableModel>>,
    pools: HashMap<SupplierId, SupplierPool>,
    /// By user and model, in priority order.
    user_routes: HashMap<(UserId, ModelId), Vec<Arc<UserRoute>>>,
    /// Which refresh built it: a refresh that began later (and so read later rows) wins.
    pub(crate) generation: u64,
}

impl RoutingSnapshot {
    /// Builds the snapshot: models that are active and live, with their active routes whose
    /// suppliers are active and live, and those suppliers' keys decrypted. A key that does not
    /// decrypt is left out and named in the returned problems (the server logs them). Keys'
    /// health, pools' rotations and models' turns carry over from `previous`.
    pub fn build(
        rows: RoutingRows,
        cipher: &SecretCipher,
        previous: &RoutingSnapshot,
        selection: &KeySelection,
    ) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let old_health: HashMap<(Uuid, DateTime<Utc>), Arc<KeyHealth>> = previous
            .pools
            .values()
            .flat_map(|pool| pool.pool.keys.iter())
            .map(|key| ((key.id, key.revision), key.health.clone()))
            .collect();
        let mut keys: HashMap<SupplierId, Vec<PoolKey>> = HashMap::new();
        for key in rows.keys {
            match cipher.decrypt(&key.ciphertext, upstream_key_slot(&key.id.to_string())) {
                Ok(secret) => {
                    let health = old_health.get(&(key.id, key.updated_at)).cloned().unwrap_or_else(|| {
                        Arc::new(KeyHealth::restored(
                            key.error,
                            key.status_reason.clone(),
                            key.cooldown_until,
                        ))
                    });
                    keys.entry(key.supplier_id).or_default().push(PoolKey {
                        id: key.id,
                        secret: SecretString::from(secret),
                        weight: u32::try_from(key.weight).unwrap_or(1).max(1),
                        health,
                        revision: key.updated_at,
                    });
                }
                Err(error) => problems.push(format!("upstream key {} does not decrypt: {error}", key.id)),
            }
        }
        let mut pools = HashMap::new();
        for supplier in &rows.suppliers {
            if !supplier.spec.is_active || supplier.deleted_at.is_some() {
                continue;
            }
            let counter = previous
                .pools
                .get(&supplier.id)
                .map(|old| old.pool.counter())
                .unwrap_or_default();
            let pool = KeyPool::new(
                selection.of(&supplier.spec.name),
                keys.remove(&supplier.id).unwrap_or_default(),
                counter,
            );
            pools.insert(
                supplier.id,
                SupplierPool {
                    name: supplier.spec.name.clone(),
                    protocol: supplier.spec.protocol,
                    base_url: supplier.spec.base_url.clone(),
                    pool: Arc::new(pool),
                },
            );
        }
        let suppliers: HashMap<SupplierId, &Supplier> = rows
            .suppliers
            .iter()
            .filter(|supplier| supplier.spec.is_active && supplier.deleted_at.is_none())
            .map(|supplier| (supplier.id, supplier))
            .collect();
        let mut models = BTreeMap::new();
        for detail in rows.models {
            if !detail.model.routable() {
                continue;
            }
            let turns = previous
                .models
                .get(&detail.model.spec.name)
                .map(|old| old.turns.clone())
                .unwrap_or_default();
            let model = routable(detail, &suppliers, &pools, turns);
            if !model.routes.is_empty() {
                models.insert(model.name.clone(), Arc::new(model));
            }
        }
        let old_uses: HashMap<Uuid, Arc<LastUse>> = previous
            .all_user_routes()
            .map(|route| (route.id, route.last_use.clone()))
            .collect();
        let mut user_routes: HashMap<(UserId, ModelId), Vec<Arc<UserRoute>>> = HashMap::new();
        for config in rows.configs {
            match cipher.decrypt(&config.ciphertext, user_key_slot(&config.id.to_string())) {
                Ok(secret) => user_routes
                    .entry((config.user_id, config.model_id))
                    .or_default()
                    .push(Arc::new(UserRoute {
                        id: config.id,
                        secret: SecretString::from(secret),
                        custom_endpoint: config.custom_endpoint,
                        max_tokens: config.max_tokens,
                        temperature: config.temperature,
                        priority: config.priority,
                        last_use: old_uses.get(&config.id).cloned().unwrap_or_default(),
                    })),
                Err(error) => problems.push(format!("model config {} does not decrypt: {error}", config.id)),
            }
        }
        for routes in user_routes.values_mut() {
            routes.sort_by_key(|route| route.priority);
        }
        (
            Self {
                models,
                pools,
                user_routes,
                generation: 0,
            },
            problems,
        )
    }

    /// A user's enabled configs of a model, in priority order.
    pub fn user_routes(&self, user: UserId, model: ModelId) -> &[Arc<UserRoute>] {
        self.user_routes.get(&(user, model)).map_or(&[], Vec::as_slice)
    }

    /// Every user config's route.
    pub fn all_user_routes(&self) -> impl Iterator<Item = &Arc<UserRoute>> {
        self.user_routes.values().flatten()
    }

    /// Every supplier's pool.
    pub fn pools(&self) -> impl Iterator<Item = &SupplierPool> {
        self.pools.values()
    }

    /// A key's health, when the key is in a pool.
    pub fn key_health(&self, id: Uuid) -> Option<&Arc<KeyHealth>> {
        self.pools
            .values()
            .flat_map(|pool| pool.pool.keys.iter())
            .find(|key| key.id == id)
            .map(|key| &key.health)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<RoutableModel>> {
        self.models.get(name)
    }

    /// Every model, by name.
    pub fn models(&self) -> impl Iterator<Item = &Arc<RoutableModel>> {
        self.models.values()
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// A supplier's pool with what a probe of its keys needs.
#[derive(Debug, Clone)]
pub struct SupplierPool {
    pub name: String,
    pub protocol: Protocol,
    pub base_url: String,
    pub pool: Arc<KeyPool>,
}

fn routable(
    detail: ModelDetail,
    suppliers: &HashMap<SupplierId, &Supplier>,
    pools: &HashMap<SupplierId, SupplierPool>,
    turns: Arc<AtomicUsize>,
) -> RoutableModel {
    let (input_types, output_types) = detail.modalities();
    let spec = &detail.model.spec;
    let mut routes: Vec<RouteTarget> = detail
        .routes
        .iter()
        .filter(|route| route.spec.is_active)
        .filter_map(|route| {
            let supplier = suppliers.get(&route.spec.supplier_id)?;
            let pool = pools.get(&supplier.id)?.pool.clone();
            let model_prices = &spec.pricing;
            Some(RouteTarget {
                supplier_id: supplier.id,
                supplier_name: supplier.spec.name.clone(),
                protocol: supplier.spec.protocol,
                base_url: supplier.spec.base_url.clone(),
                key_required: supplier.spec.api_key_required,
                upstream_model: route.spec.upstream_name.clone(),
                is_primary: route.is_primary,
                priority: route.spec.priority,
                weight: route.spec.weight,
                pricing: Pricing {
                    input: route.spec.input_price.unwrap_or(model_prices.input),
                    cached_input: route.spec.cached_input_price.or(model_prices.cached_input),
                    output: route.spec.output_price.unwrap_or(model_prices.output),
                    currency: model_prices.currency.clone(),
                },
                pool,
            })
        })
        .collect();
    routes.sort_by_key(|route| (route.priority, !route.is_primary));
    let capabilities = detail
        .capabilities
        .iter()
        .filter(|linked| linked.capability.spec.is_active && linked.capability.deleted_at.is_none())
        .map(|linked| linked.capability.spec.name.clone())
        .collect();
    RoutableModel {
        id: detail.model.id,
        name: spec.name.clone(),
        display_name: spec.display_name.clone(),
        created_at: detail.model.created_at,
        model_type: spec.model_type,
        sub_type: spec.sub_type,
        context_window: spec.context_window,
        max_output_tokens: spec.max_output_tokens,
        api_version: spec.api_version.clone(),
        pricing: spec.pricing.clone(),
        capabilities,
        input_types,
        output_types,
        parameters: detail.parameters.into_iter().map(|parameter| parameter.spec).collect(),
        fallback_models: spec.fallback_models.clone(),
        categories: detail
            .categories
            .iter()
            .filter(|category| category.spec.is_active && category.deleted_at.is_none())
            .map(|category| category.spec.name.clone())
            .collect(),
        routes,
        rate_limit_per_minute: spec.rate_limit_per_minute.and_then(|limit| u32::try_from(limit).ok()),
        turns,
    }
}
