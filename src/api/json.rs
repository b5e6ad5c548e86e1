//! Request bodies parsed with serde, whatever their content type, and
//! response bodies written with serde.
//!
//! poem-openapi's own `Json` turns a missing field into `null` and needs a JSON
//! content type; here a body is read up to the configured limit (413 past it,
//! chunked or not) and parsed by serde, whose messages name the field, line
//! and column; a body that is not a JSON object is a 400 (serde's derive would
//! also take an array of the fields). The OpenAPI schema still comes from the
//! type's `Object` derive, finished in [`super::contract`].

use poem::{IntoResponse, Request, RequestBody, Response, error::ReadBodyError, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions,
    payload::{Json, Payload},
    registry::{MetaMediaType, MetaRequest, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};
use serde::{Serialize, de::DeserializeOwned};

use super::problem::ApiError;
use crate::model::Invalid;

/// A request body names its text fields, so that text the databases cannot
/// store (see [`crate::model::check_storable`]) is refused with a 400 before
/// the request goes any further.
pub trait StorableText {
    fn check_text(&self) -> Result<(), Invalid>;
}

/// The largest request body, and how long it may take to arrive (a client
/// trickling a body byte by byte holds a connection and a buffer), set once
/// for the app.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    pub bytes: usize,
    pub timeout: std::time::Duration,
}

pub struct JsonBody<T>(pub T);

impl<'a, T: Type + DeserializeOwned + StorableText + Send> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let BodyLimit {
            bytes: limit,
            timeout,
        } = request.data::<BodyLimit>().copied().unwrap_or(BodyLimit {
            bytes: 1024 * 1024,
            timeout: std::time::Duration::from_secs(30),
        });
        let read = tokio::time::timeout(timeout, body.take()?.into_bytes_limit(limit));
        let bytes = read
            .await
            .map_err(|_elapsed| {
                crate::telemetry::count_refusal(crate::telemetry::LimitKind::BodyTimeout);
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        timeout.as_secs_f64()
                    ),
                )
            })?
            .map_err(|err| match err {
                ReadBodyError::PayloadTooLarge => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is over the {limit} byte limit"),
                ),
                other => ApiError::bad_request(format!("could not read the request body: {other}")),
            })?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("the request needs a JSON body").into());
        }
        // serde's derive would also take an array of the fields in order.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_request("the body must be a JSON object").into());
        }
        let value: T = serde_json::from_slice(&bytes)
            .map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
        value
            .check_text()
            .map_err(|err| ApiError::bad_request(err.0))?;
        Ok(JsonBody(value))
    }
}

/// A response body written by serde straight from the value. poem-openapi's
/// `Json` first converts the value into a `serde_json::Value` tree (a map per
/// object), which was the largest single cost of answering a 100-event
/// publish or a 1 000-event page. The OpenAPI schema still comes from the
/// type's `Object` derive; the type's serde attributes must match it (the
/// `Event` ones are checked byte for byte against WebSocket frames).
pub struct SerdeJson<T>(pub T);

impl<T: Type + Serialize + Send> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        Json::<T>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type("application/json; charset=utf-8")
                .body(body),
            Err(err) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response()
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}
