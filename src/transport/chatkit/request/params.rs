//! The `params` of each request type: one struct per shape, read into a [`Request`].
//!
//! [`decode`] names every request type once and reads its params; each struct says how it
//! becomes its request. [`params_schemas`] lists the same types for the OpenAPI document; a
//! test checks the two agree.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::{Action, Request, UserInput};
use crate::error::{Error, Result};
use crate::model::Order;

/// The request of type `k` with params `p` (nulls already stripped); 400 for an unknown type
/// or params that type does not accept.
pub(super) fn decode(k: &str, p: Value) -> Result<Request> {
    Ok(match k {
        "threads.create" => params::<CreateParams>(k, p)?.into(),
        "threads.add_user_message" => params::<AddMessageParams>(k, p)?.into(),
        "threads.add_client_tool_output" => params::<ToolOutputParams>(k, p)?.into(),
        "threads.add_structured_input" => params::<StructuredParams>(k, p)?.into(),
        "threads.retry_after_item" => params::<ItemParams>(k, p)?.into(),
        "threads.custom_action" => params::<ActionParams>(k, p)?.streamed(),
        "threads.sync_custom_action" => params::<ActionParams>(k, p)?.answered(),
        "threads.get_by_id" => Request::GetThread {
            thread_id: params::<ThreadParams>(k, p)?.thread_id,
        },
        "threads.list" => params::<ListParams>(k, p)?.into(),
        "threads.update" => params::<UpdateParams>(k, p)?.into(),
        "threads.delete" => Request::DeleteThread {
            thread_id: params::<ThreadParams>(k, p)?.thread_id,
        },
        "items.list" => params::<ListItemsParams>(k, p)?.into(),
        "items.feedback" => params::<FeedbackParams>(k, p)?.into(),
        "attachments.create" => params::<AttachmentCreateParams>(k, p)?.into(),
        "attachments.delete" => params::<AttachmentDeleteParams>(k, p)?.into(),
        "input.transcribe" => params::<TranscribeParams>(k, p)?.into(),
        other => return Err(Error::Invalid(format!("unknown request type `{other}`"))),
    })
}

/// `params` read as a `T`; 400 naming the request type and what is wrong otherwise.
fn params<T: DeserializeOwned>(kind: &str, params: Value) -> Result<T> {
    serde_json::from_value(params).map_err(|e| Error::Invalid(format!("{kind}: params: {e}")))
}

/// Every request type [`super::parse`] knows, with the schema of its `params`, for the OpenAPI
/// document.
pub fn params_schemas(generator: &mut SchemaGenerator) -> Vec<(&'static str, Schema)> {
    let mut g = |name, schema: fn(&mut SchemaGenerator) -> Schema| (name, schema(generator));
    vec![
        g("threads.create", CreateParams::json_schema),
        g("threads.add_user_message", AddMessageParams::json_schema),
        g(
            "threads.add_client_tool_output",
            ToolOutputParams::json_schema,
        ),
        g(
            "threads.add_structured_input",
            StructuredParams::json_schema,
        ),
        g("threads.retry_after_item", ItemParams::json_schema),
        g("threads.custom_action", ActionParams::json_schema),
        g("threads.sync_custom_action", ActionParams::json_schema),
        g("threads.get_by_id", ThreadParams::json_schema),
        g("threads.list", ListParams::json_schema),
        g("threads.update", UpdateParams::json_schema),
        g("threads.delete", ThreadParams::json_schema),
        g("items.list", ListItemsParams::json_schema),
        g("items.feedback", FeedbackParams::json_schema),
        g("attachments.create", AttachmentCreateParams::json_schema),
        g("attachments.delete", AttachmentDeleteParams::json_schema),
        g("input.transcribe", TranscribeParams::json_schema),
    ]
}

#[derive(Deserialize, JsonSchema)]
struct ThreadParams {
    thread_id: String,
}

#[derive(Deserialize, JsonSchema)]
struct CreateParams {
    input: UserInput,
}

impl From<CreateParams> for Request {
    fn from(p: CreateParams) -> Request {
        Request::CreateThread { input: p.input }
    }
}

#[derive(Deserialize, JsonSchema)]
struct AddMessageParams {
    thread_id: String,
    input: UserInput,
}

impl From<AddMessageParams> for Request {
    fn from(p: AddMessageParams) -> Request {
        Request::AddUserMessage {
            thread_id: p.thread_id,
            input: p.input,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct ToolOutputParams {
    thread_id: String,
    #[allow(dead_code)]
    result: Value,
}

impl From<ToolOutputParams> for Request {
    fn from(p: ToolOutputParams) -> Request {
        Request::AddClientToolOutput {
            thread_id: p.thread_id,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct ItemParams {
    thread_id: String,
    item_id: String,
}

impl From<ItemParams> for Request {
    fn from(p: ItemParams) -> Request {
        Request::RetryAfterItem {
            thread_id: p.thread_id,
            item_id: p.item_id,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct StructuredParams {
    thread_id: String,
    item_id: String,
    #[allow(dead_code)]
    input: Value,
}

impl From<StructuredParams> for Request {
    fn from(p: StructuredParams) -> Request {
        Request::AddStructuredInput {
            thread_id: p.thread_id,
            item_id: p.item_id,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct ActionParams {
    thread_id: String,
    #[serde(default)]
    item_id: Option<String>,
    action: Action,
}

impl ActionParams {
    /// `threads.custom_action`: answered with a stream.
    fn streamed(self) -> Request {
        Request::CustomAction {
            thread_id: self.thread_id,
            item_id: self.item_id,
            action: self.action,
        }
    }

    /// `threads.sync_custom_action`: answered with JSON.
    fn answered(self) -> Request {
        Request::SyncCustomAction {
            thread_id: self.thread_id,
            item_id: self.item_id,
            action: self.action,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum OrderParam {
    Asc,
    Desc,
}

/// The order a listing asked for; newest first by default.
fn order_of(o: Option<OrderParam>) -> Order {
    match o {
        Some(OrderParam::Asc) => Order::Asc,
        Some(OrderParam::Desc) | None => Order::Desc,
    }
}

#[derive(Deserialize, JsonSchema)]
struct ListParams {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    order: Option<OrderParam>,
    #[serde(default)]
    after: Option<String>,
}

impl From<ListParams> for Request {
    fn from(p: ListParams) -> Request {
        Request::ListThreads {
            limit: p.limit,
            order: order_of(p.order),
            after: p.after,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct ListItemsParams {
    thread_id: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    order: Option<OrderParam>,
    #[serde(default)]
    after: Option<String>,
}

impl From<ListItemsParams> for Request {
    fn from(p: ListItemsParams) -> Request {
        Request::ListItems {
            thread_id: p.thread_id,
            limit: p.limit,
            order: order_of(p.order),
            after: p.after,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct UpdateParams {
    thread_id: String,
    title: String,
}

impl From<UpdateParams> for Request {
    fn from(p: UpdateParams) -> Request {
        Request::UpdateThread {
            thread_id: p.thread_id,
            title: p.title,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct FeedbackParams {
    thread_id: String,
    item_ids: Vec<String>,
    kind: String,
}

impl From<FeedbackParams> for Request {
    fn from(p: FeedbackParams) -> Request {
        Request::Feedback {
            thread_id: p.thread_id,
            item_ids: p.item_ids,
            kind: p.kind,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct AttachmentCreateParams {
    name: String,
    size: i64,
    mime_type: String,
}

impl From<AttachmentCreateParams> for Request {
    fn from(p: AttachmentCreateParams) -> Request {
        Request::CreateAttachment {
            name: p.name,
            size: p.size,
            mime_type: p.mime_type,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct AttachmentDeleteParams {
    attachment_id: String,
}

impl From<AttachmentDeleteParams> for Request {
    fn from(p: AttachmentDeleteParams) -> Request {
        Request::DeleteAttachment {
            attachment_id: p.attachment_id,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
struct TranscribeParams {
    audio_base64: String,
    mime_type: String,
}

impl From<TranscribeParams> for Request {
    fn from(p: TranscribeParams) -> Request {
        Request::Transcribe {
            audio_base64: p.audio_base64,
            mime_type: p.mime_type,
        }
    }
}
