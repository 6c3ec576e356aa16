//! A bound on what one response may hold: every response body is read through a limit, so an endpoint that
//! sends an endless (or absurd) body costs at most that much memory and ends as an error of its call, naming
//! the operation, instead of growing until the process is killed. The SDK reads a whole body into memory
//! before deserializing it, and `--call-timeout` bounds the time of an attempt, not its size.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

/// Bytes of one response body at most: far above any answer orgscan asks for (the largest, a Security Hub
/// `GetFindings` page, is 100 findings of at most 240 KB each: 24 MB).
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// The interceptor that puts [`MAX_RESPONSE_BYTES`] (or another limit) on every response body.
#[derive(Debug, Clone, Copy)]
pub struct BoundedResponses {
    pub limit: usize,
}

impl Default for BoundedResponses {
    fn default() -> Self {
        Self { limit: MAX_RESPONSE_BYTES }
    }
}

impl Intercept for BoundedResponses {
    fn name(&self) -> &'static str {
        "orgscan::BoundedResponses"
    }

    /// Runs before the SDK reads the body (`read_body`, then deserialization), so the limit holds while it
    /// is read.
    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let limit = self.limit;
        let announced = ctx.response().headers().get("content-length").and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = announced.filter(|n| *n > limit as u64) {
            return Err(format!("the response announces {n} bytes, over orgscan's bound of {limit} bytes for one response").into());
        }
        let body = std::mem::replace(ctx.response_mut().body_mut(), SdkBody::taken());
        let limited = http_body_util::Limited::new(body, limit);
        *ctx.response_mut().body_mut() = SdkBody::from_body_1_x(http_body_util::BodyExt::map_err(limited, move |e| {
            if e.is::<http_body_util::LengthLimitError>() {
                BoxError::from(format!("the response body went past orgscan's bound of {limit} bytes for one response"))
            } else {
                e
            }
        }));
        Ok(())
    }
}
