//! The targets, one module per protocol.

mod connect;
mod control;
mod files;
mod jupyter;
mod multipart;
mod ndjson;

use crate::Target;

pub(crate) const ALL: &[Target] = &[
    Target {
        name: "connect_envelope",
        covers: "e2b-envd connect::envelope::Decoder (client and server stream framing), \
                 EndOfStream::parse, Codec::decode of process/filesystem stream messages",
        run: connect::envelope,
        seeds: connect::envelope_seeds,
        dictionary: connect::DICTIONARY,
    },
    Target {
        name: "connect_end_of_stream",
        covers: "e2b-envd EndOfStream::parse/to_json, ConnectError::from_json and \
                 from_http_response (unary error bodies), Connect-Timeout-Ms, content types",
        run: connect::end_of_stream,
        seeds: connect::end_of_stream_seeds,
        dictionary: connect::DICTIONARY,
    },
    Target {
        name: "connect_server",
        covers: "e2b-envd connect::server::{unary, server_stream, client_stream}: request \
                 checks, body limits, envelope and message decoding, the answers",
        run: connect::server,
        seeds: connect::server_seeds,
        dictionary: connect::DICTIONARY,
    },
    Target {
        name: "ndjson_execution",
        covers: "e2b-code-interpreter ExecutionStream (/execute NDJSON lines, chunking, \
                 end marker) and ExecutionResult's wire round trip",
        run: ndjson::execution,
        seeds: ndjson::seeds,
        dictionary: ndjson::DICTIONARY,
    },
    Target {
        name: "jupyter_message",
        covers: "e2b-local jupyter::message::Codec::decode (frames, HMAC), the agent's \
                 kernel message → NDJSON line conversion, and the SDK decoding those lines",
        run: jupyter::message,
        seeds: jupyter::seeds,
        dictionary: jupyter::DICTIONARY,
    },
    Target {
        name: "multipart_upload",
        covers: "e2b-local POST /files body decoding: Content-Encoding, gzip within the \
                 inflate limit, multipart boundary and parts (multer), target paths",
        run: multipart::upload,
        seeds: multipart::seeds,
        dictionary: multipart::DICTIONARY,
    },
    Target {
        name: "files_query",
        covers: "e2b-local /files query (path, username), signed-URL check, path \
                 resolution, Host/E2b-Sandbox-* routing, Basic auth user",
        run: files::query,
        seeds: files::query_seeds,
        dictionary: files::QUERY_DICTIONARY,
    },
    Target {
        name: "files_headers",
        covers: "e2b-local /files headers: Range, Accept-Encoding/Content-Encoding \
                 negotiation, X-Metadata-*",
        run: files::headers,
        seeds: files::header_seeds,
        dictionary: files::HEADER_DICTIONARY,
    },
    Target {
        name: "control_query",
        covers: "e2b-local control-plane query strings: limit, metadata and state \
                 filters, page tokens",
        run: control::query,
        seeds: control::seeds,
        dictionary: control::DICTIONARY,
    },
];
