//! The JSON-LD contexts a credential may use, bundled so that nothing is fetched at run time
//! (a fetched context could change what a signed credential means, and a verifier must not
//! be made to reach out to URLs an attacker chose). Copies come from the npm packages named
//! in `contexts/README.md`, under the licences stated there.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use json_syntax::{Parse, Value};
use locspan::{Location, Meta};
use sophia_jsonld::json_ld::future::{BoxFuture, FutureExt};
use sophia_jsonld::json_ld::{Loader, LoadingResult, RemoteDocument};
use sophia_jsonld::vocabulary::ArcIri;

pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
pub const OPEN_BADGES_V3: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
pub const DATA_INTEGRITY_V2: &str = "https://w3id.org/security/data-integrity/v2";
pub const MULTIKEY_V1: &str = "https://w3id.org/security/multikey/v1";

/// Every bundled context: its URL and its text.
pub const BUNDLED: [(&str, &str); 4] = [
    (CREDENTIALS_V2, include_str!("contexts/credentials-v2.json")),
    (OPEN_BADGES_V3, include_str!("contexts/ob-v3p0-3.0.3.json")),
    (DATA_INTEGRITY_V2, include_str!("contexts/data-integrity-v2.json")),
    (MULTIKEY_V1, include_str!("contexts/multikey-v1.json")),
];

type Document = Meta<Value<Location<ArcIri>>, Location<ArcIri>>;

/// A loader that answers only the bundled contexts; any other URL is an error. Cheap to
/// make (one per document): the parsed contexts are shared.
#[derive(Clone)]
pub struct BundledLoader {
    documents: Arc<HashMap<&'static str, Document>>,
}

/// A URL outside the bundle.
#[derive(Debug, thiserror::Error)]
#[error("{0} is not a bundled context (nothing is fetched)")]
pub struct NotBundled(String);

impl Loader<ArcIri, Location<ArcIri>> for BundledLoader {
    type Output = Value<Location<ArcIri>>;
    type Error = NotBundled;

    fn load_with<'a>(
        &'a mut self,
        _vocabulary: &'a mut (impl Sync + Send + rdf_types::IriVocabularyMut<Iri = ArcIri>),
        url: ArcIri,
    ) -> BoxFuture<'a, LoadingResult<ArcIri, Location<ArcIri>, Self::Output, Self::Error>>
    where
        ArcIri: 'a,
    {
        let found = self.documents.get(url.as_str()).cloned();
        async move {
            let document = found.ok_or_else(|| NotBundled(url.as_str().to_string()))?;
            Ok(RemoteDocument::new(Some(url), Some("application/ld+json".parse().expect("a media type")), document))
        }
        .boxed()
    }
}

/// The loader, with the contexts parsed once per process.
pub fn loader() -> BundledLoader {
    static LOADER: OnceLock<BundledLoader> = OnceLock::new();
    LOADER
        .get_or_init(|| {
            let documents = BUNDLED
                .iter()
                .map(|(url, text)| {
                    let iri = ArcIri::new_unchecked(Arc::from(*url));
                    let parsed: Document = Value::parse_str(text, |span| Location::new(iri.clone(), span))
                        .expect("bundled contexts are valid JSON");
                    (*url, parsed)
                })
                .collect();
            BundledLoader { documents: Arc::new(documents) }
        })
        .clone()
}

/// Whether `url` is one of the bundled contexts.
pub fn is_bundled(url: &str) -> bool {
    BUNDLED.iter().any(|(known, _)| *known == url)
}
