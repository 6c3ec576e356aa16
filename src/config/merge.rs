//! `orgscan merge`: the shard reports to join and the outputs to write, validated before anything is read.

use std::path::PathBuf;

use super::ConfigError;
use super::common::{asff_dir, collisions, history, outputs};
use crate::cli::MergeArgs;
use crate::model::FailPolicy;
use crate::report::Outputs;
use crate::triage::{Baseline, RuleSet};

#[derive(Debug)]
pub struct MergePlan {
    pub reports: Vec<PathBuf>,
    pub outputs: Outputs,
    pub asff_dir: Option<PathBuf>,
    pub baseline: Option<Baseline>,
    pub suppressions: Option<RuleSet>,
    pub fail_policy: FailPolicy,
}

impl MergePlan {
    pub fn from_args(args: &MergeArgs) -> Result<Self, ConfigError> {
        if args.reports.is_empty() {
            return Err(ConfigError("give the shard reports to merge: orgscan merge shard-0.json shard-1.json ...".into()));
        }
        let outputs = outputs(&args.outputs)?;
        if let Some(json) = &outputs.json
            && args.reports.contains(json)
        {
            return Err(ConfigError(format!(
                "--json '{}' is one of the shard reports: write the merged report to a file of its own",
                json.display()
            )));
        }
        if let Some(dir) = &args.asff_dir {
            asff_dir(dir)?;
        }
        let mut inputs: Vec<(&str, &std::path::Path)> = args.reports.iter().map(|p| ("shard report", p.as_path())).collect();
        inputs.extend(args.history.suppressions.as_deref().map(|p| ("--suppressions", p)));
        collisions(&outputs, args.asff_dir.as_deref(), args.history.baseline.as_deref(), &inputs)?;
        let (baseline, suppressions, fail_policy) = history(&args.history)?;
        Ok(Self { reports: args.reports.clone(), outputs, asff_dir: args.asff_dir.clone(), baseline, suppressions, fail_policy })
    }
}
