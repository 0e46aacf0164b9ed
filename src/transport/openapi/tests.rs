use serde_json::Value;

use super::*;
use crate::config::Environment;

fn dev() -> Value {
    document(&Config::for_tests("sqlite::memory:", "secret"))
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, found: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                found.push(r);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(list) => list.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = dev();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20, "the document refers to its components");
    for r in found {
        let pointer = r.strip_prefix('#').expect("local references only");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

#[test]
fn the_dev_token_route_is_described_only_where_it_is_mounted() {
    assert!(dev()["paths"]["/api/dev/token"]["post"].is_object());
    let mut config = Config::for_tests("sqlite::memory:", "secret");
    config.environment = Environment::Production;
    let doc = document(&config);
    assert!(doc["paths"].get("/api/dev/token").is_none());
    assert!(doc["paths"]["/api/health"]["get"].is_object());
}

#[test]
fn error_answers_list_the_codes_of_their_status() {
    let doc = dev();
    let conflict = &doc["components"]["responses"]["Error409"];
    let codes = &conflict["content"]["application/json"]["schema"]["allOf"][1]["properties"]
        ["error"]["properties"]["code"]["enum"];
    let codes: Vec<&str> = codes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in ["thread_busy", "conflict", "queue_full", "cancelled"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // An operation refers to the shared answer of each of its error statuses.
    let chat = &doc["paths"]["/api/{user_id}/chat"]["post"];
    assert_eq!(
        chat["responses"]["409"]["$ref"],
        "#/components/responses/Error409"
    );
    assert_eq!(chat["security"][0]["bearer"], serde_json::json!([]));
}

#[test]
fn query_structs_become_parameters_and_templates_path_parameters() {
    let doc = dev();
    let tasks = &doc["paths"]["/api/{user_id}/tasks"]["get"]["parameters"];
    let names: Vec<(&str, &str)> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["in"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("path", "user_id"),
            ("query", "after"),
            ("query", "limit"),
            ("query", "status")
        ]
    );
    let limit = &tasks[2]["schema"];
    let asset = &doc["paths"]["/assets/{file}"]["get"]["parameters"];
    assert_eq!(asset[0]["name"], "file");
    assert!(asset[0]["schema"]["enum"]
        .as_array()
        .unwrap()
        .contains(&"app.js".into()));
    assert_ne!(asset[1]["name"], "file", "once");
    assert_eq!(limit["type"], "integer", "a query holds no null: {limit}");
    assert_eq!(limit["maximum"], 100);
}

#[test]
fn bodies_read_as_the_handlers_read_them() {
    let doc = dev();
    let body = &doc["components"]["schemas"]["ChatBody"];
    assert_eq!(body["required"], serde_json::json!(["message"]));
    assert!(body["properties"]["on_busy"].is_object());
    let chatkit = &doc["paths"]["/api/chatkit"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["oneOf"];
    assert_eq!(chatkit.as_array().unwrap().len(), 16);
}

#[test]
fn operation_ids_are_unique_and_links_name_them() {
    let doc = dev();
    let mut ids = std::collections::BTreeSet::new();
    let mut links = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
            for response in op["responses"].as_object().unwrap().values() {
                if let Some(l) = response.get("links").and_then(Value::as_object) {
                    links.extend(l.values().map(|l| l["operationId"].as_str().unwrap()));
                }
            }
        }
    }
    assert!(!links.is_empty());
    for id in links {
        assert!(ids.contains(id), "a link names {id}, which no operation is");
    }
}
