//! Amazon SNS: one `Publish` of the digest to the topic (its region from the topic ARN).
//!
//! `Subject` is used by email subscriptions: ASCII, at most 100 characters, no line breaks ("Publish",
//! https://docs.aws.amazon.com/sns/latest/api/API_Publish.html); the message is plain text, well under the
//! 256 KB limit.

use super::Digest;
use crate::model::{Region, ScopeError};

/// The region of a topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`), or why it is not one.
pub fn topic_region(arn: &str) -> Result<Region, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, account, name]
            if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) && !name.is_empty() =>
        {
            region.parse::<Region>().map_err(|e| format!("invalid --notify-sns '{arn}': {e}"))
        }
        _ => Err(format!("invalid --notify-sns '{arn}': expected a topic ARN, arn:aws:sns:REGION:ACCOUNT:NAME")),
    }
}

/// Publishes the digest; returns the message id.
pub async fn publish(client: &aws_sdk_sns::Client, topic: &str, digest: &Digest) -> Result<String, String> {
    match client.publish().topic_arn(topic).subject(&digest.subject).message(&digest.text).send().await {
        Ok(out) => Ok(out.message_id().unwrap_or_default().to_owned()),
        Err(e) => {
            let e = ScopeError::from_sdk("Publish", &e);
            Err(format!("cannot publish the notification to SNS topic {topic}: {}: {}", e.code, e.message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_arns_give_their_region() {
        assert_eq!(topic_region("arn:aws:sns:eu-west-1:123456789012:audit").unwrap().as_str(), "eu-west-1");
        assert!(topic_region("arn:aws:sqs:eu-west-1:123456789012:q").unwrap_err().contains("expected a topic ARN"));
        assert!(topic_region("arn:aws:sns:mars-1:123456789012:t").unwrap_err().contains("invalid --notify-sns"));
    }
}
