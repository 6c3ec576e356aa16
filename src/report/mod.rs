//! The outputs: pure functions of the scan report (the terminal summary, the JSON report, SARIF, OCSF), and
//! the writing of the files the user asked for. The ASFF files belong to `securityhub`.

pub mod html;
pub mod ocsf;
pub mod sarif;
pub mod text;

use std::path::PathBuf;

use crate::files::{is_stdout, write_atomic, write_in_tree};
use crate::model::ScanReport;
use std::path::Path;

/// The report files to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    pub json: Option<PathBuf>,
    /// `--sarif PATH`: one SARIF file.
    pub sarif: Option<PathBuf>,
    /// `--sarif-dir DIR`: one SARIF file per account.
    pub sarif_dir: Option<PathBuf>,
    /// `--sarif-category`: overrides the default category (see `sarif::category`).
    pub sarif_category: Option<String>,
    /// `--sarif-suppressed omit`: suppressed FAILs are left out of SARIF (GitHub ignores `suppressions`).
    pub sarif_omit_suppressed: bool,
    /// `--html PATH`: the self-contained HTML report.
    pub html: Option<PathBuf>,
    /// `--ocsf PATH`: OCSF Compliance Findings as JSON Lines.
    pub ocsf: Option<PathBuf>,
    /// `--ocsf-dir DIR`: OCSF as Parquet, in Amazon Security Lake's custom-source partitions.
    pub ocsf_dir: Option<PathBuf>,
}

/// Writes every requested output file, atomically. Returns the errors (one per file that failed).
pub fn write_outputs(report: &ScanReport, outputs: &Outputs) -> Vec<String> {
    let mut errors = Vec::new();
    // `--json -` is written to stdout by the caller, with the summary on stderr.
    if let Some(p) = outputs.json.as_ref().filter(|p| !is_stdout(p))
        && let Err(e) = write_atomic(p, |w| crate::json::to_writer(report, w))
    {
        errors.push(format!("cannot write JSON report '{}': {e}", p.display()));
    }
    if let Some(p) = &outputs.html {
        match html::render(report) {
            Ok(page) => {
                if let Err(e) = write_atomic(p, |w| std::io::Write::write_all(w, page.as_bytes())) {
                    errors.push(format!("cannot write the HTML report '{}': {e}", p.display()));
                }
            }
            Err(e) => errors.push(format!("HTML report '{}' not written: {e}", p.display())),
        }
    }
    // SARIF: everything is rendered and checked against GitHub's limits before the first byte is written,
    // so an output GitHub would reject is never written (the error names the option that makes it fit).
    let limits = sarif::Limits::GITHUB;
    let options = sarif::SarifOptions { category: outputs.sarif_category.clone(), omit_suppressed: outputs.sarif_omit_suppressed };
    if let Some(p) = &outputs.sarif {
        match sarif::render_file(report, &options, &limits) {
            Ok(file) => {
                if let Err(e) = write_atomic(p, |w| std::io::Write::write_all(w, &file.bytes)) {
                    errors.push(format!("cannot write SARIF '{}': {e}", p.display()));
                }
            }
            Err(e) => errors.push(format!("SARIF '{}' not written: {e}", p.display())),
        }
    }
    if let Some(dir) = &outputs.sarif_dir {
        match sarif::render_dir(report, &options, &limits) {
            Ok(files) => {
                for file in files {
                    let p = dir.join(&file.file_name);
                    if let Err(e) = write_in_tree(dir, Path::new(&file.file_name), |w| std::io::Write::write_all(w, &file.bytes)) {
                        errors.push(format!("cannot write SARIF '{}': {e}", p.display()));
                    }
                }
            }
            Err(e) => errors.push(format!("SARIF files in '{}' not written: {e}", dir.display())),
        }
    }
    if let Some(p) = &outputs.ocsf
        && let Err(e) = write_atomic(p, |w| ocsf::to_writer(report, w))
    {
        errors.push(format!("cannot write OCSF '{}': {e}", p.display()));
    }
    if let Some(dir) = &outputs.ocsf_dir {
        match ocsf::parquet::render_dir(report) {
            Ok(files) => {
                for file in files {
                    let p = dir.join(&file.path);
                    let written = write_in_tree(dir, Path::new(&file.path), |w| std::io::Write::write_all(w, &file.bytes));
                    if let Err(e) = written {
                        errors.push(format!("cannot write OCSF Parquet '{}': {e}", p.display()));
                    }
                }
            }
            Err(e) => errors.push(format!("OCSF Parquet files in '{}' not written: {e}", dir.display())),
        }
    }
    errors
}
