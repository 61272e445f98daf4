//! A fast hash for the instrument's index and the walk's sets and maps.
//! Every engine step rebuilds the walk (a few hundred item paths) and looks
//! each variable of each condition up in the index, and std's SipHash, built
//! to resist flooding by hostile keys, was a sixth of the step. Keys here are
//! the instrument's own ids and item paths, so a multiply-rotate hash (as
//! rustc's FxHash) is enough.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A set keyed by the fast hash.
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;
/// A map keyed by the fast hash.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiply-rotate over 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interview::ItemPath;
    use std::hash::BuildHasher;

    #[test]
    fn equal_paths_hash_alike_and_neighbours_differ() {
        let b = BuildHasherDefault::<FastHasher>::default();
        let p = |s: &str| ItemPath::parse(s).expect("a path");
        assert_eq!(
            b.hash_one(p("members[2].age")),
            b.hash_one(p("members[2].age"))
        );
        let hashes: FastSet<u64> = [
            "members[1].age",
            "members[2].age",
            "members[1].sex",
            "age",
            "ag",
        ]
        .iter()
        .map(|s| b.hash_one(p(s)))
        .collect();
        assert_eq!(hashes.len(), 5);
    }
}
