//! The domain's modules and what they import: a module of one context may import another
//! context only along an edge of the context table in `docs/architecture.md`, nothing imports
//! the crate root's re-exports, and no modules import each other around a cycle.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};

use crate::tidy::source::Facts;

/// One module of the domain: its path under the crate (`["catalog", "file", "diff"]`; the root
/// is `[]`), its file, and what the file names.
pub struct Module {
    pub path: Vec<String>,
    pub file: String,
    pub facts: Facts,
}

/// The module a file under `src/` is: `lib.rs` is the root, `a/mod.rs` is `a`, `a/b.rs` is `a::b`.
pub fn module_path(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|last| last == "mod" || last == "lib") {
        parts.pop();
    }
    parts
}

/// Which contexts each context may import, from the table in `docs/architecture.md` whose
/// header starts `| context | may depend on |` (names in backticks; `—` for none).
pub fn context_table(architecture: &str) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let mut lines = architecture
        .lines()
        .skip_while(|line| !line.replace(' ', "").starts_with("|context|maydependon|"));
    lines
        .next()
        .context("docs/architecture.md has no context table (a header `| context | may depend on | … |`)")?;
    let mut table = BTreeMap::new();
    for row in lines.skip(1).take_while(|line| line.trim_start().starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (Some(context), Some(depends)) = (cells.get(1), cells.get(2)) else {
            bail!("docs/architecture.md: a context row without two cells: {row}");
        };
        let names =
            |cell: &str| -> BTreeSet<String> { cell.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
        let context = names(context)
            .into_iter()
            .next()
            .with_context(|| format!("docs/architecture.md: a context row names no context in backticks: {row}"))?;
        table.insert(context, names(depends));
    }
    if table.is_empty() {
        bail!("docs/architecture.md: the context table has no rows");
    }
    Ok(table)
}

fn child(parent: &[String], name: &str) -> Vec<String> {
    parent.iter().cloned().chain([name.to_owned()]).collect()
}

/// The module a path named in `from` refers to, if it is one of ours.
fn target(from: &[String], segments: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let absolute: Vec<String> = match segments.first().map(String::as_str) {
        Some("crate") => segments[1..].to_vec(),
        Some("super") => {
            let ups = segments.iter().take_while(|segment| *segment == "super").count();
            let base = from.get(..from.len().checked_sub(ups)?)?;
            base.iter().chain(&segments[ups..]).cloned().collect()
        }
        Some(first) if known.contains(&child(from, first)) => from.iter().chain(segments).cloned().collect(),
        _ => return None,
    };
    (0..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|prefix| known.contains(prefix))
}

fn shown(path: &[String]) -> String {
    if path.is_empty() {
        "the crate root".to_owned()
    } else {
        path.join("::")
    }
}

/// Every import that breaks the context table, names the crate root, or closes a cycle.
pub fn module_violations(modules: &[Module], table: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let known: BTreeSet<Vec<String>> = modules.iter().map(|module| module.path.clone()).collect();
    let mut violations = Vec::new();
    for context in modules
        .iter()
        .filter_map(|module| module.path.first())
        .collect::<BTreeSet<_>>()
    {
        if !table.contains_key(context) {
            violations.push(format!(
                "crates/switchyard-domain/src/{context}: the context `{context}` has no row in docs/architecture.md's context table"
            ));
        }
    }
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for module in modules {
        for named in &module.facts.paths {
            let Some(to) = target(&module.path, &named.segments, &known) else {
                continue;
            };
            if to == module.path {
                continue;
            }
            let at = format!("{}:{}", module.file, named.line);
            if to.is_empty() {
                violations.push(format!(
                    "{at}: {} names the crate root's re-export; import it from the module that defines it",
                    named.segments.join("::")
                ));
                continue;
            }
            if let (Some(from_context), Some(to_context)) = (module.path.first(), to.first())
                && from_context != to_context
                && !table
                    .get(from_context)
                    .is_some_and(|allowed| allowed.contains(to_context))
            {
                violations.push(format!(
                    "{at}: the `{from_context}` context imports `{to_context}` ({}), an edge docs/architecture.md does not declare",
                    named.segments.join("::")
                ));
            }
            edges.entry(module.path.clone()).or_default().insert(to);
        }
    }
    violations.extend(cycles(&edges).into_iter().map(|cycle| {
        let names: Vec<String> = cycle.iter().map(|module| shown(module)).collect();
        format!("import cycle in the domain: {}", names.join(" -> "))
    }));
    violations
}

/// One cycle through each group of modules that import each other (Tarjan's strongly
/// connected components, then a path around each).
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct Search<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        groups: Vec<Vec<&'a Vec<String>>>,
    }
    fn visit<'a>(search: &mut Search<'a>, node: &'a Vec<String>) {
        let n = search.index.len();
        search.index.insert(node, n);
        search.low.insert(node, n);
        search.stack.push(node);
        search.on_stack.insert(node);
        for next in search.edges.get(node).into_iter().flatten() {
            if !search.index.contains_key(next) {
                visit(search, next);
                let low = search.low[node].min(search.low[next]);
                search.low.insert(node, low);
            } else if search.on_stack.contains(next) {
                let low = search.low[node].min(search.index[next]);
                search.low.insert(node, low);
            }
        }
        if search.low[node] == search.index[node] {
            let mut group = Vec::new();
            while let Some(member) = search.stack.pop() {
                search.on_stack.remove(member);
                group.push(member);
                if member == node {
                    break;
                }
            }
            if group.len() > 1 {
                search.groups.push(group);
            }
        }
    }
    let mut search = Search {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for node in edges.keys() {
        if !search.index.contains_key(node) {
            visit(&mut search, node);
        }
    }
    search
        .groups
        .iter()
        .map(|group| {
            let members: BTreeSet<&Vec<String>> = group.iter().copied().collect();
            let start = members.iter().next().copied().unwrap_or(group[0]);
            around(edges, &members, start)
        })
        .collect()
}

/// The shortest path from `start` back to itself inside `members`.
fn around(
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    members: &BTreeSet<&Vec<String>>,
    start: &Vec<String>,
) -> Vec<Vec<String>> {
    let mut previous: BTreeMap<&Vec<String>, &Vec<String>> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in edges
            .get(node)
            .into_iter()
            .flatten()
            .filter(|next| members.contains(next))
        {
            if next == start {
                // Back from `node` through its predecessors to `start`, then forward again.
                let mut path = vec![node.clone()];
                let mut at = node;
                while let Some(before) = previous.get(at) {
                    path.push((*before).clone());
                    at = before;
                }
                path.reverse();
                path.push(start.clone());
                return path;
            }
            if !previous.contains_key(next) && next != start {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    vec![start.clone(), start.clone()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tidy::source::facts;

    fn module(file: &str, text: &str) -> Module {
        Module {
            path: module_path(file),
            file: file.to_owned(),
            facts: facts(text).expect("readable tokens"),
        }
    }

    const TABLE: &str = "# Architecture\n\n| context | may depend on | holds |\n|---|---|---|\n| `kernel` | — | shared things |\n| `accounts` | `kernel` | users |\n| `catalog` | `kernel` | models |\n\nAfter the table.\n";

    fn table() -> BTreeMap<String, BTreeSet<String>> {
        context_table(TABLE).expect("the table reads")
    }

    #[test]
    fn the_context_table_is_read_from_the_architecture_document() {
        let table = table();
        assert_eq!(table["accounts"], BTreeSet::from(["kernel".to_owned()]));
        assert!(table["kernel"].is_empty());
        assert!(context_table("# Architecture\n\nno table here\n").is_err());
        assert_eq!(module_path("catalog/file/mod.rs"), ["catalog", "file"]);
        assert_eq!(module_path("lib.rs"), Vec::<String>::new());
    }

    #[test]
    fn modules_that_import_each_other_are_a_cycle() {
        let modules = [
            module("lib.rs", "pub mod catalog;"),
            module("catalog/mod.rs", "pub mod model; pub mod parameter;"),
            module("catalog/model.rs", "use crate::catalog::parameter::Parameter;"),
            module("catalog/parameter.rs", "use super::model::ModelId;"),
        ];
        let violations = module_violations(&modules, &table());
        assert_eq!(
            violations,
            ["import cycle in the domain: catalog::model -> catalog::parameter -> catalog::model"]
        );
    }

    #[test]
    fn a_context_may_import_another_only_along_a_declared_edge() {
        let modules = [
            module("lib.rs", "pub mod accounts; pub mod catalog; pub mod kernel;"),
            module("kernel/mod.rs", "pub mod principal;"),
            module("kernel/principal.rs", "pub struct Principal;"),
            module("accounts/mod.rs", "pub mod service;"),
            module(
                "accounts/service.rs",
                "use crate::kernel::principal::Principal; pub struct Accounts;",
            ),
            module("catalog/mod.rs", "pub mod service;"),
            module("catalog/service.rs", "use crate::accounts::service::Accounts;"),
        ];
        let violations = module_violations(&modules, &table());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("the `catalog` context imports `accounts`"),
            "{violations:?}"
        );
    }

    #[test]
    fn re_exports_of_the_root_or_a_parent_are_not_imported_from() {
        let modules = [
            module("lib.rs", "pub mod kernel; pub use kernel::error::DomainError;"),
            module(
                "kernel/mod.rs",
                "pub mod error; pub mod text; pub use error::DomainError; pub use text::length;",
            ),
            module("kernel/error.rs", "pub struct DomainError;"),
            module(
                "kernel/text.rs",
                "use crate::DomainError; use crate::kernel::DomainError as Again; pub fn length() {}",
            ),
        ];
        let violations = module_violations(&modules, &table());
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(
            violations[0].contains("names the crate root's re-export"),
            "{violations:?}"
        );
        assert_eq!(
            violations[1],
            "import cycle in the domain: kernel -> kernel::text -> kernel"
        );
    }

    #[test]
    fn a_context_without_a_row_fails() {
        let modules = [
            module("lib.rs", "pub mod billing;"),
            module("billing/mod.rs", "pub struct Bill;"),
        ];
        let violations = module_violations(&modules, &table());
        assert_eq!(violations.len(), 1);
        assert!(violations[0].contains("the context `billing` has no row"));
    }
}
