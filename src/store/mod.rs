//! Reports and the run history in Amazon S3 (a sink: the only side effects are the S3 calls).
//!
//! Every output option accepts `s3://bucket/key` (a directory output: `s3://bucket/prefix/`). Such an output
//! is rendered as every other one, atomically, into a staging directory of this run ([`StorePlan::stage`]),
//! then uploaded ([`s3`]). `--history s3://bucket/prefix/` keeps every run under a dated key and a pointer to
//! the latest complete one ([`history`]), which the next run reads as its baseline.

pub mod history;
pub mod s3;

use std::path::{Path, PathBuf};

use crate::model::{AccountId, Region};

/// The S3 actions orgscan calls, on the bucket and prefix it is given only: PutObject (outputs, the history),
/// GetObject (`--baseline s3://...`, the history), ListObjectsV2 (`s3:ListBucket`, the history's pointer).
/// With `--s3-kms-key`, S3 calls KMS on the caller's behalf (`kms:GenerateDataKey` to write, `kms:Decrypt` to
/// read: "Specifying server-side encryption with AWS KMS", Amazon S3 User Guide); deploy/history-policy.json
/// grants them on that key.
pub const IAM_ACTIONS: &[&str] = &["s3:GetObject", "s3:ListBucket", "s3:PutObject"];

/// An S3 object (`s3://bucket/key`) or prefix (`s3://bucket/prefix/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Whether an option's value names S3 rather than a local path.
pub fn is_s3(value: &Path) -> bool {
    value.to_str().is_some_and(|s| s.starts_with("s3://"))
}

impl S3Url {
    /// `s3://bucket/key` (`dir`: a prefix, `s3://bucket/` or `s3://bucket/prefix/`, a missing final `/`
    /// added). The bucket follows S3's naming rules for general purpose buckets ("General purpose bucket
    /// naming rules", https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html); a key is
    /// at most 1,024 bytes ("Naming Amazon S3 objects",
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
    pub fn parse(option: &str, value: &str, dir: bool) -> Result<Self, String> {
        let what = if dir { "s3://BUCKET/PREFIX/" } else { "s3://BUCKET/KEY" };
        let bad = |why: &str| format!("invalid {option} '{value}': {why}; expected {what}");
        let rest = value.strip_prefix("s3://").ok_or_else(|| bad("not an s3:// URL"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_chars = bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        let edges = bucket.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && bucket.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
        if !(3..=63).contains(&bucket.len()) || !valid_chars || !edges || bucket.contains("..") {
            return Err(bad(&format!(
                "bucket name '{bucket}' is not valid (3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit)"
            )));
        }
        let mut key = key.to_owned();
        if dir {
            if !key.is_empty() && !key.ends_with('/') {
                key.push('/');
            }
        } else if key.is_empty() || key.ends_with('/') {
            return Err(bad("the key is missing (this output is one object, not a prefix)"));
        }
        if key.len() > 1024 || key.chars().any(char::is_control) {
            return Err(bad("the key is longer than 1,024 bytes or holds control characters"));
        }
        Ok(Self { bucket: bucket.to_owned(), key })
    }

    /// The object `name` (a relative path with `/`) under this prefix.
    pub fn join(&self, name: &str) -> Self {
        let mut key = self.key.clone();
        if !key.is_empty() && !key.ends_with('/') {
            key.push('/');
        }
        key.push_str(name.trim_start_matches('/'));
        Self { bucket: self.bucket.clone(), key }
    }
}

/// One output of the run: where it is rendered locally, and where it goes in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The option that named it (`--json`, `--sarif-dir`, ...), for messages.
    pub option: &'static str,
    /// The file or directory the report is rendered to: the user's path, or one in the staging directory.
    pub local: PathBuf,
    pub dir: bool,
    /// `Some` when the option named S3.
    pub s3: Option<S3Url>,
    /// Its name inside a history run's folder (`orgscan.html`, `sarif/`, ...).
    pub name: &'static str,
}

/// The S3 side of one run: outputs to upload, `--baseline s3://...`, `--history`, and how to write.
#[derive(Debug, Default)]
pub struct StorePlan {
    /// Where outputs bound for S3 are rendered first; kept (and named) when an upload fails.
    staging: Option<tempfile::TempDir>,
    pub outputs: Vec<Output>,
    /// `--baseline s3://...`: read after the caller is known (the bucket owner check needs the account).
    pub baseline: Option<S3Url>,
    /// `--history s3://bucket/prefix/`.
    pub history: Option<S3Url>,
    /// `--s3-kms-key`: server-side encryption with this AWS KMS key (`aws:kms`); otherwise the bucket's
    /// default encryption applies.
    pub kms_key: Option<String>,
    /// `--s3-bucket-owner`; default: the scanning account (GetCallerIdentity).
    pub bucket_owner: Option<AccountId>,
    /// `--s3-region`; default: the configured region.
    pub region: Option<Region>,
}

impl StorePlan {
    /// Whether anything of this run reads or writes S3.
    pub fn uses_s3(&self) -> bool {
        self.baseline.is_some() || self.history.is_some() || self.outputs.iter().any(|o| o.s3.is_some())
    }

    /// Records the output `option` (its value `value`, a file or `dir`ectory named `name` in a history run)
    /// and, when the value names S3, replaces it with a path in the staging directory, so the output is
    /// rendered and probed like any local one. `-` (stdout) is left as it is.
    pub fn stage(&mut self, option: &'static str, name: &'static str, dir: bool, value: &mut Option<PathBuf>) -> Result<(), String> {
        let Some(v) = value.as_mut() else { return Ok(()) };
        if crate::files::is_stdout(v) {
            return Ok(());
        }
        let s3 = if is_s3(v) {
            let url = S3Url::parse(option, &v.to_string_lossy(), dir)?;
            *v = self.staging_dir()?.join(name.trim_end_matches('/'));
            Some(url)
        } else {
            None
        };
        self.outputs.push(Output { option, local: v.clone(), dir, s3, name });
        Ok(())
    }

    fn staging_dir(&mut self) -> Result<PathBuf, String> {
        if self.staging.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("orgscan-s3-")
                .tempdir()
                .map_err(|e| format!("cannot create a staging directory for the S3 outputs: {e}"))?;
            self.staging = Some(dir);
        }
        Ok(self.staging.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default())
    }

    /// After a failed upload: the staging directory is kept, so nothing rendered is lost; returns its path.
    pub fn keep_staging(&mut self) -> Option<PathBuf> {
        self.staging.take().map(tempfile::TempDir::keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_are_validated_and_name_the_bad_part() {
        let u = S3Url::parse("--json", "s3://my-bucket/a/b.json", false).unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("my-bucket", "a/b.json"));
        assert_eq!(u.to_string(), "s3://my-bucket/a/b.json");
        assert_eq!(S3Url::parse("--history", "s3://my-bucket/runs", true).unwrap().key, "runs/");
        assert_eq!(S3Url::parse("--history", "s3://my-bucket", true).unwrap().key, "");
        assert_eq!(S3Url::parse("--history", "s3://my-bucket/p/", true).unwrap().join("runs/x/orgscan.json").key, "p/runs/x/orgscan.json");
        for (value, needle) in [
            ("s3://My_Bucket/k", "bucket name 'My_Bucket' is not valid"),
            ("s3://ab/k", "bucket name 'ab'"),
            ("s3://a..b/k", "bucket name 'a..b'"),
            ("s3://bucket", "the key is missing"),
            ("s3://bucket/dir/", "the key is missing"),
        ] {
            let e = S3Url::parse("--json", value, false).unwrap_err();
            assert!(e.contains(&format!("invalid --json '{value}'")) && e.contains(needle) && e.contains("s3://BUCKET/KEY"), "{e}");
        }
    }

    #[test]
    fn s3_outputs_are_staged_and_local_ones_recorded() {
        let mut plan = StorePlan::default();
        let mut json = Some(PathBuf::from("s3://bucket/r/orgscan.json"));
        let mut html = Some(PathBuf::from("local.html"));
        let mut stdout = Some(PathBuf::from("-"));
        plan.stage("--json", "orgscan.json", false, &mut json).unwrap();
        plan.stage("--html", "orgscan.html", false, &mut html).unwrap();
        plan.stage("--json", "orgscan.json", false, &mut stdout).unwrap();
        let json = json.unwrap();
        assert!(json.ends_with("orgscan.json") && json.parent().unwrap().is_dir(), "{}", json.display());
        assert_eq!(html, Some(PathBuf::from("local.html")));
        assert_eq!(plan.outputs.len(), 2);
        assert_eq!(plan.outputs[0].s3.as_ref().map(|u| u.key.as_str()), Some("r/orgscan.json"));
        assert!(plan.outputs[1].s3.is_none());
        assert!(plan.uses_s3());
        let kept = plan.keep_staging().unwrap();
        assert!(kept.is_dir());
        std::fs::remove_dir_all(kept).unwrap();
    }
}
