//! `cargo xtask tidy`: checks that the code keeps the shape `docs/architecture.md` describes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What each of our crates may depend on (normal dependencies; tests may use more).
/// `Only` lists every allowed crate; `Not` lists forbidden ones.
enum Rule {
    Only(&'static [&'static str]),
    Not(&'static [&'static str]),
}

/// Crates that do IO or belong to an outer layer.
const IO_AND_FRAMEWORKS: &[&str] = &[
    "actix-web",
    "sea-orm",
    "sea-orm-migration",
    "sqlx",
    "reqwest",
    "config",
    "redis",
    "object_store",
];

fn rule_for(krate: &str) -> Option<Rule> {
    Some(match krate {
        // The domain: IO-free computation only. Adding a crate here is a design decision.
        "switchyard-domain" => Rule::Only(&[
            "async-trait",
            "chrono",
            "thiserror",
            "serde",
            "serde_json",
            "uuid",
            "futures",
            "futures-util",
            "bcrypt",
            "sha2",
            "hmac",
            "aes-gcm",
            "chacha20poly1305",
            "email_address",
            "url",
            "jsonwebtoken",
            "secrecy",
            "base64",
            "rand",
            "subtle",
            "zeroize",
        ]),
        "switchyard-persistence" => Rule::Not(&[
            "switchyard-api",
            "switchyard-providers",
            "switchyard-server",
            "actix-web",
            "reqwest",
            "config",
        ]),
        "switchyard-providers" => Rule::Not(&[
            "switchyard-api",
            "switchyard-persistence",
            "switchyard-server",
            "actix-web",
            "sea-orm",
            "sqlx",
            "config",
        ]),
        "switchyard-api" => Rule::Not(&[
            "switchyard-persistence",
            "switchyard-providers",
            "switchyard-server",
            "migration",
            "sea-orm",
            "sea-orm-migration",
            "sqlx",
            "reqwest",
            "config",
        ]),
        "migration" => Rule::Not(&[
            "switchyard-domain",
            "switchyard-persistence",
            "switchyard-providers",
            "switchyard-api",
            "switchyard-server",
            "config",
        ]),
        _ => return None,
    })
}

/// The normal (non-dev, non-build) dependencies of each workspace member, from `cargo metadata`.
pub fn workspace_dependencies(metadata: &Value) -> BTreeMap<String, Vec<String>> {
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut graph = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let id = package["id"].as_str().unwrap_or_default();
        if !members.contains(&id) {
            continue;
        }
        let dependencies = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dependency| dependency["kind"].is_null())
            .filter_map(|dependency| dependency["name"].as_str().map(str::to_owned))
            .collect();
        graph.insert(package["name"].as_str().unwrap_or_default().to_owned(), dependencies);
    }
    graph
}

/// Every dependency edge that breaks a rule, as `crate -> dependency: why`.
pub fn dependency_violations(graph: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut violations = Vec::new();
    for (krate, dependencies) in graph {
        let Some(rule) = rule_for(krate) else { continue };
        for dependency in dependencies {
            let broken = match &rule {
                Rule::Only(allowed) => !allowed.contains(&dependency.as_str()),
                Rule::Not(forbidden) => forbidden.contains(&dependency.as_str()),
            };
            if broken {
                let why = match (&rule, IO_AND_FRAMEWORKS.contains(&dependency.as_str())) {
                    (Rule::Only(_), true) => "the domain does no IO and knows no framework",
                    (Rule::Only(_), false) => "not on the domain's list of IO-free crates (xtask/src/tidy.rs)",
                    (Rule::Not(_), _) => "dependencies point inward only (docs/architecture.md)",
                };
                violations.push(format!("{krate} -> {dependency}: {why}"));
            }
        }
    }
    violations
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = ["crates", "migration", "xtask"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|name| name != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Problems in one source file: no `//!` doc at its top, an ignored test, unfinished code.
pub fn source_violations(path: &str, text: &str) -> Vec<String> {
    let mut violations = Vec::new();
    let first_code = text.lines().map(str::trim).find(|line| !line.is_empty());
    if !first_code.is_some_and(|line| line.starts_with("//!")) {
        violations.push(format!("{path}: does not start with a //! line saying what it is for"));
    }
    let ignore = concat!("#[", "ignore");
    let unfinished = [concat!("todo", "!("), concat!("unimplemented", "!(")];
    for (number, line) in text.lines().enumerate() {
        if line.contains(ignore) {
            violations.push(format!(
                "{path}:{}: an ignored test: gate slow tests behind an env var instead",
                number + 1
            ));
        }
        if unfinished.iter().any(|marker| line.contains(marker)) {
            violations.push(format!("{path}:{}: unfinished code", number + 1));
        }
    }
    violations
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout)?;
    let mut violations = dependency_violations(&workspace_dependencies(&metadata));
    let files = rust_files(root);
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        violations.extend(source_violations(&shown, &text));
    }
    if violations.is_empty() {
        println!(
            "tidy: {} crates and {} files are in order",
            metadata["workspace_members"].as_array().map_or(0, Vec::len),
            files.len()
        );
        Ok(())
    } else {
        for violation in &violations {
            eprintln!("tidy: {violation}");
        }
        anyhow::bail!("{} tidy violations", violations.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(krate, deps)| (krate.to_string(), deps.iter().map(|d| d.to_string()).collect()))
            .collect()
    }

    #[test]
    fn the_domain_may_not_depend_on_a_database_or_framework() {
        let violations = dependency_violations(&graph(&[("switchyard-domain", &["chrono", "sea-orm"])]));
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].starts_with("switchyard-domain -> sea-orm"));
    }

    #[test]
    fn the_api_may_not_depend_on_persistence() {
        let violations = dependency_violations(&graph(&[("switchyard-api", &["actix-web", "switchyard-persistence"])]));
        assert_eq!(
            violations,
            ["switchyard-api -> switchyard-persistence: dependencies point inward only (docs/architecture.md)"]
        );
    }

    #[test]
    fn the_server_may_depend_on_everything() {
        let server = graph(&[(
            "switchyard-server",
            &["switchyard-persistence", "switchyard-api", "config"],
        )]);
        assert!(dependency_violations(&server).is_empty());
    }

    #[test]
    fn files_need_a_doc_line_and_no_ignored_tests() {
        assert!(source_violations("a.rs", "//! What it is.\nfn f() {}\n").is_empty());
        assert_eq!(source_violations("b.rs", "fn f() {}\n").len(), 1);
        let ignored = format!("//! Doc.\n{}]\nfn t() {{}}\n", concat!("#[", "ignore"));
        assert_eq!(source_violations("c.rs", &ignored).len(), 1);
    }

    #[test]
    fn the_workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("."));
        if let Err(error) = run(root) {
            panic!("{error}");
        }
    }
}
