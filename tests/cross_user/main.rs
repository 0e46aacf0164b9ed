//! The cross-user matrix: every route, every WebSocket frame type, every ChatKit request type
//! and every MCP tool, each tried by Bob with Alice's ids in place of his own, one id at a time
//! and all of them at once.
//!
//! Each request is built from a set of ids ([`ids::Ids`]) that records what its builder read,
//! so the ids a request names come from the request itself. For each, Bob gets the documented
//! answer (403 `forbidden` for her user, 404 `not_found` for her thread, queued message,
//! attachment or MCP session), the same answer as for an id that never existed, and nothing of
//! Alice's in it. Around all of it: Alice's data (threads, messages, tasks, her running turn
//! and her queue, her attachment, her session) is the same after as before, her socket hears
//! nothing of Bob's probing, and Bob's listening socket hears nothing of hers.
//!
//! The four lists are checked against the code (the router's source, the frame and request
//! decoders' sources, the tools the server lists): adding a route, frame type, request type or
//! tool without adding it here fails the test.

#[path = "../common/mod.rs"]
mod common;

mod chatkit;
mod frames;
mod ids;
mod mcp;
mod rest;
mod world;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use common::source::{match_arms, registered_paths};
use ids::{Expect, Ids, Kind};
use world::World;

/// What Bob got: the status (0 on the socket), the error code (`ok` for a success), the text.
pub struct Answer {
    pub status: u16,
    pub code: String,
    pub text: String,
}

impl Answer {
    pub fn ok(text: String) -> Self {
        Answer {
            status: 0,
            code: "ok".into(),
            text,
        }
    }

    /// An HTTP answer: its error's code (ours, or JSON-RPC's), `ok` under 400.
    pub fn of_http(status: u16, text: String) -> Self {
        let code = if status < 400 {
            "ok".to_string()
        } else {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            match &v["error"]["code"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        };
        Answer { status, code, text }
    }
}

/// Tries Alice's ids in one request shape of Bob's; returns how many probes it ran. A shape
/// that names no id is sent once and must show nothing of Alice's.
async fn probe<R>(
    w: &World,
    what: &str,
    build: impl Fn(&Ids) -> R,
    mut send: impl AsyncFnMut(R) -> Answer,
) -> usize {
    let bobs = w.bobs();
    build(&bobs);
    let kinds = bobs.kinds_read();
    if kinds.is_empty() {
        let got = send(build(&bobs)).await;
        w.settle().await;
        assert!(got.status < 500, "{what}: {}", got.text);
        w.assert_clean(what, &got.text, &[]);
        return 1;
    }
    let mut probes = 0;
    for &kind in &kinds {
        for alices in w.alices(kind) {
            let what = format!("{what} with Alice's {kind:?} {alices}");
            let got = send(build(&bobs.with(kind, alices))).await;
            w.settle().await;
            let control = send(build(&bobs.with(kind, &w.unknown(kind)))).await;
            w.settle().await;
            judge(&what, kind.expect(), &got, &control);
            w.assert_clean(&what, &got.text, &[alices]);
            probes += 1;
        }
    }
    // Alice's whole request under Bob's name: her references of every kind named, in every
    // combination. Values that are no reference (a task number, a send id, a position, a
    // cursor) stay Bob's.
    let named: Vec<Kind> = kinds
        .into_iter()
        .filter(|k| *k != Kind::User && !matches!(k.expect(), Expect::Harmless))
        .collect();
    if named.len() < 2 {
        return probes;
    }
    let mut unknown = bobs.clone();
    let mut combinations = vec![(bobs.clone(), Vec::new())];
    for &kind in &named {
        unknown = unknown.with(kind, &w.unknown(kind));
        combinations = combinations
            .into_iter()
            .flat_map(|(ids, allowed)| {
                w.alices(kind).iter().map(move |alices| {
                    let mut allowed = allowed.clone();
                    allowed.push(alices.as_str());
                    (ids.with(kind, alices), allowed)
                })
            })
            .collect();
    }
    let control = send(build(&unknown)).await;
    w.settle().await;
    let refused = named
        .iter()
        .any(|k| matches!(k.expect(), Expect::Exactly(..)));
    for (hers, allowed) in combinations {
        let what = format!("{what} with Alice's {named:?} {allowed:?}");
        let got = send(build(&hers)).await;
        w.settle().await;
        judge(&what, Expect::LikeUnknown, &got, &control);
        if refused {
            assert_ne!(got.code, "ok", "{what}: {}", got.text);
        }
        w.assert_clean(&what, &got.text, &allowed);
        probes += 1;
    }
    probes
}

/// Checks Bob's answer for Alice's id against what is documented and against the answer for
/// an id that never existed.
fn judge(what: &str, expect: Expect, got: &Answer, control: &Answer) {
    assert!(got.status < 500, "{what}: {}", got.text);
    assert!(control.status < 500, "{what}, control: {}", control.text);
    let like_unknown = || {
        assert_eq!(
            (got.status, &got.code),
            (control.status, &control.code),
            "{what}: answered unlike an id that never existed: {} / {}",
            got.text,
            control.text
        )
    };
    match expect {
        Expect::Exactly(status, code) => {
            if got.status != 0 {
                assert_eq!(got.status, status, "{what}: {}", got.text);
            }
            assert_eq!(got.code, code, "{what}: {}", got.text);
            like_unknown();
        }
        Expect::LikeUnknown => like_unknown(),
        Expect::Harmless => {}
    }
}

fn names<T>(list: &[(&str, T)]) -> BTreeSet<String> {
    list.iter().map(|(name, _)| name.to_string()).collect()
}

#[tokio::test]
async fn no_user_reaches_another_users_data_by_any_id_anywhere() {
    matrix(None).await;
}

#[tokio::test]
async fn no_user_reaches_another_users_data_by_any_id_anywhere_on_postgres() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping");
        return;
    };
    matrix(Some(url)).await;
}

/// The whole matrix, on a fresh SQLite file or on the PostgreSQL database at `database`.
async fn matrix(database: Option<String>) {
    // The lists are the code's.
    assert_eq!(
        names(rest::ROUTES),
        registered_paths(),
        "every route of the router belongs in ROUTES (tests/cross_user/rest.rs)"
    );
    assert_eq!(
        names(frames::FRAMES),
        match_arms("src/transport/ws/frame.rs", "kind.as_str()"),
        "every client frame type belongs in FRAMES (tests/cross_user/frames.rs)"
    );
    assert_eq!(
        names(chatkit::REQUESTS),
        match_arms("src/transport/chatkit/request/params.rs", "k"),
        "every ChatKit request type belongs in REQUESTS (tests/cross_user/chatkit.rs)"
    );

    let mut w = World::new(database).await;
    assert_eq!(
        names(mcp::TOOLS),
        mcp::tool_names(&w).await,
        "every MCP tool belongs in TOOLS (tests/cross_user/mcp.rs)"
    );
    let before = w.snapshot().await;
    let mut probes = 0;

    for (path, route) in rest::ROUTES {
        if let rest::Route::Calls(calls) = route {
            for call in *calls {
                let build = |ids: &Ids| call(ids, path);
                probes += probe(&w, path, build, async |http| rest::send(&w, http).await).await;
            }
        }
    }
    w.drain_watcher("after the routes").await;

    let mut sockets = frames::Sockets::new(&w).await;
    for (kind, frames) in frames::FRAMES {
        for frame in *frames {
            let send = async |f| sockets.send(&w, f).await;
            probes += probe(&w, kind, frame, send).await;
        }
    }
    w.drain_watcher("after the frames").await;

    for (kind, requests) in chatkit::REQUESTS {
        for params in *requests {
            let send = async |p| chatkit::send(&w, kind, p).await;
            probes += probe(&w, kind, params, send).await;
        }
    }
    for (tool, calls) in mcp::TOOLS {
        for args in *calls {
            let send = async |a| mcp::send(&w, tool, a).await;
            probes += probe(&w, tool, args, send).await;
        }
    }
    w.drain_watcher("after ChatKit and MCP").await;
    // A floor, so a matrix that stopped probing (its ids no longer read) cannot pass.
    assert!(probes >= 150, "only {probes} probes ran");

    // Alice's data is as it was, and her socket heard nothing of it all.
    assert!(w.alice.sync("after the probes").await.is_empty());
    let after = w.snapshot().await;
    for (part, was) in before.as_object().unwrap() {
        assert_eq!(was, &after[part], "Bob's requests changed Alice's {part}");
    }

    // Her running answer and her queue still work for her: cancelled, the answer ends and her
    // queued message runs; none of it reaches Bob.
    let busy = w.alices(Kind::Thread)[1].clone();
    w.alice
        .send(json!({"type": "cancel", "thread_id": busy}))
        .await;
    let frames = w.alice.until_done(2).await;
    let done: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "message.done")
        .collect();
    assert_eq!(done[0]["message"]["status"], "cancelled", "{frames:?}");
    assert_eq!(done[1]["message"]["status"], "completed", "{frames:?}");
    w.drain_watcher("after Alice's queue ran").await;
}
