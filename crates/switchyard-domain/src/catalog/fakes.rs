//! An in-memory catalog for the model use cases' unit tests: suppliers and models (with the
//! default of each type and the same write rules as the SQL store). The parts those tests do
//! not use (parameters, routes, links, capabilities, categories, the catalog file) answer that
//! this store does not keep them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::catalog::capability::{Capability, CapabilitySpec};
use crate::catalog::category::{Category, CategorySpec, DeleteMode};
use crate::catalog::file::diff::{CatalogSnapshot, ImportError, ImportReport};
use crate::catalog::file::plan::ImportPlan;
use crate::catalog::ids::{CapabilityId, CategoryId, ModelId, ParameterId, RouteId, SupplierId};
use crate::catalog::model::{Model, ModelDetail, ModelSpec, ModelType, Route, RouteSpec, SupplierSummary};
use crate::catalog::parameter::{Parameter, ParameterSpec};
use crate::catalog::ports::{
    CapabilityFilter, CapabilityRepo, CatalogFileRepo, CatalogWriteError, CategoryRepo, KeyFilter, ModelFilter,
    ModelRepo, SealedKey, SupplierFilter, SupplierRepo, UpstreamKeyRepo,
};
use crate::catalog::supplier::{KeyChange, Supplier, SupplierSpec};
use crate::catalog::upstream_key::{KeySpec, KeyStatus, UpstreamKeyRecord};
use crate::kernel::error::StoreError;
use crate::kernel::page::{Cursor, Page, PageRequest};
use crate::kernel::patch::Revise;

#[derive(Debug, Clone)]
struct Row {
    spec: ModelSpec,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct State {
    suppliers: BTreeMap<SupplierId, Supplier>,
    keys: BTreeMap<uuid::Uuid, (UpstreamKeyRecord, String)>,
    models: BTreeMap<ModelId, Row>,
    defaults: BTreeMap<ModelType, ModelId>,
}

#[derive(Debug, Default)]
pub struct MemoryCatalog {
    state: Mutex<State>,
}

fn not_kept(what: &str) -> StoreError {
    StoreError::Other(format!("the unit tests' in-memory catalog keeps no {what}"))
}

impl MemoryCatalog {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("the fake catalog's lock"))
    }
}

impl State {
    fn model(&self, id: ModelId) -> Option<Model> {
        let row = self.models.get(&id)?;
        let supplier = self.suppliers.get(&row.spec.supplier_id);
        Some(Model {
            id,
            supplier: SupplierSummary {
                id: row.spec.supplier_id,
                name: supplier.map(|s| s.spec.name.clone()).unwrap_or_default(),
                display_name: supplier.map(|s| s.spec.display_name.clone()).unwrap_or_default(),
                usable: supplier.is_some_and(|s| s.spec.is_active && s.deleted_at.is_none()),
            },
            is_default: self.defaults.get(&row.spec.model_type) == Some(&id),
            spec: row.spec.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
        })
    }

    fn live_supplier(&self, id: SupplierId) -> Result<(), CatalogWriteError> {
        match self.suppliers.get(&id) {
            Some(supplier) if supplier.deleted_at.is_none() => Ok(()),
            _ => Err(CatalogWriteError::SupplierMissing { field: "supplier_id" }),
        }
    }
}

#[async_trait]
impl ModelRepo for MemoryCatalog {
    async fn create(
        &self,
        id: ModelId,
        _route: RouteId,
        spec: &ModelSpec,
        now: DateTime<Utc>,
    ) -> Result<Model, CatalogWriteError> {
        self.with(|state| {
            state.live_supplier(spec.supplier_id)?;
            let taken = state
                .models
                .values()
                .any(|row| row.deleted_at.is_none() && row.spec.name == spec.name);
            if taken {
                return Err(StoreError::Conflict("models_name_live_key".to_owned()).into());
            }
            let row = Row {
                spec: spec.clone(),
                created_at: now,
                updated_at: now,
                deleted_at: None,
            };
            state.models.insert(id, row);
            Ok(state.model(id).ok_or(StoreError::NotFound)?)
        })
    }

    async fn get(&self, id: ModelId) -> Result<Option<Model>, StoreError> {
        Ok(self.with(|state| state.model(id)))
    }

    async fn detail(&self, id: ModelId) -> Result<Option<ModelDetail>, StoreError> {
        Ok(self.with(|state| state.model(id)).map(|model| ModelDetail {
            model,
            parameters: vec![],
            capabilities: vec![],
            categories: vec![],
            routes: vec![],
        }))
    }

    async fn list(&self, filter: &ModelFilter, page: PageRequest) -> Result<Page<Model>, StoreError> {
        let models: Vec<Model> = self.with(|state| {
            let ids: Vec<ModelId> = state.models.keys().rev().copied().collect();
            ids.into_iter().filter_map(|id| state.model(id)).collect()
        });
        let models = models
            .into_iter()
            .filter(|model| filter.include_deleted || model.deleted_at.is_none())
            .filter(|model| filter.active.is_none_or(|active| model.spec.is_active == active))
            .filter(|model| filter.model_type.is_none_or(|kind| model.spec.model_type == kind))
            .collect();
        Ok(Page::from_rows(models, page.limit, |model| Cursor {
            created_at: model.created_at,
            id: model.id.0,
        }))
    }

    async fn update(
        &self,
        id: ModelId,
        revise: Revise<'_, ModelSpec>,
        now: DateTime<Utc>,
    ) -> Result<Model, CatalogWriteError> {
        self.with(|state| {
            let current = state
                .models
                .get(&id)
                .filter(|row| row.deleted_at.is_none())
                .ok_or(StoreError::NotFound)?;
            let spec = revise(&current.spec).map_err(CatalogWriteError::Rejected)?;
            state.live_supplier(spec.supplier_id)?;
            let is_default = state.defaults.get(&current.spec.model_type) == Some(&id);
            if is_default && (!spec.is_active || spec.model_type != current.spec.model_type) {
                return Err(CatalogWriteError::DefaultInUse);
            }
            let row = state.models.get_mut(&id).ok_or(StoreError::NotFound)?;
            row.spec = spec;
            row.updated_at = now;
            Ok(state.model(id).ok_or(StoreError::NotFound)?)
        })
    }

    async fn set_deleted(&self, id: ModelId, deleted: bool, now: DateTime<Utc>) -> Result<Model, CatalogWriteError> {
        self.with(|state| {
            let kind = state.models.get(&id).ok_or(StoreError::NotFound)?.spec.model_type;
            if deleted && state.defaults.get(&kind) == Some(&id) {
                return Err(CatalogWriteError::DefaultInUse);
            }
            let row = state.models.get_mut(&id).ok_or(StoreError::NotFound)?;
            row.deleted_at = deleted.then_some(now);
            Ok(state.model(id).ok_or(StoreError::NotFound)?)
        })
    }

    async fn set_default(&self, id: ModelId, _now: DateTime<Utc>) -> Result<Model, CatalogWriteError> {
        self.with(|state| {
            let row = state.models.get(&id).ok_or(StoreError::NotFound)?;
            if !row.spec.is_active || row.deleted_at.is_some() {
                return Err(CatalogWriteError::ModelInactive);
            }
            state.defaults.insert(row.spec.model_type, id);
            Ok(state.model(id).ok_or(StoreError::NotFound)?)
        })
    }

    async fn defaults(&self) -> Result<Vec<Model>, StoreError> {
        Ok(self.with(|state| state.defaults.values().filter_map(|id| state.model(*id)).collect()))
    }

    async fn create_parameter(
        &self,
        _: ModelId,
        _: ParameterId,
        _: &ParameterSpec,
        _: DateTime<Utc>,
    ) -> Result<Parameter, CatalogWriteError> {
        Err(not_kept("parameters").into())
    }

    async fn update_parameter(
        &self,
        _: ModelId,
        _: ParameterId,
        _: &ParameterSpec,
        _: DateTime<Utc>,
    ) -> Result<Parameter, CatalogWriteError> {
        Err(not_kept("parameters").into())
    }

    async fn delete_parameter(&self, _: ModelId, _: ParameterId) -> Result<(), CatalogWriteError> {
        Err(not_kept("parameters").into())
    }

    async fn create_route(
        &self,
        _: ModelId,
        _: RouteId,
        _: &RouteSpec,
        _: DateTime<Utc>,
    ) -> Result<Route, CatalogWriteError> {
        Err(not_kept("routes").into())
    }

    async fn update_route(
        &self,
        _: ModelId,
        _: RouteId,
        _: &RouteSpec,
        _: DateTime<Utc>,
    ) -> Result<Route, CatalogWriteError> {
        Err(not_kept("routes").into())
    }

    async fn delete_route(&self, _: ModelId, _: RouteId) -> Result<(), CatalogWriteError> {
        Err(not_kept("routes").into())
    }

    async fn link_capability(
        &self,
        _: ModelId,
        _: CapabilityId,
        _: Option<&Value>,
        _: bool,
        _: DateTime<Utc>,
    ) -> Result<(), CatalogWriteError> {
        Err(not_kept("capability links").into())
    }

    async fn unlink_capability(&self, _: ModelId, _: CapabilityId) -> Result<bool, StoreError> {
        Err(not_kept("capability links"))
    }

    async fn link_category(&self, _: ModelId, _: CategoryId, _: DateTime<Utc>) -> Result<(), CatalogWriteError> {
        Err(not_kept("category links").into())
    }

    async fn unlink_category(&self, _: ModelId, _: CategoryId) -> Result<bool, StoreError> {
        Err(not_kept("category links"))
    }
}

#[async_trait]
impl UpstreamKeyRepo for MemoryCatalog {
    async fn create(
        &self,
        id: uuid::Uuid,
        supplier: SupplierId,
        spec: &KeySpec,
        secret: &SealedKey,
        now: DateTime<Utc>,
    ) -> Result<UpstreamKeyRecord, CatalogWriteError> {
        self.with(|state| {
            let live = state.suppliers.get(&supplier).is_some_and(|s| s.deleted_at.is_none());
            if !live {
                return Err(CatalogWriteError::SupplierMissing { field: "supplier_id" });
            }
            let record = UpstreamKeyRecord {
                id,
                supplier_id: supplier,
                name: spec.name.clone(),
                last4: secret.last4.clone(),
                status: spec.status,
                status_reason: None,
                weight: spec.weight,
                usage_count: 0,
                last_used_at: None,
                cooldown_until: None,
                created_at: now,
                updated_at: now,
            };
            state.keys.insert(id, (record.clone(), secret.ciphertext.clone()));
            Ok(record)
        })
    }

    async fn get(&self, id: uuid::Uuid) -> Result<Option<UpstreamKeyRecord>, StoreError> {
        Ok(self.with(|state| state.keys.get(&id).map(|(record, _)| record.clone())))
    }

    async fn list(&self, filter: &KeyFilter, page: PageRequest) -> Result<Page<UpstreamKeyRecord>, StoreError> {
        let keys = self.with(|state| {
            state
                .keys
                .values()
                .map(|(record, _)| record.clone())
                .filter(|record| filter.supplier.is_none_or(|supplier| record.supplier_id == supplier))
                .filter(|record| filter.include_removed || record.status != KeyStatus::Removed)
                .collect()
        });
        Ok(Page::from_rows(keys, page.limit, |record: &UpstreamKeyRecord| Cursor {
            created_at: record.created_at,
            id: record.id,
        }))
    }

    async fn update(
        &self,
        id: uuid::Uuid,
        spec: &KeySpec,
        secret: Option<&SealedKey>,
        now: DateTime<Utc>,
    ) -> Result<UpstreamKeyRecord, CatalogWriteError> {
        self.with(|state| {
            let Some((record, ciphertext)) = state
                .keys
                .get_mut(&id)
                .filter(|(record, _)| record.status != KeyStatus::Removed)
            else {
                return Err(CatalogWriteError::Missing("key"));
            };
            record.name = spec.name.clone();
            record.weight = spec.weight;
            record.status = spec.status;
            record.status_reason = None;
            record.updated_at = now;
            if let Some(secret) = secret {
                record.last4 = secret.last4.clone();
                *ciphertext = secret.ciphertext.clone();
            }
            Ok(record.clone())
        })
    }

    async fn remove(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), CatalogWriteError> {
        self.with(|state| {
            let Some((record, ciphertext)) = state
                .keys
                .get_mut(&id)
                .filter(|(record, _)| record.status != KeyStatus::Removed)
            else {
                return Err(CatalogWriteError::Missing("key"));
            };
            record.status = KeyStatus::Removed;
            record.updated_at = now;
            ciphertext.clear();
            Ok(())
        })
    }
}

#[async_trait]
impl SupplierRepo for MemoryCatalog {
    async fn create(
        &self,
        id: SupplierId,
        spec: &SupplierSpec,
        _key: &KeyChange,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError> {
        let supplier = Supplier {
            id,
            spec: spec.clone(),
            key_last4: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        self.with(|state| state.suppliers.insert(id, supplier.clone()));
        Ok(supplier)
    }

    async fn get(&self, id: SupplierId) -> Result<Option<Supplier>, StoreError> {
        Ok(self.with(|state| state.suppliers.get(&id).cloned()))
    }

    async fn list(&self, _: &SupplierFilter, page: PageRequest) -> Result<Page<Supplier>, StoreError> {
        let suppliers = self.with(|state| state.suppliers.values().cloned().collect());
        Ok(Page::from_rows(suppliers, page.limit, |s: &Supplier| Cursor {
            created_at: s.created_at,
            id: s.id.0,
        }))
    }

    async fn update(
        &self,
        _: SupplierId,
        _: Revise<'_, SupplierSpec>,
        _: &KeyChange,
        _: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError> {
        Err(not_kept("supplier changes").into())
    }

    async fn set_deleted(
        &self,
        id: SupplierId,
        deleted: bool,
        now: DateTime<Utc>,
    ) -> Result<Supplier, CatalogWriteError> {
        self.with(|state| {
            let supplier = state.suppliers.get_mut(&id).ok_or(StoreError::NotFound)?;
            supplier.deleted_at = deleted.then_some(now);
            Ok(supplier.clone())
        })
    }

    async fn key_ciphertext(&self, _: SupplierId) -> Result<Option<(Uuid, String)>, StoreError> {
        Ok(None)
    }
}

#[async_trait]
impl CapabilityRepo for MemoryCatalog {
    async fn create(
        &self,
        _: CapabilityId,
        _: &CapabilitySpec,
        _: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError> {
        Err(not_kept("capabilities").into())
    }

    async fn get(&self, _: CapabilityId) -> Result<Option<Capability>, StoreError> {
        Ok(None)
    }

    async fn list(&self, _: &CapabilityFilter, _: PageRequest) -> Result<Page<Capability>, StoreError> {
        Ok(Page {
            items: vec![],
            next: None,
        })
    }

    async fn update(
        &self,
        _: CapabilityId,
        _: Revise<'_, CapabilitySpec>,
        _: DateTime<Utc>,
    ) -> Result<Capability, CatalogWriteError> {
        Err(not_kept("capabilities").into())
    }

    async fn set_deleted(&self, _: CapabilityId, _: bool, _: DateTime<Utc>) -> Result<Capability, CatalogWriteError> {
        Err(not_kept("capabilities").into())
    }
}

#[async_trait]
impl CategoryRepo for MemoryCatalog {
    async fn create(&self, _: CategoryId, _: &CategorySpec, _: DateTime<Utc>) -> Result<Category, CatalogWriteError> {
        Err(not_kept("categories").into())
    }

    async fn get(&self, _: CategoryId) -> Result<Option<Category>, StoreError> {
        Ok(None)
    }

    async fn all(&self, _: bool) -> Result<Vec<Category>, StoreError> {
        Ok(vec![])
    }

    async fn update(
        &self,
        _: CategoryId,
        _: Revise<'_, CategorySpec>,
        _: DateTime<Utc>,
    ) -> Result<Category, CatalogWriteError> {
        Err(not_kept("categories").into())
    }

    async fn delete(&self, _: CategoryId, _: DeleteMode, _: DateTime<Utc>) -> Result<Category, CatalogWriteError> {
        Err(not_kept("categories").into())
    }

    async fn restore(&self, _: CategoryId, _: DateTime<Utc>) -> Result<Category, CatalogWriteError> {
        Err(not_kept("categories").into())
    }
}

#[async_trait]
impl CatalogFileRepo for MemoryCatalog {
    async fn snapshot(&self) -> Result<CatalogSnapshot, StoreError> {
        Err(not_kept("catalog file"))
    }

    async fn import(&self, _: &ImportPlan, _: bool, _: DateTime<Utc>) -> Result<ImportReport, ImportError> {
        Err(not_kept("catalog file").into())
    }
}
