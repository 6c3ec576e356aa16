//! `orgscan merge`: the shard reports to join and the outputs to write, validated before anything is read.

use std::path::PathBuf;

use super::ConfigError;
use super::common::{asff_dir, collisions, history, outputs, remote};
use crate::cli::MergeArgs;
use crate::model::FailPolicy;
use crate::notify::NotifyPlan;
use crate::report::Outputs;
use crate::store::StorePlan;
use crate::triage::{Baseline, RuleSet};

#[derive(Debug)]
pub struct MergePlan {
    pub reports: Vec<PathBuf>,
    pub outputs: Outputs,
    pub asff_dir: Option<PathBuf>,
    pub baseline: Option<Baseline>,
    pub suppressions: Option<RuleSet>,
    pub fail_policy: FailPolicy,
    pub store: StorePlan,
    pub notify: NotifyPlan,
}

impl MergePlan {
    pub fn from_args(args: &MergeArgs) -> Result<Self, ConfigError> {
        if args.reports.is_empty() {
            return Err(ConfigError("give the shard reports to merge: orgscan merge shard-0.json shard-1.json ...".into()));
        }
        let (mut o, mut asff, mut h) = (args.outputs.clone(), args.asff_dir.clone(), args.history.clone());
        let (store, notify) = remote(&mut o, &mut asff, &mut h, &args.notify)?;
        let outputs = outputs(&o)?;
        let reports = expand_dirs(&args.reports, outputs.json.as_deref())?;
        if let Some(json) = &outputs.json
            && reports.contains(json)
        {
            return Err(ConfigError(format!(
                "--json '{}' is one of the shard reports: write the merged report to a file of its own",
                json.display()
            )));
        }
        if let Some(dir) = &asff {
            asff_dir(dir)?;
        }
        let mut inputs: Vec<(&str, &std::path::Path)> = reports.iter().map(|p| ("shard report", p.as_path())).collect();
        inputs.extend(h.suppressions.as_deref().map(|p| ("--suppressions", p)));
        collisions(&outputs, asff.as_deref(), h.baseline.as_deref(), &inputs)?;
        let (baseline, suppressions, fail_policy) = history(&h)?;
        Ok(Self { reports, outputs, asff_dir: asff, baseline, suppressions, fail_policy, store, notify })
    }
}

/// A directory among the reports stands for every `*.json` file in it, in name order (the merged `--json`
/// left out): the release image has no shell to expand `shard-*.json`, and a shard that wrote no report
/// is then missing from the directory, which the merge names, rather than a path that cannot be read.
fn expand_dirs(reports: &[PathBuf], merged: Option<&std::path::Path>) -> Result<Vec<PathBuf>, ConfigError> {
    let mut out = Vec::new();
    for r in reports {
        if !r.is_dir() {
            out.push(r.clone());
            continue;
        }
        let entries = std::fs::read_dir(r).map_err(|e| ConfigError(format!("cannot read the directory '{}': {e}", r.display())))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json") && Some(p.as_path()) != merged)
            .collect();
        if found.is_empty() {
            return Err(ConfigError(format!("the directory '{}' holds no shard report (*.json): no shard wrote one there", r.display())));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_stands_for_its_json_files_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["shard-1.json", "shard-0.json", "orgscan.json", "notes.txt"] {
            std::fs::write(dir.path().join(f), "{}").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.json")).unwrap();
        let merged = dir.path().join("orgscan.json");
        let got = expand_dirs(&[dir.path().to_path_buf(), PathBuf::from("other.json")], Some(&merged)).unwrap();
        let names: Vec<_> = got.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["shard-0.json", "shard-1.json", "other.json"]);
        let empty = tempfile::tempdir().unwrap();
        let e = expand_dirs(&[empty.path().to_path_buf()], None).unwrap_err().0;
        assert!(e.contains(&empty.path().display().to_string()) && e.contains("no shard report"), "{e}");
    }
}
