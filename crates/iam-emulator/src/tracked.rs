//! [`Tracked`]: a `BTreeMap` that remembers what a mutation changed, and keeps a secondary index of its entries.
//!
//! Reads go through `Deref` to the map. Writes go through [`Tracked::insert`], [`Tracked::remove`] and
//! [`Tracked::get_mut`], which note each key touched with its value from before the first touch (the undo log).
//! The store writes exactly the touched keys to the state file, then [`Tracked::settle`]s; if the mutation or the
//! write fails it [`Tracked::roll_back`]s instead. Both cost O(keys touched), whatever the size of the map.
//!
//! An [`Index`] (e.g. the credentials of each user) is updated on every write and on roll back, so a lookup by
//! another field need not scan the map.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secondary index that a [`Tracked`] map keeps up to date.
pub trait Index<K, V>: Default {
    /// `value` is now stored under `key`.
    fn add(&mut self, key: &K, value: &V);
    /// `value` stored under `key` is taken out.
    fn remove(&mut self, key: &K, value: &V);
}

/// No secondary index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoIndex;

impl<K, V> Index<K, V> for NoIndex {
    fn add(&mut self, _: &K, _: &V) {}
    fn remove(&mut self, _: &K, _: &V) {}
}

pub struct Tracked<K, V, I = NoIndex> {
    map: BTreeMap<K, V>,
    /// Each key touched since the last settle or roll back, with its value before (`None`: it was absent).
    before: BTreeMap<K, Option<V>>,
    index: I,
}

impl<K: Ord + Clone, V: Clone, I: Index<K, V>> Tracked<K, V, I> {
    pub fn new() -> Self {
        Self::from(BTreeMap::new())
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.note(&key);
        if let Some(old) = self.map.get(&key) {
            self.index.remove(&key, old);
        }
        self.index.add(&key, &value);
        self.map.insert(key, value)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let (owned, value) = self.map.remove_entry(key)?;
        self.index.remove(&owned, &value);
        self.before
            .entry(owned)
            .or_insert_with(|| Some(value.clone()));
        Some(value)
    }

    fn note(&mut self, key: &K) {
        if !self.before.contains_key(key) {
            self.before.insert(key.clone(), self.map.get(key).cloned());
        }
    }

    /// The secondary index.
    pub fn index(&self) -> &I {
        &self.index
    }

    /// The keys touched since the last settle, each with its value now (`None`: removed).
    pub fn touched(&self) -> impl Iterator<Item = (&K, Option<&V>)> {
        self.before.keys().map(|k| (k, self.map.get(k)))
    }

    pub fn is_touched(&self) -> bool {
        !self.before.is_empty()
    }

    /// Keeps the changes: forgets the undo log.
    pub fn settle(&mut self) {
        self.before.clear();
    }

    /// Undoes every change since the last settle.
    pub fn roll_back(&mut self) {
        for (key, value) in std::mem::take(&mut self.before) {
            if let Some(now) = self.map.remove(&key) {
                self.index.remove(&key, &now);
            }
            if let Some(v) = value {
                self.index.add(&key, &v);
                self.map.insert(key, v);
            }
        }
    }
}

/// In-place edits only where no index could go stale under them.
impl<K: Ord + Clone, V: Clone> Tracked<K, V, NoIndex> {
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let owned = self.map.get_key_value(key)?.0.clone();
        self.note(&owned);
        self.map.get_mut(key)
    }
}

impl<K, V, I> Deref for Tracked<K, V, I> {
    type Target = BTreeMap<K, V>;

    fn deref(&self) -> &BTreeMap<K, V> {
        &self.map
    }
}

impl<K: Ord + Clone, V: Clone, I: Index<K, V>> Default for Tracked<K, V, I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, I: Index<K, V>> From<BTreeMap<K, V>> for Tracked<K, V, I> {
    fn from(map: BTreeMap<K, V>) -> Self {
        let mut index = I::default();
        for (k, v) in &map {
            index.add(k, v);
        }
        Self {
            map,
            before: BTreeMap::new(),
            index,
        }
    }
}

impl<K: Ord, V, I: Index<K, V>> FromIterator<(K, V)> for Tracked<K, V, I> {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Self::from(BTreeMap::from_iter(iter))
    }
}

/// A copy holds the entries and their index only: the undo log belongs to the mutation in progress on the
/// original.
impl<K: Clone, V: Clone, I: Clone> Clone for Tracked<K, V, I> {
    fn clone(&self) -> Self {
        Self {
            map: self.map.clone(),
            before: BTreeMap::new(),
            index: self.index.clone(),
        }
    }
}

impl<K: PartialEq, V: PartialEq, I> PartialEq for Tracked<K, V, I> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<K: Eq, V: Eq, I> Eq for Tracked<K, V, I> {}

impl<K: std::fmt::Debug, V: std::fmt::Debug, I> std::fmt::Debug for Tracked<K, V, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map.fmt(f)
    }
}

impl<K: Serialize, V: Serialize, I> Serialize for Tracked<K, V, I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map.serialize(s)
    }
}

impl<'de, K, V, I> Deserialize<'de> for Tracked<K, V, I>
where
    K: Ord + Deserialize<'de>,
    V: Deserialize<'de>,
    I: Index<K, V>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn map() -> Tracked<String, u32> {
        [("a".to_string(), 1), ("b".to_string(), 2)]
            .into_iter()
            .collect()
    }

    fn touched(t: &Tracked<String, u32>) -> Vec<(String, Option<u32>)> {
        t.touched().map(|(k, v)| (k.clone(), v.copied())).collect()
    }

    #[test]
    fn every_write_is_noted_once_with_the_value_before_it() {
        let mut t = map();
        t.insert("c".into(), 3);
        *t.get_mut("a").unwrap() = 10;
        *t.get_mut("a").unwrap() = 11;
        t.remove("b");
        t.insert("b".into(), 20);
        assert_eq!(t.get_mut("missing"), None);
        assert_eq!(t.remove("missing"), None);
        assert_eq!(
            touched(&t),
            [
                ("a".into(), Some(11)),
                ("b".into(), Some(20)),
                ("c".into(), Some(3))
            ]
        );
        assert_eq!(t.before.get("a"), Some(&Some(1)));
        assert_eq!(t.before.get("b"), Some(&Some(2)));
        assert_eq!(t.before.get("c"), Some(&None));
    }

    #[test]
    fn roll_back_restores_the_map_as_it_was() {
        let mut t = map();
        t.insert("c".into(), 3);
        *t.get_mut("a").unwrap() = 10;
        t.remove("b");
        t.roll_back();
        assert_eq!(t, map());
        assert!(!t.is_touched());
        // Nothing left to undo: a second roll back changes nothing.
        t.roll_back();
        assert_eq!(t, map());
    }

    #[test]
    fn settle_keeps_the_changes_and_starts_a_new_log() {
        let mut t = map();
        t.remove("a");
        t.settle();
        assert!(!t.is_touched());
        t.insert("a".into(), 5);
        t.roll_back();
        assert_eq!(t.get("a"), None, "only changes since the settle are undone");
        assert_eq!(t.get("b"), Some(&2));
    }

    #[test]
    fn clones_and_serde_see_the_entries_only() {
        let mut t = map();
        t.insert("c".into(), 3);
        let copy = t.clone();
        assert!(!copy.is_touched());
        assert_eq!(copy, t);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"a":1,"b":2,"c":3}"#);
        let back: Tracked<String, u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert!(!back.is_touched());
    }

    /// Keys by value: which keys hold each value.
    #[derive(Debug, Clone, Default, PartialEq)]
    struct ByValue(BTreeSet<(u32, String)>);

    impl Index<String, u32> for ByValue {
        fn add(&mut self, key: &String, value: &u32) {
            self.0.insert((*value, key.clone()));
        }
        fn remove(&mut self, key: &String, value: &u32) {
            self.0.remove(&(*value, key.clone()));
        }
    }

    fn indexed(t: &Tracked<String, u32, ByValue>) -> ByValue {
        ByValue(t.iter().map(|(k, v)| (*v, k.clone())).collect())
    }

    #[test]
    fn the_index_follows_writes_roll_backs_and_loads() {
        let mut t: Tracked<String, u32, ByValue> = [("a".to_string(), 1), ("b".to_string(), 2)]
            .into_iter()
            .collect();
        assert_eq!(*t.index(), indexed(&t));
        t.settle();
        t.insert("a".into(), 7);
        t.insert("c".into(), 2);
        t.remove("b");
        assert_eq!(*t.index(), indexed(&t));
        t.roll_back();
        assert_eq!(*t.index(), indexed(&t));
        assert_eq!(t.index().0.len(), 2);
        let back: Tracked<String, u32, ByValue> = serde_json::from_str(r#"{"x":5,"y":5}"#).unwrap();
        assert_eq!(*back.index(), indexed(&back));
        assert_eq!(*back.clone().index(), indexed(&back));
    }
}
