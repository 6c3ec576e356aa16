//! Placeholder: tests of the AWS-realism proxy.
