//! Word of what is new: one short digest per run, sent to Amazon SNS and/or a Slack-compatible incoming
//! webhook (sinks: the only side effects are the SNS call and the HTTP POST).
//!
//! The digest is a pure function of the report ([`digest`]): new FAILs by severity (against the baseline),
//! FAILs fixed, coverage lost (scopes and resources not read), the verdict and exit code, and where the
//! reports are. The webhook URL is a secret ([`WebhookUrl`]): it never reaches a log, a message or a report.

pub mod sns;
pub mod webhook;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{BaselineState, CoverageStatus, ScanReport, Severity};

/// The IAM actions of the SNS sink (on the topic only).
pub const IAM_ACTIONS: &[&str] = &["sns:Publish"];

/// A webhook URL (Slack incoming webhooks carry their credential in the path): shown as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// An `https://` (or, for a local relay, `http://`) URL; the error never repeats the value.
    pub fn new(source: &str, value: &str) -> Result<Self, String> {
        let v = value.trim();
        let ok =
            (v.starts_with("https://") || v.starts_with("http://")) && v.len() > "https://".len() && !v.chars().any(char::is_whitespace);
        if ok {
            Ok(Self(v.to_owned()))
        } else {
            Err(format!("the webhook URL from {source} is not an http(s):// URL (its value is not shown: it is a secret)"))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

/// `--notify-*`: where the digest goes and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyPlan {
    /// `--notify-sns TOPIC_ARN`.
    pub sns_topic: Option<String>,
    /// `--notify-webhook` (ORGSCAN_WEBHOOK_URL) or `--notify-webhook-file`.
    pub webhook: Option<WebhookUrl>,
    /// `--notify-only-new`: send only when something is new (new FAILs at or above the severity, or lost
    /// coverage), not on every run.
    pub only_new: bool,
    /// `--notify-severity`: FAILs below it are left out of the digest.
    pub min_severity: Option<Severity>,
}

impl NotifyPlan {
    pub fn is_empty(&self) -> bool {
        self.sns_topic.is_none() && self.webhook.is_none()
    }
}

/// One run's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// One line (an SNS subject: at most 100 ASCII characters).
    pub subject: String,
    pub text: String,
    /// Whether anything is new: new FAILs at or above the severity, or coverage lost.
    pub news: bool,
}

/// New FAILs by severity (most severe first), at or above `min`; unsuppressed only. Without a baseline
/// every FAIL is new.
fn new_fails(report: &ScanReport, min: Option<Severity>) -> BTreeMap<std::cmp::Reverse<Severity>, usize> {
    let mut by = BTreeMap::new();
    for f in report.failures() {
        let new = f.triage.baseline.is_none_or(|s| s == BaselineState::New);
        if new && f.triage.suppressed.is_none() && min.is_none_or(|m| f.severity() >= m) {
            *by.entry(std::cmp::Reverse(f.severity())).or_insert(0) += 1;
        }
    }
    by
}

/// The digest of `report`, whose run exits with `exit_code` (outputs included); `link` is where the reports
/// are, `verdict` the summary's verdict line.
pub fn digest(report: &ScanReport, exit_code: u8, verdict: &str, link: Option<&str>, min: Option<Severity>) -> Digest {
    let new = new_fails(report, min);
    let total: usize = new.values().sum();
    let by = new.iter().map(|(s, n)| format!("{} {n}", s.0)).collect::<Vec<_>>().join(", ");
    let floor = min.map(|m| format!(" ({m} and above)")).unwrap_or_default();
    let scope_errors: Vec<_> = report.coverage.iter().filter(|c| matches!(c.status, CoverageStatus::Error(_))).collect();
    let mut accounts: Vec<&str> = scope_errors.iter().map(|c| c.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let lost = !scope_errors.is_empty() || !report.not_evaluable.is_empty() || report.incomplete;
    let subject_of = report.history.as_ref().map_or("", |_| " since the baseline");

    let mut text = String::new();
    let what = match &report.subject {
        crate::model::Subject::Account(a) => format!("account {a}"),
        crate::model::Subject::Organization { id, .. } => format!("organization {id}"),
        crate::model::Subject::Accounts { caller } => format!("accounts scanned from {caller}"),
    };
    let _ = writeln!(text, "orgscan scan of {what}, started {}", report.started_at.format("%Y-%m-%d %H:%M UTC"));
    match &report.history {
        Some(h) => {
            let _ = writeln!(
                text,
                "New FAILs since the baseline of {}{floor}: {total}{}",
                h.baseline_started_at.format("%Y-%m-%d %H:%M UTC"),
                if by.is_empty() { String::new() } else { format!(" ({by})") }
            );
            let fixed = h.fixed.len();
            let unchanged = report.baseline_count(BaselineState::Unchanged);
            let _ = writeln!(text, "Fixed: {fixed}; unchanged: {unchanged}; carried forward unread: {}", h.stale.len());
        }
        None => {
            let _ = writeln!(
                text,
                "FAILs{floor}: {total}{} (no baseline: every FAIL counts as new)",
                if by.is_empty() { String::new() } else { format!(" ({by})") }
            );
        }
    }
    if lost {
        let _ = writeln!(
            text,
            "Coverage lost: {} scope(s) not read in {} account(s), {} resource(s) not evaluable{}",
            scope_errors.len(),
            accounts.len(),
            report.not_evaluable.len(),
            if report.incomplete { "; the scan was stopped" } else { "" }
        );
    }
    let _ = writeln!(text, "Verdict: {verdict} (exit code {exit_code})");
    if let Some(l) = link {
        let _ = writeln!(text, "Reports: {l}");
    }
    let mut subject = format!("orgscan: {total} new FAIL(s){subject_of}, exit {exit_code}");
    if lost {
        subject.push_str(", coverage lost");
    }
    subject.retain(|c| c.is_ascii() && !c.is_ascii_control());
    subject.truncate(100);
    Digest { subject, text, news: total > 0 || lost }
}

/// What the sinks did: one line each, and the errors (each naming the sink, never the webhook URL).
#[derive(Debug, Default)]
pub struct Sent {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
}

/// Sends `digest` to every sink of `plan` (unless `--notify-only-new` and nothing is new). `sns` is the
/// client for the topic's region.
pub async fn send(plan: &NotifyPlan, digest: &Digest, sns: Option<aws_sdk_sns::Client>, http: &webhook::Poster) -> Sent {
    let mut sent = Sent::default();
    if plan.only_new && !digest.news {
        sent.lines.push("notification: nothing new, none sent (--notify-only-new)".into());
        return sent;
    }
    if let (Some(topic), Some(client)) = (&plan.sns_topic, sns) {
        match sns::publish(&client, topic, digest).await {
            Ok(id) => sent.lines.push(format!("notification: published to {topic} (message {id})")),
            Err(e) => sent.errors.push(e),
        }
    }
    if let Some(url) = &plan.webhook {
        match http.post(url, digest).await {
            Ok(()) => sent.lines.push("notification: posted to the webhook".into()),
            Err(e) => sent.errors.push(e),
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_checked_without_repeating_them() {
        let secret = "https://hooks.example.com/services/T000/B000/XXXXSECRET";
        let u = WebhookUrl::new("ORGSCAN_WEBHOOK_URL", secret).unwrap();
        assert_eq!(u.expose(), secret);
        assert!(!format!("{u:?}").contains("SECRET"));
        let e = WebhookUrl::new("ORGSCAN_WEBHOOK_URL", "ftp://SECRET").unwrap_err();
        assert!(e.contains("ORGSCAN_WEBHOOK_URL") && !e.contains("SECRET"), "{e}");
    }
}
