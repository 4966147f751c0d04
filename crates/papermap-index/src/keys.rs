//! The mapping between caller keys (paper ids) and dense internal ids.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{IndexError, Result};

/// Caller keys by dense id, with tombstones (`None`) for removed entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyMap {
    by_key: HashMap<Arc<str>, u32>,
    by_id: Vec<Option<Arc<str>>>,
}

impl KeyMap {
    pub fn from_slots(slots: Vec<Option<String>>) -> std::result::Result<Self, String> {
        let mut map = KeyMap::default();
        for (id, key) in slots.into_iter().enumerate() {
            match key {
                Some(key) => {
                    let key: Arc<str> = key.into();
                    if map.by_key.insert(key.clone(), id as u32).is_some() {
                        return Err(format!("key {key:?} appears twice"));
                    }
                    map.by_id.push(Some(key));
                }
                None => map.by_id.push(None),
            }
        }
        Ok(map)
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Live keys plus tombstones: the number of dense ids handed out.
    pub fn slots(&self) -> usize {
        self.by_id.len()
    }

    pub fn tombstones(&self) -> usize {
        self.slots() - self.len()
    }

    /// Approximate heap bytes: both maps plus one shared allocation per key.
    pub fn memory_bytes(&self) -> usize {
        let text: usize = self.by_key.keys().map(|k| k.len() + 16).sum();
        self.by_key.capacity() * (16 + 4 + 4 + 1) + self.by_id.capacity() * 16 + text
    }

    pub fn id(&self, key: &str) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    /// The live key of `id`, `None` for a tombstone.
    #[inline]
    pub fn key(&self, id: u32) -> Option<&str> {
        self.by_id.get(id as usize).and_then(|k| k.as_deref())
    }

    pub fn slots_iter(&self) -> impl Iterator<Item = Option<&str>> {
        self.by_id.iter().map(|k| k.as_deref())
    }

    /// Errors unless every key is new and the batch has no repeats.
    pub fn check_new<K: AsRef<str>>(&self, keys: &[K]) -> Result<()> {
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        for key in keys {
            let key = key.as_ref();
            if self.by_key.contains_key(key) || !seen.insert(key) {
                return Err(IndexError::DuplicateKey { key: key.into() });
            }
        }
        if self.slots() + keys.len() > u32::MAX as usize {
            return Err(IndexError::InvalidParameter {
                name: "number of vectors",
                value: (self.slots() + keys.len()).to_string(),
                fix: "an index holds at most 2^32 - 1 vectors (including removed ones not yet compacted)",
            });
        }
        Ok(())
    }

    /// Appends a key the caller checked to be new; returns its id.
    pub fn push(&mut self, key: &str) -> u32 {
        let id = self.by_id.len() as u32;
        let key: Arc<str> = key.into();
        self.by_key.insert(key.clone(), id);
        self.by_id.push(Some(key));
        id
    }

    /// Turns the key's slot into a tombstone; returns the freed id.
    pub fn tombstone(&mut self, key: &str) -> Option<u32> {
        let id = self.by_key.remove(key)?;
        self.by_id[id as usize] = None;
        Some(id)
    }

    /// Removes the key by moving the last slot into its place (dense, tombstone-free maps).
    /// Returns `(removed id, id of the moved entry before the move)`.
    pub fn swap_remove(&mut self, key: &str) -> Option<(u32, u32)> {
        let id = self.by_key.remove(key)?;
        let last = (self.by_id.len() - 1) as u32;
        self.by_id.swap_remove(id as usize);
        if let Some(Some(moved)) = self.by_id.get(id as usize) {
            self.by_key.insert(moved.clone(), id);
        }
        Some((id, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstones_and_swap_remove_keep_both_directions_consistent() {
        let mut map = KeyMap::default();
        for k in ["a", "b", "c"] {
            map.push(k);
        }
        assert!(map.check_new(&["d", "a"]).is_err());
        assert!(map.check_new(&["d", "d"]).is_err());
        assert!(map.check_new(&["d", "e"]).is_ok());
        assert_eq!(map.swap_remove("a"), Some((0, 2)));
        assert_eq!(map.id("c"), Some(0));
        assert_eq!(map.key(0), Some("c"));
        assert_eq!(map.tombstone("b"), Some(1));
        assert_eq!((map.len(), map.slots(), map.tombstones()), (1, 2, 1));
        assert_eq!(map.key(1), None);
        assert_eq!(map.tombstone("b"), None);
        assert!(KeyMap::from_slots(vec![Some("x".into()), Some("x".into())]).is_err());
    }
}
