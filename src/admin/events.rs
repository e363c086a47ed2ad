//! `GET /v1/events`: the change events (`crate::events`) as Server-Sent
//! Events. A client first gets the replay buffer (the last
//! `events::REPLAY` events, or those after its `Last-Event-ID` when it
//! reconnects), then each event as it happens. Each SSE message has
//! `id:` (the event's id), `event:` (its kind) and `data:` (the event as
//! JSON); a comment every 15 s keeps proxies from closing an idle stream.
//! A client too slow to keep up misses events (a `lagged` comment says how
//! many); it never slows anything else.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event as Sse, KeepAlive};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::events::{Event, bus};

fn message(e: &Event) -> Sse {
    Sse::default()
        .id(e.id.to_string())
        .event(e.kind)
        .json_data(e)
        .unwrap_or_else(|_| Sse::default().comment("unserializable event"))
}

/// `GET /v1/events`.
pub(super) async fn stream(
    headers: HeaderMap,
) -> axum::response::sse::Sse<impl Stream<Item = Result<Sse, Infallible>>> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (rx, backlog) = bus().subscribe(after);
    let mut last = backlog.last().map_or(after.unwrap_or(0), |e| e.id);
    if backlog.is_empty() && after.is_none() {
        last = 0;
    }
    let replay = stream::iter(
        backlog
            .into_iter()
            .map(|e: Arc<Event>| Ok(message(&e)))
            .collect::<Vec<_>>(),
    );
    let live = stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) if e.id <= last => {}
                Ok(e) => return Some((Ok(message(&e)), rx)),
                Err(RecvError::Lagged(n)) => {
                    return Some((
                        Ok(Sse::default().comment(format!("lagged: {n} event(s) missed"))),
                        rx,
                    ));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    axum::response::sse::Sse::new(replay.chain(live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
