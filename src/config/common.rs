//! Option groups that `orgscan scan` and `orgscan merge` share: the outputs, the runs-over-time options, the
//! ASFF directory; and `--shard`.

use super::ConfigError;
use crate::cli::{FailOnArg, HistoryArgs, OutputArgs, SarifSuppressedArg, SeverityArg};
use crate::files::{check_writable, is_stdout};
use crate::model::{FailOn, FailPolicy, Severity, Shard};
use crate::report::Outputs;
use crate::triage::{Baseline, RuleSet};

/// `--asff-dir`: created if missing, and checked to accept files.
pub(crate) fn asff_dir(dir: &std::path::Path) -> Result<(), ConfigError> {
    not_stdout("--asff-dir", dir)?;
    if dir.exists() && !dir.is_dir() {
        return Err(ConfigError(format!("invalid --asff-dir '{}': it exists and is not a directory", dir.display())));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ConfigError(format!("invalid --asff-dir '{}': cannot create the directory: {e}", dir.display())))?;
    check_writable(&dir.join("batch-0001.json")).map_err(|e| ConfigError(format!("invalid --asff-dir '{}': {e}", dir.display())))
}

/// A directory option given `-`: there is no stdout for a directory of files.
fn not_stdout(option: &str, dir: &std::path::Path) -> Result<(), ConfigError> {
    if is_stdout(dir) {
        return Err(ConfigError(format!(
            "invalid {option} '-': it names a directory of files, which cannot go to stdout; give a directory"
        )));
    }
    Ok(())
}

/// Outputs that would overwrite each other or an input, compared as files (same inode, or same canonical
/// directory and name), not as strings: `--html ./sub/../r.json` is `--json r.json`. Refused: two outputs
/// that are one file, an output that is an input (`--config`, `--suppressions`, a shard report; `--baseline`
/// too, except as `--json`: the baseline is read before the scan, so `--baseline r.json --json r.json` is the
/// documented way to compare with yesterday's report), and an output file inside an output directory.
/// Character devices and FIFOs (`/dev/null`) are streams: they never collide.
pub(crate) fn collisions(
    outputs: &Outputs,
    asff_dir: Option<&std::path::Path>,
    baseline: Option<&std::path::Path>,
    inputs: &[(&str, &std::path::Path)],
) -> Result<(), ConfigError> {
    use crate::files::{identity, is_inside, is_stream};
    let files: Vec<(&str, &std::path::Path)> =
        [("--json", &outputs.json), ("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)]
            .into_iter()
            .filter_map(|(o, p)| p.as_deref().filter(|p| !is_stdout(p) && !is_stream(p)).map(|p| (o, p)))
            .collect();
    let same = |a: &std::path::Path, b: &std::path::Path| identity(a).is_some_and(|i| Some(i) == identity(b));
    for (i, (a, pa)) in files.iter().enumerate() {
        for (b, pb) in &files[i + 1..] {
            if same(pa, pb) {
                return Err(ConfigError(format!(
                    "{a} '{}' and {b} '{}' are the same file: give each output its own file",
                    pa.display(),
                    pb.display()
                )));
            }
        }
        let baseline = baseline.filter(|_| *a != "--json").map(|b| ("--baseline", b));
        for (input, pi) in inputs.iter().copied().chain(baseline) {
            if same(pa, pi) {
                return Err(ConfigError(format!(
                    "{a} '{}' is the {input} file '{}': writing it would destroy an input; give the output a file of its own",
                    pa.display(),
                    pi.display()
                )));
            }
        }
        for (d, dir) in
            [("--sarif-dir", outputs.sarif_dir.as_deref()), ("--ocsf-dir", outputs.ocsf_dir.as_deref()), ("--asff-dir", asff_dir)]
        {
            if let Some(dir) = dir
                && is_inside(pa, dir)
            {
                return Err(ConfigError(format!(
                    "{a} '{}' is inside {d} '{}', whose files orgscan names and replaces: give it a path outside",
                    pa.display(),
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// `--shard` and `--shard-count` (`var` reads the environment, for `--shard auto`).
pub fn shard_of(shard: Option<&str>, count: Option<u32>, var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, ConfigError> {
    match shard.map(str::trim) {
        None if count.is_some() => Err(ConfigError("--shard-count (or ORGSCAN_SHARD_COUNT) needs --shard auto".into())),
        None => Ok(None),
        Some("auto") => Ok(Some(crate::model::shard::from_env(var, count)?)),
        Some(v) => {
            let s = Shard::parse(v)?;
            match count {
                Some(c) if c != s.count => Err(ConfigError(format!(
                    "--shard {v} and --shard-count {c} (or ORGSCAN_SHARD_COUNT) disagree: give the count once, in --shard INDEX/COUNT"
                ))),
                _ => Ok(Some(s)),
            }
        }
    }
}

/// The output options, validated: conflicts refused, files and directories probed for writing.
pub(crate) fn outputs(o: &OutputArgs) -> Result<Outputs, ConfigError> {
    let outputs = Outputs {
        json: o.json.clone(),
        sarif: o.sarif.clone(),
        sarif_dir: o.sarif_dir.clone(),
        sarif_category: o.sarif_category.clone(),
        sarif_omit_suppressed: o.sarif_suppressed == Some(SarifSuppressedArg::Omit),
        html: o.html.clone(),
        ocsf: o.ocsf.clone(),
        ocsf_dir: o.ocsf_dir.clone(),
    };
    if o.sarif_suppressed.is_some() && outputs.sarif.is_none() && outputs.sarif_dir.is_none() {
        return Err(ConfigError("--sarif-suppressed needs --sarif PATH or --sarif-dir DIR".into()));
    }
    if outputs.sarif.is_some() && outputs.sarif_dir.is_some() {
        return Err(ConfigError("--sarif and --sarif-dir conflict: give one of them (--sarif-dir writes one file per account)".into()));
    }
    if let Some(c) = &outputs.sarif_category {
        if outputs.sarif.is_none() && outputs.sarif_dir.is_none() {
            return Err(ConfigError("--sarif-category needs --sarif PATH or --sarif-dir DIR".into()));
        }
        if c.trim().is_empty() || c.chars().any(char::is_control) {
            return Err(ConfigError(format!(
                "invalid --sarif-category {c:?}: give a non-empty category without control characters, e.g. orgscan/prod/"
            )));
        }
    }
    let files = [("--json", &outputs.json), ("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)];
    for (i, (a, pa)) in files.iter().enumerate() {
        for (b, pb) in &files[i + 1..] {
            if let (Some(pa), Some(pb)) = (pa, pb)
                && pa == pb
            {
                return Err(ConfigError(format!("{a} and {b} both name '{}': give each output its own file", pa.display())));
            }
        }
    }
    for (option, path) in [("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)] {
        if path.as_deref().is_some_and(is_stdout) {
            return Err(ConfigError(format!("invalid {option} '-': only --json writes to stdout; give a file path")));
        }
    }
    for (option, dir) in [("--sarif-dir", &outputs.sarif_dir), ("--ocsf-dir", &outputs.ocsf_dir)] {
        if let Some(d) = dir {
            not_stdout(option, d)?;
        }
    }
    for (option, p) in [("--json", &outputs.json), ("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)] {
        if let Some(p) = p.as_deref().filter(|p| !is_stdout(p)) {
            check_writable(p).map_err(|e| ConfigError(format!("invalid {option}: {e}")))?;
        }
    }
    if let Some(dir) = &outputs.sarif_dir {
        if dir.exists() && !dir.is_dir() {
            return Err(ConfigError(format!("invalid --sarif-dir '{}': it exists and is not a directory", dir.display())));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| ConfigError(format!("invalid --sarif-dir '{}': cannot create the directory: {e}", dir.display())))?;
        // The per-account file names are known only after the scan; probing any name checks the directory.
        check_writable(&dir.join("orgscan.sarif")).map_err(|e| ConfigError(format!("invalid --sarif-dir '{}': {e}", dir.display())))?;
    }
    if let Some(dir) = &outputs.ocsf_dir {
        if dir.exists() && !dir.is_dir() {
            return Err(ConfigError(format!("invalid --ocsf-dir '{}': it exists and is not a directory", dir.display())));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| ConfigError(format!("invalid --ocsf-dir '{}': cannot create the directory: {e}", dir.display())))?;
        // The partition directories are known only after the scan; the top directory takes them.
        check_writable(&dir.join("orgscan.parquet")).map_err(|e| ConfigError(format!("invalid --ocsf-dir '{}': {e}", dir.display())))?;
    }
    Ok(outputs)
}

/// `--baseline` and `--suppressions` (read and validated) and the exit policy.
pub(crate) fn history(h: &HistoryArgs) -> Result<(Option<Baseline>, Option<RuleSet>, FailPolicy), ConfigError> {
    let baseline = h.baseline.as_deref().map(Baseline::load).transpose()?;
    let suppressions = h.suppressions.as_deref().map(RuleSet::load).transpose()?;
    let fail_policy = FailPolicy {
        fail_on: match h.fail_on {
            Some(FailOnArg::New) => FailOn::New,
            Some(FailOnArg::Any) | None => FailOn::Any,
        },
        min_severity: h.fail_severity.map(|s| match s {
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }),
        warnings: h.fail_on_warning,
    };
    Ok((baseline, suppressions, fail_policy))
}
