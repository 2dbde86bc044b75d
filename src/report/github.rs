//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice`
//! annotation per target (at the migration line that changes it, when it
//! comes from `--migration`) and per change not checked.

use std::io::{self, Write};

use super::json::to_doc;
use crate::inventory::{Inventory, Verdict};
use crate::migration::MigrationSite;

/// Escapes a message (`%`, CR, LF), as the runner expects.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (also `:` and `,`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

fn props(site: Option<&MigrationSite>, title: &str) -> String {
    match site {
        Some(s) => format!(
            "file={},line={},title={}",
            property(&s.file),
            s.line,
            property(title)
        ),
        None => format!("title={}", property(title)),
    }
}

/// Writes the annotations.
pub fn write(inv: &Inventory, out: &mut dyn Write) -> io::Result<()> {
    let doc = to_doc(inv);
    if let Some(notice) = super::literals_notice(doc.literals) {
        writeln!(
            out,
            "::warning title=pgcontract: literal values kept::{}",
            data(notice)
        )?;
    }
    for t in &doc.targets {
        let (cmd, word) = match t.verdict {
            Verdict::Blocked => ("error", "blocked"),
            Verdict::Inconclusive => ("warning", "inconclusive"),
            Verdict::Clear => ("notice", "clear"),
        };
        let title = format!("pgcontract: {} is {word}", t.column);
        let msg = data(&format!("{} is {word}: {}", t.column, t.reason));
        if t.migration.is_empty() {
            writeln!(out, "::{cmd} {}::{msg}", props(None, &title))?;
        }
        for site in &t.migration {
            writeln!(out, "::{cmd} {}::{msg}", props(Some(site), &title))?;
        }
    }
    for u in &doc.unchecked {
        let title = format!("pgcontract: {} not checked", u.object);
        let msg = data(&format!(
            "{} {} is not checked: {}",
            u.site.change, u.object, u.reason
        ));
        writeln!(out, "::warning {}::{msg}", props(Some(&u.site), &title))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_values_are_escaped() {
        assert_eq!(data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
