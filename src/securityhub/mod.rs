//! Security Hub: the ASFF wire types (`asff`), batching and the `--asff-dir` files (`batch`), which targets
//! may be imported and what each is sent (`plan`), the SDK form of the wire types (`sdk`), and the import sink itself (`sink`), the only output with
//! side effects.

pub mod asff;
pub mod batch;
pub mod plan;
pub mod sdk;
pub mod sink;
#[cfg(test)]
mod testing;
pub mod workflow;

/// The IAM actions the import needs in each member account (a policy of its own in `deploy/`).
pub const IAM_ACTIONS: &[&str] = &["securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings", "securityhub:GetFindings"];

pub use sink::{ImportOptions, Sink};
