//! The xAPI version line chosen per request from `X-Experience-API-Version`.

use std::fmt;

/// The two specification lines Fluency speaks. Every request is served under exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XapiVersion {
    /// xAPI 1.0.x, answered as `1.0.3`.
    V1_0_3,
    /// xAPI 2.0.x (IEEE 9274.1.1), answered as `2.0.0`.
    V2_0_0,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Experience-API-Version: {0:?} is not supported; send 1.0.x or 2.0.x")]
pub struct UnsupportedVersion(pub String);

impl XapiVersion {
    /// Parses a header value: `1.0`, `1.0.N`, `2.0`, `2.0.N`.
    pub fn parse_header(value: &str) -> Result<Self, UnsupportedVersion> {
        let value = value.trim();
        let reject = || UnsupportedVersion(value.to_string());
        let (line, patch) = match value.strip_prefix("1.0") {
            Some(rest) => (Self::V1_0_3, rest),
            None => match value.strip_prefix("2.0") {
                Some(rest) => (Self::V2_0_0, rest),
                None => return Err(reject()),
            },
        };
        if patch.is_empty() {
            return Ok(line);
        }
        let digits = patch.strip_prefix('.').ok_or_else(reject)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(reject());
        }
        Ok(line)
    }

    /// The value echoed in `X-Experience-API-Version` responses.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::V1_0_3 => "1.0.3",
            Self::V2_0_0 => "2.0.0",
        }
    }

    /// The `version` given to a stored statement that carried none.
    pub fn default_statement_version(self) -> &'static str {
        match self {
            Self::V1_0_3 => "1.0.0",
            Self::V2_0_0 => "2.0.0",
        }
    }

    pub fn is_2_0(self) -> bool {
        self == Self::V2_0_0
    }
}

impl fmt::Display for XapiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_patch_of_both_lines_and_rejects_the_rest() {
        for ok in ["1.0", "1.0.0", "1.0.3", "1.0.17"] {
            assert_eq!(XapiVersion::parse_header(ok), Ok(XapiVersion::V1_0_3), "{ok}");
        }
        for ok in ["2.0", "2.0.0", "2.0.4"] {
            assert_eq!(XapiVersion::parse_header(ok), Ok(XapiVersion::V2_0_0), "{ok}");
        }
        for bad in ["", "1", "0.9", "0.95", "1.1.0", "1.0.", "1.0.x", "2.1", "2.0.0.1", "10.0"] {
            assert!(XapiVersion::parse_header(bad).is_err(), "{bad} should be rejected");
        }
    }
}
