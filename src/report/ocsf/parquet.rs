//! `--ocsf-dir DIR`: the OCSF events as Parquet, laid out for an Amazon Security Lake custom source.
//!
//! Security Lake User Guide, "Collecting data from custom sources in Security Lake"
//! (docs.aws.amazon.com/security-lake/latest/userguide/custom-sources.html): each S3 object is an Apache
//! Parquet file; every record of one object is of the same OCSF event class (here all are Compliance Finding,
//! 2003); objects are partitioned by source location, AWS Region, AWS account and date, as
//! `bucket-name/ext/custom-source-name/region=<region>/accountId=<accountID>/eventDay=<YYYYMMDD>/`; records
//! in an object are ordered by time. DIR stands for `ext/<custom-source-name>/`: copy it there
//! (`aws s3 sync DIR s3://<lake bucket>/ext/<source>/`). The date is the UTC day of the events' `time` (the
//! scan's start). A file is named after the scan (`orgscan-<start, UTC>.parquet`), so a second scan on the
//! same day adds a file beside the first instead of replacing it.
//!
//! The columns are the JSON events' attributes, typed (`schema`); `resources[].data` and `unmapped`, free-form
//! JSON objects, are JSON strings here. Written with the Apache Arrow project's `arrow-json` (rows from the
//! very structs the JSON Lines output serializes) and `parquet` crates, Snappy-compressed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use super::{ResourceData, Scan, Triage};
use crate::model::ScanReport;

/// One Parquet file: its path under DIR and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetFile {
    /// `region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/orgscan-<start>.parquet`.
    pub path: PathBuf,
    pub rows: usize,
    pub bytes: Vec<u8>,
}

/// An event that cannot be turned into a Parquet row (a bug of the schema, never of the scanned data).
#[derive(Debug, thiserror::Error)]
#[error("OCSF Parquet of partition '{partition}': {message}")]
pub struct ParquetError {
    pub partition: String,
    pub message: String,
}

/// Every partition's file, rendered in memory (the caller writes each one atomically).
pub fn render_dir(report: &ScanReport) -> Result<Vec<ParquetFile>, ParquetError> {
    let scan = Scan::new(report);
    let day = scan.started_at().format("%Y%m%d").to_string();
    let file_name = format!("orgscan-{}.parquet", scan.started_at().format("%Y%m%dT%H%M%SZ"));
    // Partitions in a stable order; findings keep the report's order inside each.
    let mut partitions: BTreeMap<(&str, &str), Vec<&crate::model::Finding>> = BTreeMap::new();
    for f in &report.findings {
        partitions.entry((f.target.region.as_str(), f.target.account.as_str())).or_default().push(f);
    }
    let mut out = Vec::with_capacity(partitions.len());
    for ((region, account), findings) in partitions {
        let dir = format!("region={region}/accountId={account}/eventDay={day}");
        let err = |message: String| ParquetError { partition: dir.clone(), message };
        let rows: Vec<_> = findings
            .iter()
            .map(|f| {
                let data = serde_json::to_string(&ResourceData::of(f)).map_err(|e| err(e.to_string()))?;
                let unmapped = Triage::of(f).map(|t| serde_json::to_string(&t)).transpose().map_err(|e| err(e.to_string()))?;
                Ok(scan.event_with(f, data, unmapped))
            })
            .collect::<Result<_, ParquetError>>()?;
        let mut decoder =
            arrow_json::ReaderBuilder::new(schema()).with_batch_size(rows.len().max(1)).build_decoder().map_err(|e| err(e.to_string()))?;
        decoder.serialize(&rows).map_err(|e| err(e.to_string()))?;
        let batch = decoder.flush().map_err(|e| err(e.to_string()))?;
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, schema(), Some(props)).map_err(|e| err(e.to_string()))?;
        if let Some(batch) = batch {
            writer.write(&batch).map_err(|e| err(e.to_string()))?;
        }
        writer.close().map_err(|e| err(e.to_string()))?;
        out.push(ParquetFile { path: PathBuf::from(&dir).join(&file_name), rows: rows.len(), bytes });
    }
    Ok(out)
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

fn opt_utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int32(name: &str) -> Field {
    Field::new(name, DataType::Int32, false)
}

/// OCSF `timestamp_t`: milliseconds since the epoch.
fn long(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

/// OCSF `datetime_t` (the `datetime` profile's `*_dt`): a UTC timestamp (an offset zone: named zones need chrono-tz).
fn datetime(name: &str) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())), false)
}

fn strings(name: &str) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))), false)
}

fn object(name: &str, nullable: bool, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), nullable)
}

fn objects(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::List(Arc::new(object("item", false, fields))), false)
}

/// The Arrow schema of an event: the attributes of [`super::Event`], in its order.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                int32("activity_id"),
                utf8("activity_name"),
                int32("category_uid"),
                utf8("category_name"),
                int32("class_uid"),
                utf8("class_name"),
                long("type_uid"),
                utf8("type_name"),
                long("time"),
                datetime("time_dt"),
                int32("severity_id"),
                utf8("severity"),
                int32("status_id"),
                utf8("status"),
                utf8("message"),
                object(
                    "metadata",
                    false,
                    vec![
                        utf8("version"),
                        object("product", false, vec![utf8("name"), utf8("vendor_name"), utf8("version")]),
                        utf8("event_code"),
                        long("logged_time"),
                        strings("profiles"),
                    ],
                ),
                object(
                    "finding_info",
                    false,
                    vec![
                        utf8("uid"),
                        utf8("title"),
                        utf8("desc"),
                        strings("types"),
                        utf8("src_url"),
                        long("created_time"),
                        datetime("created_time_dt"),
                        long("first_seen_time"),
                        datetime("first_seen_time_dt"),
                        long("last_seen_time"),
                        datetime("last_seen_time_dt"),
                    ],
                ),
                object(
                    "compliance",
                    false,
                    vec![
                        opt_utf8("control"),
                        strings("requirements"),
                        strings("standards"),
                        int32("status_id"),
                        utf8("status"),
                        objects("checks", vec![utf8("uid"), utf8("name"), int32("severity_id"), utf8("severity")]),
                    ],
                ),
                objects("resources", vec![utf8("uid"), utf8("name"), utf8("type"), utf8("region"), utf8("cloud_partition"), utf8("data")]),
                object("remediation", false, vec![utf8("desc"), strings("references")]),
                object(
                    "cloud",
                    false,
                    vec![
                        utf8("provider"),
                        utf8("region"),
                        object("account", false, vec![utf8("uid"), utf8("name"), int32("type_id"), utf8("type")]),
                        object("org", true, vec![opt_utf8("uid"), opt_utf8("ou_uid"), opt_utf8("ou_name")]),
                    ],
                ),
                opt_utf8("unmapped"),
            ]))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    #[test]
    fn one_file_per_region_account_and_event_day_that_reads_back() {
        let report = super::super::tests::report();
        let files = render_dir(&report).unwrap();
        let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        // The events' day is the scan's start (UTC), even when it ended the next day.
        assert_eq!(
            paths,
            [
                "region=eu-west-1/accountId=123456789012/eventDay=20261130/orgscan-20261130T235900Z.parquet",
                "region=us-east-1/accountId=123456789012/eventDay=20261130/orgscan-20261130T235900Z.parquet",
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        for f in &files {
            let p = dir.path().join("f.parquet");
            std::fs::write(&p, &f.bytes).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&p).unwrap()).unwrap();
            assert_eq!(reader.schema().fields().len(), schema().fields().len());
            let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
            assert_eq!((rows, f.rows), (1, 1));
        }
    }
}
