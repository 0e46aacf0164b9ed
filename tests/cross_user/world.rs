//! The world the matrix runs in: one server whose model is scripted; Alice with something of
//! every kind of id (two threads, one of them answering with a message queued behind, items
//! with a task widget, an uploaded attachment, an MCP session, a task, a send id, positions);
//! Bob with his own of each, a socket that only listens and one that sends the frames.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::common::chatkit::{ck, items, text_input};
use super::common::mock_openai::{self as mock, MockOpenAi, Piece, Reply};
use super::common::ws::WsClient;
use super::common::{json_of, mcp, use_provider, TestApp};
use super::ids::{Ids, Kind};

/// Every text of Alice's carries this, so any of it that reaches Bob is found.
pub const MARK: &str = "alicesecret";

pub struct World {
    pub app: TestApp,
    /// The scripted model, kept for as long as the server.
    _mock: MockOpenAi,
    /// Alice's socket.
    pub alice: WsClient,
    /// Bob's socket that sends nothing: it must hear nothing of Alice's.
    pub watcher: WsClient,
    alices: BTreeMap<Kind, Vec<String>>,
    bobs: BTreeMap<Kind, Option<String>>,
    /// Strings that appear nowhere in Bob's world unless something of Alice's leaked.
    secrets: Vec<String>,
    alice_preview: String,
}

/// An answer that streams one word and then holds the turn open: Alice's running turn.
fn held() -> Reply {
    Reply::Stream(vec![
        Piece::Chunk(mock::chunk(
            json!({"role": "assistant", "content": ""}),
            None,
        )),
        Piece::Chunk(mock::chunk(json!({"content": "Working"}), None)),
        Piece::Pause(Duration::from_secs(300)),
        Piece::Done,
    ])
}

/// The ids in `frames` of events of `kind` at `pointer`.
fn ids_in(frames: &[Value], kind: &str, pointer: &str) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == kind)
        .map(|f| f.pointer(pointer).unwrap().as_str().unwrap().to_string())
        .collect()
}

impl World {
    /// The world on a fresh SQLite file, or on the PostgreSQL database at `database`.
    pub async fn new(database: Option<String>) -> World {
        let add = format!(r#"{{"title": "{MARK} milk"}}"#);
        let mock = MockOpenAi::start(vec![
            mock::tool_calls(&[("call_1", "add_task", &add)], 7, (50, 10)),
            mock::text(&["Added ", MARK, " milk."], (60, 5)),
            held(),
        ])
        .await;
        let app = match database {
            None => TestApp::spawn_with_provider(&mock.url, |_| {}).await,
            Some(url) => TestApp::spawn_on_with(&url, |c| use_provider(c, &mock.url)).await,
        };
        // Bob listens from before Alice does anything.
        let watcher = WsClient::connect(&app, "bob").await;
        let (mut alice, ready) = WsClient::connect_ready(&app, &app.token_for("alice")).await;
        let (mut alices, alice_preview) = alice_makes_one_of_each(&app, &mut alice, &ready).await;
        // Whatever the model is asked from now on, it answers in a word.
        mock.answer_the_rest_with(mock::text(&["ok"], (5, 1)));
        // An AI SDK chat of Alice's; her thread ids are chat ids too.
        let chat = format!("{MARK}-chat");
        let body = super::common::ai_sdk::chat_body(&chat, &format!("{MARK} chat"));
        let (status, _, _) = super::common::ai_sdk::post_chat(&app, "alice", body).await;
        assert_eq!(status, 200);
        let mut chats = alices[&Kind::Thread].clone();
        chats.push(chat);
        alices.insert(Kind::Chat, chats);
        let bobs = bob_makes_his_own(&app).await;
        let references = [
            Kind::Thread,
            Kind::Queued,
            Kind::Item,
            Kind::Attachment,
            Kind::Session,
            Kind::SendId,
        ];
        let mut secrets = vec![MARK.to_string(), "alice".to_string()];
        secrets.extend(references.iter().flat_map(|k| alices[k].iter().cloned()));
        World {
            app,
            _mock: mock,
            alice,
            watcher,
            alices,
            bobs,
            secrets,
            alice_preview,
        }
    }

    /// Bob's MCP session.
    pub fn bob_session(&self) -> String {
        self.bobs[&Kind::Session].clone().unwrap()
    }

    /// Bob's own ids (a fresh send id at every read).
    pub fn bobs(&self) -> Ids {
        Ids::new(self.bobs.clone(), self.app.token_for("bob"))
    }

    /// Alice's ids of `kind`.
    pub fn alices(&self, kind: Kind) -> &[String] {
        &self.alices[&kind]
    }

    /// An id of `kind` that never existed, in the same form as a real one.
    pub fn unknown(&self, kind: Kind) -> String {
        match kind {
            Kind::User => "nobody".into(),
            Kind::Task => "999".into(),
            Kind::TaskTitle => "no such words".into(),
            Kind::Position => "1.0".into(),
            Kind::Session => uuid::Uuid::new_v4().simple().to_string(),
            _ => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Reads what reached Bob's listening socket so far; panics if any of it is Alice's.
    pub async fn drain_watcher(&mut self, tag: &str) {
        for frame in self.watcher.sync(tag).await {
            self.assert_clean("Bob's listening socket", &frame.to_string(), &[]);
        }
    }

    /// Panics if `text`, once the `allowed` values (what the request itself said) are taken
    /// out, shows anything of Alice's.
    pub fn assert_clean(&self, what: &str, text: &str, allowed: &[&str]) {
        let mut text = text.to_string();
        for a in allowed {
            text = text.replace(a, "");
        }
        for secret in &self.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what}: Bob was shown {secret:?} of Alice's: {text}"
            );
        }
    }

    /// Waits until no turn runs but Alice's held one: Bob's turns (started by his own ids)
    /// end before the next request, so each sees the same threads.
    pub async fn settle(&self) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.app.state.chat.running_turns() > 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("Bob's turns end");
    }

    /// Everything of Alice's, as Alice sees it.
    pub async fn snapshot(&mut self) -> Value {
        let app = &self.app;
        let get = |path: String| async move {
            let (status, v) = json_of(app.get(&path, "alice").send().await.unwrap()).await;
            assert_eq!(status, 200, "{path}: {v}");
            v
        };
        let [idle, busy] = [0, 1].map(|i| self.alices[&Kind::Thread][i].clone());
        let mut snap = json!({
            "conversations": get("/api/alice/conversations".into()).await,
            "tasks": get("/api/alice/tasks".into()).await,
            "idle": get(format!("/api/alice/conversations/{idle}/messages")).await,
            "busy": get(format!("/api/alice/conversations/{busy}/messages")).await,
            "chatkit": ck(app, "alice", json!({"type": "threads.get_by_id",
                "params": {"thread_id": idle}})).await.json(),
            "mcp": mcp::list(app, "alice", &self.alices[&Kind::Session][0]).await.0,
        });
        let r = app.client().get(&self.alice_preview).send().await.unwrap();
        snap["attachment"] = json!([r.status().as_u16(), r.text().await.unwrap()]);
        self.alice
            .send(json!({"type": "thread.load", "thread_id": busy, "request_id": "snap"}))
            .await;
        let mut load = self
            .alice
            .until(|f| f["type"] == "thread")
            .await
            .pop()
            .unwrap();
        load.as_object_mut().unwrap().remove("pos");
        snap["load"] = load;
        snap
    }
}

/// Creates and uploads an attachment of `user`'s: its id, upload link and view link.
async fn uploaded(app: &TestApp, user: &str, name: &str) -> (String, String, String) {
    let create = json!({"type": "attachments.create",
        "params": {"name": name, "size": 5, "mime_type": "image/png"}});
    let a = ck(app, user, create).await.json();
    let link = |k: &str| a.pointer(k).unwrap().as_str().unwrap().to_string();
    let (id, upload, preview) = (
        link("/id"),
        link("/upload_descriptor/url"),
        link("/preview_url"),
    );
    let r = app
        .client()
        .post(&upload)
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    (id, upload, preview)
}

/// Alice makes one of every kind of id (two of some): her ids by kind, and her attachment's
/// view link.
async fn alice_makes_one_of_each(
    app: &TestApp,
    alice: &mut WsClient,
    ready: &Value,
) -> (BTreeMap<Kind, Vec<String>>, String) {
    // A thread with a task widget, made over ChatKit.
    let create = json!({"type": "threads.create",
        "params": {"input": text_input(&format!("add a task: {MARK} milk"))}});
    let events = ck(app, "alice", create).await.events();
    let idle = events[0]["thread"]["id"].as_str().unwrap().to_string();
    let items = item_ids(app, "alice", &idle).await;
    assert!(items.len() >= 3, "{items:?}");

    // A thread that is answering, with a message queued behind the answer.
    alice.sync("created").await;
    let send_id = format!("{MARK}-send");
    alice
        .send(json!({"type": "message", "content": format!("{MARK} wait"),
            "client_message_id": send_id}))
        .await;
    let frames = alice.until(|f| f["type"] == "stream.delta").await;
    let busy = ids_in(&frames, "thread.created", "/thread/id").remove(0);
    let enqueue = json!({"type": "message", "thread_id": busy, "on_busy": "enqueue",
        "content": format!("{MARK} later")});
    alice.send(enqueue).await;
    let frames = alice.until(|f| f["type"] == "message.queued").await;
    let queued = ids_in(&frames, "message.queued", "/message/id").remove(0);
    let pos = frames.last().unwrap()["pos"].as_str().unwrap().to_string();
    answer_saved(app, &busy, "Working").await;

    // An uploaded attachment, an MCP session, and a page cursor.
    let (attachment, _, preview) = uploaded(app, "alice", &format!("{MARK}.png")).await;
    let session = mcp::open(app, "alice").await;
    let r = app.get("/api/alice/conversations?limit=1", "alice").send();
    let (_, page) = json_of(r.await.unwrap()).await;
    let cursor = page["after"].as_str().unwrap().to_string();

    let one = |v: &str| vec![v.to_string()];
    let ids = BTreeMap::from([
        (Kind::User, one("alice")),
        (Kind::Thread, vec![idle.clone(), busy]),
        (Kind::Queued, vec![queued]),
        (Kind::Item, items.clone()),
        (Kind::Attachment, vec![attachment]),
        (Kind::Session, vec![session]),
        (Kind::Task, one("1")),
        (Kind::TaskTitle, vec![format!("{MARK} milk")]),
        (Kind::SendId, vec![send_id]),
        (
            Kind::Position,
            vec![ready["pos"].as_str().unwrap().into(), pos],
        ),
        (Kind::Cursor, vec![idle, items[0].clone(), cursor]),
    ]);
    (ids, preview)
}

/// Bob makes his own: a thread, an attachment, a session, a position.
async fn bob_makes_his_own(app: &TestApp) -> BTreeMap<Kind, Option<String>> {
    let thread = app.say("bob", "hello", None).await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let item = item_ids(app, "bob", &thread).await.remove(0);
    let (attachment, _, _) = uploaded(app, "bob", "errand.png").await;
    let (_, ready) = WsClient::connect_ready(app, &app.token_for("bob")).await;
    let own = |v: &str| Some(v.to_string());
    BTreeMap::from([
        (Kind::User, own("bob")),
        (Kind::Thread, own(&thread)),
        // Bob has no queued message: one of his messages is what he can name instead.
        (Kind::Queued, own(&item)),
        (Kind::Item, own(&item)),
        (Kind::Attachment, Some(attachment)),
        (Kind::Session, Some(mcp::open(app, "bob").await)),
        (Kind::Task, own("1")),
        (Kind::TaskTitle, own("bob errand")),
        (Kind::SendId, None),
        (Kind::Position, ready["pos"].as_str().map(str::to_string)),
        (Kind::Cursor, Some(thread)),
        (Kind::Chat, own("bob-chat")),
    ])
}

/// The ids of the items of `user`'s `thread`, oldest first.
async fn item_ids(app: &TestApp, user: &str, thread: &str) -> Vec<String> {
    items(app, user, thread, json!({})).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until Alice's running answer on `thread` is saved with `text` (answers are saved as
/// they stream), so that it stands still from then on.
async fn answer_saved(app: &TestApp, thread: &str, text: &str) {
    let path = format!("/api/alice/conversations/{thread}/messages");
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (_, page) = json_of(app.get(&path, "alice").send().await.unwrap()).await;
            if page["data"][1]["content"] == text {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the running answer is saved");
}
