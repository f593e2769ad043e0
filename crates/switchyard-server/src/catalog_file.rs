//! `switchyard catalog export | import | seed`: the model catalog as a JSON file, and the
//! catalog bundled in the binary (`deploy/catalog.json`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use switchyard_domain::Admin;
use switchyard_domain::Clock;
use switchyard_domain::catalog::Catalog;
use switchyard_domain::catalog::file::{CatalogFile, FileError};
use switchyard_domain::catalog::file::{ImportError, ImportReport};

use crate::cli::CatalogCommand;
use crate::clock::SystemClock;
use crate::settings::Settings;
use crate::startup::{catalog, checked_cipher, open_database};

/// The catalog shipped with this build: suppliers, models, capabilities and categories, no keys.
pub const BUNDLED: &str = include_str!("../../../deploy/catalog.json");

/// Reads a catalog file; a syntax or type error names its JSON path.
pub fn parse(text: &str) -> Result<CatalogFile, FileError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| FileError {
        path: error.path().to_string(),
        message: error.inner().to_string(),
    })
}

/// The file as written by `export`: pretty JSON with a final newline.
pub fn render(file: &CatalogFile) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(file)?))
}

pub async fn run(settings: &Settings, command: CatalogCommand) -> anyhow::Result<()> {
    let database = open_database(settings).await?;
    let outcome = async {
        if settings.database.auto_migrate {
            database.migrate_up().await?;
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let cipher = checked_cipher(settings, &database, clock.now()).await?;
        let catalog = catalog(&database, cipher, clock);
        match command {
            CatalogCommand::Export { file } => export(&catalog, &file).await,
            CatalogCommand::Import { file, prune } => {
                let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                import(&catalog, &text, prune).await
            }
            CatalogCommand::Seed => {
                let report = import(&catalog, BUNDLED, false).await;
                if report.is_ok() {
                    println!("seeded the catalog bundled in this binary");
                }
                report
            }
        }
    }
    .await;
    database.close().await;
    outcome
}

async fn export(catalog: &Catalog, path: &Path) -> anyhow::Result<()> {
    let file = catalog.export_file(&Admin::operator()).await?;
    let text = render(&file)?;
    if path == Path::new("-") {
        print!("{text}");
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "exported {} suppliers, {} capabilities, {} categories and {} models to {}",
        file.suppliers.len(),
        file.capabilities.len(),
        file.categories.len(),
        file.models.len(),
        path.display()
    );
    Ok(())
}

/// Imports `text`; prints the report, or every error (and changes nothing).
pub async fn import(catalog: &Catalog, text: &str, prune: bool) -> anyhow::Result<()> {
    let file = parse(text)
        .map_err(|error| anyhow::anyhow!("the catalog file does not read: {error}; nothing was imported"))?;
    let report: ImportReport = match catalog.import_file(&Admin::operator(), file, prune).await {
        Ok(report) => report,
        Err(ImportError::Invalid(errors)) => {
            for error in &errors {
                eprintln!("{error}");
            }
            anyhow::bail!(
                "the catalog file has {} error(s), listed above; nothing was imported",
                errors.len()
            );
        }
        Err(ImportError::Store(error)) => anyhow::bail!("the import failed and was rolled back: {error}"),
    };
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalog_reads_and_checks() {
        let file = parse(BUNDLED).expect("the bundled catalog reads");
        assert!(
            file.prices_as_of.is_some(),
            "the bundled file says when its prices were checked"
        );
        let plan = file.plan().unwrap_or_else(|errors| panic!("{errors:?}"));
        let suppliers: Vec<&str> = plan.suppliers.iter().map(|s| s.name.as_str()).collect();
        for expected in [
            "anthropic",
            "baidu",
            "deepseek",
            "gemini",
            "ollama",
            "openai",
            "replicate",
        ] {
            assert!(suppliers.contains(&expected), "{expected} missing from {suppliers:?}");
        }
    }

    #[test]
    fn a_type_error_names_its_json_path() {
        let error = parse(r#"{"version": 1, "models": [{"name": "x", "input_price": "cheap"}]}"#)
            .err()
            .map(|error| error.path)
            .expect("a type error");
        assert!(error.starts_with("models[0]"), "{error}");
    }
}
