//! Term keys as stored in `statement_terms`, and the packed set of a statement's inheritable
//! term keys (`statements.inheritable_terms`). Used by the insert path and by queries.

use std::collections::BTreeSet;

use anyhow::bail;
use sha2::{Digest, Sha256};

use crate::storage::contract::IndexTerm;

/// The stored key of a term: the first 8 bytes of SHA-256 over `IndexTerm::encoded()`, read
/// as a little-endian i64. The terms table stores this hash instead of the text so each row
/// is two integers, whatever the length of an IRI. Distinct terms share a key with
/// probability about n^2 / 2^65 (below 1e-5 for ten million distinct terms); a collision
/// would only add false matches to queries on those two terms. The hash is part of the
/// on-disk format: changing it needs a migration.
pub(super) fn term_key(term: &IndexTerm) -> i64 {
    let digest = Sha256::digest(term.encoded().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// A set of term keys, packed as consecutive little-endian i64 values when stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TermSet(BTreeSet<i64>);

impl TermSet {
    /// The keys of all these terms.
    pub(super) fn of(terms: &[IndexTerm]) -> Self {
        Self(terms.iter().map(term_key).collect())
    }

    /// The keys of the terms a referencing statement inherits (every kind but Authority).
    pub(super) fn inheritable(terms: &[IndexTerm]) -> Self {
        Self(terms.iter().filter(|term| term.inherited_through_refs()).map(term_key).collect())
    }

    pub(super) fn decode(packed: &[u8]) -> anyhow::Result<Self> {
        if !packed.len().is_multiple_of(8) {
            bail!("a packed term set has {} bytes, not a multiple of 8", packed.len());
        }
        Ok(Self(
            packed
                .chunks_exact(8)
                .map(|chunk| {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(chunk);
                    i64::from_le_bytes(bytes)
                })
                .collect(),
        ))
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|key| key.to_le_bytes()).collect()
    }

    pub(super) fn extend(&mut self, other: &TermSet) {
        self.0.extend(other.0.iter().copied());
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_across_kinds_with_the_same_value() {
        let verb = term_key(&IndexTerm::Verb("x".into()));
        let activity = term_key(&IndexTerm::Activity("x".into()));
        assert_ne!(verb, activity);
        assert_eq!(verb, term_key(&IndexTerm::Verb("x".into())));
    }

    #[test]
    fn authority_terms_are_not_inheritable() {
        let set = TermSet::inheritable(&[
            IndexTerm::Authority("mbox::mailto:a@example.com".into()),
            IndexTerm::Verb("http://example.com/v".into()),
        ]);
        assert_eq!(set.iter().count(), 1);
    }

    #[test]
    fn a_packed_set_decodes_to_itself() {
        let set = TermSet::inheritable(&[IndexTerm::Verb("a".into()), IndexTerm::Activity("b".into())]);
        assert_eq!(TermSet::decode(&set.encode()).unwrap(), set);
        assert!(TermSet::decode(&[1, 2, 3]).is_err());
    }
}
