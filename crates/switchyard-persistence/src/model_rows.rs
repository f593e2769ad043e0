//! Rows of the model tables and the domain's model types: conversions both ways, and the reads
//! and writes that the model repository and the catalog import share.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PrimaryKeyTrait,
    QueryFilter, QuerySelect,
};
use serde_json::Value;
use switchyard_domain::StoreError;
use switchyard_domain::catalog::CatalogWriteError;
use switchyard_domain::catalog::SupplierId;
use switchyard_domain::catalog::{
    Model, ModelId, ModelSpec, ModelType, Pricing, Route, RouteId, RouteSpec, SubType, SupplierSummary,
};
use switchyard_domain::catalog::{Parameter, ParameterId, ParameterSpec, ParameterType};
use uuid::Uuid;

use crate::entity::{default_models, model_parameters, model_routes, models, suppliers};
use crate::error::store_error;

pub(crate) fn broken(what: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("a stored catalog row does not read: {what}"))
}

pub(crate) fn model_spec(row: &models::Model) -> Result<ModelSpec, StoreError> {
    Ok(ModelSpec {
        name: row.name.clone(),
        display_name: row.display_name.clone(),
        description: row.description.clone(),
        supplier_id: SupplierId(row.supplier_id),
        upstream_name: row.upstream_name.clone(),
        model_type: ModelType::parse(&row.model_type).map_err(broken)?,
        sub_type: SubType::parse(&row.sub_type).map_err(broken)?,
        context_window: row.context_window,
        max_output_tokens: row.max_output_tokens,
        pricing: Pricing {
            input: row.input_price,
            cached_input: row.cached_input_price,
            output: row.output_price,
            currency: row.currency.clone(),
        },
        rate_limit_per_minute: row.rate_limit_per_minute,
        api_version: row.api_version.clone(),
        fallback_models: match &row.fallback_models {
            Some(text) => serde_json::from_str(text).map_err(broken)?,
            None => Vec::new(),
        },
        is_active: row.is_active,
    })
}

pub(crate) fn write_model(row: &mut models::ActiveModel, spec: &ModelSpec) {
    row.name = Set(spec.name.clone());
    row.display_name = Set(spec.display_name.clone());
    row.description = Set(spec.description.clone());
    row.supplier_id = Set(spec.supplier_id.0);
    row.upstream_name = Set(spec.upstream_name.clone());
    row.model_type = Set(spec.model_type.as_str().to_owned());
    row.sub_type = Set(spec.sub_type.as_str().to_owned());
    row.context_window = Set(spec.context_window);
    row.max_output_tokens = Set(spec.max_output_tokens);
    row.input_price = Set(spec.pricing.input);
    row.cached_input_price = Set(spec.pricing.cached_input);
    row.output_price = Set(spec.pricing.output);
    row.currency = Set(spec.pricing.currency.clone());
    row.rate_limit_per_minute = Set(spec.rate_limit_per_minute);
    row.api_version = Set(spec.api_version.clone());
    row.fallback_models =
        Set((!spec.fallback_models.is_empty())
            .then(|| serde_json::Value::from(spec.fallback_models.clone()).to_string()));
    row.is_active = Set(spec.is_active);
}

pub(crate) fn json_text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(Value::to_string)
}

pub(crate) fn json_value(text: &Option<String>) -> Result<Option<Value>, StoreError> {
    text.as_deref()
        .map(|text| serde_json::from_str(text).map_err(broken))
        .transpose()
}

pub(crate) fn parameter_spec(row: &model_parameters::Model) -> Result<ParameterSpec, StoreError> {
    let allowed = json_value(&row.allowed_values)?
        .map(|value| match value {
            Value::Array(values) => Ok(values),
            other => Err(broken(format!("allowed_values {other}"))),
        })
        .transpose()?;
    Ok(ParameterSpec {
        name: row.name.clone(),
        parameter_type: ParameterType::parse(&row.parameter_type).map_err(broken)?,
        default_value: json_value(&row.default_value)?,
        min_value: json_value(&row.min_value)?,
        max_value: json_value(&row.max_value)?,
        allowed_values: allowed,
        description: row.description.clone(),
    })
}

pub(crate) fn write_parameter(row: &mut model_parameters::ActiveModel, spec: &ParameterSpec) {
    row.name = Set(spec.name.clone());
    row.parameter_type = Set(spec.parameter_type.as_str().to_owned());
    row.default_value = Set(json_text(&spec.default_value));
    row.min_value = Set(json_text(&spec.min_value));
    row.max_value = Set(json_text(&spec.max_value));
    row.allowed_values = Set(spec
        .allowed_values
        .clone()
        .map(|values| Value::Array(values).to_string()));
    row.description = Set(spec.description.clone());
}

pub(crate) fn to_parameter(row: model_parameters::Model) -> Result<Parameter, StoreError> {
    Ok(Parameter {
        id: ParameterId(row.id),
        model_id: ModelId(row.model_id),
        spec: parameter_spec(&row)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub(crate) fn route_spec(row: &model_routes::Model) -> RouteSpec {
    RouteSpec {
        supplier_id: SupplierId(row.supplier_id),
        upstream_name: row.upstream_name.clone(),
        priority: row.priority,
        weight: row.weight,
        input_price: row.input_price,
        cached_input_price: row.cached_input_price,
        output_price: row.output_price,
        is_active: row.is_active,
    }
}

pub(crate) fn write_route(row: &mut model_routes::ActiveModel, spec: &RouteSpec) {
    row.supplier_id = Set(spec.supplier_id.0);
    row.upstream_name = Set(spec.upstream_name.clone());
    row.priority = Set(spec.priority);
    row.weight = Set(spec.weight);
    row.input_price = Set(spec.input_price);
    row.cached_input_price = Set(spec.cached_input_price);
    row.output_price = Set(spec.output_price);
    row.is_active = Set(spec.is_active);
}

/// The primary route of a new model: its own supplier and upstream name, first in line.
pub(crate) fn primary_route(id: Uuid, model: Uuid, spec: &ModelSpec, now: DateTime<Utc>) -> model_routes::ActiveModel {
    model_routes::ActiveModel {
        id: Set(id),
        model_id: Set(model),
        supplier_id: Set(spec.supplier_id.0),
        upstream_name: Set(spec.upstream().to_owned()),
        is_primary: Set(true),
        priority: Set(0),
        weight: Set(1),
        input_price: Set(None),
        cached_input_price: Set(None),
        output_price: Set(None),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Inserts a model and its primary route.
pub(crate) async fn insert_model(
    db: &impl ConnectionTrait,
    id: Uuid,
    primary: Uuid,
    spec: &ModelSpec,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut row = models::ActiveModel {
        id: Set(id),
        live_key: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        ..Default::default()
    };
    write_model(&mut row, spec);
    models::Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    model_routes::Entity::insert(primary_route(primary, id, spec, now))
        .exec_without_returning(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Writes a model's new fields; its primary route follows.
pub(crate) async fn update_model(
    db: &impl ConnectionTrait,
    current: models::Model,
    spec: &ModelSpec,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = current.id;
    let mut row = current.into_active_model();
    write_model(&mut row, spec);
    row.updated_at = Set(now);
    row.update(db).await.map_err(store_error)?;
    follow_primary(db, id, spec, now).await
}

/// Keeps the primary route on the model's supplier and upstream name.
pub(crate) async fn follow_primary(
    db: &impl ConnectionTrait,
    model: Uuid,
    spec: &ModelSpec,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    model_routes::Entity::update_many()
        .col_expr(model_routes::Column::SupplierId, Expr::value(spec.supplier_id.0))
        .col_expr(
            model_routes::Column::UpstreamName,
            Expr::value(spec.upstream().to_owned()),
        )
        .col_expr(model_routes::Column::UpdatedAt, Expr::value(now))
        .filter(model_routes::Column::ModelId.eq(model))
        .filter(model_routes::Column::IsPrimary.eq(true))
        .exec(db)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(crate) async fn summaries(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, SupplierSummary>, StoreError> {
    let rows = suppliers::Entity::find()
        .filter(suppliers::Column::Id.is_in(ids))
        .all(db)
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let summary = SupplierSummary {
                id: SupplierId(row.id),
                usable: row.is_active && row.deleted_at.is_none(),
                name: row.name,
                display_name: row.display_name,
            };
            (row.id, summary)
        })
        .collect())
}

pub(crate) fn summary_of(map: &HashMap<Uuid, SupplierSummary>, id: Uuid) -> Result<SupplierSummary, StoreError> {
    map.get(&id)
        .cloned()
        .ok_or_else(|| broken(format!("supplier {id} is missing")))
}

pub(crate) async fn default_ids(db: &impl ConnectionTrait) -> Result<HashSet<Uuid>, StoreError> {
    Ok(default_models::Entity::find()
        .all(db)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|row| row.model_id)
        .collect())
}

/// Rows as domain models, in two more queries whatever the number of rows.
pub(crate) async fn assemble(db: &impl ConnectionTrait, rows: Vec<models::Model>) -> Result<Vec<Model>, StoreError> {
    let suppliers = summaries(db, rows.iter().map(|row| row.supplier_id).collect()).await?;
    let defaults = default_ids(db).await?;
    rows.into_iter()
        .map(|row| {
            Ok(Model {
                id: ModelId(row.id),
                spec: model_spec(&row)?,
                supplier: summary_of(&suppliers, row.supplier_id)?,
                is_default: defaults.contains(&row.id),
                created_at: row.created_at,
                updated_at: row.updated_at,
                deleted_at: row.deleted_at,
            })
        })
        .collect()
}

pub(crate) async fn load(db: &impl ConnectionTrait, id: Uuid) -> Result<Model, StoreError> {
    let row = models::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(store_error)?
        .ok_or(StoreError::NotFound)?;
    assemble(db, vec![row]).await?.pop().ok_or(StoreError::NotFound)
}

/// The model row, locked for the rest of the transaction; `live` refuses deleted ones.
pub(crate) async fn lock_model(
    db: &impl ConnectionTrait,
    id: ModelId,
    live: bool,
) -> Result<models::Model, CatalogWriteError> {
    let mut select = models::Entity::find_by_id(id.0);
    if live {
        select = select.filter(models::Column::DeletedAt.is_null());
    }
    select
        .lock_exclusive()
        .one(db)
        .await
        .map_err(store_error)?
        .ok_or(CatalogWriteError::Missing("model"))
}

/// Fails with `Missing(what)` unless the row with this id exists and is not soft-deleted.
pub(crate) async fn require_live<E>(
    db: &impl ConnectionTrait,
    id: Uuid,
    deleted_at: E::Column,
    what: &'static str,
) -> Result<(), CatalogWriteError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    let found = E::find_by_id(id)
        .filter(deleted_at.is_null())
        .one(db)
        .await
        .map_err(store_error)?;
    found.map(|_| ()).ok_or(CatalogWriteError::Missing(what))
}

/// The row of a model's child table (parameters, routes) with this id, if it belongs to `model`.
pub(crate) async fn child_of<E>(
    db: &impl ConnectionTrait,
    id: Uuid,
    model_column: E::Column,
    model: ModelId,
    what: &'static str,
) -> Result<E::Model, CatalogWriteError>
where
    E: EntityTrait,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    E::find_by_id(id)
        .filter(model_column.eq(model.0))
        .one(db)
        .await
        .map_err(store_error)?
        .ok_or(CatalogWriteError::Missing(what))
}

pub(crate) async fn live_supplier(
    db: &impl ConnectionTrait,
    id: SupplierId,
    field: &'static str,
) -> Result<(), CatalogWriteError> {
    require_live::<suppliers::Entity>(db, id.0, suppliers::Column::DeletedAt, "supplier")
        .await
        .map_err(|_| CatalogWriteError::SupplierMissing { field })
}

pub(crate) async fn is_default(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, StoreError> {
    Ok(default_models::Entity::find()
        .filter(default_models::Column::ModelId.eq(id))
        .one(db)
        .await
        .map_err(store_error)?
        .is_some())
}

pub(crate) async fn to_route(db: &impl ConnectionTrait, row: model_routes::Model) -> Result<Route, StoreError> {
    let suppliers = summaries(db, vec![row.supplier_id]).await?;
    route_of(&suppliers, row)
}

pub(crate) fn route_of(
    suppliers: &HashMap<Uuid, SupplierSummary>,
    row: model_routes::Model,
) -> Result<Route, StoreError> {
    Ok(Route {
        id: RouteId(row.id),
        model_id: ModelId(row.model_id),
        spec: route_spec(&row),
        is_primary: row.is_primary,
        supplier: summary_of(suppliers, row.supplier_id)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// `column IN (SELECT model_id FROM <link> WHERE <target> IN (SELECT id FROM <named> WHERE name = ? AND live))`.
pub(crate) fn linked_by_name<L, T>(
    link_model: L::Column,
    link_target: L::Column,
    name: &str,
    target_name: T::Column,
    target_id: T::Column,
    target_deleted: T::Column,
) -> sea_orm::sea_query::Expr
where
    L: EntityTrait,
    T: EntityTrait,
{
    models::Column::Id.in_subquery(
        Query::select()
            .column(link_model)
            .from(L::default())
            .and_where(
                link_target.in_subquery(
                    Query::select()
                        .column(target_id)
                        .from(T::default())
                        .and_where(target_name.eq(name))
                        .and_where(target_deleted.is_null())
                        .to_owned(),
                ),
            )
            .to_owned(),
    )
}
