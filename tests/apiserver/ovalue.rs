//! JSON with object keys in document order, for comparing with the recorded answers.

use super::*;

/// JSON with object keys in document order (the transcripts keep the server's key order).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<OValue>),
    Object(Vec<(String, OValue)>),
}

impl<'de> Deserialize<'de> for OValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<OValue, E> {
                Ok(OValue::Null)
            }
            fn visit_none<E>(self) -> Result<OValue, E> {
                Ok(OValue::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<OValue, E> {
                Ok(OValue::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<OValue, E> {
                Ok(OValue::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<OValue, E> {
                Ok(OValue::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<OValue, E> {
                serde_json::Number::from_f64(n)
                    .map(OValue::Number)
                    .ok_or_else(|| E::custom("non-finite"))
            }
            fn visit_str<E>(self, s: &str) -> Result<OValue, E> {
                Ok(OValue::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<OValue, E> {
                Ok(OValue::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<OValue, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(OValue::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<OValue, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, OValue>()? {
                    v.push((k, x));
                }
                Ok(OValue::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl OValue {
    pub(crate) fn parse(s: &str) -> OValue {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("invalid JSON ({e}): {s}"))
    }
    pub(crate) fn get(&self, k: &str) -> Option<&OValue> {
        match self {
            OValue::Object(m) => m.iter().find(|(key, _)| key == k).map(|(_, v)| v),
            _ => None,
        }
    }
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            OValue::String(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn to_json(&self) -> Value {
        match self {
            OValue::Null => Value::Null,
            OValue::Bool(b) => Value::Bool(*b),
            OValue::Number(n) => Value::Number(n.clone()),
            OValue::String(s) => Value::String(s.clone()),
            OValue::Array(a) => Value::Array(a.iter().map(OValue::to_json).collect()),
            OValue::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
    /// Every string under key `key`, anywhere.
    pub(crate) fn strings_at(&self, key: &str, out: &mut Vec<String>) {
        match self {
            OValue::Object(m) => {
                for (k, v) in m {
                    if k == key
                        && let OValue::String(s) = v
                    {
                        out.push(s.clone());
                    }
                    v.strings_at(key, out);
                }
            }
            OValue::Array(a) => a.iter().for_each(|v| v.strings_at(key, out)),
            _ => {}
        }
    }
}
