//! The routing snapshot: every routable model by name, with what the gateway needs to call it
//! (its routes, their suppliers' protocols, base URLs and decrypted keys) and to describe it
//! (capabilities, modalities, limits, prices). Built from the catalog in a few queries, held in
//! memory and swapped whole, so that no request reads the database.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::catalog::capability::Modality;
use crate::catalog::ids::{ModelId, SupplierId};
use crate::catalog::model::{ModelDetail, ModelType, Pricing, SubType};
use crate::catalog::parameter::ParameterSpec;
use crate::catalog::supplier::{Protocol, Supplier};
use crate::catalog::suppliers::upstream_key_slot;
use crate::gateway::ports::RoutingRows;
use crate::kernel::crypto::SecretCipher;

/// A decrypted upstream key; its secret never prints.
#[derive(Clone)]
pub struct UpstreamKey {
    pub id: Uuid,
    pub secret: SecretString,
}

impl std::fmt::Debug for UpstreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

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
    /// The supplier's active keys.
    pub keys: Vec<UpstreamKey>,
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
    /// Usable routes: the primary first, then by priority.
    pub routes: Vec<RouteTarget>,
}

/// Every routable model by name.
#[derive(Debug, Default)]
pub struct RoutingSnapshot {
    models: BTreeMap<String, Arc<RoutableModel>>,
    /// Which refresh built it: a refresh that began later (and so read later rows) wins.
    pub(crate) generation: u64,
}

impl RoutingSnapshot {
    /// Builds the snapshot: models that are active and live, with their active routes whose
    /// suppliers are active and live, and those suppliers' keys decrypted. A key that does not
    /// decrypt is left out and named in the returned problems (the server logs them).
    pub fn build(rows: RoutingRows, cipher: &SecretCipher) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut keys: HashMap<SupplierId, Vec<UpstreamKey>> = HashMap::new();
        for key in rows.keys {
            match cipher.decrypt(&key.ciphertext, upstream_key_slot(&key.id.to_string())) {
                Ok(secret) => keys.entry(key.supplier_id).or_default().push(UpstreamKey {
                    id: key.id,
                    secret: SecretString::from(secret),
                }),
                Err(error) => problems.push(format!("upstream key {} does not decrypt: {error}", key.id)),
            }
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
            let model = routable(detail, &suppliers, &keys);
            if !model.routes.is_empty() {
                models.insert(model.name.clone(), Arc::new(model));
            }
        }
        (Self { models, generation: 0 }, problems)
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

fn routable(
    detail: ModelDetail,
    suppliers: &HashMap<SupplierId, &Supplier>,
    keys: &HashMap<SupplierId, Vec<UpstreamKey>>,
) -> RoutableModel {
    let (input_types, output_types) = detail.modalities();
    let spec = &detail.model.spec;
    let mut routes: Vec<RouteTarget> = detail
        .routes
        .iter()
        .filter(|route| route.spec.is_active)
        .filter_map(|route| {
            let supplier = suppliers.get(&route.spec.supplier_id)?;
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
                keys: keys.get(&supplier.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    routes.sort_by_key(|route| (!route.is_primary, route.priority));
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
        routes,
    }
}
