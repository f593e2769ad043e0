//! Unit tests of the model use cases over an in-memory catalog: the default model of each type,
//! what users who are not admins see, and merge patches applied to the current fields.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use crate::catalog::fakes::MemoryCatalog;
use crate::catalog::ids::ModelId;
use crate::catalog::model::{Model, ModelInput, ModelPatch, ModelType};
use crate::catalog::ports::ModelFilter;
use crate::catalog::service::{Catalog, CatalogPorts};
use crate::catalog::supplier::SupplierInput;
use crate::catalog::suppliers::KeyUpdate;
use crate::kernel::clock::ManualClock;
use crate::kernel::crypto::{MasterKey, SecretCipher};
use crate::kernel::error::{ConflictKind, DomainError};
use crate::kernel::ids::UserId;
use crate::kernel::page::PageRequest;
use crate::kernel::principal::{Admin, Principal, Role};

struct World {
    catalog: Catalog,
    admin: Admin,
    admin_principal: Principal,
    user: Principal,
    supplier: Uuid,
}

async fn world() -> World {
    let store = Arc::new(MemoryCatalog::default());
    let ports = CatalogPorts {
        suppliers: store.clone(),
        categories: store.clone(),
        capabilities: store.clone(),
        models: store.clone(),
        keys: store.clone(),
        files: store,
    };
    let key = MasterKey::from_base64(&MasterKey::generate_base64()).expect("a master key");
    let start = Utc
        .with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("a valid instant");
    let catalog = Catalog::new(ports, SecretCipher::new(key), Arc::new(ManualClock::new(start)));
    let admin_principal = Principal::new(UserId::new(), Role::Admin);
    let admin = admin_principal.admin().expect("an admin");
    let input = SupplierInput {
        name: "openai".into(),
        protocol: "openai".into(),
        base_url: "https://api.openai.com/v1".into(),
        ..SupplierInput::default()
    };
    let supplier = catalog
        .create_supplier(&admin, input, KeyUpdate::Keep)
        .await
        .expect("a supplier");
    World {
        catalog,
        admin,
        admin_principal,
        user: Principal::new(UserId::new(), Role::User),
        supplier: supplier.id.0,
    }
}

impl World {
    async fn model(&self, name: &str, model_type: &str, active: bool) -> Model {
        let input = ModelInput {
            name: name.into(),
            supplier_id: self.supplier,
            model_type: model_type.into(),
            input_price: 1,
            output_price: 2,
            currency: "usd".into(),
            is_active: Some(active),
            ..ModelInput::default()
        };
        self.catalog.create_model(&self.admin, input).await.expect("a model")
    }

    async fn default_names(&self, principal: &Principal) -> Vec<String> {
        let defaults = self.catalog.default_models(principal).await.expect("the defaults");
        defaults.into_iter().map(|model| model.spec.name).collect()
    }
}

#[tokio::test]
async fn set_default_switches_the_one_default_of_a_type() {
    let world = world().await;
    let first = world.model("gpt-4o", "language", true).await;
    let second = world.model("deepseek-chat", "language", true).await;
    let embed = world.model("text-embedding-3-small", "embedding", true).await;
    for id in [first.id, second.id, embed.id] {
        world.catalog.set_default_model(&world.admin, id).await.expect("set");
    }
    let mut names = world.default_names(&world.admin_principal).await;
    names.sort();
    assert_eq!(names, ["deepseek-chat", "text-embedding-3-small"]);

    let refused = world.catalog.set_model_deleted(&world.admin, second.id, true).await;
    assert!(
        matches!(
            refused,
            Err(DomainError::Conflict {
                kind: ConflictKind::DefaultModelInUse,
                ..
            })
        ),
        "{refused:?}"
    );
    let patch = ModelPatch {
        is_active: Some(Some(false)),
        ..ModelPatch::default()
    };
    let refused = world.catalog.patch_model(&world.admin, second.id, patch).await;
    assert!(matches!(refused, Err(DomainError::Conflict { .. })), "{refused:?}");

    let inactive = world.model("old-model", "language", false).await;
    let refused = world.catalog.set_default_model(&world.admin, inactive.id).await;
    assert!(matches!(refused, Err(DomainError::Validation { code, .. }) if code == "model_inactive"));
    let unknown = world.catalog.set_default_model(&world.admin, ModelId::new()).await;
    assert!(matches!(unknown, Err(DomainError::Validation { code, .. }) if code == "no_such_model"));
}

#[tokio::test]
async fn users_see_active_live_models_and_admins_see_all() {
    let world = world().await;
    let live = world.model("gpt-4o", "language", true).await;
    let inactive = world.model("gpt-3.5", "language", false).await;
    let deleted = world.model("davinci", "language", true).await;
    world
        .catalog
        .set_model_deleted(&world.admin, deleted.id, true)
        .await
        .expect("deleted");

    assert!(world.catalog.get_model(&world.user, live.id).await.is_ok());
    for hidden in [inactive.id, deleted.id] {
        let outcome = world.catalog.get_model(&world.user, hidden).await;
        assert_eq!(outcome.err(), Some(DomainError::NotFound { entity: "model" }));
        assert!(world.catalog.get_model(&world.admin_principal, hidden).await.is_ok());
    }

    let everything = ModelFilter {
        active: Some(false),
        include_deleted: true,
        ..ModelFilter::default()
    };
    let names = |page: crate::kernel::page::Page<Model>| -> Vec<String> {
        page.items.into_iter().map(|m| m.spec.name).collect()
    };
    let seen = world
        .catalog
        .list_models(&world.user, everything.clone(), PageRequest::default())
        .await;
    assert_eq!(
        names(seen.expect("a page")),
        ["gpt-4o"],
        "a user's filters cannot reach hidden models"
    );
    let seen = world
        .catalog
        .list_models(&world.admin_principal, everything, PageRequest::default())
        .await;
    assert_eq!(names(seen.expect("a page")), ["gpt-3.5"]);

    world
        .catalog
        .set_default_model(&world.admin, live.id)
        .await
        .expect("set");
    assert_eq!(world.default_names(&world.user).await, ["gpt-4o"]);
    assert_eq!(
        world.user.admin(),
        Err(DomainError::Forbidden(crate::kernel::error::Refusal::AdminOnly))
    );
}

#[tokio::test]
async fn a_patch_changes_only_the_fields_it_names_and_is_checked_like_a_new_model() {
    let world = world().await;
    let model = world.model("gpt-4o", "language", true).await;
    let patch = ModelPatch {
        display_name: Some(Some("GPT-4o".into())),
        context_window: Some(Some(128_000)),
        ..ModelPatch::default()
    };
    let patched = world
        .catalog
        .patch_model(&world.admin, model.id, patch)
        .await
        .expect("patched");
    assert_eq!(patched.spec.display_name, "GPT-4o");
    assert_eq!(patched.spec.context_window, Some(128_000));
    assert_eq!(
        (patched.spec.name.as_str(), patched.spec.model_type),
        ("gpt-4o", ModelType::Language)
    );

    let cleared = ModelPatch {
        context_window: Some(None),
        ..ModelPatch::default()
    };
    let patched = world
        .catalog
        .patch_model(&world.admin, model.id, cleared)
        .await
        .expect("patched");
    assert_eq!(
        (patched.spec.context_window, patched.spec.display_name.as_str()),
        (None, "GPT-4o")
    );

    let broken = ModelPatch {
        currency: Some("dollars".into()),
        ..ModelPatch::default()
    };
    let refused = world.catalog.patch_model(&world.admin, model.id, broken).await;
    assert!(
        matches!(refused, Err(DomainError::Validation { ref field, .. }) if field == "currency"),
        "{refused:?}"
    );
    let unchanged = world
        .catalog
        .get_model(&world.admin_principal, model.id)
        .await
        .expect("the model");
    assert_eq!(unchanged.model.spec.pricing.currency, "USD");
}
