//! What anyone may ask the badge service, without credentials: the signed status lists
//! (signed anew only when a bit changed, and only up to the newest credential's) and the
//! verification of any credential, its status read from the store when the list is ours.

use std::sync::Arc;

use serde_json::Value;

use super::service::{xsd_seconds, BadgeService, MAX_CACHED_LISTS};
use super::status::{encode_list, list_credential, locate, LIST_BITS};
use super::verify::{verify_credential, StatusLookup, Verdict};
use crate::storage::BadgeFilter;
use crate::xapi::time::now_micros;

impl BadgeService {
    /// The signed status list `list` of `multikey`, signed anew only when a bit changed;
    /// `None` for a key that is not ours or a list past the newest credential's (so nobody
    /// can make the server sign and keep lists without end).
    pub async fn status_list(&self, multikey: &str, list: u64) -> anyhow::Result<Option<Arc<Value>>> {
        let Ok(key) = self.issuer.key_named(multikey) else { return Ok(None) };
        let newest = BadgeFilter { include_revoked: true, limit: 1, ..Default::default() };
        let newest_list = self.store.query_badges(&newest).await?.first().map(|badge| locate(badge.status_index).0);
        // One list more: another process (the CLI) may have reserved positions further on.
        if newest_list.is_none_or(|newest| list > newest + 1) {
            return Ok(None);
        }
        let from = list * LIST_BITS;
        let revoked: Vec<u64> =
            self.store.revoked_badge_positions(from, from + LIST_BITS).await?.into_iter().map(|p| p - from).collect();
        let cache_key = (multikey.to_string(), list);
        if let Some((shown, signed)) = self.lists.lock().expect("status lists lock").get(&cache_key) {
            if *shown == revoked {
                return Ok(Some(signed.clone()));
            }
        }
        let url = self.status_list_url(multikey, list);
        let now = xsd_seconds(now_micros());
        let document = list_credential(&url, &self.issuer.did_for(&key), &now, encode_list(&revoked));
        let issuer = self.issuer.clone();
        let signed = tokio::task::spawn_blocking(move || issuer.sign(document, &key, &now)).await??;
        let signed = Arc::new(Value::Object(signed));
        let mut lists = self.lists.lock().expect("status lists lock");
        if lists.len() >= MAX_CACHED_LISTS {
            lists.clear();
        }
        lists.insert(cache_key, (revoked, signed.clone()));
        Ok(Some(signed))
    }

    /// Verifies any credential; the status is read from the store when the list is ours.
    pub async fn verify(&self, credential: Value) -> anyhow::Result<Verdict> {
        let status = self.own_status(&credential).await?;
        let issuer = self.issuer.clone();
        let verdict =
            tokio::task::spawn_blocking(move || verify_credential(&credential, &issuer, &status, chrono::Utc::now()))
                .await?;
        Ok(verdict)
    }

    async fn own_status(&self, credential: &Value) -> anyhow::Result<KnownStatus> {
        let status = &credential["credentialStatus"];
        let (Some(list_url), Some(index)) = (
            status["statusListCredential"].as_str(),
            status["statusListIndex"].as_str().and_then(|i| i.parse::<u64>().ok()),
        ) else {
            return Ok(KnownStatus(None));
        };
        let Some(rest) = list_url.strip_prefix(&self.status_prefix()) else { return Ok(KnownStatus(None)) };
        let Some(list) = rest.split_once('/').and_then(|(_, list)| list.parse::<u64>().ok()) else {
            return Ok(KnownStatus(None));
        };
        if index >= LIST_BITS {
            return Ok(KnownStatus(Some((list_url.into(), index, Err("statusListIndex is beyond the list".into())))));
        }
        let position = list * LIST_BITS + index;
        let revoked = self.store.revoked_badge_positions(position, position + 1).await?;
        Ok(KnownStatus(Some((list_url.to_string(), index, Ok(!revoked.is_empty())))))
    }
}

/// The status of one of our positions, read before verification.
struct KnownStatus(Option<(String, u64, Result<bool, String>)>);

impl StatusLookup for KnownStatus {
    fn revoked(&self, list_url: &str, index: u64) -> Option<Result<bool, String>> {
        let (url, known_index, answer) = self.0.as_ref()?;
        (url == list_url && *known_index == index).then(|| answer.clone())
    }
}
