//! The ids of the catalog's rows, in one module that the modules of each kind share (so a model
//! and its parameters can name each other without importing each other).

use crate::kernel::ids::id_type;

id_type!(
    /// A supplier's id.
    SupplierId
);
id_type!(
    /// A capability's id.
    CapabilityId
);
id_type!(
    /// A category's id.
    CategoryId
);
id_type!(
    /// A model's id.
    ModelId
);
id_type!(
    /// A model route's id.
    RouteId
);
id_type!(
    /// A model parameter's id.
    ParameterId
);
