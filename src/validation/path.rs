//! Property paths in error messages (`context.contextActivities.parent[0].id`): a
//! borrowed, allocation-free path for the rule walkers, owned segments for the parser, and
//! the conversion from the JSON pointers that `jsonschema` reports.

use std::fmt::Write;

use serde_json::Value;

use super::ValidationError;

/// One step of an owned path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path built on the stack while walking a document; rendered only when an error is made.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    pub fn error(&self, rule: impl Into<String>) -> ValidationError {
        ValidationError::new(self.render(), rule)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.write(out);
                push_key(out, key);
            }
            Path::Index(parent, index) => {
                parent.write(out);
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

/// Renders owned segments the same way as [`Path`].
pub fn render_segments(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => push_key(&mut out, key),
            Segment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out
}

/// `.name` for plain property names and language tags; `["http://…"]` for keys that
/// would be ambiguous after a dot (extension IRIs).
fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&Value::String(key.to_owned()).to_string());
        out.push(']');
    }
}

/// Converts a JSON pointer into a dotted path, reading `root` to tell array indexes from
/// object keys that happen to be digits.
pub fn from_pointer(root: &Value, pointer: &str) -> String {
    let mut segments = Vec::new();
    let mut node = Some(root);
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        match node {
            Some(Value::Array(items)) => match token.parse::<usize>() {
                Ok(index) => {
                    node = items.get(index);
                    segments.push(Segment::Index(index));
                }
                Err(_) => {
                    node = None;
                    segments.push(Segment::Key(token));
                }
            },
            Some(Value::Object(map)) => {
                node = map.get(&token);
                segments.push(Segment::Key(token));
            }
            _ => segments.push(Segment::Key(token)),
        }
    }
    render_segments(&segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_keys_indexes_and_awkward_keys() {
        let root = Path::Root;
        let context = root.key("context");
        let parent = context.key("parent");
        let first = parent.index(0);
        assert_eq!(first.key("id").render(), "context.parent[0].id");
        assert_eq!(root.index(2).key("actor").render(), "[2].actor");
        assert_eq!(root.key("extensions").key("http://e.com/a.b").render(), r#"extensions["http://e.com/a.b"]"#);
        assert_eq!(Path::Root.render(), "");
    }

    #[test]
    fn converts_json_pointers_using_the_document() {
        let doc = json!({"a": [{"0": {"b~/c": 1}}]});
        assert_eq!(from_pointer(&doc, "/a/0/0/b~0~1c"), r#"a[0].0["b~/c"]"#);
        assert_eq!(from_pointer(&doc, ""), "");
        assert_eq!(from_pointer(&json!([{"x": 1}]), "/0/x"), "[0].x");
    }
}
