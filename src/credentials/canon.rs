//! JSON-LD document -> RDF dataset (JSON-LD 1.1 toRdf, contexts from the bundle only) ->
//! canonical N-Quads (RDFC-1.0). What Data Integrity's `rdfc` cryptosuites hash.

use std::collections::HashSet;

use sophia_api::quad::Spog;
use sophia_api::source::QuadSource;
use sophia_api::term::SimpleTerm;
use sophia_jsonld::{JsonLdOptions, JsonLdParser};

use super::contexts;

/// Why a document could not be canonicalised.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("the document is not valid JSON-LD: {0}")]
    JsonLd(String),
    #[error("the document's RDF cannot be canonicalised: {0}")]
    Canonicalisation(String),
}

type Dataset = HashSet<Spog<SimpleTerm<'static>>>;

/// The canonical N-Quads of `document`.
pub fn canonical_nquads(document: &serde_json::Value) -> Result<String, CanonError> {
    let options = JsonLdOptions::new().with_document_loader(contexts::loader());
    let parser = JsonLdParser::new_with_options(options);
    let text = document.to_string();
    let dataset: Dataset = futures_executor::block_on(parser.async_parse_str(&text))
        .collect_quads()
        .map_err(|error| CanonError::JsonLd(error.to_string()))?;
    let mut out = Vec::new();
    sophia_c14n::rdfc10::normalize(&dataset, &mut out)
        .map_err(|error| CanonError::Canonicalisation(error.to_string()))?;
    String::from_utf8(out).map_err(|error| CanonError::Canonicalisation(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_credential_canonicalises_with_bundled_contexts() {
        let doc = json!({
            "@context": [contexts::CREDENTIALS_V2, contexts::OPEN_BADGES_V3],
            "id": "urn:uuid:3f3c8a9e-0000-4000-8000-000000000001",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "did:key:z6MkExample", "type": ["Profile"], "name": "Acme"},
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"type": ["AchievementSubject"], "achievement": {
                "id": "https://example.org/a/1", "type": ["Achievement"], "name": "A",
                "description": "d", "criteria": {"narrative": "n"}}}
        });
        let nquads = canonical_nquads(&doc).unwrap();
        println!("{nquads}");
        assert!(nquads.contains("<https://www.w3.org/2018/credentials#validFrom> \"2026-01-01T00:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime>"), "{nquads}");
    }
}
