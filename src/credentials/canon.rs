//! JSON-LD document -> RDF dataset (JSON-LD 1.1 toRdf, contexts from the bundle only) ->
//! canonical N-Quads (RDFC-1.0). What Data Integrity's `rdfc` cryptosuites hash.
//!
//! Processing a credential's top-level `@context` (the VC 2.0 and Open Badges contexts, a
//! few hundred term definitions) costs more than expanding the credential, and every
//! credential names the same few. So the processed context is kept, by the `@context`'s exact
//! JSON, and the document is expanded from it: JSON-LD defines a top-level `@context` as
//! exactly that, processing it against the initial context before expanding the rest.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use json_syntax::Parse;
use locspan::{Location, Meta};
use sophia_api::quad::Spog;
use sophia_api::term::{FromTerm, SimpleTerm};
use sophia_jsonld::json_ld::context_processing::{Process, Processed};
use sophia_jsonld::json_ld::expansion::Expand;
use sophia_jsonld::json_ld::rdf::RdfQuads;
use sophia_jsonld::json_ld::syntax::TryFromJson;
use sophia_jsonld::json_ld::{self, Options};
use sophia_jsonld::parser::RdfTerm;
use sophia_jsonld::vocabulary::{ArcBnode, ArcIri, ArcVoc};

use super::contexts;

/// Why a document could not be canonicalised.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("the document is not valid JSON-LD: {0}")]
    JsonLd(String),
    #[error("the document's RDF cannot be canonicalised: {0}")]
    Canonicalisation(String),
}

type Metadata = Location<ArcIri>;
type RawContext = json_ld::syntax::context::Value<Metadata>;
type ActiveContext = json_ld::Context<ArcIri, ArcBnode, RawContext, Metadata>;
type Dataset = HashSet<Spog<SimpleTerm<'static>>>;

/// Distinct top-level contexts kept processed; beyond it, the cache starts over (hostile
/// input cannot grow it without bound).
const MAX_CACHED_CONTEXTS: usize = 64;

fn base() -> ArcIri {
    ArcIri::new_unchecked(Arc::from("x-string://"))
}

fn parse(text: &str) -> Result<Meta<json_syntax::Value<Metadata>, Metadata>, CanonError> {
    json_syntax::Value::parse_str(text, |span| Location::new(base(), span))
        .map_err(|error| CanonError::JsonLd(format!("{error:?}")))
}

/// The active context after processing `context` (a top-level `@context` value).
async fn processed(context: &serde_json::Value) -> Result<Arc<ActiveContext>, CanonError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ActiveContext>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = context.to_string();
    if let Some(found) = cache.lock().expect("context cache lock").get(&key) {
        return Ok(found.clone());
    }
    let local: Meta<RawContext, Metadata> =
        RawContext::try_from_json(parse(&key)?).map_err(|error| CanonError::JsonLd(format!("@context: {error:?}")))?;
    let options = Options::<ArcIri, Metadata>::default();
    let initial = ActiveContext::new(None);
    let mut loader = contexts::loader();
    let result: Processed<'_, ArcIri, ArcBnode, RawContext, Metadata> = local
        .process_full(&mut ArcVoc {}, &initial, &mut loader, None, options.context_processing_options(), ())
        .await
        .map_err(|error| CanonError::JsonLd(format!("@context: {:?}", error.value())))?;
    let active = Arc::new(result.into_processed());
    let mut cache = cache.lock().expect("context cache lock");
    if cache.len() >= MAX_CACHED_CONTEXTS {
        cache.clear();
    }
    cache.insert(key, active.clone());
    Ok(active)
}

async fn to_dataset(document: &serde_json::Value) -> Result<Dataset, CanonError> {
    let mut body = document.as_object().cloned().ok_or_else(|| CanonError::JsonLd("must be a JSON object".into()))?;
    let active = match body.remove("@context") {
        Some(context) => (*processed(&context).await?).clone(),
        None => ActiveContext::new(None),
    };
    let json = parse(&serde_json::Value::Object(body).to_string())?;
    let options = Options::<ArcIri, Metadata>::default().unordered();
    let mut vocabulary = ArcVoc {};
    let mut loader = contexts::loader();
    let mut expanded = json
        .expand_full(&mut vocabulary, active, None, &mut loader, options.expansion_options(), ())
        .await
        .map_err(|error| CanonError::JsonLd(format!("{:?}", error.value())))?;
    let mut generator = rdf_types::generator::Blank::new().with_metadata(Location::new(base(), Default::default()));
    expanded.relabel_and_canonicalize_with(&mut vocabulary, &mut generator);
    let quads = expanded.rdf_quads_full(&mut vocabulary, &mut generator, None, false).cloned();
    let mut dataset = Dataset::new();
    for quad in quads {
        let term = |term: RdfTerm| SimpleTerm::from_term(term);
        let (subject, predicate, object, graph) = (quad.0, quad.1, quad.2, quad.3);
        dataset.insert((
            [term(RdfTerm::from(subject)), term(RdfTerm::from(predicate)), term(RdfTerm::from(object))],
            graph.map(|g| term(RdfTerm::from(g))),
        ));
    }
    Ok(dataset)
}

/// The canonical N-Quads of `document`.
pub fn canonical_nquads(document: &serde_json::Value) -> Result<String, CanonError> {
    let dataset = futures_executor::block_on(to_dataset(document))?;
    let mut out = Vec::new();
    sophia_c14n::rdfc10::normalize(&dataset, &mut out)
        .map_err(|error| CanonError::Canonicalisation(error.to_string()))?;
    String::from_utf8(out).map_err(|error| CanonError::Canonicalisation(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn credential() -> serde_json::Value {
        json!({
            "@context": [contexts::CREDENTIALS_V2, contexts::OPEN_BADGES_V3],
            "id": "urn:uuid:3f3c8a9e-0000-4000-8000-000000000001",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "did:key:z6MkExample", "type": ["Profile"], "name": "Acme"},
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"type": ["AchievementSubject"], "achievement": {
                "id": "https://example.org/a/1", "type": ["Achievement"], "name": "A",
                "description": "d", "criteria": {"narrative": "n"}}}
        })
    }

    #[test]
    fn a_credential_canonicalises_with_bundled_contexts_to_typed_blank_node_free_quads() {
        let nquads = canonical_nquads(&credential()).unwrap();
        let line = "<urn:uuid:3f3c8a9e-0000-4000-8000-000000000001> <https://www.w3.org/2018/credentials#validFrom> \"2026-01-01T00:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .";
        assert!(nquads.lines().any(|l| l == line), "{nquads}");
        assert!(nquads.contains("_:c14n0"), "the subject is a canonically named blank node: {nquads}");
    }

    #[test]
    fn the_same_document_gives_the_same_bytes_and_a_change_changes_them() {
        let first = canonical_nquads(&credential()).unwrap();
        let mut changed = credential();
        changed["credentialSubject"]["achievement"]["name"] = json!("B");
        assert_eq!(canonical_nquads(&credential()).unwrap(), first, "cached context, same result");
        assert_ne!(canonical_nquads(&changed).unwrap(), first);
    }

    #[test]
    fn contexts_outside_the_bundle_are_never_fetched() {
        let mut foreign = credential();
        foreign["@context"] = json!([contexts::CREDENTIALS_V2, "https://attacker.example/context.json"]);
        let error = canonical_nquads(&foreign).unwrap_err();
        assert!(error.to_string().contains("not valid JSON-LD"), "{error}");
    }
}
