//! SARIF 2.1.0 output for code scanning: one result per target that is not
//! clear, located at the migration line that changes the column (when the
//! target comes from `--migration`), and one per change not checked.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::json::{to_doc, InventoryDoc};
use crate::inventory::{Inventory, Verdict};
use crate::migration::MigrationSite;

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";

fn location(site: &MigrationSite) -> Value {
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": site.file.replace('\\', "/") },
            "region": { "startLine": site.line }
        }
    })
}

fn rule(id: &str, text: &str, level: &str) -> Value {
    json!({
        "id": id,
        "name": id,
        "shortDescription": { "text": text },
        "defaultConfiguration": { "level": level },
        "helpUri": "https://github.com/pgcontract/pgcontract#exit-codes"
    })
}

/// The SARIF log as a JSON value.
pub fn to_sarif(doc: &InventoryDoc) -> Value {
    let mut results = Vec::new();
    for t in &doc.targets {
        let (rule_id, level) = match t.verdict {
            Verdict::Clear => continue,
            Verdict::Blocked => ("blocked", "error"),
            Verdict::Inconclusive => ("inconclusive", "warning"),
        };
        let changes: Vec<String> = t.migration.iter().map(|m| m.change.clone()).collect();
        let what = if changes.is_empty() {
            String::new()
        } else {
            format!(" ({})", changes.join(", "))
        };
        results.push(json!({
            "ruleId": rule_id,
            "level": level,
            "message": {
                "text": format!("{}{what} is {rule_id}: {}", t.column, t.reason)
            },
            "locations": t.migration.iter().map(location).collect::<Vec<_>>(),
            "partialFingerprints": { "pgcontractTarget/v1": t.column },
            "properties": {
                "column": t.column,
                "verdict": rule_id,
                "reasons": t.reasons,
                "dependencies": t.dependencies,
                "calls": t.calls
            }
        }));
    }
    for u in &doc.unchecked {
        results.push(json!({
            "ruleId": "not-checked",
            "level": "warning",
            "message": {
                "text": format!("{} {} is not checked: {}", u.site.change, u.object, u.reason)
            },
            "locations": [location(&u.site)],
            "partialFingerprints": { "pgcontractTarget/v1": u.object }
        }));
    }
    let mut run = json!({
            "tool": {
                "driver": {
                    "name": "pgcontract",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": [
                        rule("blocked", "A column the change removes is still read or written", "error"),
                        rule("inconclusive", "The logs cannot show that nothing uses the column", "warning"),
                        rule("not-checked", "A destructive change pgcontract cannot turn into columns", "warning")
                    ]
                }
            },
            "results": results
    });
    if let (Some(notice), Some(run)) = (super::literals_notice(doc.literals), run.as_object_mut()) {
        run.insert(
            "properties".into(),
            json!({ "literals": doc.literals, "notice": notice }),
        );
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": SARIF_VERSION,
        "runs": [run]
    })
}

/// Writes the SARIF log (pretty JSON, trailing newline).
pub fn write(inv: &Inventory, out: &mut dyn Write) -> io::Result<()> {
    let v = to_sarif(&to_doc(inv));
    serde_json::to_writer_pretty(&mut *out, &v).map_err(io::Error::other)?;
    writeln!(out)
}
