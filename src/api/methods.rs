//! Methods as RFC 9110 says: a 405 names the allowed methods in `Allow`, and
//! `OPTIONS` on a documented path answers 204 with `Allow`.
//!
//! The allowed methods of a path come from the served document, so they are
//! always the routes that exist.

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{Method, StatusCode, header},
};
use serde_json::Value;

use super::problem::ApiError;

/// Each documented path (segments, `None` for a `{parameter}`) with its `Allow` value.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    paths: Vec<(Vec<Option<String>>, String)>,
}

impl AllowedMethods {
    /// Reads the paths and methods of an OpenAPI document.
    pub fn from_document(document: &str) -> Arc<AllowedMethods> {
        let doc: Value = serde_json::from_str(document).unwrap_or_default();
        let mut paths = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let mut methods: Vec<String> = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_ascii_uppercase())
                .collect();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".into());
            }
            methods.push("OPTIONS".into());
            let segments = path
                .trim_start_matches('/')
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            paths.push((segments, methods.join(", ")));
        }
        Arc::new(AllowedMethods { paths })
    }

    /// The `Allow` value of a request path under the API's base.
    fn allow(&self, path: &str) -> Option<&str> {
        let path = path.strip_prefix("/api/v1").unwrap_or(path);
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.paths
            .iter()
            .find(|(pattern, _)| {
                pattern.len() == segments.len()
                    && pattern.iter().zip(&segments).all(|(p, s)| match p {
                        Some(fixed) => fixed == s,
                        None => !s.is_empty(),
                    })
            })
            .map(|(_, allow)| allow.as_str())
    }
}

/// Wraps the API: answers `OPTIONS`, and adds `Allow` to every 405.
pub async fn guard<E: Endpoint>(
    allowed: Arc<AllowedMethods>,
    next: E,
    req: Request,
) -> poem::Result<Response> {
    let allow = allowed.allow(req.uri().path()).map(str::to_owned);
    if req.method() == Method::OPTIONS
        && let Some(allow) = &allow
    {
        return Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ALLOW, allow.as_str())
            .finish());
    }
    let result = next.call(req).await.map(IntoResponse::into_response);
    let status = match &result {
        Ok(response) => response.status(),
        Err(err) => err.status(),
    };
    match (status, allow) {
        (StatusCode::METHOD_NOT_ALLOWED, Some(allow)) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this path allows {allow}"),
        )
        .with_header_string("allow", allow)
        .into()),
        _ => result,
    }
}
