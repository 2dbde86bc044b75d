//! Reading pg_query's JSON parse tree: absent-tolerant accessors for fields,
//! lists, strings and the `{"node": {"Kind": {…}}}` wrapping, shared by the
//! resolver and the schema, routine and migration readers.

use serde_json::Value;

pub(crate) static NULL: Value = Value::Null;

/// A field, or `null` when absent.
pub(crate) fn field<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.get(name).unwrap_or(&NULL)
}

/// A list field, or empty when absent.
pub(crate) fn list<'v>(v: &'v Value, name: &str) -> &'v [Value] {
    match v.get(name) {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// A string field, or `""` when absent.
pub(crate) fn text<'v>(v: &'v Value, name: &str) -> &'v str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

/// An integer field (enums, flags), or 0 when absent (protobuf's default).
pub(crate) fn int(v: &Value, name: &str) -> i64 {
    v.get(name).and_then(Value::as_i64).unwrap_or(0)
}

/// A boolean field, or false when absent.
pub(crate) fn flag(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// Unwraps `{"node": {"Kind": {...}}}` into `("Kind", {...})`.
pub(crate) fn node(v: &Value) -> Option<(&str, &Value)> {
    let inner = v.get("node")?.as_object()?;
    let (k, val) = inner.iter().next()?;
    Some((k.as_str(), val))
}

/// The text of a `String` node.
pub(crate) fn string_node(v: &Value) -> Option<&str> {
    match node(v)? {
        ("String", s) => s.get("sval").and_then(Value::as_str),
        _ => None,
    }
}

/// The texts of a list of `String` nodes (qualified names, column lists).
pub(crate) fn names(v: &[Value]) -> Vec<String> {
    v.iter()
        .filter_map(string_node)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_fields_read_as_defaults() {
        let v = json!({"a": "x", "n": 3, "b": true, "l": [{"node": {"String": {"sval": "s"}}}, {"node": {"Integer": {}}}]});
        assert_eq!(text(&v, "a"), "x");
        assert_eq!(text(&v, "zz"), "");
        assert_eq!(int(&v, "n"), 3);
        assert_eq!(int(&v, "zz"), 0);
        assert!(flag(&v, "b") && !flag(&v, "zz"));
        assert!(field(&v, "zz").is_null());
        assert_eq!(list(&v, "l").len(), 2);
        assert!(list(&v, "a").is_empty());
        assert_eq!(names(list(&v, "l")), ["s"]);
        assert_eq!(node(&list(&v, "l")[1]).map(|(k, _)| k), Some("Integer"));
    }
}
