//! What one source file says, read from its tokens (so comments and strings never count): the
//! paths it names, with `use` trees expanded (`std::{env, fs}` names `std::env` and `std::fs`),
//! its ignored tests and its unfinished code, each with its line and whether it sits in test
//! code (`#[cfg(test)] mod … { … }`). And the checks that need only one file.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// A path a file names, e.g. `crate::kernel::error::DomainError` or `std::fs::read`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPath {
    pub segments: Vec<String>,
    pub line: usize,
    /// Inside a `#[cfg(test)]` module.
    pub in_test: bool,
}

impl NamedPath {
    pub fn starts_with(&self, prefix: &[&str]) -> bool {
        self.segments.len() >= prefix.len() && self.segments.iter().zip(prefix).all(|(a, b)| a == b)
    }

    /// Whether `pair` appears as two consecutive segments (`SystemTime::now`).
    pub fn contains_pair(&self, pair: [&str; 2]) -> bool {
        self.segments
            .windows(2)
            .any(|window| window[0] == pair[0] && window[1] == pair[1])
    }
}

/// The facts of one file.
#[derive(Debug, Default)]
pub struct Facts {
    pub paths: Vec<NamedPath>,
    /// Lines of `#[ignore]` and `#[cfg_attr(…, ignore)]`.
    pub ignored: Vec<usize>,
    /// Lines of `todo!` and `unimplemented!`.
    pub unfinished: Vec<usize>,
    /// Modules declared `#[cfg(test)] mod name;`: their files are test code.
    pub test_modules: Vec<String>,
    /// Calls by name (`name(` not after `fn`), however the callee was reached (`A::op()`,
    /// `<A>::op()`, a renamed import).
    pub calls: Vec<NamedPath>,
}

impl Facts {
    /// Everything this file names is test code (it is a `#[cfg(test)]` module's file).
    pub fn mark_test(&mut self) {
        for named in self.paths.iter_mut().chain(&mut self.calls) {
            named.in_test = true;
        }
    }
}

/// Reads a file's tokens; an unreadable file (unbalanced delimiters, a bad literal) is an error.
pub fn facts(text: &str) -> anyhow::Result<Facts> {
    let tokens: TokenStream = text
        .parse()
        .map_err(|error| anyhow::anyhow!("cannot read the file's tokens: {error:?}"))?;
    let mut facts = Facts::default();
    walk(&tokens.into_iter().collect::<Vec<_>>(), false, &mut facts);
    Ok(facts)
}

fn line(tree: &TokenTree) -> usize {
    tree.span().start().line
}

fn is_punct(tree: Option<&TokenTree>, ch: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(punct)) if punct.as_char() == ch)
}

fn ident(tree: Option<&TokenTree>) -> Option<String> {
    match tree {
        Some(TokenTree::Ident(ident)) => Some(ident.to_string()),
        _ => None,
    }
}

/// Whether `tokens[i..]` starts with `::`.
fn path_separator(tokens: &[TokenTree], i: usize) -> bool {
    matches!(&tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && is_punct(tokens.get(i + 1), ':')
}

fn walk(tokens: &[TokenTree], in_test: bool, facts: &mut Facts) {
    let mut i = 0;
    let mut test_module_next = false;
    while i < tokens.len() {
        let tree = &tokens[i];
        match tree {
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                let inner = usize::from(is_punct(tokens.get(i + 1), '!'));
                if let Some(TokenTree::Group(group)) = tokens.get(i + 1 + inner)
                    && group.delimiter() == Delimiter::Bracket
                {
                    let attribute: Vec<TokenTree> = group.stream().into_iter().collect();
                    if ignores(&attribute) {
                        facts.ignored.push(line(tree));
                    }
                    if is_cfg_test(&attribute) {
                        test_module_next = true;
                    }
                    walk(&attribute, in_test, facts);
                    i += 2 + inner;
                    continue;
                }
            }
            TokenTree::Ident(name)
                if ["todo", "unimplemented"].contains(&name.to_string().as_str())
                    && is_punct(tokens.get(i + 1), '!') =>
            {
                facts.unfinished.push(line(tree));
            }
            TokenTree::Ident(name) if name == "mod" && test_module_next => {
                // `#[cfg(test)] mod name { … }`: everything in the braces is test code;
                // `#[cfg(test)] mod name;`: so is the module's file.
                match tokens.get(i + 2) {
                    Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
                        walk(&group.stream().into_iter().collect::<Vec<_>>(), true, facts);
                        test_module_next = false;
                        i += 3;
                        continue;
                    }
                    Some(TokenTree::Punct(punct)) if punct.as_char() == ';' => {
                        facts.test_modules.extend(ident(tokens.get(i + 1)));
                    }
                    _ => {}
                }
            }
            TokenTree::Group(group) => {
                walk(&group.stream().into_iter().collect::<Vec<_>>(), in_test, facts);
            }
            _ => {}
        }
        if let Some(name) = ident(Some(tree))
            && matches!(tokens.get(i + 1), Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis)
            && !(i > 0 && ident(tokens.get(i - 1)).as_deref() == Some("fn"))
        {
            facts.calls.push(NamedPath {
                segments: vec![name],
                line: line(tree),
                in_test,
            });
        }
        if let Some(first) = ident(Some(tree)) {
            // A path is read whole from its first segment on, so no later segment starts one.
            let dollar_crate = first == "crate" && i > 0 && is_punct(tokens.get(i - 1), '$');
            if dollar_crate || path_separator(tokens, i + 1) {
                let mut found = Vec::new();
                i = path_at(tokens, i, vec![], &mut found);
                // `a::b(…)` calls `b`.
                let called = matches!(tokens.get(i), Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis);
                if let Some(last) = found.last().and_then(|segments| segments.last()).filter(|_| called) {
                    facts.calls.push(NamedPath {
                        segments: vec![last.clone()],
                        line: line(tree),
                        in_test,
                    });
                }
                for segments in found.into_iter().filter(|segments| segments.len() > 1) {
                    facts.paths.push(NamedPath {
                        segments,
                        line: line(tree),
                        in_test,
                    });
                }
            }
        }
        if !matches!(tree, TokenTree::Punct(_)) {
            test_module_next &= matches!(tree, TokenTree::Ident(name) if name == "pub" || name == "mod");
        }
        i += 1;
    }
}

/// Reads the path starting at `tokens[i]` (an identifier), expanding a `{…}` use tree, into
/// `found`; returns the index after it.
fn path_at(tokens: &[TokenTree], mut i: usize, mut segments: Vec<String>, found: &mut Vec<Vec<String>>) -> usize {
    while let Some(name) = ident(tokens.get(i)) {
        if name != "self" {
            segments.push(name);
        }
        i += 1;
        if !path_separator(tokens, i) {
            found.push(segments);
            return i;
        }
        i += 2;
        if let Some(TokenTree::Group(group)) = tokens.get(i)
            && group.delimiter() == Delimiter::Brace
        {
            let inner: Vec<TokenTree> = group.stream().into_iter().collect();
            for item in inner.split(|tree| is_punct(Some(tree), ',')) {
                if item.is_empty() || is_punct(item.first(), '*') {
                    found.push(segments.clone());
                } else {
                    path_at(item, 0, segments.clone(), found);
                }
            }
            return i + 1;
        }
    }
    found.push(segments);
    i
}

/// `ignore` (with or without a reason) or `cfg_attr(predicate, …, ignore, …)`, at any depth.
fn ignores(attribute: &[TokenTree]) -> bool {
    match ident(attribute.first()).as_deref() {
        Some("ignore") => true,
        Some("cfg_attr") => match attribute.get(1) {
            Some(TokenTree::Group(group)) => {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                inner.split(|tree| is_punct(Some(tree), ',')).skip(1).any(ignores)
            }
            _ => false,
        },
        _ => false,
    }
}

/// `cfg(test)`.
fn is_cfg_test(attribute: &[TokenTree]) -> bool {
    ident(attribute.first()).as_deref() == Some("cfg")
        && matches!(attribute.get(1), Some(TokenTree::Group(group)) if group.stream().to_string().trim() == "test")
}

/// A file must start with a `//!` line of at least two words saying what it is for.
pub fn doc_line_violation(path: &str, text: &str) -> Option<String> {
    let first = text.lines().map(str::trim).find(|line| !line.is_empty());
    let words = first.and_then(|line| line.strip_prefix("//!")).map(|rest| {
        rest.split(|c: char| !c.is_alphabetic())
            .filter(|word| word.chars().count() >= 2)
            .count()
    });
    match words {
        Some(words) if words >= 2 => None,
        Some(_) => Some(format!("{path}: its //! line has no words; say what the file is for")),
        None => Some(format!("{path}: does not start with a //! line saying what it is for")),
    }
}

/// Ignored tests and unfinished code.
pub fn marker_violations(path: &str, facts: &Facts) -> Vec<String> {
    let ignored = facts
        .ignored
        .iter()
        .map(|line| format!("{path}:{line}: an ignored test: gate a slow test behind an environment variable instead"));
    let unfinished = facts
        .unfinished
        .iter()
        .map(|line| format!("{path}:{line}: unfinished code"));
    ignored.chain(unfinished).collect()
}

/// What the domain may not name outside its tests: files, sockets, the environment,
/// processes, the async runtime, the wall clock. IO goes through a port.
pub fn domain_io_violations(path: &str, facts: &Facts) -> Vec<String> {
    const FORBIDDEN: [&[&str]; 5] = [
        &["std", "fs"],
        &["std", "net"],
        &["std", "env"],
        &["std", "process"],
        &["tokio"],
    ];
    const CLOCKS: [[&str; 2]; 4] = [
        ["SystemTime", "now"],
        ["Utc", "now"],
        ["Local", "now"],
        ["Instant", "now"],
    ];
    facts
        .paths
        .iter()
        .filter(|named| !named.in_test)
        .filter(|named| {
            FORBIDDEN.iter().any(|prefix| named.starts_with(prefix))
                || CLOCKS.iter().any(|pair| named.contains_pair(*pair))
        })
        .map(|named| {
            format!(
                "{path}:{}: the domain names {}: it does no IO; reach the outside through a port",
                named.line,
                named.segments.join("::")
            )
        })
        .collect()
}

/// `Admin::operator()` skips the admin check: only the server's command-line code (and test
/// code) may build it, never a route.
pub fn operator_violations(path: &str, facts: &Facts) -> Vec<String> {
    let allowed =
        path.starts_with("crates/switchyard-server/") || path == "crates/switchyard-domain/src/kernel/principal.rs";
    if allowed {
        return Vec::new();
    }
    let operator_call = |named: &&NamedPath| named.segments == ["operator"];
    facts
        .paths
        .iter()
        .filter(|named| named.contains_pair(["Admin", "operator"]))
        .chain(facts.calls.iter().filter(operator_call))
        .filter(|named| !named.in_test)
        .map(|named| {
            format!(
                "{path}:{}: Admin::operator outside the server's command-line code: take the proof from Principal::admin",
                named.line
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Facts {
        facts(text).expect("readable tokens")
    }

    fn paths(text: &str) -> Vec<String> {
        read(text).paths.iter().map(|named| named.segments.join("::")).collect()
    }

    #[test]
    fn use_trees_and_expression_paths_are_all_named() {
        assert_eq!(
            paths("use crate::{a::B, c::{self, D}, e::*};\nfn f() { std::fs::read(x); let _ = $crate::k::V; }"),
            [
                "crate::a::B",
                "crate::c",
                "crate::c::D",
                "crate::e",
                "std::fs::read",
                "crate::k::V"
            ]
        );
        // Comments and strings are not code.
        assert!(paths("// std::fs::read\nconst X: &str = \"std::fs\";\n/// std::env::var\nfn f() {}").is_empty());
    }

    #[test]
    fn the_domain_may_not_touch_files_the_environment_or_the_wall_clock() {
        for text in [
            "use std::fs;",
            "use std::{env, fmt};",
            "fn f() { std::process::exit(1) }",
            "async fn f() { tokio::spawn(async {}); }",
            "fn now() { std::time::SystemTime::now(); }",
            "fn now() { chrono::Utc::now(); }",
            "fn elapsed() { std::time::Instant::now(); }",
            "use std::time::SystemTime; fn now() { SystemTime::now(); }",
            "fn f() { format!(\"{}\", std::net::Ipv4Addr::LOCALHOST); }",
        ] {
            assert_eq!(domain_io_violations("d.rs", &read(text)).len(), 1, "{text}");
        }
        let tests_may = "#[cfg(test)]\nmod tests {\n    #[tokio::test]\n    async fn t() { std::fs::read(\"x\"); }\n}";
        assert!(domain_io_violations("d.rs", &read(tests_may)).is_empty());
        assert!(domain_io_violations("d.rs", &read("use std::fmt; use chrono::Utc;")).is_empty());
    }

    #[test]
    fn ignored_tests_are_found_however_they_are_written() {
        for text in [
            "#[test]\n#[ignore]\nfn t() {}",
            "#[ ignore ]\nfn t() {}",
            "#[ignore = \"slow\"]\nfn t() {}",
            "#[cfg_attr(test, ignore)]\nfn t() {}",
            "#[cfg_attr(not(ci), allow(dead_code), ignore)]\nfn t() {}",
            "#[cfg_attr(a, cfg_attr(b, ignore))]\nfn t() {}",
            "mod m { #[cfg_attr(test, ignore)] fn t() {} }",
        ] {
            assert_eq!(marker_violations("t.rs", &read(text)).len(), 1, "{text}");
        }
        assert!(
            marker_violations(
                "t.rs",
                &read("#[cfg_attr(test, allow(dead_code))]\nfn t() {}\nconst S: &str = \"#[ignore]\";")
            )
            .is_empty()
        );
        assert_eq!(
            marker_violations("t.rs", &read("fn f() { todo!() }")),
            ["t.rs:1: unfinished code"]
        );
    }

    #[test]
    fn modules_declared_for_tests_are_recorded() {
        let facts = read("pub mod service;\n#[cfg(test)]\nmod fakes;\n#[cfg(test)]\nmod tests;\nmod other;");
        assert_eq!(facts.test_modules, ["fakes", "tests"]);
    }

    #[test]
    fn a_doc_line_needs_words() {
        assert_eq!(
            doc_line_violation("a.rs", "//! What this file is for.\nfn f() {}"),
            None
        );
        assert_eq!(doc_line_violation("a.rs", "\n\n//! The `users` table.\n"), None);
        for text in [
            "fn f() {}",
            "//!\nfn f() {}",
            "//! .\n",
            "//! x\n",
            "//! TODO\n",
            "// a plain comment\n",
        ] {
            assert!(doc_line_violation("a.rs", text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn only_the_server_builds_the_operator_s_proof() {
        let text = "fn f() { let admin = Admin::operator(); }";
        assert_eq!(
            operator_violations("crates/switchyard-api/src/routes/x.rs", &read(text)).len(),
            2
        );
        for dodge in [
            "use switchyard_domain::Admin as A; fn f() { A::operator(); }",
            "fn f() { <Admin>::operator(); }",
        ] {
            assert_eq!(
                operator_violations("crates/switchyard-api/src/x.rs", &read(dodge)).len(),
                1,
                "{dodge}"
            );
        }
        assert!(
            operator_violations(
                "crates/switchyard-api/src/x.rs",
                &read("pub fn operator() -> Self { todo }")
            )
            .is_empty()
        );
        assert!(operator_violations("crates/switchyard-server/src/operator.rs", &read(text)).is_empty());
        let in_tests = "#[cfg(test)]\nmod tests { fn f() { Admin::operator(); } }";
        assert!(operator_violations("crates/switchyard-domain/src/accounts/admin.rs", &read(in_tests)).is_empty());
    }
}
