//! Attachments over ChatKit: `attachments.create` / `attachments.delete`, the two-phase upload
//! route (`POST|PUT /api/chatkit/attachments/{id}/upload`, multipart `file` or a raw body), the
//! direct upload route (`POST /api/chatkit/attachments`, multipart `file`) and the preview
//! route (`GET /api/chatkit/attachments/{id}/preview`).
//!
//! Upload and preview URLs carry a signature (`sig`): an HS256 token naming the attachment, its
//! owner and its purpose. A `view` link (the `preview_url`) is valid for a day and only reads;
//! an `upload` link (the `upload_descriptor`) is valid for [`UPLOAD_LINK_TTL`] and only writes,
//! and only while the attachment has no bytes and no message uses it: bytes are written once,
//! so a link that leaks later can replace nothing. A signature has no `sub`, so it is never
//! accepted as a user token; a bearer token of the owner works on both routes. What a link
//! alone gets back never names a thread. Size (`ATTACHMENT_MAX_BYTES`, 413) and type (415) are
//! checked when an attachment is announced and again when bytes arrive.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{bearer, now_secs, Jwt};
use crate::error::{Error, Result};
use crate::model::{Attachment, AttachmentId, NewAttachment, UserId};
use crate::state::AppState;
use crate::transport::{ApiPath, ApiQuery};

/// Types an attachment may have.
pub const ALLOWED_MIME_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
];

/// How long a `preview_url` works: a day, so a thread reopened later still shows its images
/// (listing the thread again signs fresh links).
const VIEW_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long an `upload_descriptor` URL works. A client uploads right after
/// `attachments.create`; one that missed the window creates a new attachment.
pub const UPLOAD_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The media type without parameters, lowercased (`"image/png; x=y"` → `"image/png"`).
pub fn media_type(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// 415 unless `mime` is an allowed type.
pub fn check_mime(mime: &str) -> Result<String> {
    let media = media_type(mime);
    if ALLOWED_MIME_TYPES.contains(&media.as_str()) {
        Ok(media)
    } else {
        Err(Error::UnsupportedMediaType(format!(
            "attachments of type {media:?} are not accepted; allowed: {}",
            ALLOWED_MIME_TYPES.join(", ")
        )))
    }
}

/// 413 when `size` exceeds the configured maximum.
pub fn check_size(size: i64, max: usize) -> Result<()> {
    if size < 0 {
        return Err(Error::invalid("size must not be negative"));
    }
    if size as u64 > max as u64 {
        return Err(Error::PayloadTooLarge);
    }
    Ok(())
}

/// What a link signature allows; each route accepts only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Purpose {
    View,
    Upload,
}

impl Purpose {
    fn ttl(self) -> Duration {
        match self {
            Purpose::View => VIEW_LINK_TTL,
            Purpose::Upload => UPLOAD_LINK_TTL,
        }
    }
}

/// The claims of a link signature. Every field is required: a signature of an older form, or
/// without a purpose, is refused.
#[derive(Serialize, Deserialize)]
struct SigClaims {
    att: String,
    own: String,
    #[serde(rename = "use")]
    purpose: Purpose,
    exp: u64,
}

/// Builds the absolute URLs and attachment JSON for one request's user.
pub struct Links {
    base: String,
    user: UserId,
    jwt: Jwt,
}

impl Links {
    /// URLs rooted at the request's `Host` (and `X-Forwarded-Proto`), for `user`.
    pub fn new(state: &AppState, headers: &HeaderMap, user: &UserId) -> Self {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| state.config.bind_addr.to_string());
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|p| *p == "https" || *p == "http")
            .unwrap_or("http");
        Links {
            base: format!("{scheme}://{host}"),
            user: user.clone(),
            jwt: state.jwt.clone(),
        }
    }

    fn url(&self, id: &str, purpose: Purpose) -> String {
        let sig = self.jwt.sign(&SigClaims {
            att: id.to_string(),
            own: self.user.0.clone(),
            purpose,
            exp: now_secs().saturating_add(purpose.ttl().as_secs()),
        });
        let action = match purpose {
            Purpose::View => "preview",
            Purpose::Upload => "upload",
        };
        format!(
            "{}/api/chatkit/attachments/{id}/{action}?sig={sig}",
            self.base
        )
    }

    /// The ChatKit `Attachment` of a stored attachment: `upload_descriptor` until its bytes are
    /// uploaded, `preview_url` for images, `thread_id` once a message uses it.
    pub fn attachment_json(&self, a: &Attachment) -> Value {
        let id = a.id.to_string();
        let mut v = self.base_json(&id, &a.name, &a.mime_type);
        if !a.uploaded {
            v["upload_descriptor"] =
                json!({"url": self.url(&id, Purpose::Upload), "method": "POST", "headers": {}});
        }
        if let Some(thread) = a.conversation_id {
            v["thread_id"] = json!(thread.to_string());
        }
        v
    }

    /// The attachment JSON of one stored in a message's details (`{"id","name","mime_type"}`).
    pub fn stored_attachment_json(&self, stored: &Value, thread_id: &str) -> Value {
        let s = |k| stored.get(k).and_then(Value::as_str).unwrap_or_default();
        let mut v = self.base_json(s("id"), s("name"), s("mime_type"));
        v["thread_id"] = json!(thread_id);
        v
    }

    fn base_json(&self, id: &str, name: &str, mime: &str) -> Value {
        let image = media_type(mime).starts_with("image/");
        let mut v = json!({
            "id": id,
            "name": name,
            "mime_type": mime,
            "type": if image { "image" } else { "file" },
        });
        if image {
            v["preview_url"] = json!(self.url(id, Purpose::View));
        }
        v
    }
}

/// What a message's details keep of an attachment.
pub fn stored_form(a: &Attachment) -> Value {
    json!({"id": a.id.to_string(), "name": a.name, "mime_type": a.mime_type})
}

/// Parses an attachment id; anything else names no attachment (404).
pub fn parse_attachment_id(s: &str) -> Result<AttachmentId> {
    Uuid::parse_str(s.trim())
        .map(AttachmentId)
        .map_err(|_| Error::NotFound("attachment"))
}

/// The link signature of an attachment URL, for a caller without a bearer token.
#[derive(Deserialize)]
pub struct SigQuery {
    sig: Option<String>,
}

/// Who a request on an attachment route acts as.
enum Caller {
    /// The bearer token's user.
    Owner(UserId),
    /// Whoever holds a link signed for this attachment, its purpose and its owner.
    Link(UserId),
}

impl Caller {
    fn user(&self) -> &UserId {
        match self {
            Caller::Owner(user) | Caller::Link(user) => user,
        }
    }
}

/// The bearer token's user, or the link's owner when the signature names this attachment and
/// this `purpose` and has not expired. 401 otherwise.
fn caller(
    state: &AppState,
    headers: &HeaderMap,
    sig: Option<&str>,
    id: &str,
    purpose: Purpose,
) -> Result<Caller> {
    if let Some(token) = bearer(headers) {
        return Ok(Caller::Owner(state.jwt.verify(token)?.user));
    }
    let claims: SigClaims = state.jwt.decode(sig.ok_or(Error::Unauthorized)?)?;
    if claims.att != id || claims.purpose != purpose {
        return Err(Error::Unauthorized);
    }
    Ok(Caller::Link(UserId(claims.own)))
}

/// The uploaded file: the `file` part of a multipart body, or the raw body.
async fn read_file(
    state: &AppState,
    req: Request,
) -> Result<(Bytes, Option<String>, Option<String>)> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let too_large = |status: axum::http::StatusCode| {
        if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else {
            Error::invalid("could not read the upload")
        }
    };
    if !is_multipart {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| too_large(r.status()))?;
        return Ok((bytes, content_type, None));
    }
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|r| too_large(r.status()))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| too_large(e.status()))?
    {
        if field.name() == Some("file") {
            let mime = field.content_type().map(str::to_string);
            let name = field.file_name().map(str::to_string);
            let bytes = field.bytes().await.map_err(|e| too_large(e.status()))?;
            return Ok((bytes, mime, name));
        }
    }
    Err(Error::invalid("multipart body has no `file` field"))
}

/// `POST|PUT /api/chatkit/attachments/{id}/upload`: phase two of a two-phase upload, with an
/// `upload` link or the owner's bearer token. Once: 409 `conflict` when the attachment already
/// has its bytes or a message uses it.
pub async fn upload(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SigQuery>,
    req: Request,
) -> Result<Json<Value>> {
    let caller = caller(
        &state,
        req.headers(),
        q.sig.as_deref(),
        &id,
        Purpose::Upload,
    )?;
    let user = caller.user();
    let links = Links::new(&state, req.headers(), user);
    let id = parse_attachment_id(&id)?;
    // Refused before its body is read; the store's write checks the same again, atomically.
    state.chat.attachment_awaiting_upload(user, id).await?;
    let (bytes, _, _) = read_file(&state, req).await?;
    check_size(bytes.len() as i64, state.config.attachment_max_bytes)?;
    let a = state.chat.upload_attachment(user, id, &bytes).await?;
    let mut answer = links.attachment_json(&a);
    // The write succeeds only while no message uses the attachment, so there is no thread to
    // name; a link alone must never learn one even if that changes.
    if let (Caller::Link(_), Some(fields)) = (&caller, answer.as_object_mut()) {
        fields.remove("thread_id");
    }
    Ok(Json(answer))
}

/// `POST /api/chatkit/attachments`: a direct upload (multipart `file`) in one request.
pub async fn direct_upload(
    State(state): State<AppState>,
    auth: crate::auth::AuthUser,
    req: Request,
) -> Result<Json<Value>> {
    let links = Links::new(&state, req.headers(), &auth.0);
    let (bytes, mime, name) = read_file(&state, req).await?;
    let mime = check_mime(mime.as_deref().unwrap_or("application/octet-stream"))?;
    check_size(bytes.len() as i64, state.config.attachment_max_bytes)?;
    let new = NewAttachment {
        name: name.unwrap_or_else(|| "upload".into()),
        mime_type: mime,
        size: bytes.len() as i64,
    };
    let a = state
        .chat
        .create_attachment(&auth.0, &new, Some(&bytes))
        .await?;
    Ok(Json(links.attachment_json(&a)))
}

/// `GET /api/chatkit/attachments/{id}/preview`: the bytes, with a `view` link or the owner's
/// bearer token.
pub async fn preview(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SigQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let caller = caller(&state, &headers, q.sig.as_deref(), &id, Purpose::View)?;
    let user = caller.user();
    let id = parse_attachment_id(&id)?;
    let a = state.chat.attachment(user, id).await?;
    let bytes = state.chat.attachment_bytes(user, id).await?;
    let mut response = bytes.into_response();
    if let Ok(v) = HeaderValue::from_str(&a.mime_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    // Served from our origin: never let a browser guess a more active type than the stored one.
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
