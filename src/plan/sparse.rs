//! Lean captures: a response read for a few fields (`.capture("id", "data.id")`,
//! the state field) is parsed into a JSON value holding only the branches those
//! paths can reach; every other key and array element is skipped by the parser
//! (still checked to be JSON) without being built. The paths then find the same
//! values in it as in the whole document, at a fraction of the allocations on
//! a large answer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::template::JsonPath;

/// The branches of a document some paths can reach.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// The whole subtree is needed (a path ends here).
    all: bool,
    /// Children by key, and by index when the key is a number (the same
    /// segment reads a key of an object or an element of an array).
    children: Vec<(String, Option<usize>, Needs)>,
}

impl Needs {
    /// What `paths` can reach: each alternative of each.
    pub fn of<'a>(paths: impl IntoIterator<Item = &'a JsonPath>) -> Needs {
        let mut root = Needs::default();
        for path in paths {
            for segments in path.alternatives() {
                let mut node = &mut root;
                for (key, index) in segments {
                    let at = match node.children.iter().position(|(k, ..)| k == key) {
                        Some(at) => at,
                        None => {
                            // `01` and `[1]` read the same element: keep all of it
                            // (an element is found by its first child only).
                            for (_, i, same) in &mut node.children {
                                if index.is_some() && *i == *index {
                                    same.all = true;
                                }
                            }
                            node.children.push((key.clone(), *index, Needs::default()));
                            node.children.len() - 1
                        }
                    };
                    node = &mut node.children[at].2;
                }
                node.all = true;
            }
        }
        root
    }

    /// Parses `body`, keeping only what is needed (all of it when the root is).
    pub fn parse(&self, body: &[u8]) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let value = Sparse(self).deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    fn key(&self, key: &str) -> Option<&Needs> {
        self.children
            .iter()
            .find(|(k, ..)| k == key)
            .map(|(.., n)| n)
    }

    fn index(&self, i: usize) -> Option<&Needs> {
        self.children
            .iter()
            .find(|(_, index, _)| *index == Some(i))
            .map(|(.., n)| n)
    }

    /// The last element index any child reads.
    fn last_index(&self) -> Option<usize> {
        self.children.iter().filter_map(|(_, i, _)| *i).max()
    }
}

/// Deserializes one value, keeping what its [`Needs`] say.
struct Sparse<'a>(&'a Needs);

impl<'de> DeserializeSeed<'de> for Sparse<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.all {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sparse<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(key)) = map.next_key()? {
            match self.0.key(&key) {
                Some(needs) => {
                    let value = map.next_value_seed(Sparse(needs))?;
                    out.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let last = self.0.last_index();
        let mut out = Vec::new();
        for i in 0.. {
            if last.is_none_or(|l| i > l) {
                // Nothing is needed from here on.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
            let element = match self.0.index(i) {
                Some(needs) => seq.next_element_seed(Sparse(needs))?,
                // A placeholder keeps the needed elements at their indexes.
                None => seq.next_element::<IgnoredAny>()?.map(|_| Value::Null),
            };
            match element {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "data": {"id": 42, "user": {"name": "a\"b", "roles": ["x", "y"]}, "big": [1, 2, 3]},
        "items": [{"id": "i0"}, {"id": "i1", "tags": {"k": 1}}, {"id": "i2"}],
        "esc\u0061ped": "yes",
        "status": "Pending",
        "list": [[0, 1], [2, 3]]
    }"#;

    #[test]
    fn paths_find_in_the_sparse_value_what_they_find_in_the_whole() {
        let whole: Value = serde_json::from_str(DOC).unwrap();
        let paths = [
            "data.id",
            "data.user.roles[1]",
            "items[1].id",
            "items[1].tags",
            "escaped",
            "missing|status",
            "list[1][0]",
            "data.nothing",
            "items[7].id",
            "items.01.tags",
        ];
        let parsed: Vec<JsonPath> = paths.iter().map(|p| JsonPath::parse(p).unwrap()).collect();
        let sparse = Needs::of(&parsed).parse(DOC.as_bytes()).unwrap();
        for p in &parsed {
            assert_eq!(p.find(&sparse), p.find(&whole), "{}", p.as_str());
        }
        // What no path reaches is not built.
        assert_eq!(sparse["data"].get("big"), None);
        assert_eq!(sparse["items"][0], Value::Null);
        // Placeholders up to the last index a path reads (items[7]), none after.
        assert_eq!(sparse["items"][2], Value::Null);
        assert_eq!(sparse["items"].as_array().unwrap().len(), 3, "{sparse}");
        assert_eq!(sparse["data"]["user"]["roles"].as_array().unwrap().len(), 2);
        assert_eq!(sparse.get("list").unwrap()[0], Value::Null);
    }

    #[test]
    fn bad_json_is_still_refused_and_the_root_path_keeps_everything() {
        let needs = Needs::of([&JsonPath::parse("id").unwrap()]);
        assert!(needs.parse(br#"{"id": 1, "x": [1, }"#).is_err());
        assert!(needs.parse(br#"{"id": 1} trailing"#).is_err());
        assert_eq!(needs.parse(b"[1, 2]").unwrap(), Value::Array(vec![]));
        assert_eq!(needs.parse(b"\"text\"").unwrap(), Value::from("text"));
    }
}
