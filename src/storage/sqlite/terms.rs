//! Term keys as stored in `statement_terms`, the keys a query term matches, and the packed
//! set of a statement's inheritable term keys (`statements.inheritable_terms`). Used by the
//! insert path and by queries.
//!
//! An Agent term implies the RelatedAgent term of the same key (the actor is one of the
//! statement's agents), and an Activity term the RelatedActivity term of the same id (the
//! object is one of its activities). A statement having both is stored under the narrower
//! key only, and a query for the related kind matches either key (`query_keys`): two index
//! rows fewer for a typical statement. Databases written before keep both rows; queries
//! match such a statement once.

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

/// The keys under which a statement having `term` has a row: the term's own and, for a
/// related agent or activity, the narrower term's (see the module comment). Narrower first.
pub(super) fn query_keys(term: &IndexTerm) -> Vec<i64> {
    let narrower = match term {
        IndexTerm::RelatedAgent(key) => Some(IndexTerm::Agent(key.clone())),
        IndexTerm::RelatedActivity(id) => Some(IndexTerm::Activity(id.clone())),
        _ => None,
    };
    narrower.iter().chain([term]).map(term_key).collect()
}

/// The statement's terms without those its narrower terms imply.
fn stored_terms(terms: &[IndexTerm]) -> impl Iterator<Item = &IndexTerm> {
    terms.iter().filter(|term| !implied_by_narrower(term, terms))
}

fn implied_by_narrower(term: &IndexTerm, terms: &[IndexTerm]) -> bool {
    match term {
        IndexTerm::RelatedAgent(key) => terms.iter().any(|t| matches!(t, IndexTerm::Agent(k) if k == key)),
        IndexTerm::RelatedActivity(id) => terms.iter().any(|t| matches!(t, IndexTerm::Activity(i) if i == id)),
        _ => false,
    }
}

/// A statement's term keys, hashed once, before the batch reaches the writer thread.
pub(super) struct StatementKeys {
    /// The keys a statement referencing it inherits (every kind but Authority).
    pub inheritable: TermSet,
    /// The keys the statement is stored under that are not inheritable (Authority).
    pub uninherited: TermSet,
}

impl StatementKeys {
    pub(super) fn of(terms: &[IndexTerm]) -> Self {
        let (mut inheritable, mut uninherited) = (Vec::new(), Vec::new());
        for term in stored_terms(terms) {
            let key = term_key(term);
            match term.inherited_through_refs() {
                true => inheritable.push(key),
                false => uninherited.push(key),
            }
        }
        Self { inheritable: TermSet::from_keys(inheritable), uninherited: TermSet::from_keys(uninherited) }
    }
}

/// A set of term keys (sorted, distinct), packed as consecutive little-endian i64 values
/// when stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TermSet(Vec<i64>);

impl TermSet {
    fn from_keys(mut keys: Vec<i64>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        Self(keys)
    }

    pub(super) fn decode(packed: &[u8]) -> anyhow::Result<Self> {
        if !packed.len().is_multiple_of(8) {
            bail!("a packed term set has {} bytes, not a multiple of 8", packed.len());
        }
        let keys = packed.chunks_exact(8).map(|chunk| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            i64::from_le_bytes(bytes)
        });
        Ok(Self::from_keys(keys.collect()))
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|key| key.to_le_bytes()).collect()
    }

    pub(super) fn extend(&mut self, other: &TermSet) {
        if other.0.iter().all(|key| self.0.binary_search(key).is_ok()) {
            return;
        }
        self.0.extend_from_slice(&other.0);
        *self = Self::from_keys(std::mem::take(&mut self.0));
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

    /// Every key the statement is stored under.
    fn stored(keys: &StatementKeys) -> Vec<i64> {
        keys.uninherited.iter().chain(keys.inheritable.iter()).collect()
    }

    #[test]
    fn keys_differ_across_kinds_with_the_same_value() {
        let verb = term_key(&IndexTerm::Verb("x".into()));
        let activity = term_key(&IndexTerm::Activity("x".into()));
        assert_ne!(verb, activity);
        assert_eq!(verb, term_key(&IndexTerm::Verb("x".into())));
    }

    #[test]
    fn authority_terms_are_not_inheritable() {
        let keys = StatementKeys::of(&[
            IndexTerm::Authority("mbox::mailto:a@example.com".into()),
            IndexTerm::Verb("http://example.com/v".into()),
        ]);
        assert_eq!(keys.inheritable.iter().count(), 1);
        assert_eq!(stored(&keys).len(), 2);
    }

    #[test]
    fn a_related_term_implied_by_the_narrower_one_is_stored_once_and_still_matched() {
        let key = "mbox::mailto:a@example.com".to_string();
        let (agent, related) = (IndexTerm::Agent(key.clone()), IndexTerm::RelatedAgent(key));
        let instructor = IndexTerm::RelatedAgent("mbox::mailto:i@example.com".into());
        let activity = IndexTerm::Activity("http://example.com/a".into());
        let parent = IndexTerm::RelatedActivity("http://example.com/p".into());
        let object = IndexTerm::RelatedActivity("http://example.com/a".into());
        let terms = [agent.clone(), related.clone(), instructor.clone(), activity.clone(), object.clone(), parent];

        let stored = stored(&StatementKeys::of(&terms));

        assert_eq!(stored.len(), 4, "the actor and the object activity once each");
        assert!(stored.contains(&term_key(&agent)) && !stored.contains(&term_key(&related)));
        assert!(stored.contains(&term_key(&instructor)), "a related-only agent keeps its own key");
        for query in [&agent, &related, &instructor, &activity, &object] {
            assert!(query_keys(query).iter().any(|key| stored.contains(key)), "{query:?} matches");
        }
        assert_eq!(query_keys(&agent), vec![term_key(&agent)], "the narrower kind matches its own key only");
    }

    #[test]
    fn a_packed_set_decodes_to_itself() {
        let set = StatementKeys::of(&[IndexTerm::Verb("a".into()), IndexTerm::Activity("b".into())]).inheritable;
        assert_eq!(TermSet::decode(&set.encode()).unwrap(), set);
        assert!(TermSet::decode(&[1, 2, 3]).is_err());
    }
}
