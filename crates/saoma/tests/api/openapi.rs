//! `openapi.json` stays true: it is a well-formed OpenAPI 3.1 document, it documents exactly the
//! routes of the router (read from `src/http/mod.rs`), and it is what `GET /openapi.json` serves.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const DOCUMENT: &str = include_str!("../../openapi.json");
const ROUTER_SOURCE: &str = include_str!("../../src/http/mod.rs");

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "options", "head", "trace",
];
/// The axum routing functions that add a method to a route.
const AXUM_METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// (METHOD, path) pairs, e.g. ("GET", "/admin/users/{user_id}").
type Routes = BTreeSet<(String, String)>;

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// Every operation of the document: (METHOD, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (key, operation) in item {
            if HTTP_METHODS.contains(&key.as_str()) {
                out.push((key.to_uppercase(), path.clone(), operation));
            }
        }
    }
    out
}

/// Every `$ref` anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// `{name}` segments of a path template (axum and OpenAPI write them alike).
fn path_params(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Names of the path parameters a path item and one of its operations declare.
fn declared_path_params(doc: &Value, item: &Value, operation: &Value) -> BTreeSet<String> {
    let resolve = |p: &Value| match p["$ref"].as_str() {
        Some(target) => doc.pointer(&target[1..]).cloned().unwrap_or(Value::Null),
        None => p.clone(),
    };
    [&item["parameters"], &operation["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(resolve)
        .filter(|p| p["in"] == "path")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// The routes of the router, read from its source: each `.route("<path>", <method>(handler)
/// [.<method>(handler)]...)`. Only calls at the top level of the route's arguments count, so
/// handler names such as `admin::get_user` are not mistaken for methods.
fn router_routes() -> Routes {
    let source: String = ROUTER_SOURCE
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut routes = Routes::new();
    for chunk in source.split(".route(").skip(1) {
        let chunk = chunk.trim_start();
        let literal = chunk
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("a route path that is not a string literal: {chunk:.60}"));
        let (path, args) = literal.split_once('"').expect("a closed path literal");
        let methods = top_level_calls(args);
        assert!(!methods.is_empty(), "no method found for route {path}");
        for method in methods {
            routes.insert((method.to_uppercase(), path.to_owned()));
        }
    }
    assert!(!routes.is_empty(), "no routes found in src/http/mod.rs");
    routes
}

/// The axum method functions called at depth 0 of `args` (the text after a route's path,
/// up to the parenthesis that closes `.route(`). Wrappers that only change how a route runs
/// (`writes(...)`, `.merge(...)`) do not count as depth.
fn top_level_calls(args: &str) -> Vec<String> {
    const WRAPPERS: [&str; 2] = ["writes", "merge"];
    let mut calls = Vec::new();
    // One entry per open parenthesis: whether it counts as depth.
    let mut open: Vec<bool> = Vec::new();
    let mut ident = String::new();
    for c in args.chars() {
        match c {
            '(' => {
                let depth = open.iter().filter(|counts| **counts).count();
                if depth == 0 && AXUM_METHODS.contains(&ident.as_str()) {
                    calls.push(ident.clone());
                }
                open.push(!WRAPPERS.contains(&ident.as_str()));
            }
            ')' if open.is_empty() => break,
            ')' => {
                open.pop();
            }
            _ => {}
        }
        if c.is_alphanumeric() || c == '_' {
            ident.push(c);
        } else {
            ident.clear();
        }
    }
    calls
}

#[test]
fn the_document_is_well_formed_openapi_3_1() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(
        version.starts_with("3.1."),
        "OpenAPI {version}, expected 3.1.x"
    );
    assert_eq!(
        doc["info"]["version"],
        env!("CARGO_PKG_VERSION"),
        "info.version"
    );
    let servers: Vec<&str> = doc["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .filter_map(|s| s["url"].as_str())
        .collect();
    assert_eq!(servers, ["/auth/v1", "/"]);

    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object();
        assert!(
            responses.is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
        let item = &doc["paths"][&path];
        assert_eq!(
            declared_path_params(&doc, item, operation),
            path_params(&path),
            "{method} {path}: declared path parameters differ from the template"
        );
    }

    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("$ref {target} is not local to the document"));
        assert!(
            doc.pointer(pointer).is_some(),
            "$ref {target} does not resolve"
        );
    }
}

#[test]
fn the_document_covers_exactly_the_routes_of_the_router() {
    let doc = document();
    let documented: Routes = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let routed = router_routes();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from openapi.json: {undocumented:?}; documented but not routed: {unrouted:?}"
    );
}

#[test]
fn the_route_reader_sees_chained_methods_only() {
    assert_eq!(
        top_level_calls(
            ", get(admin::get_user).put(admin::update_user).delete(admin::delete_user),\n)"
        ),
        ["get", "put", "delete"]
    );
    assert_eq!(
        top_level_calls(", post(signup::signup))\n.route(\"/x\", get(x))"),
        ["post"]
    );
}

#[tokio::test]
async fn the_server_serves_the_document() {
    let app = spawn_app().await;
    let expected = document();
    for path in ["/openapi.json", "/auth/v1/openapi.json"] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        let content_type = reply.headers["content-type"].to_str().expect("ascii");
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        assert!(
            reply.body == expected,
            "{path} does not serve crates/saoma/openapi.json"
        );
    }
}
