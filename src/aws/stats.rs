//! API call accounting, gathered by an SDK interceptor on every client orgscan builds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::model::OpCounts;

/// Shared counters, keyed by (service, operation) as the SDK names them (e.g. `KMS`, `DescribeKey`).
#[derive(Debug, Default)]
pub struct CallStats {
    ops: Arc<Mutex<BTreeMap<(String, String), OpCounts>>>,
}

impl CallStats {
    pub fn interceptor(&self) -> CallCounter {
        CallCounter { ops: self.ops.clone() }
    }

    pub fn snapshot(&self) -> BTreeMap<(String, String), OpCounts> {
        self.ops.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[derive(Debug, Clone)]
pub struct CallCounter {
    ops: Arc<Mutex<BTreeMap<(String, String), OpCounts>>>,
}

impl CallCounter {
    fn bump(&self, cfg: &ConfigBag, f: impl FnOnce(&mut OpCounts)) {
        let key = match cfg.load::<Metadata>() {
            Some(m) => (m.service().to_owned(), m.name().to_owned()),
            None => ("unknown".to_owned(), "unknown".to_owned()),
        };
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        f(ops.entry(key).or_default());
    }
}

/// Whether an HTTP response is a throttling answer: status 429, or an error body naming throttling
/// (AWS query and JSON protocols answer 400 with `Throttling`, `ThrottlingException`, "Rate exceeded").
fn is_throttling_response(status: u16, body: Option<&[u8]>) -> bool {
    if status == 429 {
        return true;
    }
    if !(400..500).contains(&status) {
        return false;
    }
    let Some(body) = body else { return false };
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    ["Throttl", "TooManyRequests", "Rate exceeded", "RequestLimitExceeded", "SlowDown"].iter().any(|n| text.contains(n))
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "orgscan::CallCounter"
    }

    // `read_before_serialization` rather than `read_before_execution`: the operation's `Metadata` is in the
    // config bag only from here on.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.calls += 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.attempts += 1);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(resp) = context.response()
            && is_throttling_response(resp.status().as_u16(), resp.body().bytes())
        {
            self.bump(cfg, |c| c.throttled += 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_answers_are_recognised() {
        assert!(is_throttling_response(429, None));
        assert!(is_throttling_response(400, Some(b"<Code>Throttling</Code><Message>Rate exceeded</Message>")));
        assert!(is_throttling_response(400, Some(br#"{"__type":"ThrottlingException"}"#)));
        assert!(!is_throttling_response(400, Some(br#"{"__type":"AccessDeniedException"}"#)));
        assert!(!is_throttling_response(500, Some(b"Throttling")));
        assert!(!is_throttling_response(200, Some(b"Throttling")));
    }
}
