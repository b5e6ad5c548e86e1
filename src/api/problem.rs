//! Errors as RFC 9457 `application/problem+json`, for every failure the HTTP
//! API can produce: domain errors, malformed requests, unknown routes.

use poem::{
    Error, IntoResponse, Response,
    error::ResponseError,
    http::{HeaderName, HeaderValue, StatusCode},
};
use poem_openapi::{
    ApiResponse, Object,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use serde::Serialize;

use crate::hub::HubError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object, Serialize)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    pub detail: String,
    /// The same text as `detail` (an RFC 9457 extension member): Zooid's SDK
    /// and CLI read a failure's reason from `error`.
    pub error: String,
}

/// An error answered as a problem document.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// RFC 9457 extension members, beside the standard ones.
    extensions: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            headers: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// Adds an extension member to the problem document.
    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> ApiError {
        self.extensions.push((name, value));
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> ApiError {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    pub fn with_header_value(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// A header whose value is made at run time; dropped if it is not a valid value.
    pub fn with_header_string(self, name: &'static str, value: String) -> ApiError {
        match HeaderValue::from_str(&value) {
            Ok(value) => self.with_header_value(HeaderName::from_static(name), value),
            Err(_) => self,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Seconds from its `Retry-After` header, if it has one.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .iter()
            .find(|(name, _)| name == poem::http::header::RETRY_AFTER)
            .and_then(|(_, value)| value.to_str().ok()?.parse().ok())
    }

    /// The problem in one line, as an MCP tool error says it:
    /// `Title (status): detail`, and `retry after N s` when it has a
    /// `Retry-After`.
    pub fn one_line(&self) -> String {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let mut text = format!("{title} ({}): {}", self.status.as_u16(), self.detail);
        let retry = self
            .headers
            .iter()
            .find(|(name, _)| name == poem::http::header::RETRY_AFTER)
            .and_then(|(_, value)| value.to_str().ok());
        if let Some(seconds) = retry
            && !self.detail.contains("retry")
        {
            text.push_str(&format!("; retry after {seconds} s"));
        }
        text
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    fn problem(&self) -> Problem {
        let slug = self
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "-");
        Problem {
            problem_type: format!("urn:channelhub:problem:{slug}"),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            error: self.detail.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let mut problem =
            serde_json::to_value(self.problem()).expect("a problem always serializes");
        if let Some(members) = problem.as_object_mut() {
            for (name, value) in &self.extensions {
                members.entry(*name).or_insert_with(|| value.clone());
            }
        }
        let body = problem.to_string();
        let mut response = Response::builder()
            .status(self.status)
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body);
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

/// Documents the error statuses every operation may answer with.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        let statuses = [
            (400, "Malformed request or invalid input"),
            (401, "Missing or invalid credentials"),
            (403, "Valid credentials that do not allow this"),
            (404, "No such channel, token or event"),
            (
                408,
                "The request body did not arrive within the server's body deadline",
            ),
            (409, "Conflict with the current state"),
            (
                410,
                "Gone for good: a webhook revoked for lost access (register anew), or \
                 an `Idempotency-Key` whose events were removed (`event_ids` names them)",
            ),
            (413, "Body or event data too large"),
            (
                422,
                "Well-formed but refused: an `Idempotency-Key` reused for a different request",
            ),
            (
                429,
                "A per-client limit was reached (rate or connections); retry after \
                 `Retry-After` seconds. Rate refusals carry `RateLimit` and \
                 `RateLimit-Policy` headers",
            ),
            (
                503,
                "Database unavailable, or too many checks of this credential in progress \
                 (with `Retry-After`); nothing was changed",
            ),
        ];
        MetaResponses {
            responses: statuses
                .into_iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_CONTENT_TYPE,
                        schema: Problem::schema_ref(),
                    }],
                    headers: if status == 429 {
                        limit_headers()
                    } else {
                        vec![]
                    },
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

/// The headers a 429 carries (`RateLimit*` only on rate refusals).
fn limit_headers() -> Vec<MetaHeader> {
    [
        ("Retry-After", "Seconds to wait before retrying", true),
        (
            "RateLimit-Policy",
            "IETF httpapi rate-limit draft: the bucket's quota and window, e.g. \
             `\"publish\";q=2000;w=2`",
            false,
        ),
        (
            "RateLimit",
            "IETF httpapi rate-limit draft: what remains and seconds until more, e.g. \
             `\"publish\";r=0;t=1`",
            false,
        ),
    ]
    .into_iter()
    .map(|(name, description, required)| MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required,
        deprecated: false,
        schema: String::schema_ref(),
    })
    .collect()
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> Self {
        let status = match &err {
            HubError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            HubError::Forbidden(_) => StatusCode::FORBIDDEN,
            HubError::NotFound(_) => StatusCode::NOT_FOUND,
            HubError::Invalid(_) => StatusCode::BAD_REQUEST,
            HubError::Conflict(_) => StatusCode::CONFLICT,
            HubError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HubError::Gone(_) | HubError::EventsRemoved { .. } => StatusCode::GONE,
            HubError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            HubError::Unavailable(_) | HubError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let busy = matches!(err, HubError::Busy(_));
        let mut api_error = ApiError::new(status, err.to_string());
        if let HubError::EventsRemoved {
            event_ids, removed, ..
        } = err
        {
            api_error = api_error
                .with_extension("event_ids", event_ids.into())
                .with_extension("removed_event_ids", removed.into());
        }
        match status {
            StatusCode::UNAUTHORIZED => {
                api_error.with_header(poem::http::header::WWW_AUTHENTICATE, "Bearer")
            }
            // A held resource frees up as it expires; a minute is a fair wait.
            StatusCode::TOO_MANY_REQUESTS => {
                api_error.with_header(poem::http::header::RETRY_AFTER, "60")
            }
            _ if busy => api_error.with_header(poem::http::header::RETRY_AFTER, "1"),
            _ => api_error,
        }
    }
}

/// Turns any error that reached the top of the app into a problem document.
pub fn render(err: Error) -> Response {
    if err.is::<ApiError>() {
        return err.into_response();
    }
    let status = err.status();
    let detail = match status {
        StatusCode::NOT_FOUND => "no such route".to_owned(),
        StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(error = %err, "internal error");
            "internal error".to_owned()
        }
        _ => err.to_string(),
    };
    ApiError::new(status, detail).into_response()
}
