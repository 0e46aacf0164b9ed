//! Hands a provider's event stream to async-openai one server-sent event per chunk.
//!
//! async-openai parses a completion stream with `eventsource-stream`, which copies what is left of
//! its buffer after every line it reads. A provider that writes its whole answer at once (a fast
//! local server, a cache, the mock provider of the benchmarks) arrives as one large chunk, and
//! parsing it then takes time quadratic in its length: a 64-word answer is about 130 lines, and
//! each line copied the rest of the 14 KB body. Cutting the body at event ends before the parser
//! sees it keeps that buffer one event long.
//!
//! A cut is only ever an optimisation: the parser keeps a partial event until the rest arrives,
//! so the events read are the same wherever the body is cut. Whatever has arrived is passed on as
//! soon as the connection has nothing more ready, so no event waits on the next one.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Body, ResponseBuilderExt};

/// A successful `text/event-stream` response with its body cut at event ends; any other
/// response unchanged.
pub fn one_event_per_chunk(mut response: reqwest::Response) -> reqwest::Response {
    let is_event_stream = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    if !is_event_stream || !response.status().is_success() {
        return response;
    }
    let mut builder = http::Response::builder()
        .status(response.status())
        .version(response.version())
        .url(response.url().clone());
    if let Some(headers) = builder.headers_mut() {
        *headers = std::mem::take(response.headers_mut());
    }
    let body = Body::wrap_stream(EventChunks::new(response.bytes_stream()));
    builder
        .body(body)
        .expect("a status and version taken from a response are valid")
        .into()
}

/// Re-cuts a byte stream so that every chunk but the last of a burst ends with an event.
struct EventChunks<S> {
    inner: S,
    buffer: BytesMut,
    /// Bytes of `buffer` already searched for an event end without finding one.
    scanned: usize,
    ended: bool,
}

impl<S> EventChunks<S> {
    fn new(inner: S) -> Self {
        EventChunks {
            inner,
            buffer: BytesMut::new(),
            scanned: 0,
            ended: false,
        }
    }

    /// Takes the first complete event off the buffer.
    fn next_event(&mut self) -> Option<Bytes> {
        match event_end(&self.buffer, self.scanned) {
            Some(end) => {
                self.scanned = 0;
                Some(self.buffer.split_to(end).freeze())
            }
            None => {
                // The last two bytes may begin an event end whose rest has not arrived.
                self.scanned = self.buffer.len().saturating_sub(2);
                None
            }
        }
    }

    /// Everything buffered, complete or not.
    fn rest(&mut self) -> Option<Bytes> {
        self.scanned = 0;
        (!self.buffer.is_empty()).then(|| self.buffer.split().freeze())
    }
}

impl<S, E> Stream for EventChunks<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.next_event() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.ended {
                return Poll::Ready(this.rest().map(Ok));
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(bytes))) => this.buffer.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => this.ended = true,
                // Nothing more for now: pass on what there is rather than hold it back.
                Poll::Pending => {
                    return this
                        .rest()
                        .map_or(Poll::Pending, |b| Poll::Ready(Some(Ok(b))))
                }
            }
        }
    }
}

/// Where the first event of `buf` ends: just past a blank line (`\n\n` or `\n\r\n`). The search
/// starts at `from`, as the bytes before it were searched already.
fn event_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(offset) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let newline = i + offset;
        match buf.get(newline + 1..newline + 3) {
            Some([b'\n', _]) => return Some(newline + 2),
            Some([b'\r', b'\n']) => return Some(newline + 3),
            None if buf.get(newline + 1) == Some(&b'\n') => return Some(newline + 2),
            _ => {}
        }
        i = newline + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn cut(parts: &[&str]) -> Vec<String> {
        let inner = futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::copy_from_slice(p.as_bytes())))
                .collect::<Vec<_>>(),
        );
        let chunks: Vec<_> = EventChunks::new(inner).collect().await;
        chunks
            .into_iter()
            .map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn one_large_body_is_cut_at_every_event_end() {
        let body = "data: {\"a\":1}\n\ndata: {\"a\":2}\n\n: keep-alive\n\ndata: [DONE]\n\n";
        assert_eq!(
            cut(&[body]).await,
            [
                "data: {\"a\":1}\n\n",
                "data: {\"a\":2}\n\n",
                ": keep-alive\n\n",
                "data: [DONE]\n\n"
            ]
        );
    }

    #[tokio::test]
    async fn events_split_across_chunks_are_joined_and_nothing_is_lost() {
        let body = "event: x\ndata: one\n\ndata: two\r\n\r\ndata: three\n\ndata: tail";
        let whole = cut(&[body]).await.concat();
        assert_eq!(whole, body);
        // Every way of cutting the body in two gives the same bytes, and every chunk but the
        // last ends with an event (the iterator is never pending, so nothing is flushed early).
        for at in 0..=body.len() {
            let chunks = cut(&[&body[..at], &body[at..]]).await;
            assert_eq!(chunks.concat(), body, "cut at {at}");
            for c in &chunks[..chunks.len() - 1] {
                assert!(
                    c.ends_with("\n\n") || c.ends_with("\n\r\n"),
                    "{c:?} at {at}"
                );
            }
            assert_eq!(chunks.len(), 4, "cut at {at}: {chunks:?}");
        }
    }

    #[tokio::test]
    async fn a_partial_event_is_passed_on_when_the_connection_has_nothing_more() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
        let mut chunks = EventChunks::new(rx);
        tx.unbounded_send(Ok(Bytes::from_static(b"data: one\n\ndata: tw")))
            .unwrap();
        assert_eq!(chunks.next().await.unwrap().unwrap(), "data: one\n\n");
        // The rest of the second event has not arrived: what there is goes on at once.
        assert_eq!(chunks.next().await.unwrap().unwrap(), "data: tw");
        tx.unbounded_send(Ok(Bytes::from_static(b"o\n\n"))).unwrap();
        assert_eq!(chunks.next().await.unwrap().unwrap(), "o\n\n");
        drop(tx);
        assert!(chunks.next().await.is_none());
    }

    #[tokio::test]
    async fn errors_pass_through() {
        let inner = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"data: one\n\n")),
            Err(std::io::Error::other("reset")),
        ]);
        let got: Vec<_> = EventChunks::new(inner).collect().await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap(), "data: one\n\n");
        assert_eq!(got[1].as_ref().unwrap_err().to_string(), "reset");
    }

    #[test]
    fn event_ends_are_found_from_the_given_offset() {
        assert_eq!(event_end(b"data: a\n\n", 0), Some(9));
        assert_eq!(event_end(b"data: a\r\n\r\nx", 0), Some(11));
        assert_eq!(event_end(b"data: a\n", 0), None);
        assert_eq!(event_end(b"data: a\ndata: b\n\n", 6), Some(17));
        assert_eq!(event_end(b"", 0), None);
    }
}
