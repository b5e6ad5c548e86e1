//! Request bodies parsed with serde, whatever their content type.
//!
//! poem-openapi's own `Json` turns a missing field into `null` and needs a JSON
//! content type; here a body is read up to the configured limit (413 past it,
//! chunked or not) and parsed by serde, whose messages name the field, line
//! and column. The OpenAPI schema still comes from the type's `Object` derive.

use poem::{Request, RequestBody, error::ReadBodyError, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// The largest request body, set once for the app.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub struct JsonBody<T>(pub T);

impl<'a, T: Type + DeserializeOwned + Send> ApiExtractor<'a> for JsonBody<T> {
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
        let limit = request.data::<BodyLimit>().map_or(1024 * 1024, |l| l.0);
        let bytes = body
            .take()?
            .into_bytes_limit(limit)
            .await
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
        let value = serde_json::from_slice(&bytes)
            .map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
        Ok(JsonBody(value))
    }
}
