//! A client of one kernel: requests on shell (DEALER), outputs on iopub (SUB).

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

use super::connection::ConnectionInfo;
use super::message::{Codec, Message, WireError};

/// Why talking to a kernel failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket layer failed.
    #[error("kernel socket: {0}")]
    Socket(#[from] zeromq::ZmqError),
    /// A message was malformed or badly signed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The kernel did not answer in time.
    #[error("the kernel did not answer within {0:?}")]
    Timeout(Duration),
}

/// Where a message came from.
#[derive(Debug)]
pub enum Channel<T = Message> {
    /// The iopub channel (outputs and status).
    Iopub(T),
    /// The shell channel (replies).
    Shell(T),
}

/// A connected kernel client.
pub struct KernelClient {
    shell: DealerSocket,
    iopub: SubSocket,
    /// The control channel, connected on first use.
    control: Option<DealerSocket>,
    control_endpoint: String,
    codec: Codec,
    session: String,
}

impl std::fmt::Debug for KernelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelClient")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl KernelClient {
    /// Connect to the kernel described by `info`, then wait (up to `patience`)
    /// until it answers on shell and its iopub messages reach us.
    pub async fn connect(info: &ConnectionInfo, patience: Duration) -> Result<Self, ClientError> {
        let mut shell = DealerSocket::new();
        shell.connect(&info.endpoint(info.shell_port)).await?;
        let mut iopub = SubSocket::new();
        iopub.connect(&info.endpoint(info.iopub_port)).await?;
        iopub.subscribe("").await?;
        let session = format!(
            "e2b-{}",
            crate::ids::hex(&crate::ids::random_bytes(8).unwrap_or_default())
        );
        let mut client = Self {
            shell,
            iopub,
            control: None,
            control_endpoint: info.endpoint(info.control_port),
            codec: Codec::new(info.key.as_bytes()),
            session,
        };
        tokio::time::timeout(patience, client.wait_ready())
            .await
            .map_err(|_| ClientError::Timeout(patience))??;
        Ok(client)
    }

    /// Ask for kernel info until a status message for one of our requests
    /// arrives on iopub (a late subscription misses earlier ones). Any of
    /// the requests counts: a kernel slower than the resend interval (tslab
    /// compiling on a loaded machine) answers each one late.
    async fn wait_ready(&mut self) -> Result<(), ClientError> {
        let mut sent: Vec<String> = Vec::new();
        loop {
            sent.push(self.send_shell("kernel_info_request", json!({})).await?);
            let heard = tokio::time::timeout(Duration::from_millis(200), async {
                loop {
                    let msg = match self.recv_iopub().await {
                        Ok(msg) => msg,
                        // A kernel's odd early message is no reason to give up on it.
                        Err(ClientError::Wire(_)) => continue,
                        Err(e) => return Err(e),
                    };
                    if msg
                        .parent_id()
                        .is_some_and(|p| sent.iter().any(|id| id == p))
                    {
                        return Ok::<_, ClientError>(());
                    }
                }
            })
            .await;
            match heard {
                Ok(result) => return result,
                Err(_) => continue,
            }
        }
    }

    /// Ask the kernel to interrupt what it runs (`interrupt_request` on the
    /// control channel); the reply is not awaited.
    pub async fn interrupt(&mut self) -> Result<(), ClientError> {
        const CONNECT: Duration = Duration::from_secs(5);
        if self.control.is_none() {
            let mut control = DealerSocket::new();
            tokio::time::timeout(CONNECT, control.connect(&self.control_endpoint))
                .await
                .map_err(|_| ClientError::Timeout(CONNECT))??;
            self.control = Some(control);
        }
        let msg = Message::new(&self.session, "interrupt_request", json!({}));
        let zmq = self.signed(&msg)?;
        if let Some(control) = self.control.as_mut() {
            control.send(zmq).await?;
        }
        Ok(())
    }

    /// `msg` as signed ZMQ frames.
    fn signed(&self, msg: &Message) -> Result<ZmqMessage, ClientError> {
        let frames: Vec<Bytes> = self
            .codec
            .encode(&[], msg)
            .into_iter()
            .map(Bytes::from)
            .collect();
        Ok(ZmqMessage::try_from(frames).map_err(|_| WireError::Malformed("empty message"))?)
    }

    /// Send a shell request; returns its `msg_id`.
    pub async fn send_shell(
        &mut self,
        msg_type: &str,
        content: Value,
    ) -> Result<String, ClientError> {
        let msg = Message::new(&self.session, msg_type, content);
        let id = msg.header.msg_id.clone();
        let zmq = self.signed(&msg)?;
        self.shell.send(zmq).await?;
        Ok(id)
    }

    /// The next iopub message (any parent).
    pub async fn recv_iopub(&mut self) -> Result<Message, ClientError> {
        let message = self.iopub.recv().await?;
        self.decode(message)
    }

    /// The next shell reply.
    pub async fn recv_shell(&mut self) -> Result<Message, ClientError> {
        let message = self.shell.recv().await?;
        self.decode(message)
    }

    /// Whichever comes first: an iopub message or a shell reply. Both
    /// sockets are read without losing a message when the other wins.
    pub async fn recv_either(&mut self) -> Result<Channel, ClientError> {
        let message = tokio::select! {
            message = self.iopub.recv() => Channel::Iopub(message?),
            message = self.shell.recv() => Channel::Shell(message?),
        };
        match message {
            Channel::Iopub(m) => self.decode(m).map(Channel::Iopub),
            Channel::Shell(m) => self.decode(m).map(Channel::Shell),
        }
    }

    fn decode(&self, message: ZmqMessage) -> Result<Message, ClientError> {
        let frames: Vec<Vec<u8>> = message.into_vec().into_iter().map(|b| b.to_vec()).collect();
        Ok(self.codec.decode(&frames)?.1)
    }

    /// Ask the kernel to run `code`; returns the request's `msg_id`. A
    /// `silent` execution is not counted, not stored in history and
    /// publishes no result.
    pub async fn send_execute(&mut self, code: &str, silent: bool) -> Result<String, ClientError> {
        self.send_shell(
            "execute_request",
            json!({
                "code": code,
                "silent": silent,
                "store_history": !silent,
                "user_expressions": {},
                "allow_stdin": false,
                "stop_on_error": true,
            }),
        )
        .await
    }

    /// The shell reply to request `id` (replies to other requests, and
    /// messages that do not decode, are skipped).
    pub async fn recv_reply(&mut self, id: &str) -> Result<Message, ClientError> {
        loop {
            let reply = match self.recv_shell().await {
                Ok(reply) => reply,
                Err(ClientError::Wire(e)) => {
                    tracing::warn!("skipping a kernel reply: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if reply.parent_id() == Some(id) {
                return Ok(reply);
            }
        }
    }

    /// Run `code`; returns the iopub messages it caused, up to its idle status.
    pub async fn execute(&mut self, code: &str) -> Result<Vec<Message>, ClientError> {
        let id = self.send_execute(code, false).await?;
        let mut outputs = Vec::new();
        loop {
            let msg = self.recv_iopub().await?;
            if msg.parent_id() != Some(id.as_str()) {
                continue;
            }
            let idle = msg.header.msg_type == "status" && msg.content["execution_state"] == "idle";
            if idle {
                break;
            }
            outputs.push(msg);
        }
        // Take the matching execute_reply so replies stay in step.
        self.recv_reply(&id).await?;
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use zeromq::{PubSocket, RouterSocket};

    use super::*;

    /// A kernel that takes longer than the client's resend interval to
    /// answer each `kernel_info_request` (tslab compiling on a loaded
    /// machine) still counts as ready.
    #[tokio::test]
    async fn a_kernel_slower_than_the_resend_interval_is_ready() {
        let info = ConnectionInfo::allocate().unwrap();
        let codec = Codec::new(info.key.as_bytes());
        let mut shell = RouterSocket::new();
        shell.bind(&info.endpoint(info.shell_port)).await.unwrap();
        let mut iopub = PubSocket::new();
        iopub.bind(&info.endpoint(info.iopub_port)).await.unwrap();
        let kernel = tokio::spawn(async move {
            loop {
                let Ok(request) = shell.recv().await else {
                    return;
                };
                let frames: Vec<Vec<u8>> = request.into_vec().iter().map(|b| b.to_vec()).collect();
                let (_, request) = codec.decode(&frames).unwrap();
                // Each answer takes longer than the client waits before asking again.
                tokio::time::sleep(Duration::from_millis(350)).await;
                let mut status =
                    Message::new("kernel", "status", json!({"execution_state": "idle"}));
                status.parent_header = serde_json::to_value(&request.header).unwrap();
                let frames: Vec<Bytes> = codec
                    .encode(&[], &status)
                    .into_iter()
                    .map(Bytes::from)
                    .collect();
                if iopub
                    .send(ZmqMessage::try_from(frames).unwrap())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let connected = KernelClient::connect(&info, Duration::from_secs(10)).await;
        kernel.abort();
        assert!(connected.is_ok(), "{:?}", connected.err());
    }
}
