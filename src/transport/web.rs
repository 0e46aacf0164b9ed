//! The web demo: the pages of `web-demo/`, embedded in the binary and served as they are.
//!
//! `cargo run` alone shows the UI; no Node or build step at run time. This module only serves
//! bytes: the pages talk to the server through the public API (`/api/ws`, REST, SSE) like any
//! other client, so nothing here calls the chat core.

use std::hash::{Hash, Hasher};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::ApiPath;
use crate::error::Error;
use crate::state::AppState;

/// One embedded file and its content type.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../web-demo/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file the pages use. A name not listed here is a 404, so nothing else on disk or in the
/// binary can be reached through these routes.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("rest.html", HTML),
    asset!("assets/style.css", "text/css; charset=utf-8"),
    asset!("assets/icon.svg", "image/svg+xml"),
    asset!("assets/api.js", JS),
    asset!("assets/session.js", JS),
    asset!("assets/socket.js", JS),
    asset!("assets/render.js", JS),
    asset!("assets/tasks.js", JS),
    asset!("assets/thread.js", JS),
    asset!("assets/resume.js", JS),
    asset!("assets/app.js", JS),
    asset!("assets/rest.js", JS),
    asset!("assets/markdown.js", JS),
    // Third-party builds, vendored as published (web-demo/assets/vendor/README.md).
    asset!("assets/vendor/marked.esm.js", JS),
    asset!("assets/vendor/purify.min.js", JS),
];

/// The names `/assets/{file}` serves.
pub fn asset_files() -> impl Iterator<Item = &'static str> {
    ASSETS
        .iter()
        .filter_map(|a| a.name.strip_prefix("assets/"))
        .filter(|name| !name.contains('/'))
}

/// The names `/assets/vendor/{file}` serves.
pub fn vendor_files() -> impl Iterator<Item = &'static str> {
    ASSETS
        .iter()
        .filter_map(|a| a.name.strip_prefix("assets/vendor/"))
}

/// The pages only load their own scripts and styles and only talk to this origin; `'self'`
/// covers the same-origin WebSocket as well. Trusted Types: no HTML string reaches the DOM
/// except through the sanitiser's policy (`dompurify`), which renders the assistants' Markdown.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'; require-trusted-types-for 'script'; \
                   trusted-types dompurify";

/// The routes of the demo: `/`, `/rest.html`, `/assets/{file}` and `/assets/vendor/{file}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve("index.html", &headers) }),
        )
        .route(
            "/rest.html",
            get(|headers: HeaderMap| async move { serve("rest.html", &headers) }),
        )
        .route("/assets/{file}", get(asset))
        .route("/assets/vendor/{file}", get(vendor_asset))
}

async fn asset(ApiPath(file): ApiPath<String>, headers: HeaderMap) -> Response {
    serve(&format!("assets/{file}"), &headers)
}

async fn vendor_asset(ApiPath(file): ApiPath<String>, headers: HeaderMap) -> Response {
    serve(&format!("assets/vendor/{file}"), &headers)
}

/// The file called `name` with its content type, an `ETag` of its bytes, and `no-cache`: the
/// asset names carry no version, so a browser must revalidate (a cheap 304) to notice a new
/// binary rather than run stale scripts against a newer server.
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return Error::NotFound("route").into_response();
    };
    let etag = etag(asset.body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if asset.content_type == HTML {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// A strong validator for `body`. SipHash with fixed keys is stable for one build, which is all
/// an `ETag` needs: the bytes only change with the binary.
fn etag(body: &[u8]) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{}\"", hasher.finish(), body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_content_type() {
        for a in ASSETS {
            let ext = a.name.rsplit('.').next().unwrap();
            let expected = match ext {
                "html" => HTML,
                "js" => JS,
                "css" => "text/css; charset=utf-8",
                "svg" => "image/svg+xml",
                other => panic!("no content type for .{other}"),
            };
            assert_eq!(a.content_type, expected, "{}", a.name);
            assert!(!a.body.is_empty(), "{} is empty", a.name);
        }
    }

    #[test]
    fn pages_only_reference_embedded_assets() {
        // A page that links a file missing from ASSETS would 404 in the browser.
        for page in ASSETS
            .iter()
            .filter(|a| a.content_type == HTML || a.content_type == JS)
        {
            let text = std::str::from_utf8(page.body).unwrap();
            for (i, _) in text.match_indices("/assets/") {
                let rest = &text[i + 1..];
                let end = rest
                    .find(|c: char| c == '"' || c == '\'' || c == '`' || c.is_whitespace())
                    .unwrap();
                let name = &rest[..end];
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} references {name}, which is not embedded",
                    page.name
                );
            }
            for (i, _) in text.match_indices("from './") {
                let rest = &text[i + "from './".len()..];
                let name = format!("assets/{}", &rest[..rest.find('\'').unwrap()]);
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {name}, which is not embedded",
                    page.name
                );
            }
        }
    }

    #[test]
    fn etag_changes_with_content() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
