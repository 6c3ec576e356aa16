//! The S3 calls: PutObject and GetObject, each with the bucket owner condition, and server-side encryption
//! with a KMS key when one is given.
//!
//! Every request carries `ExpectedBucketOwner` ("Verifying bucket ownership with bucket owner condition",
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html: when the bucket belongs
//! to another account, S3 fails the request with HTTP 403 Access Denied), so a report is never written to, and
//! a baseline never read from, a bucket of the same name in someone else's account.

use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::S3Url;
use crate::model::{AccountId, ScopeError};

/// Writes and reads objects in the buckets of one owner.
#[derive(Clone)]
pub struct Store {
    client: aws_sdk_s3::Client,
    owner: AccountId,
    kms_key: Option<String>,
}

/// A failed read: `transient` ones (throttling, 5xx, timeouts) may pass on a later run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub message: String,
    pub transient: bool,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The media type of an output file, by its name.
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("json") => "application/json",
        Some("sarif") => "application/sarif+json",
        Some("html") => "text/html; charset=utf-8",
        Some("jsonl") => "application/x-ndjson",
        _ => "application/octet-stream",
    }
}

impl Store {
    pub fn new(client: aws_sdk_s3::Client, owner: AccountId, kms_key: Option<String>) -> Self {
        Self { client, owner, kms_key }
    }

    pub fn owner(&self) -> &AccountId {
        &self.owner
    }

    /// Says what went wrong with `url`, naming the bucket; an `AccessDenied` also names the owner condition,
    /// which S3 reports the same way.
    fn explain(&self, verb: &str, url: &S3Url, e: &ScopeError) -> String {
        let hint = if e.code == "AccessDenied" {
            format!(
                " (S3 denies a request its policies do not allow, and one to a bucket that account {} does not own: check the bucket policy, the role's permissions and --s3-bucket-owner)",
                self.owner
            )
        } else if e.code == "NoSuchBucket" {
            " (the bucket does not exist)".to_owned()
        } else {
            String::new()
        };
        format!("cannot {verb} {url} in bucket '{}': {}: {}{hint}", url.bucket, e.code, e.message)
    }

    /// PutObject of `body` at `url`.
    pub async fn put(&self, url: &S3Url, body: Vec<u8>) -> Result<(), String> {
        let mut req = self
            .client
            .put_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .expected_bucket_owner(self.owner.as_str())
            .content_type(content_type(&url.key))
            .body(ByteStream::from(body));
        if let Some(key) = &self.kms_key {
            // "Specifying server-side encryption with AWS KMS (SSE-KMS)",
            // https://docs.aws.amazon.com/AmazonS3/latest/userguide/specifying-kms-encryption.html
            req = req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.explain("write", url, &ScopeError::from_sdk("PutObject", &e))),
        }
    }

    /// Uploads a local file to `url`.
    pub async fn put_file(&self, local: &Path, url: &S3Url) -> Result<(), String> {
        let body = tokio::fs::read(local).await.map_err(|e| format!("cannot read '{}' to upload it to {url}: {e}", local.display()))?;
        self.put(url, body).await
    }

    /// Uploads every file under `dir` to `prefix` (relative paths become keys); returns how many.
    pub async fn put_dir(&self, dir: &Path, prefix: &S3Url) -> Result<usize, String> {
        let mut files = Vec::new();
        collect(dir, dir, &mut files).map_err(|e| format!("cannot list '{}' to upload it to {prefix}: {e}", dir.display()))?;
        files.sort();
        for (path, name) in &files {
            self.put_file(path, &prefix.join(name)).await?;
        }
        Ok(files.len())
    }

    /// Whether the object exists: ListObjectsV2 of its key as prefix. A GetObject of a missing key answers
    /// 403 AccessDenied, not 404, to a caller without `s3:ListBucket` ("GetObject", Amazon S3 API Reference,
    /// Permissions: https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html); listing the one key
    /// needs `s3:ListBucket` only under the history's prefix (condition `s3:prefix`), and tells "not there
    /// yet" (the first run) from "denied".
    pub async fn exists(&self, url: &S3Url) -> Result<bool, ReadError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&url.bucket)
            .prefix(&url.key)
            .max_keys(1)
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.contents().iter().any(|c| c.key() == Some(url.key.as_str()))),
            Err(e) => {
                let e = ScopeError::from_sdk("ListObjectsV2", &e);
                Err(ReadError { message: self.explain("list", url, &e), transient: e.transient })
            }
        }
    }

    /// The `*.json` objects directly under `prefix` (ListObjectsV2 with the delimiter `/`, every page), sorted:
    /// the shard reports `orgscan merge s3://BUCKET/PREFIX/` reads. Needs `s3:ListBucket` under the prefix only.
    pub async fn list_json(&self, prefix: &S3Url) -> Result<Vec<S3Url>, ReadError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        // A listing that never ends (a next token on every page) is cut: far above any shard count.
        for _ in 0..1000 {
            let answer = self
                .client
                .list_objects_v2()
                .bucket(&prefix.bucket)
                .prefix(&prefix.key)
                .delimiter("/")
                .set_continuation_token(token.take())
                .expected_bucket_owner(self.owner.as_str())
                .send()
                .await;
            let page = match answer {
                Ok(p) => p,
                Err(e) => {
                    let e = ScopeError::from_sdk("ListObjectsV2", &e);
                    return Err(ReadError { message: self.explain("list", prefix, &e), transient: e.transient });
                }
            };
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|c| c.key())
                    .filter(|k| k.ends_with(".json"))
                    .map(|k| S3Url { bucket: prefix.bucket.clone(), key: k.to_owned() }),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) && !t.is_empty() => token = Some(t.to_owned()),
                _ => {
                    out.sort_by(|a, b| a.key.cmp(&b.key));
                    return Ok(out);
                }
            }
        }
        Err(ReadError { message: format!("the listing of {prefix} did not end after 1,000 pages"), transient: false })
    }

    /// GetObject of `url`; `Ok(None)` when there is no such key.
    pub async fn get(&self, url: &S3Url) -> Result<Option<Vec<u8>>, ReadError> {
        let out = self.client.get_object().bucket(&url.bucket).key(&url.key).expected_bucket_owner(self.owner.as_str()).send().await;
        match out {
            Ok(o) => match o.body.collect().await {
                Ok(bytes) => Ok(Some(bytes.into_bytes().to_vec())),
                Err(e) => Err(ReadError { message: format!("cannot read {url} in bucket '{}': {e}", url.bucket), transient: true }),
            },
            Err(e) => {
                let e = ScopeError::from_sdk("GetObject", &e);
                if e.code == "NoSuchKey" {
                    return Ok(None);
                }
                Err(ReadError { message: self.explain("read", url, &e), transient: e.transient })
            }
        }
    }
}

/// Every file under `dir`, with its path relative to `root` (separated by `/`).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(std::path::PathBuf, String)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let name: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            // Temporary files of atomic writes in progress elsewhere are not outputs.
            if !name.last().is_some_and(|n| n.starts_with(".orgscan-")) {
                out.push((path, name.join("/")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_get_their_media_type() {
        for (path, media_type) in [
            ("a/orgscan.json", "application/json"),
            ("x.sarif", "application/sarif+json"),
            ("r.html", "text/html; charset=utf-8"),
            ("o.jsonl", "application/x-ndjson"),
            ("p/orgscan-1.parquet", "application/octet-stream"),
        ] {
            assert_eq!(content_type(path), media_type, "{path}");
        }
    }

    #[test]
    fn a_directory_lists_its_files_relative_and_skips_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/x.json"), "x").unwrap();
        std::fs::write(dir.path().join("top.sarif"), "y").unwrap();
        std::fs::write(dir.path().join(".orgscan-123.tmp"), "z").unwrap();
        let mut out = Vec::new();
        collect(dir.path(), dir.path(), &mut out).unwrap();
        let mut names: Vec<String> = out.into_iter().map(|(_, n)| n).collect();
        names.sort();
        assert_eq!(names, ["a/b/x.json", "top.sarif"]);
    }
}
