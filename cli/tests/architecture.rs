//! The shape of the workspace, as ARCHITECTURE.md states it: which crate may depend on
//! which, and no import cycle between the modules of a crate (outside test modules).
//!
//! Modules are files (`a/mod.rs` is `a`, `a/b.rs` is `a::b`); a module depends on the
//! modules its paths name (`crate::a::b::Item`, `super::b`, `use b::...` for a child),
//! resolved to the longest module prefix. A parent that only declares a child does not
//! depend on it; one that re-exports from it does, so a child that imports through its
//! parent's re-exports closes a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace crates whose modules are checked.
const CRATES: &[&str] = &["protocol", "runtime", "compiler", "cli", "executor", "orchestrator"];

/// The `aqueducts-*` crates each crate may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("runtime", &["aqueducts-protocol"]),
    ("compiler", &["aqueducts-runtime"]),
    ("cli", &["aqueducts-compiler", "aqueducts-runtime", "aqueducts-protocol"]),
    ("executor", &["aqueducts-runtime", "aqueducts-protocol"]),
    ("orchestrator", &["aqueducts-compiler", "aqueducts-runtime", "aqueducts-protocol"]),
];

#[test]
fn crates_depend_only_downward() {
    for (krate, allowed) in ALLOWED {
        let manifest = std::fs::read_to_string(repo().join(krate).join("Cargo.toml")).unwrap();
        let ours = normal_dependencies(&manifest);
        for name in &ours {
            assert!(
                allowed.contains(&name.as_str()),
                "{krate} depends on {name}; ARCHITECTURE.md allows only {allowed:?}"
            );
        }
    }
    // The wire types stay free of a query engine, so any client can speak them.
    let protocol = std::fs::read_to_string(repo().join("protocol/Cargo.toml")).unwrap();
    assert!(!section(&protocol, "[dependencies]").contains("datafusion"), "aqueducts-protocol links DataFusion");
}

/// The `aqueducts-*` packages of every dependency table but the dev-dependencies
/// (`[dependencies]`, `[target.….dependencies]`, `[dependencies.NAME]`), renamed ones by
/// their package name.
fn normal_dependencies(manifest: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line.contains("dependencies") && !line.contains("dev-dependencies");
            if let Some(name) = line.strip_prefix("[dependencies.").and_then(|n| n.strip_suffix(']')) {
                found.push(name.to_string());
            }
            continue;
        }
        if !in_dependencies {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        let package = line.split("package").nth(1).and_then(|rest| rest.split('"').nth(1));
        found.push(package.unwrap_or(name).to_string());
    }
    found.retain(|name| name.starts_with("aqueducts-"));
    found
}

/// The lines of a TOML section, up to the next section.
fn section<'a>(manifest: &'a str, header: &str) -> &'a str {
    let Some(start) = manifest.find(header) else { return "" };
    let body = &manifest[start + header.len()..];
    let end = body.find("\n[").unwrap_or(body.len());
    &body[..end]
}

#[test]
fn no_module_imports_in_a_cycle() {
    let mut cycles = Vec::new();
    for krate in CRATES {
        let modules = modules(&repo().join(krate).join("src"));
        let graph = dependencies(&modules);
        cycles.extend(find_cycles(&graph).into_iter().map(|cycle| format!("{krate}: {}", cycle.join(" -> "))));
    }
    assert!(cycles.is_empty(), "modules that import each other:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let files = |entries: &[(&str, &str)]| -> BTreeMap<String, String> {
        entries.iter().map(|(m, code)| (m.to_string(), code.to_string())).collect()
    };
    let cyclic = files(&[
        ("", "pub mod a;\npub mod b;"),
        ("a", "use crate::b::Thing;"),
        ("b", "pub struct Thing;\nfn f() { super::a::g() }"),
    ]);
    assert_eq!(find_cycles(&dependencies(&cyclic)), vec![vec!["a".to_string(), "b".to_string(), "a".to_string()]]);
    // A child importing through its parent's re-export closes a cycle too.
    let through_parent =
        files(&[("", "pub mod s;"), ("s", "mod t;\npub use t::T;\nfn f() {}"), ("s::t", "use super::f;")]);
    assert_eq!(find_cycles(&dependencies(&through_parent)).len(), 1);
    // A parent calling into its child without `use`, the child importing from the parent.
    let called =
        files(&[("", "pub mod s;"), ("s", "mod t;\nfn g() { t::f() }"), ("s::t", "use super::g;\npub fn f() {}")]);
    assert_eq!(find_cycles(&dependencies(&called)).len(), 1);
    // A re-export over several lines.
    let spread = files(&[
        ("", "pub mod s;"),
        ("s", "mod t;\npub use t::{\n    A,\n    B,\n};\nfn f() {}"),
        ("s::t", "use super::f;"),
    ]);
    assert_eq!(find_cycles(&dependencies(&spread)).len(), 1);
    let acyclic = files(&[("", "pub mod a;\npub mod b;"), ("a", "use crate::b::Thing;"), ("b", "pub struct Thing;")]);
    assert!(find_cycles(&dependencies(&acyclic)).is_empty());
}

/// Every module of a crate, by path (`""` for the root), with its code outside tests.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut todo = vec![src.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            // A binary beside a library is a crate of its own that uses the library by name.
            if path == src.join("main.rs") && src.join("lib.rs").exists() {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                parts.pop();
            }
            found.insert(parts.join("::"), without_tests(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    found
}

/// The code before `#[cfg(test)] mod tests`, without comments.
fn without_tests(code: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = code.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" && lines.peek().is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        let code = line.split("//").next().unwrap_or_default();
        kept.push(code);
    }
    kept.join("\n")
}

/// Which modules each module names.
fn dependencies(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let known: BTreeSet<&str> = modules.keys().map(String::as_str).collect();
    let resolve = |path: &[&str]| -> Option<String> {
        (0..=path.len()).rev().map(|n| path[..n].join("::")).find(|candidate| known.contains(candidate.as_str()))
    };
    let mut graph = BTreeMap::new();
    for (module, code) in modules {
        let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let parent = &own[..own.len().saturating_sub(1)];
        let is_child =
            |name: &str| known.contains(own.iter().copied().chain([name]).collect::<Vec<_>>().join("::").as_str());
        let mut named = BTreeSet::new();
        for path in paths(code, &is_child) {
            let segments: Vec<&str> = path.split("::").collect();
            let absolute: Vec<&str> = match segments[0] {
                "crate" => segments[1..].to_vec(),
                "super" => parent.iter().copied().chain(segments[1..].iter().copied()).collect(),
                "self" => own.iter().copied().chain(segments[1..].iter().copied()).collect(),
                // A child module, named relative to this one.
                _ => own.iter().copied().chain(segments.iter().copied()).collect(),
            };
            if let Some(target) = resolve(&absolute)
                && &target != module
            {
                named.insert(target);
            }
        }
        graph.insert(module.clone(), named);
    }
    graph
}

/// The paths a module's code names that lead into the crate: those starting with
/// `crate::`, `super::` or `self::`, and those starting with the name of a child module
/// (`child::f()`, `pub use child::{…}` over several lines); braces are expanded
/// (`crate::{a, b::c}`).
fn paths(code: &str, is_child: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut previous = ' ';
    for (start, c) in code.char_indices() {
        // Not `$crate::`, not the tail of another path, not inside a word.
        let starts_path = !(is_ident(previous) || previous == '$' || previous == ':');
        previous = c;
        if !starts_path || !is_ident(c) {
            continue;
        }
        let rest = &code[start..];
        let first: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if !rest[first.len()..].starts_with("::") {
            continue;
        }
        if matches!(first.as_str(), "crate" | "super" | "self") || is_child(&first) {
            out.extend(expand(take_path(rest)));
        }
    }
    out
}

/// The path at the start of `text`, braces included.
fn take_path(text: &str) -> &str {
    let mut depth = 0;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => return &text[..at],
            _ => {}
        }
    }
    text
}

/// `a::{b, c::{d}}` as `a::b`, `a::c::d`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else { return vec![path.trim_end_matches("::").to_string()] };
    let prefix = &path[..open];
    let inner = path[open + 1..].strip_suffix('}').unwrap_or(&path[open + 1..]);
    let mut parts = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[from..at]);
                from = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[from..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "self")
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// Every cycle of the graph's strongly connected components, as a path that returns to
/// its start.
fn find_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut cycles = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for start in graph.keys() {
        if reported.contains(start) {
            continue;
        }
        // The shortest way back to `start`, breadth first.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        let mut closed = None;
        while let Some(at) = queue.pop_front() {
            for next in graph.get(at).into_iter().flatten() {
                if next == start {
                    closed = Some(at);
                    break;
                }
                if !came_from.contains_key(next.as_str()) {
                    came_from.insert(next, at);
                    queue.push_back(next);
                }
            }
            if closed.is_some() {
                break;
            }
        }
        if let Some(last) = closed {
            let mut cycle = vec![last.to_string()];
            let mut at = last;
            while at != start {
                at = came_from[at];
                cycle.push(at.to_string());
            }
            cycle.reverse();
            cycle.push(start.clone());
            reported.extend(cycle.iter().cloned());
            cycles.push(cycle);
        }
    }
    cycles
}
