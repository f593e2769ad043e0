//! The dependency rules: every workspace crate has one, listing the crates (ours and
//! third-party) it may depend on; anything else fails, and so does a crate with no rule.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

/// What one of our crates may depend on (normal and build dependencies; tests may use more).
pub struct Rule {
    /// The layer, for the messages.
    pub layer: &'static str,
    pub ours: &'static [&'static str],
    pub third_party: &'static [&'static str],
}

/// The rule of each workspace crate. Adding a crate to a list is a design decision: say why in
/// the commit. A crate that is not here fails the check until it gets its rule.
pub fn rule_for(krate: &str) -> Option<Rule> {
    Some(match krate {
        // IO-free computation only (docs/architecture.md).
        "switchyard-domain" => Rule {
            layer: "the domain does no IO and knows no framework",
            ours: &[],
            third_party: &[
                "aes-gcm",
                // An atomically swapped pointer: the routing snapshot read without a lock.
                "arc-swap",
                "async-trait",
                "base64",
                "bcrypt",
                "chrono",
                // The IANA time-zone database, compiled in: calendar days and months in a zone.
                "chrono-tz",
                "email_address",
                // The `Stream` trait only.
                "futures-core",
                // An async mutex (a conversation's turns one at a time) and `StreamExt`: no IO.
                "futures-util",
                "hmac",
                // File kinds from their magic bytes (pure, no IO).
                "infer",
                "jsonwebtoken",
                // A bounded in-memory map: no IO, no threads, no clock the domain reads.
                "moka",
                "rand",
                // Decrypted upstream keys held in memory.
                "secrecy",
                "serde",
                "serde_json",
                "sha2",
                "thiserror",
                "url",
                "uuid",
            ],
        },
        "switchyard-persistence" => Rule {
            layer: "persistence adapts the domain's storage ports to databases (and later Redis, object storage)",
            ours: &["switchyard-domain", "migration"],
            third_party: &[
                "async-trait",
                "chrono",
                // `StreamExt` over upload and download bodies.
                "futures-util",
                "governor",
                "object_store",
                "redis",
                "sea-orm",
                // The call log's spill file lines.
                "serde",
                "serde_json",
                "thiserror",
                "tokio",
                "tracing",
                "uuid",
            ],
        },
        "switchyard-providers" => Rule {
            layer: "providers adapt the domain's ChatProvider port to suppliers' wire protocols over HTTP",
            ours: &["switchyard-domain"],
            third_party: &[
                "async-trait",
                "base64",
                "chrono",
                // Server-sent events parsed from a byte stream (the well-kept parser reqwest users share).
                "eventsource-stream",
                "futures-util",
                "reqwest",
                "secrecy",
                "serde",
                "serde_json",
                // The guard's error type (reqwest's resolver hook takes a boxed error).
                "thiserror",
                // OpenAI's tokenizer, for usage when a supplier reports none.
                "tiktoken-rs",
                "tokio",
                "tracing",
                // The guard reads a URL's host as an address or a name.
                "url",
            ],
        },
        "switchyard-api" => Rule {
            layer: "the API knows HTTP and the domain's ports, not persistence or providers",
            ours: &["switchyard-domain"],
            third_party: &[
                "actix-cors",
                // Uploads (`multipart/form-data`), read as a stream.
                "actix-multipart",
                "actix-web",
                "base64",
                "chrono",
                // Statistics as CSV (`format=csv`).
                "csv",
                "futures-util",
                "ipnet",
                "prometheus",
                "serde",
                "serde_json",
                "serde_path_to_error",
                // Its runtime is actix-web's; the API uses its synchronisation (coalesced refreshes).
                "tokio",
                "tracing",
                "tracing-actix-web",
                "utoipa",
                "utoipa-actix-web",
                "utoipa-swagger-ui",
                "uuid",
            ],
        },
        "switchyard-server" => Rule {
            layer: "the server wires the other crates and reads configuration",
            ours: &[
                "switchyard-domain",
                "switchyard-persistence",
                "switchyard-api",
                "switchyard-providers",
            ],
            third_party: &[
                "actix-web",
                "anyhow",
                "async-trait",
                "base64",
                "chrono",
                "clap",
                "config",
                "humantime-serde",
                "ipnet",
                "rand",
                "secrecy",
                "serde",
                "serde_json",
                "serde_path_to_error",
                "socket2",
                "tokio",
                "tokio-util",
                "tracing",
                "tracing-subscriber",
            ],
        },
        "switchyard-testkit" => Rule {
            layer: "the fake upstream for tests and benchmarks speaks HTTP and JSON, knowing none of our crates",
            ours: &[],
            third_party: &["actix-web", "base64", "futures-util", "serde", "serde_json", "tokio"],
        },
        "switchyard-bench" => Rule {
            layer: "the benchmarks: the gateway's drives the released binaries over HTTP; the conversations' and the statistics' time the stores the server uses",
            // The conversations' benchmark measures database work through the server's own repositories.
            ours: &["switchyard-testkit", "switchyard-domain", "switchyard-persistence"],
            // sea-orm: the scratch PostgreSQL database of a run (CREATE/DROP DATABASE).
            third_party: &[
                "anyhow",
                "chrono",
                "http-body-util",
                "hyper",
                "hyper-util",
                // The statistics benchmark's synthetic traffic, from a fixed seed.
                "rand",
                "sea-orm",
                "serde_json",
                "tokio",
                "uuid",
            ],
        },
        "migration" => Rule {
            layer: "migrations are plain sea-orm-migration code that imports nothing of ours",
            ours: &[],
            third_party: &["async-trait", "clap", "sea-orm-migration", "tokio"],
        },
        "xtask" => Rule {
            layer: "repository automation needs little",
            ours: &[],
            third_party: &["anyhow", "proc-macro2", "serde_json"],
        },
        _ => return None,
    })
}

/// The normal and build dependencies of each workspace member, from `cargo metadata`. Output
/// that does not have the expected shape is an error, never an empty graph that passes.
pub fn workspace_dependencies(metadata: &Value) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .context("cargo metadata has no workspace_members")?
        .iter()
        .map(|id| id.as_str().context("a workspace member id is not a string"))
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(!members.is_empty(), "cargo metadata lists no workspace members");
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
    let mut graph = BTreeMap::new();
    for package in packages {
        let id = package["id"].as_str().context("a package without an id")?;
        if !members.contains(&id) {
            continue;
        }
        let name = package["name"].as_str().context("a package without a name")?;
        let mut dependencies = Vec::new();
        for dependency in package["dependencies"]
            .as_array()
            .with_context(|| format!("package {name} has no dependency list"))?
        {
            let kind = &dependency["kind"];
            if !(kind.is_null() || kind.as_str() == Some("build")) {
                continue;
            }
            let dependency = dependency["name"]
                .as_str()
                .with_context(|| format!("a dependency of {name} has no name"))?;
            dependencies.push(dependency.to_owned());
        }
        graph.insert(name.to_owned(), dependencies);
    }
    if graph.len() != members.len() {
        bail!(
            "cargo metadata lists {} workspace members but describes {} of them",
            members.len(),
            graph.len()
        );
    }
    Ok(graph)
}

/// Every crate without a rule and every dependency its rule does not list, as
/// `crate -> dependency: why`.
pub fn dependency_violations(graph: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut violations = Vec::new();
    for (krate, dependencies) in graph {
        let Some(rule) = rule_for(krate) else {
            violations.push(format!(
                "{krate}: has no dependency rule; give it one in xtask/src/tidy/deps.rs (and docs/architecture.md)"
            ));
            continue;
        };
        for dependency in dependencies {
            let ours = dependency == "migration" || dependency.starts_with("switchyard-");
            let allowed = if ours { rule.ours } else { rule.third_party };
            if !allowed.contains(&dependency.as_str()) {
                let list = if ours { "our crates" } else { "third-party crates" };
                violations.push(format!(
                    "{krate} -> {dependency}: not on its list of {list} ({}; xtask/src/tidy/deps.rs)",
                    rule.layer
                ));
            }
        }
    }
    violations
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
    fn a_crate_without_a_rule_fails() {
        let violations = dependency_violations(&graph(&[("switchyard-gadgets", &["serde"])]));
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].starts_with("switchyard-gadgets: has no dependency rule"));
    }

    #[test]
    fn a_third_party_crate_off_the_list_fails_whatever_it_is() {
        for (krate, dependency) in [
            ("switchyard-api", "redis"),
            ("switchyard-api", "hyper"),
            ("switchyard-domain", "sea-orm"),
            ("switchyard-domain", "tokio"),
            ("migration", "serde"),
        ] {
            let violations = dependency_violations(&graph(&[(krate, &[dependency])]));
            assert_eq!(violations.len(), 1, "{krate} -> {dependency}: {violations:?}");
            assert!(violations[0].starts_with(&format!("{krate} -> {dependency}: not on its list")));
        }
    }

    #[test]
    fn dependencies_between_our_crates_point_inward_only() {
        for (krate, dependency) in [
            ("switchyard-api", "switchyard-persistence"),
            ("switchyard-domain", "switchyard-api"),
            ("switchyard-persistence", "switchyard-server"),
            ("migration", "switchyard-domain"),
        ] {
            assert_eq!(
                dependency_violations(&graph(&[(krate, &[dependency])])).len(),
                1,
                "{krate} -> {dependency}"
            );
        }
        let server = graph(&[(
            "switchyard-server",
            &["switchyard-persistence", "switchyard-api", "config"],
        )]);
        assert!(dependency_violations(&server).is_empty());
    }

    #[test]
    fn unreadable_metadata_is_an_error_not_an_empty_graph() {
        for metadata in [
            serde_json::json!({}),
            serde_json::json!({"workspace_members": [], "packages": []}),
            serde_json::json!({"workspace_members": ["a"], "packages": "nope"}),
            serde_json::json!({"workspace_members": ["a"], "packages": [{"id": "a", "name": "x"}]}),
            serde_json::json!({"workspace_members": ["a", "b"], "packages": [{"id": "a", "name": "x", "dependencies": []}]}),
        ] {
            assert!(workspace_dependencies(&metadata).is_err(), "{metadata}");
        }
        let metadata = serde_json::json!({
            "workspace_members": ["a"],
            "packages": [{"id": "a", "name": "x", "dependencies": [
                {"name": "serde", "kind": null}, {"name": "cc", "kind": "build"}, {"name": "wiremock", "kind": "dev"}
            ]}]
        });
        let graph = workspace_dependencies(&metadata).expect("well-formed metadata reads");
        assert_eq!(graph["x"], ["serde", "cc"]);
    }
}
