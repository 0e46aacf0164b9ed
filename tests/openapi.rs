//! `GET /api/openapi.json` describes the router exactly: every route its source registers, and
//! on each route the methods it answers and no other.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::source::registered_paths;
use common::TestApp;
use reqwest::Method;
use serde_json::Value;

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

async fn document(app: &TestApp) -> Value {
    let r = app
        .client()
        .get(format!("{}/api/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "served without a token");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_document_describes_every_route_and_method_of_the_router() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let described: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(
        described,
        registered_paths(),
        "describe new routes in src/transport/openapi/paths.rs"
    );

    let token = app.token_for("alice");
    for (template, item) in paths {
        // Any value will do: a method the route does not take is 405 before anything is read.
        let path = template
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let documented = item.get(method.as_str().to_lowercase()).is_some();
            let r = app
                .client()
                .request(method.clone(), format!("{}{path}", app.url))
                .bearer_auth(&token)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            if documented {
                assert_ne!(status, 405, "{method} {template} is documented but refused");
                let code = status.to_string();
                assert!(
                    item[method.as_str().to_lowercase()]["responses"]
                        .get(&code)
                        .is_some(),
                    "{method} {path} answered {status}, which its operation does not list"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {template} is answered but not documented"
                );
            }
        }
    }
}
