//! Reports: the same inventory rendered as JSON (the documented contract),
//! Markdown (for pull requests) or plain text (for terminals), each written
//! to an injected writer.

pub mod json;
pub mod markdown;
pub mod text;

use std::io::{self, Write};

use crate::inventory::Inventory;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The JSON inventory (`docs/inventory-format.md`).
    Json,
    /// Markdown for a PR comment.
    Markdown,
    /// Plain text.
    Text,
}

/// Writes `inv` in `format` to `out`.
pub fn write(inv: &Inventory, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        OutputFormat::Json => json::write(inv, out),
        OutputFormat::Markdown => markdown::write(inv, out),
        OutputFormat::Text => text::write(inv, out),
    }
}
