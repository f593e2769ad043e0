//! `cargo xtask tidy`: checks that the code keeps the shape `docs/architecture.md` describes,
//! and fails closed: a crate without a dependency rule, a dependency off its crate's list, IO in
//! the domain, an import between contexts the document does not declare, an import cycle, an
//! ignored test, unfinished code, a file without a `//!` line, or unreadable input all fail.

mod deps;
mod modules;
mod source;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use modules::{Module, context_table, module_path, module_violations};

/// Where the domain's source lives, relative to the workspace.
const DOMAIN_SOURCE: &str = "crates/switchyard-domain/src/";

fn rust_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = ["crates", "migration", "xtask"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
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
    Ok(files)
}

/// The files of `#[cfg(test)] mod name;` declarations: `name.rs` or `name/mod.rs` beside a
/// `mod.rs`, `lib.rs` or `main.rs`, else in the folder named after the declaring file; and
/// everything under such a module's folder.
fn test_module_files(files: &[(String, source::Facts)]) -> Vec<String> {
    let mut prefixes = Vec::new();
    for (file, facts) in files {
        let (dir, stem) = file.rsplit_once('/').unwrap_or(("", file.as_str()));
        let base = match stem {
            "mod.rs" | "lib.rs" | "main.rs" => dir.to_owned(),
            other => format!("{dir}/{}", other.trim_end_matches(".rs")),
        };
        for name in &facts.test_modules {
            prefixes.push(format!("{base}/{name}.rs"));
            prefixes.push(format!("{base}/{name}/"));
        }
    }
    prefixes
}

/// Every problem with the tree at `root`, and how many files were read.
pub fn violations(root: &Path, metadata: &Value) -> anyhow::Result<(Vec<String>, usize)> {
    let mut violations = deps::dependency_violations(&deps::workspace_dependencies(metadata)?);
    let paths = rust_files(root)?;
    let mut files = Vec::new();
    for file in &paths {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        violations.extend(source::doc_line_violation(&shown, &text));
        match source::facts(&text) {
            Ok(facts) => files.push((shown, facts)),
            Err(error) => violations.push(format!("{shown}: {error}")),
        }
    }
    let test_files = test_module_files(&files);
    let mut domain = Vec::new();
    for (shown, mut facts) in files {
        if test_files
            .iter()
            .any(|prefix| shown == *prefix || (prefix.ends_with('/') && shown.starts_with(prefix)))
        {
            facts.mark_test();
        }
        violations.extend(source::marker_violations(&shown, &facts));
        violations.extend(source::operator_violations(&shown, &facts));
        if let Some(relative) = shown.strip_prefix(DOMAIN_SOURCE) {
            violations.extend(source::domain_io_violations(&shown, &facts));
            domain.push(Module {
                path: module_path(relative),
                file: shown.clone(),
                facts,
            });
        }
    }
    anyhow::ensure!(!domain.is_empty(), "found no domain source under {DOMAIN_SOURCE}");
    let architecture =
        std::fs::read_to_string(root.join("docs/architecture.md")).context("cannot read docs/architecture.md")?;
    violations.extend(module_violations(&domain, &context_table(&architecture)?));
    Ok((violations, paths.len()))
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let (violations, files) = violations(root, &metadata)?;
    if violations.is_empty() {
        println!(
            "tidy: {} crates and {files} files are in order",
            metadata["workspace_members"].as_array().map_or(0, Vec::len),
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

    #[test]
    fn the_files_of_test_modules_are_test_code() {
        let declares = |file: &str, names: &[&str]| {
            let facts = source::Facts {
                test_modules: names.iter().map(|name| name.to_string()).collect(),
                ..source::Facts::default()
            };
            (file.to_owned(), facts)
        };
        let prefixes = test_module_files(&[
            declares("crates/d/src/accounts/mod.rs", &["tests"]),
            declares("crates/d/src/kernel/clock.rs", &["fakes"]),
        ]);
        assert_eq!(
            prefixes,
            [
                "crates/d/src/accounts/tests.rs",
                "crates/d/src/accounts/tests/",
                "crates/d/src/kernel/clock/fakes.rs",
                "crates/d/src/kernel/clock/fakes/"
            ]
        );
    }

    #[test]
    fn the_workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace root");
        if let Err(error) = run(root) {
            panic!("{error:#}");
        }
    }
}
