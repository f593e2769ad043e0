//! The catalog as a file, through the shipped binary: `switchyard catalog seed | export | import`.

use std::process::Output;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::switchyard;
use crate::helpers::{TestApp, spawn_app};

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn run_ok(app: &TestApp, args: &[&str]) -> String {
    let output = switchyard(app, args, None);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "switchyard {args:?}: {stdout}{stderr}");
    stdout
}

fn export(app: &TestApp, name: &str) -> String {
    let path = app.db.dir.path().join(name);
    let path = path.to_str().expect("a UTF-8 path");
    run_ok(app, &["catalog", "export", path]);
    std::fs::read_to_string(path).expect("the exported file")
}

#[tokio::test]
async fn seeding_twice_changes_nothing_and_the_tree_nests() {
    let app = spawn_app().await;
    let first = run_ok(&app, &["catalog", "seed"]);
    assert!(first.contains("models: 21 created"), "{first}");
    let second = run_ok(&app, &["catalog", "seed"]);
    assert!(second.contains("nothing changed"), "{second}");
    assert!(
        second.contains("models: 0 created, 0 updated, 21 unchanged"),
        "{second}"
    );

    let admin = app.create_admin("root").await;
    let (status, tree) = app.call(Method::GET, "/api/v1/categories/tree", &admin, None).await;
    assert_eq!(status, 200);
    let llm = tree["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|node| node["name"] == "llm")
        .cloned()
        .expect("the llm category in the tree");
    let children: Vec<&str> = llm["children"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| node["name"].as_str())
        .collect();
    assert_eq!(children, ["chat", "code", "reasoning"], "{tree}");

    let (_, models) = app
        .call(Method::GET, "/api/v1/models?supplier=deepseek", &admin, None)
        .await;
    assert_eq!(models["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(models["data"][0]["currency"], "CNY");
    let (_, defaults) = app.call(Method::GET, "/api/v1/models/defaults", &admin, None).await;
    assert_eq!(defaults["data"].as_array().map(Vec::len), Some(4));
    let (_, suppliers) = app.call(Method::GET, "/api/v1/suppliers", &admin, None).await;
    assert!(
        suppliers["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["api_key"]["set"] == false),
        "the bundled catalog carries no keys"
    );
}

#[tokio::test]
async fn export_then_import_into_a_fresh_database_then_export_is_byte_identical() {
    let source = spawn_app().await;
    run_ok(&source, &["catalog", "seed"]);
    // Changes beyond the seed: a supplier key (never exported), a second route, a parameter,
    // an inactive model.
    let admin = source.create_admin("root").await;
    let (_, suppliers) = source
        .call(Method::GET, "/api/v1/suppliers?q=deepseek", &admin, None)
        .await;
    let deepseek = suppliers["data"][0]["id"].as_str().expect("deepseek").to_owned();
    let key = "sk-export-must-not-carry-this-1234";
    let (status, _) = source
        .call(
            Method::PATCH,
            &format!("/api/v1/suppliers/{deepseek}"),
            &admin,
            Some(json!({"api_key": key})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, models) = source
        .call(Method::GET, "/api/v1/models?q=gpt-4o-mini", &admin, None)
        .await;
    let mini = models["data"][0]["id"].as_str().expect("gpt-4o-mini").to_owned();
    let route = json!({"supplier_id": deepseek, "upstream_name": "gpt-4o-mini", "priority": 5, "input_price": 1});
    assert_eq!(
        source
            .call(
                Method::POST,
                &format!("/api/v1/models/{mini}/routes"),
                &admin,
                Some(route)
            )
            .await
            .0,
        201
    );
    let parameter = json!({"name": "seed", "parameter_type": "int", "default_value": 42});
    assert_eq!(
        source
            .call(
                Method::POST,
                &format!("/api/v1/models/{mini}/parameters"),
                &admin,
                Some(parameter)
            )
            .await
            .0,
        201
    );

    let first = export(&source, "first.json");
    assert!(
        !first.contains(key) && !first.contains("1234"),
        "the export carries no key"
    );
    assert!(
        !first.contains("\"id\"") && !first.contains("created_at"),
        "no ids or timestamps"
    );
    assert!(first.contains("\"priority\": 5"), "the second route is exported");

    let target = spawn_app().await;
    let path = source.db.dir.path().join("first.json");
    let imported = run_ok(&target, &["catalog", "import", path.to_str().expect("path")]);
    assert!(imported.contains("models: 21 created"), "{imported}");
    let second = export(&target, "second.json");
    assert_eq!(first, second, "export → import → export must give the same bytes");
}

#[tokio::test]
async fn an_import_with_errors_changes_nothing_and_lists_every_error() {
    let app = spawn_app().await;
    run_ok(&app, &["catalog", "seed"]);
    let before = export(&app, "before.json");
    let mut file: Value = serde_json::from_str(&before).expect("JSON");
    file["suppliers"][0]["display_name"] = json!("A valid change that must not land");
    file["models"][0]["currency"] = json!("dollars");
    file["models"][1]["supplier"] = json!("nobody");
    file["models"][2]["parameters"][0]["default_value"] = json!("hot");
    file["categories"]
        .as_array_mut()
        .expect("categories")
        .push(json!({"path": "nowhere/child"}));
    file["defaults"]["language"] = json!("missing");
    let duplicate = file["suppliers"][1].clone();
    file["suppliers"].as_array_mut().expect("suppliers").push(duplicate);
    let path = app.db.dir.path().join("broken.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file).expect("JSON")).expect("write");

    let output = switchyard(&app, &["catalog", "import", path.to_str().expect("path")], None);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    for expected in [
        "models[0].currency",
        "models[1].supplier",
        "models[2].parameters[0].default_value",
        "categories[7].path",
        "defaults.language",
        "suppliers[7].name",
        "6 error(s)",
        "nothing was imported",
    ] {
        assert!(stderr.contains(expected), "{expected} missing from:\n{stderr}");
    }
    assert_eq!(export(&app, "after.json"), before, "a refused import changes nothing");

    std::fs::write(&path, r#"{"version": 1, "models": [{"name": 7}]}"#).expect("write");
    let (_, stderr) = text(&switchyard(
        &app,
        &["catalog", "import", path.to_str().expect("path")],
        None,
    ));
    assert!(stderr.contains("models[0].name"), "{stderr}");
}

#[tokio::test]
async fn prune_soft_deletes_what_the_file_does_not_name() {
    let app = spawn_app().await;
    run_ok(&app, &["catalog", "seed"]);
    let admin = app.create_admin("root").await;
    let body = json!({"name": "mistral", "protocol": "openai", "base_url": "https://api.mistral.ai/v1"});
    let (_, mistral) = app.call(Method::POST, "/api/v1/suppliers", &admin, Some(body)).await;
    let model = json!({"name": "mistral-large", "supplier_id": mistral["id"], "model_type": "language",
        "input_price": 2_000_000, "output_price": 6_000_000, "currency": "EUR"});
    let (status, created) = app.call(Method::POST, "/api/v1/models", &admin, Some(model)).await;
    assert_eq!(status, 201, "{created}");

    let bundled = app.db.dir.path().join("bundled.json");
    std::fs::write(&bundled, switchyard_server::catalog_file::BUNDLED).expect("write");
    let without = run_ok(&app, &["catalog", "import", bundled.to_str().expect("path")]);
    assert!(
        without.contains("nothing changed"),
        "without --prune extra rows stay: {without}"
    );
    let pruned = run_ok(&app, &["catalog", "import", "--prune", bundled.to_str().expect("path")]);
    assert!(
        pruned.contains("suppliers: 0 created, 0 updated, 7 unchanged, 1 pruned"),
        "{pruned}"
    );
    assert!(
        pruned.contains("models: 0 created, 0 updated, 21 unchanged, 1 pruned"),
        "{pruned}"
    );
    let model_path = format!("/api/v1/models/{}", created["id"].as_str().expect("id"));
    let (_, detail) = app.call(Method::GET, &model_path, &admin, None).await;
    assert!(detail["deleted_at"].is_string(), "{detail}");
    assert_eq!(export(&app, "after.json"), switchyard_server::catalog_file::BUNDLED);
}
