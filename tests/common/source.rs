//! What the crate's source declares, read from the files themselves so a test's list of routes,
//! frame types or request types fails when the code gains one the list lacks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The text of `path`, relative to the crate root.
pub fn read(path: &str) -> String {
    let at = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()))
}

/// Every `.rs` file under `src/`.
fn rust_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The paths the router's source registers (`.route("…"` and `.nest_service("…"`), however the
/// call is laid out.
pub fn registered_paths() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        for call in [".route(", ".nest_service(", ".route_service(", ".nest("] {
            for (at, _) in text.match_indices(call) {
                let rest = text[at + call.len()..].trim_start();
                let literal = rest
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("{}: {call} without a literal path", path.display()));
                found.insert(literal[..literal.find('"').unwrap()].to_string());
            }
        }
    }
    found
}

/// The string literals that open the arms of the first `match` on `scrutinee` in `file`:
/// `"a" => …` and `"b" | "c" => …`, up to its catch-all arm. How the frame and request
/// decoders name the types they take.
pub fn match_arms(file: &str, scrutinee: &str) -> BTreeSet<String> {
    let text = read(file);
    let opening = format!("match {scrutinee} {{");
    let start = text
        .find(&opening)
        .unwrap_or_else(|| panic!("{file}: no `{opening}`"));
    let mut found = BTreeSet::new();
    for line in text[start + opening.len()..].lines() {
        let line = line.trim();
        let Some((pattern, _)) = line.split_once("=>") else {
            continue;
        };
        if !pattern.starts_with('"') {
            if pattern.trim() == "other" || pattern.trim() == "_" {
                break;
            }
            continue;
        }
        for literal in pattern.split('|') {
            let literal = literal.trim();
            let name = literal
                .strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{file}: an arm that is not a literal: {line}"));
            found.insert(name.to_string());
        }
    }
    assert!(!found.is_empty(), "{file}: no arms found");
    found
}
