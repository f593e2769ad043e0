//! Checking a catalog file whole: every entry against the same rules as the API, every
//! reference against the file itself, every name unique; every error is reported with its JSON
//! path before anything is written. The result is an [`ImportPlan`].

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use uuid::Uuid;

use crate::catalog::capability::CapabilitySpec;
use crate::catalog::category::{CategoryInput, CategorySpec};
use crate::catalog::file::format::{CatalogFile, FORMAT_VERSION, FileError, ModelEntry};
use crate::catalog::model::{ModelInput, ModelSpec, ModelType, RouteInput, RouteSpec, check_config};
use crate::catalog::parameter::ParameterSpec;
use crate::catalog::supplier::SupplierSpec;
use crate::kernel::error::DomainError;

/// A category of the file, its parent given by path.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCategory {
    /// The names from the root.
    pub path: Vec<String>,
    /// `parent_id` is left empty: the store resolves it from the path.
    pub spec: CategorySpec,
}

/// A capability link of a planned model.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLink {
    pub capability: String,
    pub config: Option<Value>,
    pub is_default: bool,
}

/// A secondary route of a planned model.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRoute {
    pub supplier: String,
    /// `supplier_id` is left empty: the store resolves it from `supplier`.
    pub spec: RouteSpec,
}

/// A model of the file with what is linked to it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedModel {
    pub supplier: String,
    /// `supplier_id` is left empty: the store resolves it from `supplier`.
    pub spec: ModelSpec,
    /// Sorted by name.
    pub parameters: Vec<ParameterSpec>,
    /// Sorted by capability name.
    pub capabilities: Vec<PlannedLink>,
    /// Category paths, sorted.
    pub categories: Vec<Vec<String>>,
    /// Sorted by supplier and upstream name.
    pub routes: Vec<PlannedRoute>,
}

/// A checked catalog file, ready to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportPlan {
    pub prices_as_of: Option<String>,
    pub suppliers: Vec<SupplierSpec>,
    pub capabilities: Vec<CapabilitySpec>,
    /// Parents before children.
    pub categories: Vec<PlannedCategory>,
    pub models: Vec<PlannedModel>,
    pub defaults: Vec<(ModelType, String)>,
}

/// Collects errors with their paths while a file is checked.
#[derive(Debug, Default)]
struct Errors(Vec<FileError>);

impl Errors {
    fn push(&mut self, path: String, message: impl Into<String>) {
        self.0.push(FileError {
            path,
            message: message.into(),
        });
    }

    /// Records a rule's error under `prefix`, naming the field it names.
    fn check<T>(&mut self, prefix: &str, outcome: Result<T, DomainError>) -> Option<T> {
        match outcome {
            Ok(value) => Some(value),
            Err(DomainError::Validation { field, message, .. }) => {
                self.push(format!("{prefix}.{field}"), message);
                None
            }
            Err(other) => {
                self.push(prefix.to_owned(), other.to_string());
                None
            }
        }
    }

    /// Records a duplicate natural key.
    fn unique(&mut self, seen: &mut HashMap<String, String>, key: &str, path: String, what: &str) {
        if let Some(first) = seen.get(key) {
            self.push(path, format!("{what} {key:?} is listed twice (first at {first})"));
        } else {
            seen.insert(key.to_owned(), path);
        }
    }
}

/// Splits a category path into names (each a slug); `None` when it is empty.
fn category_path(raw: &str) -> Option<Vec<String>> {
    let parts: Vec<String> = raw.trim().split('/').map(|part| part.trim().to_owned()).collect();
    (!parts.iter().any(String::is_empty)).then_some(parts)
}

impl CatalogFile {
    /// Checks the whole file: every entry against the same rules as the API, every reference
    /// against the file itself (a catalog file is self-contained), every name unique.
    pub fn plan(self) -> Result<ImportPlan, Vec<FileError>> {
        let mut errors = Errors::default();
        if self.version != FORMAT_VERSION {
            errors.push("version".into(), format!("must be {FORMAT_VERSION}"));
        }

        let mut seen = HashMap::new();
        let mut suppliers = Vec::new();
        for (index, entry) in self.suppliers.into_iter().enumerate() {
            let path = format!("suppliers[{index}]");
            errors.unique(&mut seen, entry.name.trim(), format!("{path}.name"), "supplier");
            suppliers.extend(errors.check(&path, SupplierSpec::parse(entry.into())));
        }
        let supplier_names: BTreeSet<String> = seen.into_keys().collect();

        let mut seen = HashMap::new();
        let mut capabilities = Vec::new();
        for (index, entry) in self.capabilities.into_iter().enumerate() {
            let path = format!("capabilities[{index}]");
            errors.unique(&mut seen, entry.name.trim(), format!("{path}.name"), "capability");
            capabilities.extend(errors.check(&path, CapabilitySpec::parse(entry.into())));
        }
        let capability_names: BTreeSet<String> = seen.into_keys().collect();

        let mut seen = HashMap::new();
        let mut categories = Vec::new();
        for (index, entry) in self.categories.iter().enumerate() {
            let path = format!("categories[{index}]");
            let Some(names) = category_path(&entry.path) else {
                errors.push(format!("{path}.path"), "must be names joined by '/', none empty");
                continue;
            };
            errors.unique(&mut seen, &names.join("/"), format!("{path}.path"), "category");
            let input = CategoryInput {
                name: names.last().cloned().unwrap_or_default(),
                display_name: entry.display_name.clone(),
                description: entry.description.clone(),
                category_type: entry.category_type.clone(),
                parent_id: None,
                is_active: entry.is_active,
            };
            if let Some(spec) = errors.check(&path, CategorySpec::parse(input)) {
                categories.push((path, PlannedCategory { path: names, spec }));
            }
        }
        let category_paths: BTreeSet<String> = seen.into_keys().collect();
        for (path, category) in &categories {
            let parent = &category.path[..category.path.len() - 1];
            if !parent.is_empty() && !category_paths.contains(&parent.join("/")) {
                errors.push(
                    format!("{path}.path"),
                    format!("its parent {:?} is not in the file", parent.join("/")),
                );
            }
        }
        let mut categories: Vec<PlannedCategory> = categories.into_iter().map(|(_, category)| category).collect();
        categories.sort_by(|a, b| a.path.len().cmp(&b.path.len()).then_with(|| a.path.cmp(&b.path)));

        let mut seen = HashMap::new();
        let mut models = Vec::new();
        let mut model_types = HashMap::new();
        for (index, entry) in self.models.into_iter().enumerate() {
            let path = format!("models[{index}]");
            errors.unique(&mut seen, entry.name.trim(), format!("{path}.name"), "model");
            if let Some(model) = plan_model(
                &mut errors,
                &path,
                entry,
                &supplier_names,
                &capability_names,
                &category_paths,
            ) {
                model_types.insert(model.spec.name.clone(), (model.spec.model_type, model.spec.is_active));
                models.push(model);
            }
        }

        let mut defaults = Vec::new();
        for (kind, name) in self.defaults {
            let path = format!("defaults.{kind}");
            let Some(kind) = errors.check(
                "defaults",
                ModelType::parse(&kind)
                    .map_err(|_| DomainError::validation(&kind, "invalid_value", "is not a model type")),
            ) else {
                continue;
            };
            match model_types.get(&name) {
                None => errors.push(path, format!("no model {name:?} in the file")),
                Some((model_type, _)) if *model_type != kind => {
                    errors.push(path, format!("model {name:?} is of type {}", model_type.as_str()))
                }
                Some((_, false)) => errors.push(path, format!("model {name:?} is inactive")),
                Some(_) => defaults.push((kind, name)),
            }
        }

        if !errors.0.is_empty() {
            return Err(errors.0);
        }
        Ok(ImportPlan {
            prices_as_of: self
                .prices_as_of
                .map(|text| text.trim().to_owned())
                .filter(|text| !text.is_empty()),
            suppliers,
            capabilities,
            categories,
            models,
            defaults,
        })
    }
}

fn plan_model(
    errors: &mut Errors,
    path: &str,
    entry: ModelEntry,
    suppliers: &BTreeSet<String>,
    capabilities: &BTreeSet<String>,
    categories: &BTreeSet<String>,
) -> Option<PlannedModel> {
    let before = errors.0.len();
    let supplier = entry.supplier.trim().to_owned();
    if !suppliers.contains(&supplier) {
        errors.push(
            format!("{path}.supplier"),
            format!("no supplier {supplier:?} in the file"),
        );
    }
    let mut parameters = Vec::new();
    let mut seen = HashMap::new();
    for (index, parameter) in entry.parameters.into_iter().enumerate() {
        let at = format!("{path}.parameters[{index}]");
        errors.unique(&mut seen, parameter.name.trim(), format!("{at}.name"), "parameter");
        parameters.extend(errors.check(&at, ParameterSpec::parse(parameter.into())));
    }
    parameters.sort_by(|a, b| a.name.cmp(&b.name));

    let mut links = Vec::new();
    let mut seen = HashMap::new();
    for (index, link) in entry.capabilities.into_iter().enumerate() {
        let at = format!("{path}.capabilities[{index}]");
        let name = link.name.trim().to_owned();
        errors.unique(&mut seen, &name, format!("{at}.name"), "capability");
        if !capabilities.contains(&name) {
            errors.push(format!("{at}.name"), format!("no capability {name:?} in the file"));
        }
        if let Some(config) = errors.check(&at, check_config("config", link.config)) {
            links.push(PlannedLink {
                capability: name,
                config,
                is_default: link.is_default,
            });
        }
    }
    if links.iter().filter(|link| link.is_default).count() > 1 {
        errors.push(
            format!("{path}.capabilities"),
            "at most one capability may be the default",
        );
    }
    links.sort_by(|a, b| a.capability.cmp(&b.capability));

    let mut paths = Vec::new();
    for (index, raw) in entry.categories.iter().enumerate() {
        match category_path(raw) {
            Some(names) if categories.contains(&names.join("/")) => paths.push(names),
            _ => errors.push(
                format!("{path}.categories[{index}]"),
                format!("no category {raw:?} in the file"),
            ),
        }
    }
    paths.sort();
    paths.dedup();

    let mut routes = Vec::new();
    for (index, route) in entry.routes.into_iter().enumerate() {
        let at = format!("{path}.routes[{index}]");
        let route_supplier = route.supplier.trim().to_owned();
        if !suppliers.contains(&route_supplier) {
            errors.push(
                format!("{at}.supplier"),
                format!("no supplier {route_supplier:?} in the file"),
            );
        }
        let input = RouteInput {
            supplier_id: Uuid::nil(),
            upstream_name: route.upstream_name,
            priority: route.priority,
            weight: route.weight,
            input_price: route.input_price,
            cached_input_price: route.cached_input_price,
            output_price: route.output_price,
            is_active: route.is_active,
        };
        if let Some(spec) = errors.check(&at, RouteSpec::parse(input)) {
            routes.push(PlannedRoute {
                supplier: route_supplier,
                spec,
            });
        }
    }
    routes.sort_by(|a, b| (&a.supplier, &a.spec.upstream_name).cmp(&(&b.supplier, &b.spec.upstream_name)));

    let input = ModelInput {
        name: entry.name,
        display_name: entry.display_name,
        description: entry.description,
        supplier_id: Uuid::nil(),
        upstream_name: entry.upstream_name,
        model_type: entry.model_type,
        sub_type: entry.sub_type,
        context_window: entry.context_window,
        max_output_tokens: entry.max_output_tokens,
        input_price: entry.input_price,
        cached_input_price: entry.cached_input_price,
        output_price: entry.output_price,
        currency: entry.currency,
        rate_limit_per_minute: entry.rate_limit_per_minute,
        api_version: entry.api_version,
        fallback_models: Some(entry.fallback_models),
        is_active: entry.is_active,
    };
    let spec = errors.check(path, ModelSpec::parse(input))?;
    if let Some(duplicate) = routes
        .windows(2)
        .find(|pair| pair[0].supplier == pair[1].supplier && pair[0].spec.upstream_name == pair[1].spec.upstream_name)
    {
        errors.push(
            format!("{path}.routes"),
            format!("route to {} is listed twice", duplicate[0].supplier),
        );
    }
    if routes
        .iter()
        .any(|route| route.supplier == supplier && route.spec.upstream_name == spec.upstream())
    {
        errors.push(
            format!("{path}.routes"),
            "repeats the primary route (the model's own supplier)",
        );
    }
    (errors.0.len() == before).then_some(PlannedModel {
        supplier,
        spec,
        parameters,
        capabilities: links,
        categories: paths,
        routes,
    })
}
