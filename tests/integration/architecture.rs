//! The layering of src/ (ARCHITECTURE.md, "Layers"): every module imports only from layers below its own, so
//! the dependency graph between orgscan's modules has no cycle. This reads the sources (no tool to install):
//! every `crate::<module>` path and every `super::<sibling>` path outside `#[cfg(test)]` code is an edge.
//! A check owns everything about itself: no code outside src/check/ names one (its module, its INFO, its
//! resource types). And the design stays in the repository: no file names a Markdown document or a
//! repository path that a clone does not have.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::support::{files_under, root};

/// Bottom to top. A module may import only from layers listed before its own.
const LAYERS: &[&[&str]] = &[
    &["model", "files"],
    &["aws"],
    &["check"],
    &["org"],
    &["scan"],
    // `json`: the JSON report, schema v3, written and read back in one module (a baseline, a shard report);
    // its reader turns entries into findings of the registered checks.
    &["json"],
    &["triage"],
    &["securityhub"],
    // The other sinks: outputs bound for S3 and the run history (`store`), the notification digest and its
    // SNS and webhook sinks (`notify`). They render nothing themselves: the root hands them what the outputs
    // wrote.
    &["store", "notify"],
    // `fix` (orgscan fix) beside the outputs: it uses the checks, the walker's credentials and the scanner
    // below it, and only the command line and the root use it.
    // `iam` (orgscan checks --iam-policy): the IAM policies generated from the checks', the walker's and the fixes'
    // declarations.
    &["report", "fix", "iam"],
    // `merge` (orgscan merge) reads shard reports back and writes every output from the merged one.
    &["merge"],
    &["cli"],
    // `deliver`: the wiring of the S3 store and the notification around one run (used by the root and main).
    &["config", "progress", "deliver"],
    // `remediate`: `orgscan fix` wired (its plan from `config`, the scan and the walker around `fix/`).
    &["remediate"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The source without its unit tests (a `#[cfg(test)]` item runs to the end of the file by convention here).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Identifiers that follow `prefix` in `text` (`crate::model::X` -> `model`).
fn paths_after<'a>(text: &'a str, prefix: &str) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        // `$crate::` or an identifier ending in `crate` is not this crate's root path.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end > 0 {
            out.insert(&rest[..end]);
        }
    }
    out
}

struct Source {
    /// `model`, `securityhub`, ... (`lib` for src/lib.rs).
    top: String,
    /// The file's module name inside its folder (`mod` for a folder's mod.rs, or a top-level file).
    name: String,
    text: String,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, top: Option<&str>, out: &mut Vec<Source>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, Some(top.unwrap_or(&stem)), out);
            } else if path.extension().is_some_and(|e| e == "rs") && !(top.is_none() && stem == "main") {
                // main.rs is the binary: it uses the library from outside, through `orgscan::`.
                let text = std::fs::read_to_string(&path).unwrap();
                let (top, name) = match top {
                    Some(t) => (t.to_owned(), stem),
                    None => (stem, "mod".to_owned()),
                };
                out.push(Source { top, name, text: without_tests(&text).to_owned() });
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("src"), None, &mut out);
    out
}

#[test]
fn modules_import_only_from_layers_below_them() {
    let sources = sources();
    let tops: BTreeSet<String> = sources.iter().map(|s| s.top.clone()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &sources {
        for target in paths_after(&s.text, "crate::") {
            if target != s.top && tops.contains(target) {
                edges.entry(s.top.clone()).or_default().insert(target.to_owned());
            }
        }
    }
    let mut violations = Vec::new();
    for (from, tos) in &edges {
        if from == "lib" {
            continue; // the root wires one run: it may use every layer
        }
        let Some(lf) = layer_of(from) else {
            violations.push(format!("module {from} is in no layer: add it to LAYERS and to ARCHITECTURE.md"));
            continue;
        };
        for to in tos {
            match layer_of(to) {
                Some(lt) if lt < lf => {}
                _ => violations.push(format!("{from} imports {to}, which is not in a layer below it")),
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
    // The leaves import nothing else of orgscan.
    assert!(!edges.contains_key("model"), "model imports {:?}", edges.get("model"));
    assert!(!edges.contains_key("files"), "files imports {:?}", edges.get("files"));
    // Every module of the tree was seen, so an unlisted new module cannot slip past.
    for t in &tops {
        assert!(t == "lib" || layer_of(t).is_some(), "module {t} is in no layer");
    }
}

/// A cycle of `edges` (depth-first search for a back edge), as the path around it.
fn find_cycle<'a>(nodes: &BTreeSet<&'a str>, edges: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        n: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match state.get(n) {
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n);
                return Some(cycle);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(n, 1);
        path.push(n);
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    nodes.iter().find_map(|n| visit(n, edges, &mut state, &mut Vec::new()))
}

#[test]
fn the_files_of_each_folder_form_no_cycle() {
    let sources = sources();
    let mut by_top: BTreeMap<&str, Vec<&Source>> = BTreeMap::new();
    for s in &sources {
        by_top.entry(s.top.as_str()).or_default().push(s);
    }
    for (top, files) in by_top {
        let names: BTreeSet<&str> = files.iter().map(|s| s.name.as_str()).collect();
        let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in &files {
            // A folder's mod.rs declares and re-exports its files: that is not a dependency on them.
            if s.name == "mod" {
                continue;
            }
            let via_crate = paths_after(&s.text, &format!("crate::{top}::"));
            let via_super = paths_after(&s.text, "super::");
            for t in via_crate.into_iter().chain(via_super) {
                if t != s.name && names.contains(t) && t != "mod" {
                    edges.entry(s.name.as_str()).or_default().insert(t);
                }
            }
        }
        let cycle = find_cycle(&names, &edges);
        assert!(cycle.is_none(), "import cycle in src/{top}/: {}", cycle.unwrap_or_default().join(" -> "));
    }
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    // The parser the two tests above rely on: paths are found, `$crate::` is not this crate.
    let text = "use crate::model::X;\nuse super::plan::Y;\nmacro_rules! m { () => { $crate::aws::Z } }\n";
    assert_eq!(paths_after(text, "crate::"), BTreeSet::from(["model"]));
    assert_eq!(paths_after(text, "super::"), BTreeSet::from(["plan"]));
    assert_eq!(without_tests("a\n#[cfg(test)]\nmod tests { crate::x }"), "a\n");
    assert_eq!(layer_of("model"), Some(0));
    let nodes = BTreeSet::from(["a", "b", "c"]);
    let acyclic = BTreeMap::from([("a", BTreeSet::from(["b"])), ("b", BTreeSet::from(["c"]))]);
    assert_eq!(find_cycle(&nodes, &acyclic), None);
    let cyclic = BTreeMap::from([("a", BTreeSet::from(["b"])), ("b", BTreeSet::from(["c"])), ("c", BTreeSet::from(["a"]))]);
    assert_eq!(find_cycle(&nodes, &cyclic), Some(vec!["a", "b", "c", "a"]));
    assert!(layer_of("report") > layer_of("securityhub") && layer_of("scan") > layer_of("check"));
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut long = Vec::new();
    for p in files_under(&root().join("src")).into_iter().filter(|p| p.extension().is_some_and(|x| x == "rs")) {
        let n = std::fs::read_to_string(&p).unwrap().lines().count();
        if n > 500 {
            long.push(format!("{} ({n} lines)", p.display()));
        }
    }
    assert!(long.is_empty(), "split these files: {long:?}");
}

/// Markdown names that are not documents of this repository, per file, each with why. Keep it short: a name
/// belongs here only when it names something outside the repository that is not a link (a URL is never
/// checked, so a linked page needs no entry). The names are given without their `.md`, so that this file does not name them itself.
const FOREIGN_DOCUMENTS: &[(&str, &[&str], &str)] = &[(
    "data/lambda-runtimes.toml",
    &["lambda-nodejs", "lambda-java", "lambda-csharp", "lambda-ruby", "go-image"],
    "the source pages of the AWS Lambda Developer Guide the runtime table was checked against",
)];

/// The repository's files as a clone (or the next commit) has them: tracked, and new files git does not
/// ignore, that exist on disk; paths relative to the root, with `/`.
fn repository_files() -> BTreeSet<String> {
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run git ls-files in {}: {e}", root().display()));
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    let list = String::from_utf8(out.stdout).expect("git ls-files prints UTF-8 paths");
    list.split('\0').filter(|p| !p.is_empty() && root().join(p).is_file()).map(str::to_owned).collect()
}

/// `path` with `.` and `..` components resolved, relative to the root (`None` when it climbs above it).
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// What `text` (the file `file`) names that the repository must have: Markdown documents (`*.md`, relative
/// to the root or to the file's folder), and paths under one of the repository's top-level folders that end
/// in a file extension (`src/aws/mod.rs`, `deploy/audit-role.yaml`). URLs are not references; nor is a path
/// that climbs (`examples/../out/report.json` names a place, not a file of the repository). Each reference
/// comes with the paths it may resolve to (none when it climbs above the root).
fn references<'a>(file: &str, text: &'a str, tops: &BTreeSet<&str>) -> Vec<(&'a str, Vec<String>)> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '-');
    let mut out = Vec::new();
    for run in text.split(|c: char| !is_path_char(c)) {
        // A sentence's full stop or colon is not part of a name; a leading `../` is.
        let run = run.trim_end_matches(['.', ':']).trim_start_matches(':');
        let run = run.strip_prefix("./").unwrap_or(run);
        if run.is_empty() || run.contains("://") {
            continue;
        }
        if run.ends_with(".md") && run.len() > 3 {
            let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
            let candidates = [normalize(run), normalize(&format!("{dir}/{run}"))].into_iter().flatten().collect();
            out.push((run, candidates));
        } else if let Some((top, rest)) = run.split_once('/')
            && tops.contains(top)
            && !run.split('/').any(|c| c == "..")
            && rest
                .rsplit_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            out.push((run, vec![run.to_owned()]));
        }
    }
    out
}

#[test]
fn no_file_names_a_document_or_a_source_path_the_repository_does_not_have() {
    let files = repository_files();
    assert!(files.contains("ARCHITECTURE.md") && files.contains("src/lib.rs"), "the file list is not the repository's: {files:?}");
    let tops: BTreeSet<&str> = files.iter().filter_map(|f| f.split_once('/').map(|(t, _)| t)).filter(|t| !t.starts_with('.')).collect();
    let mut missing = Vec::new();
    let mut allowed_used: BTreeSet<(&str, String)> = BTreeSet::new();
    for file in &files {
        // Binary files (the screenshot) are not text: nothing to read.
        let Ok(text) = std::fs::read_to_string(root().join(file)) else { continue };
        for (name, candidates) in references(file, &text, &tops) {
            if candidates.iter().any(|c| files.contains(c)) {
                continue;
            }
            let stem = name.strip_suffix(".md").unwrap_or(name);
            let allowed = FOREIGN_DOCUMENTS.iter().find(|(f, names, _)| f == file && names.contains(&stem));
            match allowed {
                Some((f, _, _)) => {
                    allowed_used.insert((*f, stem.to_owned()));
                }
                None => missing.push(format!("{file} names {name}")),
            }
        }
    }
    assert!(missing.is_empty(), "files name documents or paths the repository does not have:\n{}", missing.join("\n"));
    // Every entry of the allow-list is still needed, so it cannot grow stale.
    for (f, names, why) in FOREIGN_DOCUMENTS {
        for n in *names {
            assert!(allowed_used.contains(&(*f, (*n).to_owned())), "{f} no longer names {n}.md ({why}): remove it from FOREIGN_DOCUMENTS");
        }
    }
}

#[test]
fn the_reference_checker_sees_what_is_missing() {
    let tops = BTreeSet::from(["src", "docs"]);
    // Built at run time, so that this file does not itself name the documents it tests with.
    let text = format!(
        "see {} and [notes]({}) or {}; not https://example.com/{}, not rust-runtime/{}, not src/../{}; {} {}",
        concat!("DESIGN", ".md"),
        concat!("../notes/GUIDE", ".md"),
        concat!("src/", "aws.rs"),
        concat!("x", ".md"),
        concat!("src/", "json_errors.rs"),
        concat!("out/", "r.json"),
        concat!("src/", "check/"),
        concat!("docs/", "emulator", ".md."),
    );
    let found: Vec<(&str, Vec<String>)> = references(concat!("docs/a", ".md"), &text, &tops);
    let names: Vec<&str> = found.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [concat!("DESIGN", ".md"), concat!("../notes/GUIDE", ".md"), concat!("src/", "aws.rs"), concat!("docs/", "emulator", ".md")]
    );
    // A name resolves from the root or from the file's folder; a path that climbs above the root resolves nowhere.
    assert_eq!(found[0].1, [concat!("DESIGN", ".md"), concat!("docs/DESIGN", ".md")]);
    assert_eq!(found[1].1, [concat!("notes/GUIDE", ".md")]);
    assert_eq!(normalize("a/./b/../c"), Some("a/c".to_owned()));
    assert_eq!(normalize("../a"), None);
}

/// The check modules the registry declares (`registry! { ... }` in src/check/mod.rs), in order.
fn registered_modules() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("src/check/mod.rs")).unwrap();
    let start = text.find("\nregistry! {").expect("src/check/mod.rs declares the registry with `registry! {`");
    let body = &text[start + "\nregistry! {".len()..];
    let body = &body[..body.find('}').expect("the registry's closing brace")];
    let modules: Vec<String> = body.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect();
    assert_eq!(modules.len(), orgscan::check::ALL.len(), "the registry's modules, as read: {modules:?}");
    modules
}

/// Where `text` (Rust source, its comments ignored) names one of the check `modules` (`check::kms`, `kms::INFO`
/// through it, or `check::{self, kms}`) or one of the `literals` as a string literal (a check's resource
/// types, `"AwsKmsKey"`): one line per place.
fn names_of_checks(text: &str, modules: &[String], literals: &[String]) -> Vec<String> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut named: Vec<&str> = Vec::new();
        let mut rest = code;
        while let Some(i) = rest.find("check::") {
            rest = &rest[i + "check::".len()..];
            // `check::kms` or the group `check::{self, kms::INFO}`.
            let group = match rest.strip_prefix('{') {
                Some(g) => &g[..g.find('}').unwrap_or(g.len())],
                None => &rest[..rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len())],
            };
            for item in group.split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                named.extend(modules.iter().map(String::as_str).filter(|m| *m == first));
            }
        }
        named.extend(literals.iter().map(String::as_str).filter(|l| code.contains(&format!("\"{l}\""))));
        for name in named {
            out.push(format!("line {}: {name}: {}", n + 1, line.trim()));
        }
    }
    out
}

/// The source before its unit tests: a `#[cfg(test)]` module named `tests` (of any visibility: a leaf's
/// `pub(crate) mod tests` shares fixtures) runs to the end of the file by convention here.
fn without_test_module(text: &str) -> &str {
    let end = ["mod tests", "pub(crate) mod tests", "pub mod tests"]
        .iter()
        .filter_map(|m| text.find(&format!("#[cfg(test)]\n{m}")))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}

/// The files under src/ outside src/check/ that are not test code, with their text without unit tests:
/// `#[cfg(test)] mod tests { .. }` at the end of a file, and files declared `#[cfg(test)] mod x;`.
fn non_test_sources_outside_check() -> Vec<(String, String)> {
    let src = root().join("src");
    let files = files_under(&src).into_iter().filter(|p| p.extension().is_some_and(|x| x == "rs"));
    let texts: BTreeMap<std::path::PathBuf, String> =
        files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect();
    let test_only: BTreeSet<std::path::PathBuf> = texts
        .iter()
        .flat_map(|(p, text)| {
            let dir = p.parent().unwrap().to_owned();
            text.split("#[cfg(test)]\n")
                .skip(1)
                .filter_map(|after| after.strip_prefix("mod ").or_else(|| after.strip_prefix("pub mod ")))
                .filter_map(|decl| decl.split_once(';').map(|(name, _)| name.trim().to_owned()))
                .filter(|name| name.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .map(move |name| dir.join(format!("{name}.rs")))
                .collect::<Vec<_>>()
        })
        .collect();
    texts
        .into_iter()
        .filter(|(p, _)| !p.starts_with(src.join("check")) && !test_only.contains(p))
        .map(|(p, text)| (p.strip_prefix(root()).unwrap().display().to_string(), without_test_module(&text).to_owned()))
        .collect()
}

/// A check owns everything about itself (ARCHITECTURE.md, "Adding a check"): no code outside src/check/
/// names a check, its INFO or its resource types; the other layers read what each check declares through the
/// registry. Unit tests may build their fixtures with a check.
#[test]
fn no_module_outside_check_names_a_check() {
    let modules = registered_modules();
    let generic = orgscan::model::check_info::ACCOUNT_RESOURCE_TYPE;
    let literals: Vec<String> = orgscan::check::ALL
        .iter()
        .flat_map(|c| c.info().resource_types.iter())
        .filter(|t| **t != generic)
        .map(|t| (*t).to_owned())
        .collect();
    assert!(literals.len() >= 6, "{literals:?}");
    let sources = non_test_sources_outside_check();
    assert!(
        sources.iter().any(|(p, _)| p == "src/lib.rs") && !sources.iter().any(|(p, _)| p.contains("securityhub/testing")),
        "{:?}",
        sources.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    let found: Vec<String> = sources
        .iter()
        .flat_map(|(p, text)| names_of_checks(text, &modules, &literals).into_iter().map(move |l| format!("{p} {l}")))
        .collect();
    assert!(
        found.is_empty(),
        "outside src/check/, code names a check (declare it in the check and read it through the registry):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_name_finder_sees_every_form() {
    let modules = ["kms".to_owned(), "lambda".to_owned()];
    let literals = ["AwsKmsKey".to_owned()];
    assert_eq!(without_test_module("a\n#[cfg(test)]\npub(crate) mod tests { \"AwsKmsKey\" }"), "a\n");
    let text = "use crate::check::{self, CheckSettings, kms};\nlet x = check::lambda::INFO.id;\nlet t = \"AwsKmsKey\";\n\
                // check::kms in a comment, \"AwsKmsKey\"\nuse crate::check::{ALL, lambda::RuntimeTable};\nlet y = check::kmsx;\nlet z = \"AwsKmsKeys\";\n";
    let found = names_of_checks(text, &modules, &literals);
    let lines: Vec<&str> = found.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(lines, ["line 1", "line 2", "line 3", "line 5"], "{found:?}");
}
