//! The layering of src/ (DESIGN.md, "Layers"): every module imports only from layers below its own, so the
//! dependency graph between orgscan's modules has no cycle. This reads the sources (no tool to install):
//! every `crate::<module>` path and every `super::<sibling>` path outside `#[cfg(test)]` code is an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::root;

/// Bottom to top. A module may import only from layers listed before its own.
const LAYERS: &[&[&str]] = &[
    &["model", "files"],
    &["aws"],
    &["check"],
    &["org"],
    &["scan"],
    &["triage"],
    &["securityhub"],
    // The other sinks: outputs bound for S3 and the run history (`store`), the notification digest and its
    // SNS and webhook sinks (`notify`). They render nothing themselves: the root hands them what the outputs
    // wrote.
    &["store", "notify"],
    // `fix` (orgscan fix) beside the outputs: it uses the checks, the walker's credentials and the scanner
    // below it, and only the command line and the root use it.
    &["report", "fix"],
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
            violations.push(format!("module {from} is in no layer: add it to LAYERS and to DESIGN.md"));
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
    let src = root().join("src");
    let mut long = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let n = std::fs::read_to_string(&p).unwrap().lines().count();
                if n > 500 {
                    long.push(format!("{} ({n} lines)", p.display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "split these files: {long:?}");
}
