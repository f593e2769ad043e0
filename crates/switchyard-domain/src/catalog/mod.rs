//! The model catalog: suppliers (with their encrypted keys), capabilities, the category tree,
//! models with their parameters, routes and links, the default model of each type, and the
//! catalog as a file (`file/`). Depends on the kernel only.

pub mod capability;
pub mod category;
#[cfg(test)]
mod fakes;
pub mod file;
pub mod ids;
pub mod keys;
pub mod model;
pub mod models;
pub mod parameter;
pub mod ports;
pub mod service;
pub mod supplier;
pub mod suppliers;
pub mod taxonomy;
#[cfg(test)]
mod tests;
pub mod upstream_key;

pub use capability::{
    Capability, CapabilityDomain, CapabilityInput, CapabilityPatch, CapabilitySpec, Modality, join_modalities,
    split_modalities,
};
pub use category::{
    Category, CategoryInput, CategoryNode, CategoryPatch, CategorySpec, DeleteMode, build_tree, would_cycle,
};
pub use ids::{CapabilityId, CategoryId, ModelId, ParameterId, RouteId, SupplierId};
pub use model::{
    LinkedCapability, Model, ModelDetail, ModelInput, ModelPatch, ModelSpec, ModelType, Pricing, Route, RouteInput,
    RouteSpec, SubType, SupplierSummary,
};
pub use parameter::{Parameter, ParameterInput, ParameterSpec, ParameterType};
pub use ports::{
    CapabilityFilter, CapabilityRepo, CatalogFileRepo, CatalogWriteError, CategoryRepo, KeyFilter, ModelFilter,
    ModelRepo, SealedKey, SupplierFilter, SupplierRepo, UpstreamKeyRepo,
};
pub use service::{Catalog, CatalogPorts};
pub use supplier::{KeyChange, Protocol, Supplier, SupplierInput, SupplierPatch, SupplierSpec};
pub use suppliers::{KeyUpdate, upstream_key_slot};
pub use upstream_key::{KeyInput, KeySpec, KeyStatus, MAX_WEIGHT, SUPPLIER_KEY_NAME, UpstreamKeyRecord};
