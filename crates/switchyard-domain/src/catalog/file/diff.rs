//! The live catalog as a snapshot, the file exported from it, and the changes that make the
//! database match a checked file (upserts by natural key, optionally soft-deleting what the
//! file does not name). The store applies the changes in one transaction.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use uuid::Uuid;

use crate::catalog::capability::CapabilitySpec;
use crate::catalog::category::CategorySpec;
use crate::catalog::file::format::{
    CapabilityEntry, CapabilityLinkEntry, CatalogFile, CategoryEntry, FORMAT_VERSION, FileError, ModelEntry,
    ParameterEntry, RouteEntry, SupplierEntry,
};
use crate::catalog::file::plan::ImportPlan;
use crate::catalog::ids::{CapabilityId, CategoryId, ModelId, RouteId, SupplierId};
use crate::catalog::model::{ModelSpec, ModelType, RouteSpec};
use crate::catalog::parameter::ParameterSpec;
use crate::catalog::supplier::SupplierSpec;
use crate::kernel::error::StoreError;

/// A capability link as stored: capability, configuration, whether it is the default.
pub type CapabilityLink = (CapabilityId, Option<Value>, bool);

/// Every live row of the catalog (deleted rows are left out).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogSnapshot {
    pub prices_as_of: Option<String>,
    pub suppliers: Vec<(SupplierId, SupplierSpec)>,
    pub capabilities: Vec<(CapabilityId, CapabilitySpec)>,
    pub categories: Vec<(CategoryId, CategorySpec)>,
    pub models: Vec<(ModelId, ModelSpec)>,
    pub parameters: Vec<(ModelId, ParameterSpec)>,
    pub capability_links: Vec<(ModelId, CapabilityLink)>,
    pub category_links: Vec<(ModelId, CategoryId)>,
    /// Secondary routes only: the primary one follows the model.
    pub routes: Vec<(ModelId, RouteSpec)>,
    pub defaults: Vec<(ModelType, ModelId)>,
}

/// Create a row with a new id, or replace a row's writable fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Write<I, S> {
    Create(I, S),
    Update(I, S),
}

/// What is linked to a model, with names resolved to ids; sorted so equal sets compare equal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelChildren {
    pub parameters: Vec<ParameterSpec>,
    pub capabilities: Vec<CapabilityLink>,
    pub categories: Vec<CategoryId>,
    pub routes: Vec<RouteSpec>,
}

impl ModelChildren {
    fn sorted(mut self) -> Self {
        self.parameters.sort_by(|a, b| a.name.cmp(&b.name));
        self.capabilities.sort_by_key(|link| link.0.0);
        self.categories.sort();
        self.routes
            .sort_by(|a, b| (a.supplier_id.0, &a.upstream_name).cmp(&(b.supplier_id.0, &b.upstream_name)));
        self
    }
}

/// A model to create or change.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelWrite {
    pub id: ModelId,
    /// The new model's primary route; `None` for an existing model.
    pub primary_route: Option<RouteId>,
    /// The fields to write; `None` = unchanged.
    pub spec: Option<ModelSpec>,
    /// The links to replace every existing one with; `None` = unchanged.
    pub children: Option<ModelChildren>,
}

/// How many rows of one kind an import created, changed, left alone and soft-deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub pruned: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged, {} pruned",
            self.created, self.updated, self.unchanged, self.pruned
        )
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub suppliers: Tally,
    pub capabilities: Tally,
    pub categories: Tally,
    pub models: Tally,
    /// Default models switched or removed.
    pub defaults_changed: usize,
    pub prices_as_of_changed: bool,
}

impl ImportReport {
    /// Whether the import changed anything at all.
    pub fn changed(&self) -> bool {
        let tallies = [self.suppliers, self.capabilities, self.categories, self.models];
        tallies.iter().any(|t| t.created + t.updated + t.pruned > 0)
            || self.defaults_changed > 0
            || self.prices_as_of_changed
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "suppliers: {}", self.suppliers)?;
        writeln!(f, "capabilities: {}", self.capabilities)?;
        writeln!(f, "categories: {}", self.categories)?;
        writeln!(f, "models: {}", self.models)?;
        write!(f, "default models changed: {}", self.defaults_changed)?;
        if !self.changed() {
            write!(f, "\nnothing changed")?;
        }
        Ok(())
    }
}

/// Everything an import writes, in the order it must be written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// `Some` = store this value (`None` inside = clear it).
    pub prices_as_of: Option<Option<String>>,
    pub suppliers: Vec<Write<SupplierId, SupplierSpec>>,
    pub capabilities: Vec<Write<CapabilityId, CapabilitySpec>>,
    /// Parents before children; `parent_id` resolved.
    pub categories: Vec<Write<CategoryId, CategorySpec>>,
    pub models: Vec<ModelWrite>,
    /// Set after the models are written.
    pub defaults: Vec<(ModelType, ModelId)>,
    pub remove_defaults: Vec<ModelType>,
    pub prune_suppliers: Vec<SupplierId>,
    pub prune_capabilities: Vec<CapabilityId>,
    pub prune_categories: Vec<CategoryId>,
    pub prune_models: Vec<ModelId>,
    pub report: ImportReport,
}

/// Why an import did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the catalog file has {} error(s)", .0.len())]
    Invalid(Vec<FileError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The path (names from the root) of every live category whose ancestors are all live.
pub fn category_paths(categories: &[(CategoryId, CategorySpec)]) -> HashMap<CategoryId, Vec<String>> {
    let by_id: HashMap<CategoryId, &CategorySpec> = categories.iter().map(|(id, spec)| (*id, spec)).collect();
    let mut paths = HashMap::new();
    for (id, _) in categories {
        let mut names = Vec::new();
        let mut current = Some(*id);
        while let Some(node) = current {
            let Some(spec) = by_id.get(&node) else {
                names.clear();
                break;
            };
            names.push(spec.name.clone());
            if names.len() > by_id.len() {
                names.clear();
                break;
            }
            current = spec.parent_id;
        }
        if !names.is_empty() {
            names.reverse();
            paths.insert(*id, names);
        }
    }
    paths
}

fn tally<I: Copy, S: PartialEq + Clone>(
    current: Option<&(I, S)>,
    wanted: S,
    new_id: impl FnOnce() -> I,
    tally: &mut Tally,
    writes: &mut Vec<Write<I, S>>,
) -> I {
    match current {
        Some((id, spec)) if *spec == wanted => {
            tally.unchanged += 1;
            *id
        }
        Some((id, _)) => {
            tally.updated += 1;
            writes.push(Write::Update(*id, wanted));
            *id
        }
        None => {
            let id = new_id();
            tally.created += 1;
            writes.push(Write::Create(id, wanted));
            id
        }
    }
}

/// The changes that make `current` match `plan`. Refuses (naming the default) when the result
/// would leave a default model inactive.
pub fn diff(plan: &ImportPlan, current: &CatalogSnapshot, prune: bool) -> Result<ChangeSet, Vec<FileError>> {
    let mut changes = ChangeSet::default();
    let report = &mut changes.report;

    let by_name: HashMap<&str, &(SupplierId, SupplierSpec)> =
        current.suppliers.iter().map(|row| (row.1.name.as_str(), row)).collect();
    let mut supplier_ids = HashMap::new();
    for spec in &plan.suppliers {
        let id = tally(
            by_name.get(spec.name.as_str()).copied(),
            spec.clone(),
            || SupplierId(Uuid::now_v7()),
            &mut report.suppliers,
            &mut changes.suppliers,
        );
        supplier_ids.insert(spec.name.clone(), id);
    }

    let by_name: HashMap<&str, &(CapabilityId, CapabilitySpec)> = current
        .capabilities
        .iter()
        .map(|row| (row.1.name.as_str(), row))
        .collect();
    let mut capability_ids = HashMap::new();
    for spec in &plan.capabilities {
        let id = tally(
            by_name.get(spec.name.as_str()).copied(),
            spec.clone(),
            || CapabilityId(Uuid::now_v7()),
            &mut report.capabilities,
            &mut changes.capabilities,
        );
        capability_ids.insert(spec.name.clone(), id);
    }

    let paths = category_paths(&current.categories);
    let by_path: HashMap<&Vec<String>, (CategoryId, CategorySpec)> = current
        .categories
        .iter()
        .filter_map(|(id, spec)| paths.get(id).map(|path| (path, (*id, spec.clone()))))
        .collect();
    let mut category_ids: HashMap<Vec<String>, CategoryId> = HashMap::new();
    for planned in &plan.categories {
        let parent = &planned.path[..planned.path.len() - 1];
        let spec = CategorySpec {
            parent_id: category_ids.get(parent).copied(),
            ..planned.spec.clone()
        };
        let id = tally(
            by_path.get(&planned.path),
            spec,
            || CategoryId(Uuid::now_v7()),
            &mut report.categories,
            &mut changes.categories,
        );
        category_ids.insert(planned.path.clone(), id);
    }

    let mut children: HashMap<ModelId, ModelChildren> = HashMap::new();
    for (model, spec) in &current.parameters {
        children.entry(*model).or_default().parameters.push(spec.clone());
    }
    for (model, link) in &current.capability_links {
        children.entry(*model).or_default().capabilities.push(link.clone());
    }
    for (model, category) in &current.category_links {
        children.entry(*model).or_default().categories.push(*category);
    }
    for (model, route) in &current.routes {
        children.entry(*model).or_default().routes.push(route.clone());
    }
    let by_name: HashMap<&str, &(ModelId, ModelSpec)> =
        current.models.iter().map(|row| (row.1.name.as_str(), row)).collect();
    let mut model_ids: HashMap<String, (ModelId, ModelSpec)> = HashMap::new();
    for planned in &plan.models {
        let resolve = |name: &str| supplier_ids.get(name).copied().unwrap_or(SupplierId(Uuid::nil()));
        let spec = ModelSpec {
            supplier_id: resolve(&planned.supplier),
            ..planned.spec.clone()
        };
        let wanted = ModelChildren {
            parameters: planned.parameters.clone(),
            capabilities: planned
                .capabilities
                .iter()
                .filter_map(|link| {
                    let id = capability_ids.get(&link.capability)?;
                    Some((*id, link.config.clone(), link.is_default))
                })
                .collect(),
            categories: planned
                .categories
                .iter()
                .filter_map(|path| category_ids.get(path).copied())
                .collect(),
            routes: planned
                .routes
                .iter()
                .map(|route| RouteSpec {
                    supplier_id: resolve(&route.supplier),
                    ..route.spec.clone()
                })
                .collect(),
        }
        .sorted();
        let write = match by_name.get(spec.name.as_str()) {
            Some((id, existing)) => {
                let have = children.remove(id).unwrap_or_default().sorted();
                let write = ModelWrite {
                    id: *id,
                    primary_route: None,
                    spec: (*existing != spec).then(|| spec.clone()),
                    children: (have != wanted).then_some(wanted),
                };
                if write.spec.is_some() || write.children.is_some() {
                    report.models.updated += 1;
                    Some(write)
                } else {
                    report.models.unchanged += 1;
                    None
                }
            }
            None => {
                report.models.created += 1;
                Some(ModelWrite {
                    id: ModelId(Uuid::now_v7()),
                    primary_route: Some(RouteId(Uuid::now_v7())),
                    spec: Some(spec.clone()),
                    children: Some(wanted),
                })
            }
        };
        let id = write
            .as_ref()
            .map_or_else(|| by_name[spec.name.as_str()].0, |write| write.id);
        model_ids.insert(spec.name.clone(), (id, spec));
        changes.models.extend(write);
    }

    if prune {
        changes.prune_suppliers = unnamed(&current.suppliers, |spec| supplier_ids.contains_key(&spec.name));
        changes.prune_capabilities = unnamed(&current.capabilities, |spec| capability_ids.contains_key(&spec.name));
        changes.prune_categories = current
            .categories
            .iter()
            .filter(|(id, _)| paths.get(id).is_none_or(|path| !category_ids.contains_key(path)))
            .map(|(id, _)| *id)
            .collect();
        changes.prune_models = unnamed(&current.models, |spec| model_ids.contains_key(&spec.name));
        report.suppliers.pruned = changes.prune_suppliers.len();
        report.capabilities.pruned = changes.prune_capabilities.len();
        report.categories.pruned = changes.prune_categories.len();
        report.models.pruned = changes.prune_models.len();
        if plan.prices_as_of != current.prices_as_of {
            changes.prices_as_of = Some(plan.prices_as_of.clone());
        }
    } else if plan.prices_as_of.is_some() && plan.prices_as_of != current.prices_as_of {
        changes.prices_as_of = Some(plan.prices_as_of.clone());
    }
    report.prices_as_of_changed = changes.prices_as_of.is_some();

    // The defaults afterwards: today's, replaced by the file's, without pruned models; each
    // must end active and of its type.
    let final_spec: HashMap<ModelId, &ModelSpec> = current
        .models
        .iter()
        .filter(|(id, _)| !changes.prune_models.contains(id))
        .map(|(id, spec)| (*id, spec))
        .chain(model_ids.values().map(|(id, spec)| (*id, spec)))
        .collect();
    let mut defaults: BTreeMap<&str, ModelId> =
        current.defaults.iter().map(|(kind, id)| (kind.as_str(), *id)).collect();
    for (kind, name) in &plan.defaults {
        if let Some((id, _)) = model_ids.get(name)
            && defaults.insert(kind.as_str(), *id) != Some(*id)
        {
            changes.defaults.push((*kind, *id));
        }
    }
    let mut errors = Vec::new();
    for (kind, id) in &defaults {
        match final_spec.get(id) {
            None => {
                if let Ok(kind) = ModelType::parse(kind) {
                    changes.remove_defaults.push(kind);
                }
            }
            Some(spec) if !spec.is_active || spec.model_type.as_str() != *kind => errors.push(FileError {
                path: format!("defaults.{kind}"),
                message: format!(
                    "model {:?} is the default {kind} model but would be inactive or of another type; name another default",
                    spec.name
                ),
            }),
            Some(_) => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    changes.report.defaults_changed = changes.defaults.len() + changes.remove_defaults.len();
    Ok(changes)
}

fn unnamed<I: Copy, S>(rows: &[(I, S)], named: impl Fn(&S) -> bool) -> Vec<I> {
    rows.iter()
        .filter(|(_, spec)| !named(spec))
        .map(|(id, _)| *id)
        .collect()
}

/// The file of a snapshot: sorted by natural key, every field written out.
pub fn export(snapshot: &CatalogSnapshot) -> CatalogFile {
    let supplier_names: HashMap<SupplierId, &str> = snapshot
        .suppliers
        .iter()
        .map(|(id, spec)| (*id, spec.name.as_str()))
        .collect();
    let capability_names: HashMap<CapabilityId, &str> = snapshot
        .capabilities
        .iter()
        .map(|(id, spec)| (*id, spec.name.as_str()))
        .collect();
    let paths = category_paths(&snapshot.categories);
    let path_of = |id: &CategoryId| paths.get(id).map(|names| names.join("/"));
    let supplier_of = |id: &SupplierId| {
        supplier_names
            .get(id)
            .map_or_else(String::new, |name| (*name).to_owned())
    };

    let mut suppliers: Vec<SupplierEntry> = snapshot
        .suppliers
        .iter()
        .map(|(_, spec)| SupplierEntry {
            name: spec.name.clone(),
            display_name: Some(spec.display_name.clone()),
            description: spec.description.clone(),
            protocol: spec.protocol.as_str().to_owned(),
            base_url: spec.base_url.clone(),
            api_key_required: Some(spec.api_key_required),
            website: spec.website.clone(),
            api_docs: spec.api_docs.clone(),
            category: spec.category.clone(),
            logo: spec.logo.clone(),
            is_active: Some(spec.is_active),
        })
        .collect();
    suppliers.sort_by(|a, b| a.name.cmp(&b.name));

    let mut capabilities: Vec<CapabilityEntry> = snapshot
        .capabilities
        .iter()
        .map(|(_, spec)| CapabilityEntry {
            name: spec.name.clone(),
            display_name: Some(spec.display_name.clone()),
            description: spec.description.clone(),
            capability_type: Some(spec.capability_type.clone()),
            input_types: spec.input_types.iter().map(|m| m.as_str().to_owned()).collect(),
            output_types: spec.output_types.iter().map(|m| m.as_str().to_owned()).collect(),
            domain: spec.domain.as_str().to_owned(),
            is_active: Some(spec.is_active),
        })
        .collect();
    capabilities.sort_by(|a, b| a.name.cmp(&b.name));

    let mut categories: Vec<CategoryEntry> = snapshot
        .categories
        .iter()
        .filter_map(|(id, spec)| {
            Some(CategoryEntry {
                path: path_of(id)?,
                display_name: Some(spec.display_name.clone()),
                description: spec.description.clone(),
                category_type: Some(spec.category_type.clone()),
                is_active: Some(spec.is_active),
            })
        })
        .collect();
    categories.sort_by(|a, b| a.path.cmp(&b.path));

    let mut models: Vec<ModelEntry> = snapshot
        .models
        .iter()
        .map(|(id, spec)| {
            let mut parameters: Vec<ParameterEntry> = snapshot
                .parameters
                .iter()
                .filter(|(model, _)| model == id)
                .map(|(_, p)| ParameterEntry {
                    name: p.name.clone(),
                    parameter_type: p.parameter_type.as_str().to_owned(),
                    default_value: p.default_value.clone(),
                    min_value: p.min_value.clone(),
                    max_value: p.max_value.clone(),
                    allowed_values: p.allowed_values.clone(),
                    description: p.description.clone(),
                })
                .collect();
            parameters.sort_by(|a, b| a.name.cmp(&b.name));
            let mut links: Vec<CapabilityLinkEntry> = snapshot
                .capability_links
                .iter()
                .filter(|(model, _)| model == id)
                .filter_map(|(_, (capability, config, is_default))| {
                    Some(CapabilityLinkEntry {
                        name: (*capability_names.get(capability)?).to_owned(),
                        config: config.clone(),
                        is_default: *is_default,
                    })
                })
                .collect();
            links.sort_by(|a, b| a.name.cmp(&b.name));
            let mut category_list: Vec<String> = snapshot
                .category_links
                .iter()
                .filter(|(model, _)| model == id)
                .filter_map(|(_, category)| path_of(category))
                .collect();
            category_list.sort();
            let mut routes: Vec<RouteEntry> = snapshot
                .routes
                .iter()
                .filter(|(model, _)| model == id)
                .map(|(_, route)| RouteEntry {
                    supplier: supplier_of(&route.supplier_id),
                    upstream_name: route.upstream_name.clone(),
                    priority: Some(route.priority),
                    weight: Some(route.weight),
                    input_price: route.input_price,
                    cached_input_price: route.cached_input_price,
                    output_price: route.output_price,
                    is_active: Some(route.is_active),
                })
                .collect();
            routes.sort_by(|a, b| (&a.supplier, &a.upstream_name).cmp(&(&b.supplier, &b.upstream_name)));
            ModelEntry {
                name: spec.name.clone(),
                display_name: Some(spec.display_name.clone()),
                description: spec.description.clone(),
                supplier: supplier_of(&spec.supplier_id),
                upstream_name: spec.upstream_name.clone(),
                model_type: spec.model_type.as_str().to_owned(),
                sub_type: Some(spec.sub_type.as_str().to_owned()),
                context_window: spec.context_window,
                max_output_tokens: spec.max_output_tokens,
                input_price: spec.pricing.input,
                cached_input_price: spec.pricing.cached_input,
                output_price: spec.pricing.output,
                currency: spec.pricing.currency.clone(),
                rate_limit_per_minute: spec.rate_limit_per_minute,
                api_version: spec.api_version.clone(),
                fallback_models: spec.fallback_models.clone(),
                is_active: Some(spec.is_active),
                parameters,
                capabilities: links,
                categories: category_list,
                routes,
            }
        })
        .collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));

    let model_names: HashMap<ModelId, &str> = snapshot
        .models
        .iter()
        .map(|(id, spec)| (*id, spec.name.as_str()))
        .collect();
    let defaults = snapshot
        .defaults
        .iter()
        .filter_map(|(kind, id)| Some((kind.as_str().to_owned(), (*model_names.get(id)?).to_owned())))
        .collect();
    CatalogFile {
        version: FORMAT_VERSION,
        prices_as_of: snapshot.prices_as_of.clone(),
        suppliers,
        capabilities,
        categories,
        models,
        defaults,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(extra_model: bool) -> CatalogFile {
        let mut value = json!({
            "version": 1,
            "suppliers": [{"name": "openai", "protocol": "openai", "base_url": "https://api.openai.com/v1"}],
            "capabilities": [{"name": "text_generation", "input_types": ["text"], "output_types": ["text"], "domain": "nlp"}],
            "categories": [{"path": "llm"}, {"path": "llm/chat"}],
            "models": [{"name": "gpt-4o", "supplier": "openai", "model_type": "language", "input_price": 1,
                "output_price": 2, "currency": "USD", "categories": ["llm/chat"],
                "capabilities": [{"name": "text_generation"}],
                "parameters": [{"name": "temperature", "parameter_type": "float", "default_value": 1}]}],
            "defaults": {"language": "gpt-4o"}
        });
        if extra_model {
            let mut other = value["models"][0].clone();
            other["name"] = json!("gpt-4o-mini");
            if let Some(models) = value["models"].as_array_mut() {
                models.push(other);
            }
        }
        serde_json::from_value(value).expect("a catalog file")
    }

    /// The snapshot a store would hold after applying `changes` to `current`.
    fn applied(current: &CatalogSnapshot, changes: &ChangeSet) -> CatalogSnapshot {
        fn upsert<I: Copy + PartialEq, S: Clone>(rows: &mut Vec<(I, S)>, writes: &[Write<I, S>]) {
            for write in writes {
                match write {
                    Write::Create(id, spec) => rows.push((*id, spec.clone())),
                    Write::Update(id, spec) => {
                        for row in rows.iter_mut().filter(|row| row.0 == *id) {
                            row.1 = spec.clone();
                        }
                    }
                }
            }
        }
        let mut next = current.clone();
        upsert(&mut next.suppliers, &changes.suppliers);
        upsert(&mut next.capabilities, &changes.capabilities);
        upsert(&mut next.categories, &changes.categories);
        for write in &changes.models {
            if let Some(spec) = &write.spec {
                next.models.retain(|(id, _)| *id != write.id);
                next.models.push((write.id, spec.clone()));
            }
            if let Some(children) = &write.children {
                next.parameters.retain(|(id, _)| *id != write.id);
                next.capability_links.retain(|(id, _)| *id != write.id);
                next.category_links.retain(|(id, _)| *id != write.id);
                next.routes.retain(|(id, _)| *id != write.id);
                next.parameters
                    .extend(children.parameters.iter().map(|p| (write.id, p.clone())));
                next.capability_links
                    .extend(children.capabilities.iter().map(|l| (write.id, l.clone())));
                next.category_links
                    .extend(children.categories.iter().map(|c| (write.id, *c)));
                next.routes
                    .extend(children.routes.iter().map(|r| (write.id, r.clone())));
            }
        }
        next.defaults
            .retain(|(kind, _)| !changes.defaults.iter().any(|(k, _)| k == kind));
        next.defaults.extend(changes.defaults.iter().copied());
        next.models.retain(|(id, _)| !changes.prune_models.contains(id));
        next
    }

    #[test]
    fn importing_twice_changes_nothing_and_exports_what_was_imported() {
        let plan = file(false).plan().unwrap_or_else(|errors| panic!("{errors:?}"));
        let first = diff(&plan, &CatalogSnapshot::default(), false).unwrap_or_else(|errors| panic!("{errors:?}"));
        assert_eq!(first.report.models.created, 1);
        assert_eq!(first.report.categories.created, 2);
        assert_eq!(first.report.defaults_changed, 1);
        let after = applied(&CatalogSnapshot::default(), &first);
        let again = diff(&plan, &after, false).unwrap_or_else(|errors| panic!("{errors:?}"));
        assert!(!again.report.changed(), "{}", again.report);
        let exported = export(&after);
        assert_eq!(exported.models[0].categories, ["llm/chat"]);
        assert_eq!(exported.defaults.get("language").map(String::as_str), Some("gpt-4o"));
        assert_eq!(exported.clone().plan().ok(), Some(plan));
    }

    #[test]
    fn prune_removes_unnamed_models_but_never_leaves_a_default_inactive() {
        let two = file(true).plan().unwrap_or_else(|errors| panic!("{errors:?}"));
        let state = applied(
            &CatalogSnapshot::default(),
            &diff(&two, &CatalogSnapshot::default(), false).expect("a change set"),
        );
        let one = file(false).plan().unwrap_or_else(|errors| panic!("{errors:?}"));
        let pruning = diff(&one, &state, true).unwrap_or_else(|errors| panic!("{errors:?}"));
        assert_eq!(pruning.report.models.pruned, 1);
        assert_eq!(
            diff(&one, &state, false)
                .map(|changes| changes.report.models.pruned)
                .ok(),
            Some(0)
        );

        let mut inactive = file(false);
        inactive.models[0].is_active = Some(false);
        inactive.defaults.clear();
        let plan = inactive.plan().unwrap_or_else(|errors| panic!("{errors:?}"));
        let refused = diff(&plan, &state, false).expect_err("a refusal");
        assert_eq!(
            refused.first().map(|error| error.path.as_str()),
            Some("defaults.language")
        );
    }

    #[test]
    fn every_error_of_a_file_is_reported_with_its_path() {
        let mut broken = file(false);
        broken.version = 2;
        broken.models[0].currency = "dollars".into();
        broken.models[0].supplier = "nobody".into();
        broken.categories.push(CategoryEntry {
            path: "nowhere/child".into(),
            display_name: None,
            description: None,
            category_type: None,
            is_active: None,
        });
        let errors = broken.plan().expect_err("a refusal");
        let paths: Vec<&str> = errors.iter().map(|error| error.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "version",
                "categories[2].path",
                "models[0].supplier",
                "models[0].currency",
                "defaults.language"
            ]
        );
    }
}
