//! `{name}` templates and JSON paths, parsed once when the plan is compiled
//! so the hot path only looks variables up and copies bytes.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// Where template variables come from at run time.
pub trait Lookup {
    /// The value of variable `name`, if it is set.
    fn lookup(&self, name: &str) -> Option<&Value>;
}

/// A string with `{name}` placeholders (`{{` and `}}` are literal braces).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Var(Arc<str>),
}

/// A placeholder whose variable was not set when the template was rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("variable `{0}` is not set (not captured yet, not a payload field)")]
pub struct MissingVar(pub Arc<str>);

impl Template {
    /// Parses `text`; fails on an unclosed `{` or an empty or malformed name.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed `{{` at byte {i} in {text:?}"))?;
                    let name = rest[..end].trim();
                    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        return Err(format!(
                            "bad placeholder `{{{}}}` in {text:?}: use letters, digits and _ (write {{{{ for a literal brace)",
                            &rest[..end]
                        ));
                    }
                    for _ in 0..=end {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(name.into()));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The variables the template uses.
    pub fn vars(&self) -> impl Iterator<Item = &Arc<str>> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Literal(_) => None,
        })
    }

    /// If the template is exactly one placeholder, its variable (its JSON value is inserted as is).
    fn single_var(&self) -> Option<&Arc<str>> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// Appends the rendered text to `out`; strings are inserted without quotes.
    pub fn render_into(&self, vars: &impl Lookup, out: &mut String) -> Result<(), MissingVar> {
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(name) => match vars.lookup(name) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
                    None => return Err(MissingVar(name.clone())),
                },
            }
        }
        Ok(())
    }

    /// The rendered text, borrowed from the template when it has no
    /// placeholder (most paths: nothing to copy per request).
    pub fn render(&self, vars: &impl Lookup) -> Result<Cow<'_, str>, MissingVar> {
        match &self.parts[..] {
            [] => Ok(Cow::Borrowed("")),
            [Part::Literal(s)] => Ok(Cow::Borrowed(s)),
            _ => {
                let mut out = String::new();
                self.render_into(vars, &mut out)?;
                Ok(Cow::Owned(out))
            }
        }
    }
}

impl std::fmt::Display for Template {
    /// The template as written, placeholders in braces.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(s) => write!(f, "{}", s.replace('{', "{{").replace('}', "}}"))?,
                Part::Var(v) => write!(f, "{{{v}}}")?,
            }
        }
        Ok(())
    }
}

/// A JSON body whose strings may hold placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// A subtree with no placeholders, copied as is.
    Fixed(Value),
    /// A string with placeholders; a lone `{name}` inserts the variable's JSON value.
    Text(Template),
    /// An array with at least one placeholder inside.
    Array(Vec<JsonTemplate>),
    /// An object with at least one placeholder inside.
    Object(Vec<(String, JsonTemplate)>),
}

impl fmt::Display for JsonTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonTemplate::Fixed(v) => write!(f, "{v}"),
            JsonTemplate::Text(t) => write!(f, "\"{t}\""),
            JsonTemplate::Array(items) => {
                let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            JsonTemplate::Object(fields) => {
                let fields: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
                write!(f, "{{{}}}", fields.join(", "))
            }
        }
    }
}

impl JsonTemplate {
    /// Parses every string of `value` as a template.
    pub fn parse(value: &Value) -> Result<JsonTemplate, String> {
        let t = match value {
            Value::String(s) => {
                let t = Template::parse(s)?;
                if t.vars().next().is_none() {
                    JsonTemplate::Fixed(Value::String(
                        t.render(&NoVars).expect("no vars").into_owned(),
                    ))
                } else {
                    JsonTemplate::Text(t)
                }
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .map(JsonTemplate::parse)
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|i| matches!(i, JsonTemplate::Fixed(_))) {
                    JsonTemplate::Fixed(value.clone())
                } else {
                    JsonTemplate::Array(items)
                }
            }
            Value::Object(map) => {
                let fields = map
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::parse(v)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                if fields
                    .iter()
                    .all(|(_, f)| matches!(f, JsonTemplate::Fixed(_)))
                {
                    JsonTemplate::Fixed(value.clone())
                } else {
                    JsonTemplate::Object(fields)
                }
            }
            other => JsonTemplate::Fixed(other.clone()),
        };
        Ok(t)
    }

    /// The variables used anywhere in the body.
    pub fn vars(&self) -> Vec<&Arc<str>> {
        match self {
            JsonTemplate::Fixed(_) => Vec::new(),
            JsonTemplate::Text(t) => t.vars().collect(),
            JsonTemplate::Array(items) => items.iter().flat_map(JsonTemplate::vars).collect(),
            JsonTemplate::Object(fields) => fields.iter().flat_map(|(_, f)| f.vars()).collect(),
        }
    }

    /// The rendered JSON value.
    pub fn render(&self, vars: &impl Lookup) -> Result<Value, MissingVar> {
        Ok(match self {
            JsonTemplate::Fixed(v) => v.clone(),
            JsonTemplate::Text(t) => match t.single_var() {
                Some(name) => vars
                    .lookup(name)
                    .cloned()
                    .ok_or_else(|| MissingVar(name.clone()))?,
                None => Value::String(t.render(vars)?.into_owned()),
            },
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(vars))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, f)| Ok((k.clone(), f.render(vars)?)))
                    .collect::<Result<_, MissingVar>>()?,
            ),
        })
    }

    /// Writes the rendered JSON straight to `out`, the bytes `render` then
    /// `serde_json::to_vec` would give, without the value in between.
    pub fn write(&self, vars: &impl Lookup, out: &mut Vec<u8>) -> Result<(), MissingVar> {
        match self {
            JsonTemplate::Fixed(v) => json(out, v),
            JsonTemplate::Text(t) => match t.single_var() {
                Some(name) => json(
                    out,
                    vars.lookup(name).ok_or_else(|| MissingVar(name.clone()))?,
                ),
                None => json(out, &t.render(vars)?),
            },
            JsonTemplate::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(vars, out)?;
                }
                out.push(b']');
            }
            JsonTemplate::Object(fields) => {
                out.push(b'{');
                for (i, (k, f)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json(out, k);
                    out.push(b':');
                    f.write(vars, out)?;
                }
                out.push(b'}');
            }
        }
        Ok(())
    }
}

/// Appends `v` as JSON.
fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    serde_json::to_writer(out, v).expect("JSON values and strings serialize");
}

struct NoVars;

impl Lookup for NoVars {
    fn lookup(&self, _: &str) -> Option<&Value> {
        None
    }
}

/// A path into a JSON document: `status`, `$.data.id`, `items[0].id`, `items.0.id`,
/// or `$` for the whole document; `accessToken | access_token` tries each
/// alternative in turn (one script for camelCase and snake_case services).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    /// Each alternative's segments: a key, and the key as an index when it is a number.
    alternatives: Vec<Vec<(String, Option<usize>)>>,
}

impl JsonPath {
    /// Parses a path; fails on empty segments.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let alternatives = text
            .split('|')
            .map(|alt| segments(alt, text))
            .collect::<Result<_, _>>()?;
        Ok(JsonPath {
            text: text.to_owned(),
            alternatives,
        })
    }

    /// The value at the first alternative that has one.
    pub fn find<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.alternatives.iter().find_map(|segments| {
            let mut value = value;
            for (key, index) in segments {
                value = match value {
                    Value::Object(map) => map.get(key)?,
                    Value::Array(items) => items.get((*index)?)?,
                    _ => return None,
                };
            }
            Some(value)
        })
    }

    /// Each alternative's segments: a key, and the key as an index when it is a number.
    pub fn alternatives(&self) -> &[Vec<(String, Option<usize>)>] {
        &self.alternatives
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// One alternative of a path (`whole` is the path as written, for errors).
fn segments(alt: &str, whole: &str) -> Result<Vec<(String, Option<usize>)>, String> {
    let body = alt.trim().trim_start_matches('$').trim_start_matches('.');
    let mut segments = Vec::new();
    for raw in body.split('.').filter(|_| !body.is_empty()) {
        let (key, indexes) = match raw.find('[') {
            Some(i) => (&raw[..i], &raw[i..]),
            None => (raw, ""),
        };
        if !key.is_empty() {
            segments.push((key.to_owned(), key.parse().ok()));
        } else if indexes.is_empty() {
            return Err(format!("empty segment in JSON path {whole:?}"));
        }
        for idx in indexes.split('[').skip(1) {
            let n = idx
                .strip_suffix(']')
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| format!("bad index `[{idx}` in JSON path {whole:?}"))?;
            segments.push((n.to_string(), Some(n)));
        }
    }
    if segments.is_empty() && alt.trim() != "$" {
        return Err(format!(
            "empty JSON path {whole:?} (use `$` for the whole response)"
        ));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Vars(Vec<(&'static str, Value)>);
    impl Lookup for Vars {
        fn lookup(&self, name: &str) -> Option<&Value> {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
        }
    }

    #[test]
    fn placeholders_are_replaced_and_braces_escaped() {
        let t = Template::parse("/orders/{orderId}?x={{y}}").unwrap();
        let vars = Vars(vec![("orderId", json!("ord-7"))]);
        assert_eq!(t.render(&vars).unwrap(), "/orders/ord-7?x={y}");
    }

    #[test]
    fn a_body_written_straight_to_bytes_is_what_render_then_serialize_gives() {
        let vars = Vars(vec![
            ("id", json!(42)),
            ("name", json!("a \"quoted\" é")),
            ("tags", json!(["x", {"y": null}])),
        ]);
        for body in [
            json!({ "id": "{id}", "label": "n-{id}", "who": "{name}", "fixed": [1, 2.5, true] }),
            json!(["{tags}", { "z": "{id}", "a": { "b": "{name}" } }, "plain"]),
            json!("{name}"),
            json!({}),
        ] {
            let t = JsonTemplate::parse(&body).unwrap();
            let mut written = Vec::new();
            t.write(&vars, &mut written).unwrap();
            let rendered = serde_json::to_vec(&t.render(&vars).unwrap()).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(rendered).unwrap()
            );
        }
        let t = JsonTemplate::parse(&json!({ "x": ["{nope}"] })).unwrap();
        assert_eq!(
            t.write(&vars, &mut Vec::new()),
            Err(MissingVar("nope".into()))
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let t = Template::parse("{nope}").unwrap();
        assert_eq!(
            t.render(&Vars(vec![])).unwrap_err(),
            MissingVar("nope".into())
        );
    }

    #[test]
    fn unclosed_or_empty_placeholders_are_refused() {
        assert!(Template::parse("/x/{id").is_err());
        assert!(Template::parse("/x/{}").is_err());
        assert!(Template::parse("/x/{a b}").is_err());
    }

    #[test]
    fn a_lone_placeholder_in_json_keeps_the_value_type() {
        let t = JsonTemplate::parse(
            &json!({"orderId": "{orderId}", "n": "{n}", "note": "n={n}", "k": [1, "x"]}),
        )
        .unwrap();
        let vars = Vars(vec![("orderId", json!("a")), ("n", json!(5))]);
        assert_eq!(
            t.render(&vars).unwrap(),
            json!({"orderId": "a", "n": 5, "note": "n=5", "k": [1, "x"]})
        );
    }

    #[test]
    fn json_paths_find_nested_fields_and_indexes() {
        let doc = json!({"data": {"items": [{"id": 1}, {"id": 2}]}, "status": "Accepted"});
        assert_eq!(
            JsonPath::parse("status").unwrap().find(&doc),
            Some(&json!("Accepted"))
        );
        assert_eq!(
            JsonPath::parse("$.data.items[1].id").unwrap().find(&doc),
            Some(&json!(2))
        );
        assert_eq!(
            JsonPath::parse("data.items.0.id").unwrap().find(&doc),
            Some(&json!(1))
        );
        assert_eq!(JsonPath::parse("data.missing").unwrap().find(&doc), None);
        let either = JsonPath::parse("data.accessToken | status").unwrap();
        assert_eq!(either.find(&doc), Some(&json!("Accepted")));
        assert!(JsonPath::parse("status | ").is_err());
        assert!(JsonPath::parse("a..b").is_err());
        assert!(JsonPath::parse("").is_err());
        assert_eq!(JsonPath::parse("$").unwrap().find(&doc), Some(&doc));
    }
}
