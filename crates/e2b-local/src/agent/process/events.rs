//! The event stream of `Start` and `Connect`: `start{pid}`, then output as it
//! comes with a keepalive after every silence of the requested interval,
//! then `end` and a clean end of stream.
//!
//! A stream the process had to detach because it stopped accepting output
//! (see [`super::fanout`]) ends with `data_loss` instead.

use e2b_envd::connect::{Code, ConnectError};
use e2b_envd::process::ProcessEvent;
use e2b_envd::process::process_event::{EndEvent, Event, KeepAlive, StartEvent};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::fanout::Output;
use super::handle::Attachment;
use crate::agent::keepalive::Keepalive;

enum Phase {
    Live(mpsc::Receiver<Output>),
    Replay(EndEvent),
    Done,
}

fn event(e: Event) -> ProcessEvent {
    ProcessEvent { event: Some(e) }
}

/// The events of process `pid` for one attached stream, each wrapped into
/// the call's response message by `wrap`.
pub(crate) fn process_events<M: Send + 'static>(
    pid: u32,
    attachment: Attachment,
    keepalive: Keepalive,
    wrap: fn(ProcessEvent) -> M,
) -> impl Stream<Item = Result<M, ConnectError>> + Send {
    let start = wrap(event(Event::Start(StartEvent { pid })));
    let phase = match attachment {
        Attachment::Live(rx) => Phase::Live(rx),
        Attachment::Ended(end) => Phase::Replay(end),
    };
    let rest = futures_util::stream::unfold(
        (phase, keepalive),
        move |(phase, mut keepalive)| async move {
            match phase {
                Phase::Done => None,
                Phase::Replay(end) => {
                    Some((Ok(wrap(event(Event::End(end)))), (Phase::Done, keepalive)))
                }
                Phase::Live(mut rx) => tokio::select! {
                    output = rx.recv() => match output {
                        Some(Output::Data(data)) => {
                            keepalive.reset();
                            Some((Ok(wrap(event(Event::Data(data)))), (Phase::Live(rx), keepalive)))
                        }
                        Some(Output::End(end)) => {
                            Some((Ok(wrap(event(Event::End(end)))), (Phase::Done, keepalive)))
                        }
                        None => Some((
                            Err(ConnectError::new(
                                Code::DataLoss,
                                "the stream fell behind the process output and was detached",
                            )),
                            (Phase::Done, keepalive),
                        )),
                    },
                    () = keepalive.tick() => {
                        let ping = wrap(event(Event::Keepalive(KeepAlive {})));
                        Some((Ok(ping), (Phase::Live(rx), keepalive)))
                    }
                },
            }
        },
    );
    futures_util::stream::once(std::future::ready(Ok(start))).chain(rest)
}
