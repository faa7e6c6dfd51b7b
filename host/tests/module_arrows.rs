//! Every arrow between modules points one way: no module imports a sibling
//! that imports it back, directly or around a circle. Checked on the
//! sources of both crates, from their `crate::` paths (test modules, at the
//! end of a file after `#[cfg(test)]`, are left out: a test may use anything).
//!
//! An arrow from `a::b::c` to `a::d` is an arrow between the siblings `a::b`
//! and `a::d`: circles are judged among the children of one module.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod common;

use common::root;

type Module = Vec<String>;

/// Every module of the crate whose sources are in `src`, with its source.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = relative
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap().to_owned();
            out.insert(module, code);
        }
    }
    out
}

/// The `crate::a::b::...` paths written in `code`, as their segments.
fn crate_paths(code: &str) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue; // `imagegate_policy_crate::`, not `crate::`
        }
        let rest = &code[at + "crate::".len()..];
        let mut segments = Vec::new();
        let mut tail = rest;
        loop {
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if end == 0 {
                break;
            }
            segments.push(&tail[..end]);
            match tail[end..].strip_prefix("::") {
                Some(next) => tail = next,
                None => break,
            }
        }
        out.push(segments);
    }
    out
}

/// The arrows between sibling modules of the crate in `src`.
fn arrows(src: &Path) -> BTreeSet<(Module, Module)> {
    let modules = modules(src);
    let mut out = BTreeSet::new();
    for (from, code) in &modules {
        for path in crate_paths(code) {
            // The longest prefix of the path that is a module.
            let Some(to) = (1..=path.len()).rev().find_map(|n| {
                let candidate: Module = path[..n].iter().map(|s| (*s).to_owned()).collect();
                modules.contains_key(&candidate).then_some(candidate)
            }) else {
                continue;
            };
            let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if shared == from.len() || shared == to.len() {
                continue; // a module and its own ancestor or descendant
            }
            out.insert((from[..=shared].to_vec(), to[..=shared].to_vec()));
        }
    }
    out
}

/// The circles among `arrows`: each strongly connected set of two or more
/// modules, as `a <-> b <-> c`.
fn circles(arrows: &BTreeSet<(Module, Module)>) -> Vec<String> {
    let reach = |start: &Module| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(m) = todo.pop() {
            for (a, b) in arrows {
                if *a == m && seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
        seen
    };
    let nodes: BTreeSet<&Module> = arrows.iter().flat_map(|(a, b)| [a, b]).collect();
    let reaches: BTreeMap<&Module, BTreeSet<Module>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out = BTreeSet::new();
    for node in &nodes {
        let circle: Vec<String> = nodes
            .iter()
            .filter(|other| reaches[node].contains(**other) && reaches[**other].contains(*node))
            .map(|m| m.join("::"))
            .collect();
        if circle.len() > 1 {
            out.insert(circle.join(" <-> "));
        }
    }
    out.into_iter().collect()
}

#[test]
fn the_policy_crate_has_no_import_circles() {
    assert_eq!(
        circles(&arrows(&root().join("policy/src"))),
        Vec::<String>::new()
    );
}

#[test]
fn the_host_has_no_import_circles_but_the_known_ones() {
    // Known, and left for their owners: each is a circle through shared
    // registry and recording types. The list may only shrink.
    let known = [
        "artifact <-> registry <-> verify",
        "capabilities <-> recorded",
    ];
    assert_eq!(circles(&arrows(&root().join("host/src"))), known);
}

#[test]
fn a_circle_is_found_through_use_lines_and_paths() {
    let code = "use crate::b::{self, X};\nfn f() { crate::c::g(); }\n";
    assert_eq!(
        crate_paths(code),
        vec![vec!["b"], vec!["c", "g"]],
        "`use crate::b::{{...}}` names module b"
    );
    let module = |s: &str| s.split("::").map(str::to_owned).collect::<Module>();
    let arrows: BTreeSet<(Module, Module)> = [
        (module("a"), module("b")),
        (module("b"), module("c")),
        (module("c"), module("a")),
        (module("c"), module("d")),
    ]
    .into_iter()
    .collect();
    assert_eq!(circles(&arrows), vec!["a <-> b <-> c"]);
}
