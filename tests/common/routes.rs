//! The routes of the router, read from its source.

use std::collections::BTreeSet;
use std::path::Path;

/// The paths the router's source registers (`.route("…"` and `.nest_service("…"`), however the
/// call is laid out.
pub fn registered_paths() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
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
