//! `orgscan merge`: the shard reports to join and the outputs to write, validated before anything is read.

use std::path::PathBuf;

use super::ConfigError;
use super::common::{asff_dir, history, outputs, remote};
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
        if let Some(json) = &outputs.json
            && args.reports.contains(json)
        {
            return Err(ConfigError(format!(
                "--json '{}' is one of the shard reports: write the merged report to a file of its own",
                json.display()
            )));
        }
        if let Some(dir) = &asff {
            asff_dir(dir)?;
        }
        let (baseline, suppressions, fail_policy) = history(&h)?;
        Ok(Self { reports: args.reports.clone(), outputs, asff_dir: asff, baseline, suppressions, fail_policy, store, notify })
    }
}
