//! One xAPI request in framework-neutral form: method, parameters, the headers xAPI cares
//! about, and the body. Built from an ordinary HTTP request, or from a 1.0.3 alternate
//! syntax request (`POST ...?method=PUT` with headers and parameters in a form body).

use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;

use crate::error::{ApiError, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(name: &str) -> Self {
        match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "PUT" => Self::Put,
            "POST" => Self::Post,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }

    /// HEAD is answered as GET without a body.
    pub fn reads(self) -> bool {
        matches!(self, Self::Get | Self::Head)
    }
}

/// The request headers xAPI gives meaning to.
#[derive(Clone, Debug, Default)]
pub struct CallHeaders {
    pub authorization: Option<String>,
    pub version: Option<String>,
    pub content_type: Option<String>,
    pub accept_language: Option<String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl CallHeaders {
    pub fn from_http(headers: &HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        Self {
            authorization: get("authorization"),
            version: get("x-experience-api-version"),
            content_type: get("content-type"),
            accept_language: get("accept-language"),
            if_match: get("if-match"),
            if_none_match: get("if-none-match"),
        }
    }

    /// The media type without parameters, lowercased.
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(media_type)
    }
}

pub fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[derive(Clone, Debug)]
pub struct XapiCall {
    pub method: Method,
    /// Query parameters in order, percent-decoded, names case-sensitive.
    pub params: Vec<(String, String)>,
    pub headers: CallHeaders,
    pub body: Bytes,
    /// Came through the 1.0.3 alternate request syntax.
    pub alternate: bool,
}

impl XapiCall {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Refuses any parameter outside `allowed`, and any parameter given twice.
    pub fn check_params(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (index, (name, _)) in self.params.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(name))
                    .map(|a| format!(" (parameter names are case-sensitive: did you mean {a:?}?)"))
                    .unwrap_or_default();
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    format!("{name}: is not a parameter of this resource and method{hint}"),
                ));
            }
            if self.params[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::new(ErrorCode::InvalidParameter, format!("{name}: is given more than once")));
            }
        }
        Ok(())
    }

    pub fn required_param(&self, name: &str) -> Result<&str, ApiError> {
        self.param(name)
            .ok_or_else(|| ApiError::new(ErrorCode::MissingParameter, format!("{name}: is a required parameter")))
    }
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

/// Form fields that stand for headers in the alternate syntax.
const HEADER_FIELDS: [&str; 6] =
    ["Authorization", "X-Experience-API-Version", "Content-Type", "Content-Length", "If-Match", "If-None-Match"];

/// Turns a 1.0.3 alternate-syntax request into the request it stands for. The caller has
/// checked that the real method is POST and `method` is the only query parameter.
pub fn from_alternate_syntax(method_param: &str, headers: &CallHeaders, body: &Bytes) -> Result<XapiCall, ApiError> {
    let method = match method_param {
        "GET" | "PUT" | "POST" | "DELETE" | "HEAD" => Method::parse(method_param),
        other => {
            return Err(ApiError::invalid_parameter(
                "method",
                format!("{other:?} must be one of GET, PUT, POST, DELETE"),
            ))
        }
    };
    if headers.media_type().as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedContentType,
            "Content-Type: the alternate request syntax needs an application/x-www-form-urlencoded body",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "body: the form must be UTF-8 text"))?;
    if text.trim_start().starts_with(['{', '[']) {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "body: must be form-encoded fields, not JSON"));
    }
    let mut call = XapiCall {
        method,
        params: Vec::new(),
        headers: CallHeaders { accept_language: headers.accept_language.clone(), ..CallHeaders::default() },
        body: Bytes::new(),
        alternate: true,
    };
    // Real headers count unless a form field replaces them.
    call.headers.authorization = headers.authorization.clone();
    call.headers.version = headers.version.clone();
    call.headers.if_match = headers.if_match.clone();
    call.headers.if_none_match = headers.if_none_match.clone();
    let mut content = None;
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        let (name, value) = (name.into_owned(), value.into_owned());
        match HEADER_FIELDS.iter().find(|h| h.eq_ignore_ascii_case(&name)).copied() {
            Some("Authorization") => call.headers.authorization = Some(value),
            Some("X-Experience-API-Version") => call.headers.version = Some(value),
            Some("Content-Type") => call.headers.content_type = Some(value),
            Some("If-Match") => call.headers.if_match = Some(value),
            Some("If-None-Match") => call.headers.if_none_match = Some(value),
            Some(_) => {}
            None if name == "content" => content = Some(value),
            None => call.params.push((name, value)),
        }
    }
    match content {
        Some(content) => call.body = Bytes::from(content),
        None if matches!(method, Method::Put | Method::Post) => {
            return Err(ApiError::new(ErrorCode::MissingParameter, "content: the form must carry the request body"))
        }
        None => {}
    }
    if call.headers.content_type.is_none() && !call.body.is_empty() {
        call.headers.content_type = Some("application/json".to_string());
    }
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(params: &[(&str, &str)]) -> XapiCall {
        XapiCall {
            method: Method::Get,
            params: params.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            headers: CallHeaders::default(),
            body: Bytes::new(),
            alternate: false,
        }
    }

    #[test]
    fn unknown_repeated_and_wrong_case_parameters_are_refused() {
        assert!(call(&[("limit", "1")]).check_params(&["limit"]).is_ok());
        let error = call(&[("LIMIT", "1")]).check_params(&["limit"]).unwrap_err();
        assert!(error.message.contains("case-sensitive"), "{}", error.message);
        assert!(call(&[("foo", "bar")]).check_params(&["limit"]).is_err());
        assert!(call(&[("limit", "1"), ("limit", "2")]).check_params(&["limit"]).is_err());
    }

    #[test]
    fn alternate_syntax_moves_header_fields_to_headers_and_the_rest_to_parameters() {
        let headers = CallHeaders {
            content_type: Some("application/x-www-form-urlencoded".into()),
            version: Some("1.0.3".into()),
            ..Default::default()
        };
        let body =
            Bytes::from("statementId=abc&X-Experience-API-Version=0.8&Authorization=Basic%20eA%3D%3D&content=%7B%7D");
        let call = from_alternate_syntax("PUT", &headers, &body).unwrap();
        assert_eq!(call.method, Method::Put);
        assert_eq!(call.param("statementId"), Some("abc"));
        assert_eq!(call.headers.version.as_deref(), Some("0.8"));
        assert_eq!(call.headers.authorization.as_deref(), Some("Basic eA=="));
        assert_eq!(&call.body[..], b"{}");
        assert_eq!(call.headers.content_type.as_deref(), Some("application/json"));
    }

    #[test]
    fn alternate_syntax_needs_a_form_body_with_content_for_writes() {
        let form = CallHeaders { content_type: Some("application/x-www-form-urlencoded".into()), ..Default::default() };
        assert!(from_alternate_syntax("PUT", &form, &Bytes::from("statementId=x")).is_err());
        assert!(from_alternate_syntax("PUT", &form, &Bytes::from("{\"a\":1}")).is_err());
        let json = CallHeaders { content_type: Some("application/json".into()), ..Default::default() };
        assert!(from_alternate_syntax("GET", &json, &Bytes::from("limit=1")).is_err());
        assert!(from_alternate_syntax("PATCH", &form, &Bytes::from("limit=1")).is_err());
    }
}
