//! Revocation through a Bitstring Status List (W3C VC Bitstring Status List v1.0): each
//! credential owns one bit of a list, set when it is revoked. A list is 131,072 bits (16 KiB,
//! the specification's minimum, so a list hides which of many credentials changed),
//! GZIP-compressed and base64url-encoded with the multibase `u` prefix; bit 0 is the most
//! significant bit of the first byte.

use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use serde_json::{json, Map, Value};

use super::contexts::CREDENTIALS_V2;

/// Bits in one status list.
pub const LIST_BITS: u64 = 131_072;

/// The list a status position falls in, and its index there.
pub fn locate(position: u64) -> (u64, u64) {
    (position / LIST_BITS, position % LIST_BITS)
}

/// `encodedList` for a list whose `set` indexes are 1.
pub fn encode_list(set: &[u64]) -> String {
    let mut bits = vec![0u8; (LIST_BITS / 8) as usize];
    for &index in set.iter().filter(|&&index| index < LIST_BITS) {
        bits[(index / 8) as usize] |= 0x80 >> (index % 8);
    }
    let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&bits).expect("writing to memory");
    let compressed = gzip.finish().expect("writing to memory");
    format!("u{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed))
}

/// Whether bit `index` is set in an `encodedList` (for verifying what we serve).
pub fn bit_is_set(encoded: &str, index: u64) -> Result<bool, String> {
    use std::io::Read;
    let text = encoded.strip_prefix('u').ok_or("encodedList must start with the multibase prefix 'u'")?;
    let compressed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "encodedList is not base64url".to_string())?;
    let mut bits = Vec::new();
    // A bounded read: a hostile list cannot inflate without limit.
    flate2::read::GzDecoder::new(&compressed[..])
        .take(16 * 1024 * 1024)
        .read_to_end(&mut bits)
        .map_err(|_| "encodedList is not GZIP data".to_string())?;
    let byte = bits.get((index / 8) as usize).ok_or("the index is beyond the end of the list")?;
    Ok(byte & (0x80 >> (index % 8)) != 0)
}

/// The unsigned BitstringStatusListCredential at `url`.
pub fn list_credential(url: &str, issuer: &str, valid_from: &str, encoded: String) -> Map<String, Value> {
    let credential = json!({
        "@context": [CREDENTIALS_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded,
        },
    });
    match credential {
        Value::Object(map) => map,
        _ => unreachable!("built as an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_bits_read_back_and_others_stay_clear() {
        let encoded = encode_list(&[0, 7, 8, 131_071]);
        for (index, set) in [(0, true), (1, false), (7, true), (8, true), (9, false), (131_071, true), (131_070, false)]
        {
            assert_eq!(bit_is_set(&encoded, index).unwrap(), set, "bit {index}");
        }
        assert!(encoded.starts_with('u') && encoded.len() < 200, "an almost empty list compresses: {}", encoded.len());
    }

    #[test]
    fn positions_fill_one_list_before_the_next() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(LIST_BITS - 1), (0, LIST_BITS - 1));
        assert_eq!(locate(LIST_BITS + 3), (1, 3));
    }

    #[test]
    fn hostile_lists_are_refused() {
        assert!(bit_is_set("zabc", 0).unwrap_err().contains("prefix 'u'"));
        assert!(bit_is_set("u!!!", 0).unwrap_err().contains("base64url"));
        assert!(bit_is_set("uAAAA", 0).unwrap_err().contains("GZIP"));
        assert!(bit_is_set(&encode_list(&[]), LIST_BITS).unwrap_err().contains("beyond"));
    }
}
