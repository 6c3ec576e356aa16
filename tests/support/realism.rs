//! Placeholder: the AWS-realism proxy (written on branch proxy).
