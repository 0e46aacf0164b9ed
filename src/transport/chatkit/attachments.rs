//! Attachments over ChatKit: `attachments.create` / `attachments.delete`, the two-phase upload
//! route (`POST|PUT /api/chatkit/attachments/{id}/upload`, multipart `file` or a raw body), the
//! direct upload route (`POST /api/chatkit/attachments`, multipart `file`) and the preview
//! route (`GET /api/chatkit/attachments/{id}/preview`).
//!
//! Upload and preview URLs carry a signature (`sig`): an HS256 token naming the attachment and
//! its owner, valid for a day. It has no `sub`, so it is never accepted as a user token; a
//! bearer token of the owner works too. Size (`ATTACHMENT_MAX_BYTES`, 413) and type (415) are
//! checked when an attachment is announced and again when bytes arrive.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{bearer, now_secs};
use crate::error::{Error, Result};
use crate::model::{Attachment, AttachmentId, NewAttachment, UserId};
use crate::state::AppState;

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

const SIGNATURE_TTL: Duration = Duration::from_secs(24 * 3600);

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

#[derive(Serialize, Deserialize)]
struct SigClaims {
    att: String,
    own: String,
    exp: u64,
}

/// Builds the absolute URLs and attachment JSON for one request's user.
pub struct Links {
    base: String,
    user: UserId,
    secret: String,
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
            secret: state.config.jwt_secret.clone(),
        }
    }

    fn sign(&self, id: &str) -> String {
        let claims = SigClaims {
            att: id.to_string(),
            own: self.user.0.clone(),
            exp: now_secs() + SIGNATURE_TTL.as_secs(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .expect("HS256 signing cannot fail")
    }

    fn url(&self, id: &str, action: &str) -> String {
        format!(
            "{}/api/chatkit/attachments/{id}/{action}?sig={}",
            self.base,
            self.sign(id)
        )
    }

    /// The ChatKit `Attachment` of a stored attachment: `upload_descriptor` until its bytes are
    /// uploaded, `preview_url` for images, `thread_id` once a message uses it.
    pub fn attachment_json(&self, a: &Attachment) -> Value {
        let id = a.id.to_string();
        let mut v = self.base_json(&id, &a.name, &a.mime_type);
        if !a.uploaded {
            v["upload_descriptor"] =
                json!({"url": self.url(&id, "upload"), "method": "POST", "headers": {}});
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
            v["preview_url"] = json!(self.url(id, "preview"));
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

#[derive(Deserialize)]
pub struct SigQuery {
    sig: Option<String>,
}

/// The owner a request acts for: the bearer token's user, or the signature's owner when the
/// signature names this attachment. 401 otherwise.
fn owner(state: &AppState, headers: &HeaderMap, sig: Option<&str>, id: &str) -> Result<UserId> {
    if let Some(token) = bearer(headers) {
        return Ok(state.jwt.verify(token)?.user);
    }
    let sig = sig.ok_or(Error::Unauthorized)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<SigClaims>(
        sig,
        &DecodingKey::from_secret(state.config.jwt_secret.as_bytes()),
        &validation,
    )
    .map_err(|_| Error::Unauthorized)?;
    if data.claims.att != id {
        return Err(Error::Unauthorized);
    }
    Ok(UserId(data.claims.own))
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

/// `POST|PUT /api/chatkit/attachments/{id}/upload`: phase two of a two-phase upload. Once:
/// 409 `conflict` when the attachment already has its bytes or a message uses it.
pub async fn upload(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SigQuery>,
    req: Request,
) -> Result<Json<Value>> {
    let user = owner(&state, req.headers(), q.sig.as_deref(), &id)?;
    let links = Links::new(&state, req.headers(), &user);
    let id = parse_attachment_id(&id)?;
    // Refused before its body is read; the store's write checks the same again, atomically.
    state.chat.attachment_awaiting_upload(&user, id).await?;
    let (bytes, _, _) = read_file(&state, req).await?;
    check_size(bytes.len() as i64, state.config.attachment_max_bytes)?;
    let a = state.chat.upload_attachment(&user, id, &bytes).await?;
    Ok(Json(links.attachment_json(&a)))
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

/// `GET /api/chatkit/attachments/{id}/preview`: the bytes, for the owner only.
pub async fn preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SigQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let user = owner(&state, &headers, q.sig.as_deref(), &id)?;
    let id = parse_attachment_id(&id)?;
    let a = state.chat.attachment(&user, id).await?;
    let bytes = state.chat.attachment_bytes(&user, id).await?;
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
