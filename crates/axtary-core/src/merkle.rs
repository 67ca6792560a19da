//! RFC 6962 / RFC 9162 Merkle trees: hashes, inclusion and consistency proofs.
//!
//! The ledger stores the hash of every *full* subtree (a subtree of 2^level leaves starting at a
//! multiple of 2^level); each append adds on average two such nodes. Any other subtree hash, a
//! tree root, and both kinds of proof are computed from those in O(log n) lookups
//! ([`TreeHashes`]). Verification ([`verify_inclusion`], [`verify_consistency`]) follows
//! RFC 9162 §2.1.3.2 and §2.1.4.2 and needs nothing but the proof.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Read access to stored full-subtree hashes.
pub trait TreeHashes {
    type Error;
    /// The hash of the full subtree of `2^level` leaves starting at leaf `index << level`.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The full-subtree nodes to store when leaf number `n` (0-based) with hash `leaf` is appended,
/// given read access to the nodes already stored. Returns `(level, index, hash)` triples.
pub fn nodes_for_append<T: TreeHashes>(
    tree: &T,
    n: u64,
    leaf: Hash,
) -> Result<Vec<(u32, u64, Hash)>, T::Error> {
    let mut out = vec![(0, n, leaf)];
    let (mut level, mut index, mut hash) = (0u32, n, leaf);
    while index & 1 == 1 {
        let left = match out.iter().find(|(l, i, _)| *l == level && *i == index - 1) {
            Some((_, _, h)) => *h,
            None => tree.node(level, index - 1)?,
        };
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        out.push((level, index, hash));
    }
    Ok(out)
}

/// Largest power of two strictly less than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `[start, end)` (`end > start`).
pub fn subtree_hash<T: TreeHashes>(tree: &T, start: u64, end: u64) -> Result<Hash, T::Error> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return tree.node(n.trailing_zeros(), start / n);
    }
    let k = split_point(n);
    let left = subtree_hash(tree, start, start + k)?;
    let right = subtree_hash(tree, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<T: TreeHashes>(tree: &T, size: u64) -> Result<Hash, T::Error> {
    if size == 0 {
        Ok(empty_root())
    } else {
        subtree_hash(tree, 0, size)
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 PATH).
pub fn inclusion_proof<T: TreeHashes>(
    tree: &T,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, T::Error> {
    fn path<T: TreeHashes>(
        tree: &T,
        m: u64,
        start: u64,
        end: u64,
        out: &mut Vec<Hash>,
    ) -> Result<(), T::Error> {
        let n = end - start;
        if n <= 1 {
            return Ok(());
        }
        let k = split_point(n);
        if m < k {
            path(tree, m, start, start + k, out)?;
            out.push(subtree_hash(tree, start + k, end)?);
        } else {
            path(tree, m - k, start + k, end, out)?;
            out.push(subtree_hash(tree, start, start + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    if index < size {
        path(tree, index, 0, size, &mut out)?;
    }
    Ok(out)
}

/// The consistency proof between the trees of `old` and `new` leaves (RFC 6962 PROOF).
pub fn consistency_proof<T: TreeHashes>(
    tree: &T,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, T::Error> {
    fn sub<T: TreeHashes>(
        tree: &T,
        m: u64,
        start: u64,
        end: u64,
        whole: bool,
        out: &mut Vec<Hash>,
    ) -> Result<(), T::Error> {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(subtree_hash(tree, start, end)?);
            }
            return Ok(());
        }
        let k = split_point(n);
        if m <= k {
            sub(tree, m, start, start + k, whole, out)?;
            out.push(subtree_hash(tree, start + k, end)?);
        } else {
            sub(tree, m - k, start + k, end, false, out)?;
            out.push(subtree_hash(tree, start, start + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    if 0 < old && old < new {
        sub(tree, old, 0, new, true, &mut out)?;
    }
    Ok(out)
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// Checks that the tree of `new` leaves with root `new_root` extends the tree of `old` leaves
/// with root `old_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        // Every tree extends the empty tree.
        return proof.is_empty() && *old_root == empty_root();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

/// Full-subtree hashes held in memory: for verifying exported bundles and for tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of full subtree `i` at level `l`.
    levels: Vec<Vec<Hash>>,
    size: u64,
}

/// A node that a [`MemoryTree`] does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash, storing the full subtrees it completes. No allocation beyond
    /// the growth of the level vectors: this is the inner loop of ledger verification.
    pub fn push(&mut self, leaf: Hash) {
        let (mut level, mut index, mut hash) = (0usize, self.size, leaf);
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            // INVARIANT: row.len() == index: every full subtree left of this one is stored.
            row.push(hash);
            if index & 1 == 0 {
                break;
            }
            let Some(left) = usize::try_from(index - 1).ok().and_then(|i| row.get(i)) else {
                return;
            };
            hash = node_hash(left, &hash);
            level += 1;
            index >>= 1;
        }
        self.size += 1;
    }

    pub fn root(&self) -> Hash {
        root(self, self.size).unwrap_or_else(|_| empty_root())
    }
}

impl TreeHashes for MemoryTree {
    type Error = MissingNode;

    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|row| row.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 6962 MTH, written straight from the definition.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    /// The leaves and roots of the Certificate Transparency reference test vectors.
    #[test]
    fn certificate_transparency_vectors() {
        let leaves: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut tree = MemoryTree::new();
        assert_eq!(
            hex(&tree.root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for (leaf, expected) in leaves.iter().zip(roots) {
            tree.push(leaf_hash(leaf));
            assert_eq!(hex(&tree.root()), expected, "size {}", tree.size());
        }
    }

    #[test]
    fn every_proof_verifies_and_every_tamper_fails() {
        let leaves: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = MemoryTree::new();
        for (n, leaf) in leaves.iter().enumerate() {
            tree.push(*leaf);
            let size = n as u64 + 1;
            let root = tree.root();
            assert_eq!(root, naive_root(&leaves[..=n]));
            for i in 0..size {
                let proof = inclusion_proof(&tree, i, size).unwrap();
                assert!(
                    verify_inclusion(i, size, &leaves[i as usize], &proof, &root),
                    "inclusion {i} in {size}"
                );
                assert!(!verify_inclusion(
                    i,
                    size,
                    &leaf_hash(b"other"),
                    &proof,
                    &root
                ));
                if size > 1 {
                    assert!(!verify_inclusion(
                        (i + 1) % size,
                        size,
                        &leaves[i as usize],
                        &proof,
                        &root
                    ));
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(i, size, &leaves[i as usize], &bad, &root));
                }
            }
            for old in 0..=size {
                let old_root = naive_root(&leaves[..old as usize]);
                let proof = consistency_proof(&tree, old, size).unwrap();
                assert!(
                    verify_consistency(old, size, &old_root, &root, &proof),
                    "consistency {old} -> {size}"
                );
                if 0 < old && old < size {
                    let forked = leaf_hash(b"forked");
                    assert!(!verify_consistency(old, size, &forked, &root, &proof));
                    assert!(!verify_consistency(old, size, &old_root, &forked, &proof));
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_consistency(old, size, &old_root, &root, &bad));
                    assert!(!verify_consistency(
                        old,
                        size,
                        &old_root,
                        &root,
                        &proof[..proof.len() - 1]
                    ));
                }
            }
        }
    }

    #[test]
    fn proofs_are_logarithmic() {
        let mut tree = MemoryTree::new();
        for i in 0u32..1000 {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
        assert!(inclusion_proof(&tree, 500, 1000).unwrap().len() <= 10);
        assert!(consistency_proof(&tree, 333, 1000).unwrap().len() <= 20);
        let stored: usize = tree.levels.iter().map(Vec::len).sum();
        assert!(
            stored < 2000,
            "about two stored nodes per leaf, got {stored}"
        );
    }
}
