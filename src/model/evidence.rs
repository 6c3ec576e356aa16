//! A finding's evidence: the values its verdict was based on, as `key: JSON value` pairs in the order the
//! check gave them.
//!
//! Compact on purpose (issue 26): a merge may hold a million findings, and a general map cost about 160 bytes
//! of index and entries per finding on top of its values. Here the pairs are one exact-size vector and the
//! keys are shared: every finding of a check names the same few keys, so each distinct key is allocated once
//! per process (see [`Key::new`]). A finding has a handful of pairs, so a look-up is a short scan.

use std::sync::{Arc, Mutex, OnceLock};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// An evidence key, shared between the findings that use it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(Arc<str>);

/// How many distinct keys are shared. The checks use a few dozen; a report file read back could name any
/// number (a hostile or corrupt one), and each key past this bound is simply allocated per finding, so
/// memory never grows with what a file says beyond its own findings.
const SHARED_KEYS: usize = 1024;
/// Longer keys are not shared (no check writes one).
const SHARED_KEY_LEN: usize = 64;

impl Key {
    /// The shared key named `name` (allocated the first time a process sees it, up to a bound).
    pub fn new(name: &str) -> Self {
        static SHARED: OnceLock<Mutex<std::collections::HashSet<Arc<str>>>> = OnceLock::new();
        if name.len() > SHARED_KEY_LEN {
            return Self(Arc::from(name));
        }
        let shared = SHARED.get_or_init(Default::default);
        // A poisoned lock only means another thread panicked while inserting: the set is still valid.
        let mut set = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(k) = set.get(name) {
            return Self(Arc::clone(k));
        }
        let k: Arc<str> = Arc::from(name);
        if set.len() < SHARED_KEYS {
            set.insert(Arc::clone(&k));
        }
        Self(k)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Key {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for Key {
    fn from(name: String) -> Self {
        Self::new(&name)
    }
}

impl From<&String> for Key {
    fn from(name: &String) -> Self {
        Self::new(name)
    }
}

impl From<&Key> for Key {
    fn from(key: &Key) -> Self {
        key.clone()
    }
}

/// The evidence of one finding: unique keys in the order they were first given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence(Vec<(Key, Value)>);

impl Evidence {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`: in its place when the key is there already (as a map that keeps insertion
    /// order does), last otherwise. Returns the value replaced.
    pub fn insert(&mut self, key: &str, value: Value) -> Option<Value> {
        match self.0.iter_mut().find(|(k, _)| k.as_str() == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((Key::new(key), value));
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Drops the spare room a vector grown pair by pair keeps.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl<'a> IntoIterator for &'a Evidence {
    type Item = (&'a Key, &'a Value);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Key, Value)>, fn(&'a (Key, Value)) -> (&'a Key, &'a Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for Evidence {
    type Output = Value;

    /// The value of `key`, or JSON `null` when there is none (as `serde_json::Value` indexes).
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl<K: AsRef<str>> FromIterator<(K, Value)> for Evidence {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(pairs: I) -> Self {
        let mut e = Self::new();
        for (k, v) in pairs {
            e.insert(k.as_ref(), v);
        }
        e.shrink_to_fit();
        e
    }
}

/// Written as a JSON object, keys in their order.
impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k.as_str(), v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_first_place_and_are_shared_and_it_writes_as_an_object() {
        let mut e = Evidence::new();
        assert_eq!(e.insert("b", Value::from(1)), None);
        assert_eq!(e.insert("a", Value::from("x")), None);
        assert_eq!(e.insert("b", Value::from(2)), Some(Value::from(1)));
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"b":2,"a":"x"}"#);
        assert_eq!((e.len(), e.get("a"), e.contains_key("c")), (2, Some(&Value::from("x")), false));
        assert_eq!(e["c"], Value::Null);
        // The same key given twice, by two findings, is one allocation.
        let (k1, k2) = (Key::new("key_state"), Key::new(&String::from("key_state")));
        assert!(Arc::ptr_eq(&k1.0, &k2.0));
        // A key longer than the shared bound is still a key, just not shared.
        let long = "k".repeat(SHARED_KEY_LEN + 1);
        let (l1, l2) = (Key::new(&long), Key::new(&long));
        assert!(l1 == l2 && !Arc::ptr_eq(&l1.0, &l2.0));
    }
}
