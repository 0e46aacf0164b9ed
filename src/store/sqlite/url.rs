//! Where a `sqlite:` database URL points: a file (created if missing, or required to exist) or
//! a private in-memory database. Only the options this store honours are accepted, so a
//! mistyped or unsupported one is an error at start-up, not silently ignored.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Where a `sqlite:` URL points.
#[derive(Debug, PartialEq)]
pub(super) enum Location {
    File { path: PathBuf, create: bool },
    Memory,
}

impl Location {
    /// Parses `sqlite://path`, `sqlite:path` or `sqlite::memory:`, with an optional
    /// `?mode=rwc` (the default: create the file if missing), `?mode=rw` (it must exist) or
    /// `?mode=memory`. Any other option is `Error::Invalid` naming it.
    pub fn parse(url: &str) -> Result<Location> {
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| Error::invalid("a SQLite URL starts with sqlite:"))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut create = true;
        let mut memory = path == ":memory:";
        for option in query.split('&').filter(|o| !o.is_empty()) {
            match option {
                "mode=rwc" => create = true,
                "mode=rw" => create = false,
                "mode=memory" => memory = true,
                other => {
                    let name = other.split('=').next().unwrap_or_default();
                    return Err(Error::Invalid(format!(
                        "unsupported SQLite URL option `{name}`; expected mode=rwc, rw or memory"
                    )));
                }
            }
        }
        if memory {
            return Ok(Location::Memory);
        }
        if path.is_empty() {
            return Err(Error::invalid("the SQLite URL names no database file"));
        }
        Ok(Location::File {
            path: PathBuf::from(path),
            create,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_urls() {
        let file = |path: &str, create| Location::File {
            path: PathBuf::from(path),
            create,
        };
        assert_eq!(
            Location::parse("sqlite://agentwire.db").unwrap(),
            file("agentwire.db", true)
        );
        assert_eq!(
            Location::parse("sqlite:data/a.db?mode=rw").unwrap(),
            file("data/a.db", false)
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/a.db?mode=rwc").unwrap(),
            file("/tmp/a.db", true)
        );
        assert_eq!(
            Location::parse("sqlite::memory:").unwrap(),
            Location::Memory
        );
        assert_eq!(
            Location::parse("sqlite://x.db?mode=memory").unwrap(),
            Location::Memory
        );
    }

    #[test]
    fn refuses_unknown_options_and_empty_paths() {
        for url in [
            "sqlite://a.db?cache=shared",
            "sqlite://a.db?mode=ro",
            "sqlite://",
        ] {
            let Err(Error::Invalid(msg)) = Location::parse(url) else {
                panic!("{url} was accepted")
            };
            assert!(!msg.is_empty());
        }
    }
}
