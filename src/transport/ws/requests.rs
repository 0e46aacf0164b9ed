//! What a socket does with each client frame: a message starts (or repeats, or queues) a turn,
//! `cancel` stops one, `thread.load` and the listings read, `auth` refreshes the token and
//! `resume` replays what the socket missed. Every refusal is an `error` event under the frame's
//! `request_id`.

use super::*;

impl Connection {
    /// Handles one text frame; returns the new expiry when the frame refreshed the token.
    pub(super) async fn handle_text(&mut self, text: &str) -> Result<Option<u64>, WriteFailed> {
        let (client_frame, request_id) = match frame::parse(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                return self
                    .send(vec![frame::error(&e.error, None, &e.request_id)])
                    .await
                    .map(|_| None)
            }
        };
        let chat = self.state.chat.clone();
        let reply = match client_frame {
            ClientFrame::Ping => frame::pong(&request_id),
            ClientFrame::Resume { after } => {
                return self.resume(&after, &request_id).await.map(|_| None);
            }
            ClientFrame::Auth {
                token,
                resume_after: None,
            } => match self.state.jwt.verify(&token) {
                Ok(v) if v.user == self.user => {
                    self.expires_at = v.expires_at;
                    self.send(vec![frame::auth_refreshed(v.expires_at, &request_id)])
                        .await?;
                    return Ok(Some(v.expires_at));
                }
                Ok(_) => error_frame(
                    &Error::Forbidden,
                    None,
                    &request_id,
                    "a refreshed token must be for the same user",
                ),
                Err(e) => frame::error(&e.body(), None, &request_id),
            },
            ClientFrame::Auth {
                resume_after: Some(_),
                ..
            } => {
                let body = ErrorBody {
                    code: "invalid_frame".into(),
                    message: "auth: resume_after belongs in the first auth frame; send a resume \
                              frame instead"
                        .into(),
                };
                frame::error(&body, None, &request_id)
            }
            ClientFrame::Message {
                thread_id,
                content,
                metadata,
                client_message_id,
                on_busy,
            } => {
                let thread = match thread_id.as_deref().map(parse_thread_id).transpose() {
                    Ok(t) => t,
                    Err(e) => return self.send_error(&e, None, &request_id).await,
                };
                let request = TurnRequest {
                    user: self.user.clone(),
                    thread_id: thread,
                    content,
                    metadata,
                    request_id: request_id.clone(),
                    details: None,
                    attachments: Vec::new(),
                    client_message_id,
                    on_busy,
                    create_thread: false,
                };
                // The turn's events arrive through the hub subscription, like every tab's. A
                // repeated send is brought up to date here; the rest of its turn, if it runs,
                // arrives through the subscription too.
                match chat.start_turn(request).await {
                    Ok(turn) if turn.is_repeat() => {
                        let frames = turn.replayed.iter().map(|e| e.to_json().to_string());
                        return self.send(frames.collect()).await.map(|_| None);
                    }
                    Ok(_turn) => return Ok(None),
                    Err(e) => return self.send_error(&e, thread, &request_id).await,
                }
            }
            ClientFrame::Cancel {
                thread_id,
                message_id,
            } => {
                let thread = match parse_thread_id(&thread_id) {
                    Ok(t) => t,
                    Err(e) => return self.send_error(&e, None, &request_id).await,
                };
                if let Some(id) = message_id {
                    let cancelled = match parse_message_id(&id) {
                        Ok(id) => chat.cancel_queued(&self.user, thread, id).await,
                        Err(e) => Err(e),
                    };
                    return match cancelled {
                        Ok(true) => Ok(None),
                        Ok(false) => {
                            let reply = error_frame(
                                &Error::NotFound("queued message"),
                                Some(thread),
                                &request_id,
                                "no such message is queued on that thread",
                            );
                            self.send(vec![reply]).await.map(|_| None)
                        }
                        Err(e) => self.send_error(&e, Some(thread), &request_id).await,
                    };
                }
                match chat.cancel(&self.user, thread).await {
                    Ok(true) => return Ok(None),
                    Ok(false) => {}
                    Err(e) => return self.send_error(&e, Some(thread), &request_id).await,
                }
                error_frame(
                    &Error::NotFound("running turn"),
                    Some(thread),
                    &request_id,
                    "no turn is running on that thread",
                )
            }
            ClientFrame::ThreadsList { limit, after } => {
                let result = match page_request(limit, after, 20) {
                    Ok(page) => chat.read(&self.user).threads(&page).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(page) => frame::threads(&page, &request_id),
                    Err(e) => return self.send_error(&e, None, &request_id).await,
                }
            }
            ClientFrame::ThreadLoad {
                thread_id,
                limit,
                after,
            } => {
                let result = match (parse_thread_id(&thread_id), page_request(limit, after, 50)) {
                    (Ok(id), Ok(page)) => chat.read(&self.user).thread_page(id, &page).await,
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                match result {
                    Ok(page) => frame::thread(&page, &request_id),
                    Err(e) => return self.send_error(&e, None, &request_id).await,
                }
            }
        };
        self.send(vec![reply]).await.map(|_| None)
    }

    /// Answers a resume from `after`: `resumed`, then (when recovered) every event missed, merged
    /// where deltas are adjacent; live events follow either way.
    pub(super) async fn resume(
        &mut self,
        after: &str,
        request_id: &Option<String>,
    ) -> Result<(), WriteFailed> {
        let Some(position) = Position::parse(after) else {
            let body = ErrorBody {
                code: "invalid_frame".into(),
                message: "resume: `after` is not a position this server made".into(),
            };
            return self.send(vec![frame::error(&body, None, request_id)]).await;
        };
        let resumed = self.subscription.resume(&position).await;
        let mut frames = Vec::with_capacity(resumed.events.len() + 1);
        frames.push(frame::resumed(
            resumed.recovered,
            resumed.events.len(),
            request_id,
        ));
        frames.extend(resumed.events.iter().map(Delivery::to_text));
        crate::metrics::socket_resumed(resumed.recovered);
        self.send(frames).await
    }

    /// Why the subscription could not go on (the close frame's reason).
    pub(super) fn lag_reason(&self) -> &'static str {
        if self.subscription.cut_off() {
            "events from another instance may have been lost; resume from your last pos"
        } else {
            "slow consumer: fell too far behind; resume from your last pos"
        }
    }

    async fn send_error(
        &mut self,
        e: &Error,
        thread: Option<ThreadId>,
        request_id: &Option<String>,
    ) -> Result<Option<u64>, WriteFailed> {
        e.log_if_internal();
        let mut body = e.body();
        // REST says invalid_request; on the socket a bad field of a frame is invalid_frame.
        if let Error::Invalid(_) = e {
            body.code = "invalid_frame".into();
        }
        self.send(vec![frame::error(&body, thread, request_id)])
            .await
            .map(|_| None)
    }
}
