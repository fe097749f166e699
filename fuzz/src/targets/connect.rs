//! The Connect runtime of e2b-envd: envelope framing, end-of-stream JSON,
//! error bodies, and the server half that decodes requests.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use e2b_envd::connect::envelope::{self, DEFAULT_MAX_MESSAGE_SIZE, Decoder, EndOfStream, Frame};
use e2b_envd::connect::server::{self, RequestStream, ResponseStream};
use e2b_envd::connect::{
    Code, Codec, ConnectError, Error, Message, parse_timeout_header, timeout_header_value,
};
use e2b_envd::filesystem::{self, EntryInfo, FilesystemEvent, watch_dir_response};
use e2b_envd::process::{self, ProcessEvent, process_event};
use e2b_envd::wkt::Timestamp;
use futures_util::StreamExt as _;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};

use crate::input::{block_on, chunks, fields, join, param};

pub(crate) const DICTIONARY: &[&[u8]] = &[
    b"\x00\x00\x00\x00\x00",
    b"\x02\x00\x00\x00\x02{}",
    b"\x01",
    b"\x02",
    b"\x80",
    b"\x7f\xff\xff\xff",
    b"{\"error\":{\"code\":\"",
    b"\"code\"",
    b"\"message\"",
    b"\"details\"",
    b"\"metadata\"",
    b"\"event\"",
    b"\"start\"",
    b"\"data\"",
    b"\"end\"",
    b"\"keepalive\"",
    b"\"stdout\"",
    b"\"pid\"",
    b"\"exitCode\"",
    b"\"exit_code\"",
    b"\"entries\"",
    b"\"modifiedTime\"",
    b"\"filesystem\"",
    b"\"1970-01-01T00:00:00Z\"",
    b"\"0000-01-01T00:00:00+01:00\"",
    b"\"9999-12-31T23:59:60.999999999Z\"",
    b"not_found",
    b"deadline_exceeded",
    b"unauthenticated",
    b"application/connect+json",
    b"application/connect+proto",
    b"application/json",
    b"application/proto",
    b"; charset=utf-8",
];

/// Which stream message a payload is decoded as.
fn check_message(selector: u8, payload: &[u8]) {
    match selector % 4 {
        0 => codecs::<process::StartResponse>(payload),
        1 => codecs::<process::ConnectResponse>(payload),
        2 => codecs::<filesystem::ListDirResponse>(payload),
        _ => codecs::<filesystem::WatchDirResponse>(payload),
    }
}

fn codecs<M: Message + PartialEq + Debug>(payload: &[u8]) {
    for codec in [Codec::Json, Codec::Proto] {
        round_trip::<M>(codec, payload);
    }
}

/// What a codec decodes, it encodes, and the encoding decodes to the same
/// message (with this codec, and as JSON when the message has a JSON form).
fn round_trip<M: Message + PartialEq + Debug>(codec: Codec, payload: &[u8]) {
    let message: M = match codec.decode(payload) {
        Ok(m) => m,
        Err(e) => {
            assert!(matches!(e, Error::Codec(_)), "untyped decode error: {e:?}");
            return;
        }
    };
    let encoded = codec
        .encode(&message)
        .unwrap_or_else(|e| panic!("{codec:?} decoded {message:?} but cannot encode it: {e}"));
    let again: M = codec
        .decode(&encoded)
        .unwrap_or_else(|e| panic!("{codec:?} cannot decode its own encoding of {message:?}: {e}"));
    assert_eq!(again, message, "{codec:?} round trip changed the message");
    if codec == Codec::Proto
        && let Ok(json) = Codec::Json.encode(&message)
    {
        let from_json: M = Codec::Json
            .decode(&json)
            .unwrap_or_else(|e| panic!("JSON of {message:?} does not decode: {e}"));
        assert_eq!(from_json, message, "proto → JSON → message changed it");
    }
}

#[derive(Debug, PartialEq)]
struct Decoded {
    frames: Vec<Frame>,
    error: Option<String>,
    pending: usize,
}

fn decode_frames(max: usize, chunks: &[Bytes]) -> Decoded {
    let mut decoder = Decoder::new(max);
    let mut frames = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    assert!(
                        matches!(e, Error::Protocol(_)),
                        "untyped framing error: {e:?}"
                    );
                    return Decoded {
                        frames,
                        error: Some(e.to_string()),
                        pending: 0,
                    };
                }
            }
        }
    }
    Decoded {
        frames,
        error: None,
        pending: decoder.pending(),
    }
}

/// `params` (chunking, size limit, message type) `SEP` a stream body.
pub(crate) fn envelope(data: &[u8]) {
    let [params, stream] = fields::<2>(data);
    let max = match param(params, 1) {
        0 => DEFAULT_MAX_MESSAGE_SIZE,
        n => usize::from(n) * 8,
    };
    let whole = decode_frames(max, &[Bytes::copy_from_slice(stream)]);
    let split = decode_frames(max, &chunks(stream, param(params, 0)));
    assert_eq!(split, whole, "how the body was chunked changed the frames");
    // Framing round trip: the frames re-encode to the bytes they came from.
    let mut encoded = Vec::new();
    for frame in &whole.frames {
        assert!(frame.payload.len() <= max);
        encoded.extend_from_slice(&envelope::encode(frame.flags, &frame.payload).unwrap());
    }
    assert_eq!(&stream[..encoded.len()], &encoded[..]);
    if whole.error.is_none() {
        assert_eq!(encoded.len() + whole.pending, stream.len());
    }
    for frame in &whole.frames {
        if frame.is_end_stream() {
            check_end_of_stream(&frame.payload);
        } else {
            check_message(param(params, 2), &frame.payload);
        }
    }
}

fn check_end_of_stream(payload: &[u8]) {
    let eos = match EndOfStream::parse(payload) {
        Ok(eos) => eos,
        Err(e) => {
            assert!(matches!(e, Error::Protocol(_)), "untyped error: {e:?}");
            return;
        }
    };
    let _ = eos.error.as_ref().map(ToString::to_string);
    let json = eos.to_json();
    let back = EndOfStream::parse(&json)
        .unwrap_or_else(|e| panic!("own end-of-stream JSON does not parse: {e}"));
    match (&eos.error, &back.error) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            assert_eq!(
                (a.code, &a.message, &a.details),
                (b.code, &b.message, &b.details)
            );
        }
        _ => panic!("the error did not survive a round trip: {eos:?} → {back:?}"),
    }
    for (name, value) in &back.metadata {
        assert!(
            eos.metadata.get_all(name).iter().any(|v| v == value),
            "metadata {name}: {value:?} appeared in the round trip"
        );
    }
    // After one round the JSON form is stable.
    let json2 = back.to_json();
    let back2 = EndOfStream::parse(&json2).unwrap();
    assert_eq!(back2.to_json(), json2, "end-of-stream JSON is not stable");
}

/// A 16-bit HTTP status `SEP` a body (end-of-stream payload, unary error
/// body, header value).
pub(crate) fn end_of_stream(data: &[u8]) {
    let [status, payload] = fields::<2>(data);
    check_end_of_stream(payload);
    let status = u16::from_be_bytes([param(status, 0), param(status, 1)]);
    let error = ConnectError::from_http_response(status, payload);
    let _ = error.to_string();
    if let Some(parsed) = serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .as_ref()
        .and_then(ConnectError::from_json)
    {
        assert_eq!(error.code, parsed.code);
        let back = ConnectError::from_json(&parsed.to_json()).expect("own error JSON parses");
        assert_eq!(back, parsed);
    }
    let _ = Codec::from_content_type(&String::from_utf8_lossy(payload));
    if let Ok(value) = HeaderValue::from_bytes(payload)
        && let Some(timeout) = parse_timeout_header(&value)
    {
        let ms = timeout.as_millis();
        assert!(ms <= 9_999_999_999);
        let again = parse_timeout_header(&timeout_header_value(timeout));
        if ms > 0 {
            assert_eq!(again, Some(timeout), "Connect-Timeout-Ms round trip");
        }
    }
}

/// Serve `request` with an echoing handler of messages of type `M` and check
/// the answer.
async fn serve<M: Message + PartialEq + Debug + Clone>(
    kind: u8,
    request: Request<Full<Bytes>>,
    body: &[u8],
) {
    let codec = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Codec::from_content_type)
        .map(|(codec, _)| codec);
    let seen: Arc<Mutex<Vec<M>>> = Arc::default();
    let response = match kind % 3 {
        0 => {
            server::unary(
                request,
                |_ctx, m: M| async move { Ok::<_, ConnectError>(m) },
            )
            .await
        }
        1 => {
            server::server_stream(request, |_ctx, m: M| async move {
                let messages: ResponseStream<M> =
                    Box::pin(futures_util::stream::iter([Ok(m.clone()), Ok(m)]));
                Ok(messages)
            })
            .await
        }
        _ => {
            let seen = seen.clone();
            server::client_stream(request, |_ctx, mut stream: RequestStream<M>| async move {
                let mut last = M::default();
                while let Some(m) = stream.next().await {
                    last = m?;
                    seen.lock().unwrap().push(last.clone());
                }
                Ok(last)
            })
            .await
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let answer = response
        .into_body()
        .collect()
        .await
        .expect("response bodies do not fail")
        .to_bytes();
    if status != StatusCode::OK {
        let json: serde_json::Value =
            serde_json::from_slice(&answer).expect("error answers are JSON");
        let error = ConnectError::from_json(&json).expect("error answers are Connect errors");
        if status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::UNSUPPORTED_MEDIA_TYPE
        {
            assert_eq!(status.as_u16(), error.code.http_status(), "{error}");
        }
        return;
    }
    let codec = codec.expect("a 200 answer means the content type was understood");
    let content_type = headers.get(CONTENT_TYPE).unwrap().to_str().unwrap();
    if kind.is_multiple_of(3) {
        assert_eq!(content_type, codec.unary_content_type());
        let expected: M = codec
            .decode(body)
            .expect("the server accepted this message");
        let echoed: M = codec.decode(&answer).expect("the answer decodes");
        assert_eq!(echoed, expected, "unary echo changed the message");
        return;
    }
    assert_eq!(content_type, codec.stream_content_type());
    let answer = decode_frames(DEFAULT_MAX_MESSAGE_SIZE, &[answer]);
    assert_eq!((answer.error.as_deref(), answer.pending), (None, 0));
    let (last, messages) = answer.frames.split_last().expect("an end-of-stream frame");
    assert!(last.is_end_stream(), "the answer ends with end-of-stream");
    assert!(messages.iter().all(|f| !f.is_end_stream()));
    let eos = EndOfStream::parse(&last.payload).expect("own end-of-stream parses");
    let messages: Vec<M> = messages
        .iter()
        .map(|f| codec.decode(&f.payload).expect("own messages decode"))
        .collect();
    if let Some(error) = eos.error {
        // Only a deadline cuts a stream short after it began.
        assert!(
            messages.is_empty() || error.code == Code::DeadlineExceeded,
            "{error}"
        );
        return;
    }
    let request = decode_frames(DEFAULT_MAX_MESSAGE_SIZE, &[Bytes::copy_from_slice(body)]);
    if kind % 3 == 1 {
        let expected: M = codec.decode(&request.frames[0].payload).unwrap();
        assert_eq!(messages, vec![expected.clone(), expected]);
    } else {
        let seen = seen.lock().unwrap();
        let sent: Vec<M> = request
            .frames
            .iter()
            .take_while(|f| !f.is_end_stream())
            .map(|f| codec.decode(&f.payload).expect("the server decoded these"))
            .collect();
        assert_eq!(*seen, sent, "the handler saw other messages than were sent");
        assert_eq!(messages, vec![seen.last().cloned().unwrap_or_default()]);
    }
}

/// `params` (kind, method, message type) `SEP` content type `SEP`
/// `Connect-Timeout-Ms` `SEP` body.
pub(crate) fn server(data: &[u8]) {
    let [params, content_type, timeout, body] = fields::<4>(data);
    let method = if param(params, 1) & 1 == 0 {
        Method::POST
    } else {
        Method::GET
    };
    let mut request = Request::builder()
        .method(method)
        .uri("/process.Process/Start");
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        request = request.header(CONTENT_TYPE, value);
    }
    if !timeout.is_empty()
        && let Ok(value) = HeaderValue::from_bytes(timeout)
    {
        // A deadline short enough to fire stays out of the way of the echo.
        request = request.header("connect-timeout-ms", value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let kind = param(params, 0);
    block_on(async {
        if param(params, 2) & 1 == 0 {
            serve::<process::StartRequest>(kind, request, body).await;
        } else {
            serve::<filesystem::WatchDirRequest>(kind, request, body).await;
        }
    });
}

fn start_request() -> process::StartRequest {
    process::StartRequest {
        process: Some(process::ProcessConfig {
            cmd: "/bin/bash".into(),
            args: vec!["-l".into(), "-c".into(), "echo hello; ls -la ~".into()],
            envs: HashMap::from([("LANG".into(), "C.UTF-8".into())]),
            cwd: Some("/home/user".into()),
        }),
        pty: Some(process::Pty {
            size: Some(process::pty::Size { cols: 80, rows: 24 }),
        }),
        tag: Some("job-1".into()),
        stdin: Some(false),
    }
}

fn events() -> Vec<process::StartResponse> {
    let event = |e| process::StartResponse {
        event: Some(ProcessEvent { event: Some(e) }),
    };
    vec![
        event(process_event::Event::Start(process_event::StartEvent {
            pid: 4242,
        })),
        event(process_event::Event::Data(process_event::DataEvent {
            output: Some(process_event::data_event::Output::Stdout(
                b"hello \xe2\x9c\x93\n".to_vec(),
            )),
        })),
        event(process_event::Event::Data(process_event::DataEvent {
            output: Some(process_event::data_event::Output::Stderr(
                b"warn\n".to_vec(),
            )),
        })),
        event(process_event::Event::Keepalive(process_event::KeepAlive {})),
        event(process_event::Event::End(process_event::EndEvent {
            exit_code: 1,
            exited: true,
            status: "exit status 1".into(),
            error: Some("boom".into()),
        })),
    ]
}

fn entry() -> EntryInfo {
    EntryInfo {
        name: "a.txt".into(),
        r#type: filesystem::FileType::File as i32,
        path: "/home/user/a.txt".into(),
        size: 12,
        mode: 0o644,
        permissions: "-rw-r--r--".into(),
        owner: "user".into(),
        group: "user".into(),
        modified_time: Some(Timestamp {
            seconds: 1_735_689_600,
            nanos: 123_456_789,
        }),
        symlink_target: None,
        metadata: HashMap::from([("k".into(), "v".into())]),
    }
}

fn frame<M: Message>(codec: Codec, message: &M) -> Vec<u8> {
    envelope::encode(0, &codec.encode(message).unwrap())
        .unwrap()
        .to_vec()
}

fn eos_frame(error: Option<ConnectError>) -> Vec<u8> {
    let mut eos = EndOfStream {
        error,
        ..Default::default()
    };
    eos.metadata
        .insert("x-request-id", HeaderValue::from_static("r-1"));
    envelope::encode(envelope::FLAG_END_STREAM, &eos.to_json())
        .unwrap()
        .to_vec()
}

pub(crate) fn envelope_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (selector, codec) in [(0u8, Codec::Json), (0, Codec::Proto)] {
        let mut body: Vec<u8> = events().iter().flat_map(|e| frame(codec, e)).collect();
        body.extend(eos_frame(None));
        seeds.push(join([&[3, 0, selector][..], &body]));
        seeds.push(join([&[0, 0, selector][..], &body]));
    }
    let failed = eos_frame(Some(ConnectError::new(
        Code::DeadlineExceeded,
        "the call exceeded its deadline",
    )));
    seeds.push(join([&[1, 0, 0][..], &failed]));
    let listing = filesystem::ListDirResponse {
        entries: vec![entry(), EntryInfo::default()],
    };
    let watch = [
        filesystem::WatchDirResponse {
            event: Some(watch_dir_response::Event::Start(
                watch_dir_response::StartEvent {},
            )),
        },
        filesystem::WatchDirResponse {
            event: Some(watch_dir_response::Event::Filesystem(FilesystemEvent {
                name: "a.txt".into(),
                r#type: filesystem::EventType::Write as i32,
                entry: Some(entry()),
            })),
        },
    ];
    for codec in [Codec::Json, Codec::Proto] {
        let mut body = frame(codec, &listing);
        body.extend(eos_frame(None));
        seeds.push(join([&[7, 0, 2][..], &body]));
        let mut body: Vec<u8> = watch.iter().flat_map(|w| frame(codec, w)).collect();
        body.extend(eos_frame(None));
        seeds.push(join([&[2, 0, 3][..], &body]));
    }
    // Timestamps at the edges of their JSON form (an offset, a leap second).
    let edges = br#"{"entries":[{"name":"a","modifiedTime":"0001-01-01T00:30:00+01:00"},{"modifiedTime":"2016-12-31T23:59:60.5Z"}]}"#;
    let mut body = envelope::encode(0, edges).unwrap().to_vec();
    body.extend(eos_frame(None));
    seeds.push(join([&[0, 0, 2][..], &body]));
    // A frame larger than a small limit.
    seeds.push(join([&[0, 1, 0][..], &frame(Codec::Json, &events()[1])]));
    seeds
}

pub(crate) fn end_of_stream_seeds() -> Vec<Vec<u8>> {
    let mut error = ConnectError::new(Code::NotFound, "process with pid 7 not found");
    error.details.push(serde_json::json!({
        "type": "google.rpc.ErrorInfo", "value": "CgRyZWFzb24", "debug": {"reason": "x"}
    }));
    let mut eos = EndOfStream {
        error: Some(error.clone()),
        metadata: HeaderMap::new(),
    };
    eos.metadata.append("x-a", HeaderValue::from_static("1"));
    eos.metadata.append("x-a", HeaderValue::from_static("2"));
    let bodies: Vec<Vec<u8>> = vec![
        b"{}".to_vec(),
        Vec::new(),
        eos.to_json(),
        serde_json::to_vec(&error.to_json()).unwrap(),
        br#"{"code":401,"message":"unauthorized access, please provide a valid access token"}"#
            .to_vec(),
        b"<html><body>502 Bad Gateway</body></html>\n".to_vec(),
        br#"{"error":{"code":"unknown_code","message":"m"},"metadata":{"bad name":["v"],"x":[1,"\u0001"]}}"#.to_vec(),
        b"1500".to_vec(),
        b"application/connect+json; charset=utf-8".to_vec(),
    ];
    let statuses: [u16; 4] = [200, 404, 502, 503];
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| join([&statuses[i % 4].to_be_bytes()[..], &body]))
        .collect()
}

pub(crate) fn server_seeds() -> Vec<Vec<u8>> {
    let start = start_request();
    let watch = filesystem::WatchDirRequest {
        path: "/home/user".into(),
        recursive: true,
        include_entry: true,
        allow_network_mounts: false,
    };
    let mut seeds = Vec::new();
    for codec in [Codec::Json, Codec::Proto] {
        let unary = codec.encode(&start).unwrap();
        seeds.push(join([
            &[0, 0, 0][..],
            codec.unary_content_type().as_bytes(),
            b"",
            &unary,
        ]));
        let streamed = frame(codec, &start);
        seeds.push(join([
            &[1, 0, 0][..],
            codec.stream_content_type().as_bytes(),
            b"60000",
            &streamed,
        ]));
        let mut client: Vec<u8> = frame(codec, &watch);
        client.extend(frame(codec, &watch));
        client.extend(eos_frame(None));
        seeds.push(join([
            &[2, 0, 1][..],
            codec.stream_content_type().as_bytes(),
            b"",
            &client,
        ]));
    }
    seeds.push(join([&[0, 1, 0][..], b"application/json", b"abc", b"{}"]));
    seeds
}
