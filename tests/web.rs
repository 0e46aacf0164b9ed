//! The web demo's pages, served from the binary: content types, caching, and what is not served.

mod common;

use common::{assert_error, json_of, TestApp};
use reqwest::header;

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client()
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap()
}

fn content_type(r: &reqwest::Response) -> String {
    r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn pages_and_assets_are_served_with_their_content_types() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/", "text/html; charset=utf-8", "/assets/app.js"),
        ("/rest.html", "text/html; charset=utf-8", "/assets/rest.js"),
        (
            "/assets/style.css",
            "text/css; charset=utf-8",
            "prefers-color-scheme",
        ),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            "thread.load",
        ),
        (
            "/assets/socket.js",
            "text/javascript; charset=utf-8",
            "auth",
        ),
        (
            "/assets/rest.js",
            "text/javascript; charset=utf-8",
            "/chat/stream",
        ),
        ("/assets/icon.svg", "image/svg+xml", "<svg"),
        (
            "/assets/markdown.js",
            "text/javascript; charset=utf-8",
            "DOMPurify",
        ),
        (
            "/assets/vendor/marked.esm.js",
            "text/javascript; charset=utf-8",
            "marked v",
        ),
        (
            "/assets/vendor/purify.min.js",
            "text/javascript; charset=utf-8",
            "@license DOMPurify",
        ),
    ];
    for (path, expected_type, marker) in cases {
        let r = get(&app, path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(content_type(&r), expected_type, "{path}");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(r.headers().contains_key(header::ETAG), "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(marker), "{path} lacks {marker:?}");
    }
}

#[tokio::test]
async fn html_pages_carry_a_same_origin_content_security_policy() {
    let app = TestApp::spawn().await;
    for path in ["/", "/rest.html"] {
        let r = get(&app, path).await;
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // HTML strings reach the DOM only through the sanitiser's Trusted Types policy.
        assert!(csp.contains("require-trusted-types-for 'script'"), "{csp}");
        assert!(csp.contains("trusted-types dompurify"), "{csp}");
    }
    // Scripts and styles do not need one.
    let r = get(&app, "/assets/app.js").await;
    assert!(!r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn a_matching_etag_answers_304_without_a_body() {
    let app = TestApp::spawn().await;
    let first = get(&app, "/assets/style.css").await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();

    let again = app
        .client()
        .get(format!("{}/assets/style.css", app.url))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(again.text().await.unwrap().is_empty());

    // Another file's tag, or a stale one, gets the full answer.
    let other = app
        .client()
        .get(format!("{}/assets/app.js", app.url))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert!(!other.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_or_escaping_asset_paths_are_json_404s() {
    let app = TestApp::spawn().await;
    for path in [
        "/assets/nope.js",
        "/assets/..%2FCargo.toml",
        "/assets/..%2F..%2Fsrc%2Flib.rs",
        "/assets/vendor/..%2Fapp.js",
        "/assets/vendor/README.md",
        "/assets/vendor/marked.LICENSE",
        "/assets/vendor/",
        "/assets/",
        "/index.htm",
        "/web-demo/index.html",
    ] {
        let r = get(&app, path).await;
        let (status, body) = json_of(r).await;
        assert_eq!(status, 404, "{path}");
        assert_error(&body, "not_found");
    }
}

#[tokio::test]
async fn pages_answer_only_get() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .post(format!("{}/", app.url))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, 405);
    assert_error(&body, "method_not_allowed");
}

#[tokio::test]
async fn the_api_still_answers_beside_the_pages() {
    // Mounting the pages must not shadow the API or its JSON 404.
    let app = TestApp::spawn().await;
    let (status, _) = json_of(get(&app, "/api/health").await).await;
    assert_eq!(status, 200);
    let (status, body) = json_of(get(&app, "/api/nowhere").await).await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
}
