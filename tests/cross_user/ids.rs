//! The kinds of id a request can name, what another user must get for each, and the ids one
//! request is built from: the requester's own, except the one under test.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// A kind of id a request can carry (in its path, query, headers, body or frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A path's `{user_id}`.
    User,
    /// A thread (conversation).
    Thread,
    /// A message waiting in a thread's queue.
    Queued,
    /// A ChatKit item: a message, a tool call or a widget.
    Item,
    /// A ChatKit attachment.
    Attachment,
    /// An MCP session.
    Session,
    /// A task, by its number. Numbers are per user: another user's "task 1" is one's own.
    Task,
    /// A task, by words of its title.
    TaskTitle,
    /// A send's `client_message_id`: chosen by the client, so another user may pick the same.
    SendId,
    /// A position in a user's event stream (`pos`, `resume_after`).
    Position,
    /// A page cursor (`after`).
    Cursor,
    /// An AI SDK chat id: whatever it is (another user's chat id or thread id included), it
    /// names a chat of its sender's own, so it is answered as an id never used.
    Chat,
}

/// What a user must get for naming another user's id of a kind.
pub enum Expect {
    /// Exactly this status and code (HTTP), or this code (a socket's `error` event).
    Exactly(u16, &'static str),
    /// The same answer as for an id that never existed: nothing tells that it exists.
    LikeUnknown,
    /// Any answer, as long as it shows nothing of the other user's: for values that are not
    /// secret references (a per-user number, a client's own id, a position, a cursor).
    Harmless,
}

impl Kind {
    pub fn expect(self) -> Expect {
        match self {
            Kind::User => Expect::Exactly(403, "forbidden"),
            Kind::Thread | Kind::Queued | Kind::Attachment | Kind::Session => {
                Expect::Exactly(404, "not_found")
            }
            Kind::Item | Kind::TaskTitle | Kind::Chat => Expect::LikeUnknown,
            Kind::Task | Kind::SendId | Kind::Position | Kind::Cursor => Expect::Harmless,
        }
    }
}

/// What each path parameter of the router names. A parameter missing here fails the matrix:
/// say which kind of id it is (or that it is none).
fn path_param(name: &str) -> Result<Kind, &'static str> {
    match name {
        "user_id" => Ok(Kind::User),
        "conversation_id" => Ok(Kind::Thread),
        "message_id" => Ok(Kind::Queued),
        "chat_id" => Ok(Kind::Chat),
        "id" => Ok(Kind::Attachment),
        // A file of the web demo, the same for everyone.
        "file" => Err("app.js"),
        other => panic!("a path parameter the cross-user matrix does not know: {other}"),
    }
}

/// The ids one request is built from. Records which kinds its builder read, so the matrix
/// learns what a request names from the request itself.
#[derive(Clone)]
pub struct Ids {
    /// `None`: a fresh value at every read (a send id is used once).
    values: BTreeMap<Kind, Option<String>>,
    read: RefCell<BTreeSet<Kind>>,
    /// The requester's token (not an id: whose request it is).
    pub token: String,
}

impl Ids {
    pub fn new(values: BTreeMap<Kind, Option<String>>, token: String) -> Self {
        Ids {
            values,
            read: RefCell::default(),
            token,
        }
    }

    /// The id of `kind`.
    pub fn get(&self, kind: Kind) -> String {
        self.read.borrow_mut().insert(kind);
        match &self.values[&kind] {
            Some(v) => v.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The id of `kind` as a number (a task's).
    pub fn number(&self, kind: Kind) -> i64 {
        self.get(kind).parse().unwrap()
    }

    /// `template` (a route of the router) with its parameters filled.
    pub fn path(&self, template: &str) -> String {
        let mut path = template.to_string();
        while let Some(open) = path.find('{') {
            let close = open + path[open..].find('}').unwrap();
            let value = match path_param(&path[open + 1..close]) {
                Ok(kind) => self.get(kind),
                Err(fixed) => fixed.to_string(),
            };
            path.replace_range(open..=close, &value);
        }
        path
    }

    /// These ids with `kind` set to `value`, and nothing read yet.
    pub fn with(&self, kind: Kind, value: &str) -> Ids {
        let mut values = self.values.clone();
        values.insert(kind, Some(value.to_string()));
        Ids::new(values, self.token.clone())
    }

    /// The kinds read since these ids were made.
    pub fn kinds_read(&self) -> BTreeSet<Kind> {
        self.read.borrow().clone()
    }
}
