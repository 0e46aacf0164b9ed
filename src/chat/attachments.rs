//! Attachments: files a user uploads to mention in a message. The core stores their metadata
//! and bytes (owner-only) and checks the ones a message names; size and type limits are the
//! transport's, which knows its upload route.

use super::Chat;
use crate::error::{Error, Result};
use crate::model::{Attachment, AttachmentId, NewAttachment, UserId};

/// Longest attachment file name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;

impl Chat {
    /// Records an attachment of `user`, with its bytes when they are already here.
    pub async fn create_attachment(
        &self,
        user: &UserId,
        new: &NewAttachment,
        bytes: Option<&[u8]>,
    ) -> Result<Attachment> {
        if new.name.trim().is_empty() {
            return Err(Error::invalid("attachment name must not be empty"));
        }
        if new.name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::Invalid(format!(
                "attachment name must be at most {MAX_NAME_CHARS} characters"
            )));
        }
        self.inner.store.create_attachment(user, new, bytes).await
    }

    /// One of the user's attachments; `not_found` for anyone else's.
    pub async fn attachment(&self, user: &UserId, id: AttachmentId) -> Result<Attachment> {
        self.inner
            .store
            .get_attachment(user, id)
            .await?
            .ok_or(Error::NotFound("attachment"))
    }

    /// One of the user's attachments still waiting for its bytes: `not_found` for anyone
    /// else's, `conflict` once uploaded or used by a message. Lets an upload route refuse
    /// before it reads a body; [`Chat::upload_attachment`] checks again as it writes.
    pub async fn attachment_awaiting_upload(
        &self,
        user: &UserId,
        id: AttachmentId,
    ) -> Result<Attachment> {
        let a = self.attachment(user, id).await?;
        if a.uploaded || a.conversation_id.is_some() {
            return Err(already_uploaded());
        }
        Ok(a)
    }

    /// Stores the bytes of one of the user's attachments. Bytes are written once: `conflict`
    /// when the attachment is already uploaded or used by a message (decided by the store's
    /// write itself, so of two racing uploads one wins), `not_found` when it is not the user's.
    pub async fn upload_attachment(
        &self,
        user: &UserId,
        id: AttachmentId,
        bytes: &[u8],
    ) -> Result<Attachment> {
        if let Some(a) = self
            .inner
            .store
            .put_attachment_bytes(user, id, bytes)
            .await?
        {
            return Ok(a);
        }
        // Nothing written; only the answer depends on why.
        match self.inner.store.get_attachment(user, id).await? {
            Some(_) => Err(already_uploaded()),
            None => Err(Error::NotFound("attachment")),
        }
    }

    /// The bytes of one of the user's uploaded attachments.
    pub async fn attachment_bytes(&self, user: &UserId, id: AttachmentId) -> Result<Vec<u8>> {
        self.inner
            .store
            .attachment_bytes(user, id)
            .await?
            .ok_or(Error::NotFound("attachment"))
    }

    /// Deletes one of the user's attachments with its bytes.
    pub async fn delete_attachment(&self, user: &UserId, id: AttachmentId) -> Result<()> {
        if self.inner.store.delete_attachment(user, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("attachment"))
        }
    }

    /// The attachments a new message names, in order: each must be the user's
    /// (`not_found`) and uploaded (`invalid_request`).
    pub async fn attachments_for_message(
        &self,
        user: &UserId,
        ids: &[AttachmentId],
    ) -> Result<Vec<Attachment>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let a = self.attachment(user, *id).await?;
            if !a.uploaded {
                return Err(Error::Invalid(format!(
                    "attachment {id} has not been uploaded"
                )));
            }
            out.push(a);
        }
        Ok(out)
    }
}

/// Says nothing of the thread that may use the attachment: an upload link is no credential
/// for it.
fn already_uploaded() -> Error {
    Error::Conflict(
        "this attachment's bytes are already uploaded and cannot be replaced; create a new \
         attachment"
            .into(),
    )
}
