//! `docs/benchmarks.md` holds several benchmarks' reports: the gateway's first, then sections
//! between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` that each other benchmark replaces
//! on its own, so one run never erases another's figures.

/// The file with the section `name` replaced by `body` (appended when it is not there yet).
pub fn replace_section(file: &str, name: &str, body: &str) -> String {
    let (open, close) = (format!("<!-- bench:{name} -->"), format!("<!-- /bench:{name} -->"));
    let section = format!("{open}\n{}\n{close}", body.trim_end());
    match (file.find(&open), file.find(&close)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{section}{}", &file[..start], &file[end + close.len()..])
        }
        _ => format!("{}\n\n{section}\n", file.trim_end()),
    }
}

/// The other benchmarks' sections of `file`, to keep below a report that rewrites the rest.
pub fn sections(file: &str) -> &str {
    file.find("<!-- bench:").map_or("", |start| &file[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_appended_then_replaced_and_kept_by_the_gateway_report() {
        let once = replace_section("# Benchmarks\n\ngateway figures\n", "conversations", "first");
        assert!(once.ends_with("<!-- bench:conversations -->\nfirst\n<!-- /bench:conversations -->\n"));
        let twice = replace_section(&once, "conversations", "second");
        assert!(twice.contains("second") && !twice.contains("first"));
        assert!(twice.starts_with("# Benchmarks\n\ngateway figures"));
        assert!(sections(&twice).starts_with("<!-- bench:conversations -->"));
        assert_eq!(sections("no sections"), "");
    }
}
