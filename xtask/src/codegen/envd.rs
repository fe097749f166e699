//! envd's protobuf services (`spec/envd/{process,filesystem}/*.proto`):
//! prost messages, ProtoJSON serde impls (pbjson) and Connect client stubs and
//! server traits (the service generator below). Compiled with protox, so no
//! `protoc` is needed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, bail};
use proc_macro2::TokenStream;
use prost::Message as _;
use prost_build::{Module, Service, ServiceGenerator};
use quote::{format_ident, quote};

/// The proto files, relative to `spec/envd`, one per generated module.
const PROTOS: [(&str, &str); 2] = [
    ("process", "process/process.proto"),
    ("filesystem", "filesystem/filesystem.proto"),
];

/// Generate one token stream per package: `(module name, tokens)`.
pub(crate) fn generate(root: &Path) -> anyhow::Result<Vec<(String, TokenStream)>> {
    let include = root.join("spec/envd");
    let files: Vec<&str> = PROTOS.iter().map(|(_, f)| *f).collect();
    let fds = protox::compile(&files, [&include]).context("compiling envd protos with protox")?;
    let fds_bytes = fds.encode_to_vec();

    // prost: messages and enums, plus the Connect services.
    let services = Rc::new(RefCell::new(BTreeMap::<String, Vec<TokenStream>>::new()));
    let keepalives = keepalive_checks(&fds);
    let mut config = prost_build::Config::new();
    config
        // Well-known types come from the crate's `wkt` module, which gives them
        // their exact proto3 JSON forms.
        .compile_well_known_types()
        .extern_path(".google.protobuf", "crate::wkt")
        .service_generator(Box::new(ConnectServices {
            out: services.clone(),
            keepalives,
        }));
    // Every file goes in (prost needs the imported well-known types to resolve
    // fields); only the envd packages' modules are kept.
    let requests = fds
        .file
        .iter()
        .map(|f| (Module::from_protobuf_package_name(f.package()), f.clone()))
        .collect();
    let modules = config.generate(requests).context("prost code generation")?;

    // pbjson: proto3 JSON mapping (camelCase names, int64 as strings, enums by
    // name, base64 bytes, defaults omitted; unknown fields ignored on input).
    let json = Rc::new(RefCell::new(BTreeMap::<String, Vec<u8>>::new()));
    pbjson_build::Builder::new()
        .register_descriptors(&fds_bytes)?
        .extern_path(".google.protobuf", "crate::wkt")
        .ignore_unknown_fields()
        // A newer envd may add enum values; decode them as UNSPECIFIED instead
        // of failing the whole message (as the official SDKs do).
        .ignore_unknown_enum_variants()
        .generate(&[".process", ".filesystem"], |package| {
            Ok(JsonSink(package.to_string(), json.clone()))
        })
        .context("pbjson code generation")?;

    let mut out = Vec::new();
    for (package, _) in PROTOS {
        let module = Module::from_protobuf_package_name(package);
        let Some(messages) = modules.get(&module) else {
            bail!("prost produced no module for package {package}");
        };
        let Some(serde) = json.borrow().get(package).cloned() else {
            bail!("pbjson produced no output for package {package}");
        };
        let serde = String::from_utf8(serde)?;
        let messages: TokenStream = messages
            .parse()
            .map_err(|e| anyhow::anyhow!("prost output does not tokenize: {e}"))?;
        let serde: TokenStream = serde
            .parse()
            .map_err(|e| anyhow::anyhow!("pbjson output does not tokenize: {e}"))?;
        let services = services.borrow().get(package).cloned().unwrap_or_default();
        out.push((
            package.to_owned(),
            quote! {
                #messages
                #serde
                #(#services)*
            },
        ));
    }
    Ok(out)
}

/// pbjson writes through `std::io::Write`; collect per package in memory.
struct JsonSink(String, Rc<RefCell<BTreeMap<String, Vec<u8>>>>);

impl std::io::Write for JsonSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1
            .borrow_mut()
            .entry(self.0.clone())
            .or_default()
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Emits, per service, a Connect client (`<svc>_client::<Svc>Client`, feature
/// `client`) and a server trait with a request dispatcher
/// (`<svc>_server::{<Svc>, <Svc>Server}`, feature `server`).
struct ConnectServices {
    out: Rc<RefCell<BTreeMap<String, Vec<TokenStream>>>>,
    /// Per message (`.pkg.Name`): the body of its `is_keepalive` check.
    keepalives: BTreeMap<String, TokenStream>,
}

impl ServiceGenerator for ConnectServices {
    fn generate(&mut self, service: Service, _buf: &mut String) {
        let tokens = service_tokens(&service, &self.keepalives);
        self.out
            .borrow_mut()
            .entry(service.package.clone())
            .or_default()
            .push(tokens);
    }
}

fn doc_lines(lines: &[String]) -> Vec<TokenStream> {
    lines
        .iter()
        .map(|l| {
            let l = format!(" {}", l.trim());
            quote!(#[doc = #l])
        })
        .collect()
}

fn rust_type(path: &str) -> TokenStream {
    path.parse().expect("prost type paths tokenize")
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn pascal(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// For every top-level message, how to tell whether a value of it is a stream
/// keepalive: a oneof variant named `keepalive`, either on the message itself
/// (`WatchDirResponse`) or on a message held in one of its fields
/// (`StartResponse.event: ProcessEvent`). Messages without one never are.
fn keepalive_checks(fds: &prost_types::FileDescriptorSet) -> BTreeMap<String, TokenStream> {
    let mut direct = BTreeMap::<String, (String, TokenStream)>::new();
    let mut messages = Vec::new();
    for file in &fds.file {
        for msg in &file.message_type {
            let full = format!(".{}.{}", file.package(), msg.name());
            for field in &msg.field {
                if field.name() == "keepalive"
                    && let Some(idx) = field.oneof_index
                    && let Some(oneof) = msg.oneof_decl.get(idx as usize)
                {
                    let module = format_ident!("{}", snake(msg.name()));
                    let enum_name = format_ident!("{}", pascal(oneof.name()));
                    let oneof_field = format_ident!("{}", oneof.name());
                    direct.insert(
                        full.clone(),
                        (
                            oneof.name().to_owned(),
                            quote!(matches!(#oneof_field, Some(super::#module::#enum_name::Keepalive(_)))),
                        ),
                    );
                }
            }
            messages.push((full, msg.clone()));
        }
    }
    let mut checks = BTreeMap::new();
    for (full, msg) in messages {
        if let Some((oneof, check)) = direct.get(&full) {
            let field = format_ident!("{}", oneof);
            checks.insert(full, quote! { let #field = &self.#field; #check });
            continue;
        }
        let nested = msg.field.iter().find_map(|f| {
            let (inner_oneof, check) = direct.get(f.type_name())?;
            let outer = format_ident!("{}", f.name());
            let inner = format_ident!("{}", inner_oneof);
            Some(quote! {
                self.#outer.as_ref().is_some_and(|m| { let #inner = &m.#inner; #check })
            })
        });
        checks.insert(full, nested.unwrap_or_else(|| quote!(false)));
    }
    checks
}

fn service_tokens(service: &Service, keepalives: &BTreeMap<String, TokenStream>) -> TokenStream {
    let full_name = format!("{}.{}", service.package, service.proto_name);
    let snake = service.name.to_lowercase();
    let client_mod = format_ident!("{}_client", snake);
    let server_mod = format_ident!("{}_server", snake);
    let client_name = format_ident!("{}Client", service.name);
    let trait_name = format_ident!("{}", service.name);
    let server_name = format_ident!("{}Server", service.name);
    let service_docs = doc_lines(&service.comments.leading);
    let client_doc = format!(" Connect client for `{full_name}`.");
    let trait_doc = format!(" The `{full_name}` service, implemented by a Connect server.");
    let server_doc = format!(
        " Dispatches Connect requests for `{full_name}` to a [`{}`] implementation.",
        service.name
    );
    let prefix = format!("/{full_name}/");

    let mut client_methods = Vec::new();
    let mut trait_methods = Vec::new();
    let mut routes = Vec::new();
    let mut stream_impls = Vec::new();
    for method in &service.methods {
        let name = format_ident!("{}", method.name);
        let path = format!("/{full_name}/{}", method.proto_name);
        let input = rust_type(&format!("super::{}", method.input_type));
        let output = rust_type(&format!("super::{}", method.output_type));
        let docs = doc_lines(&method.comments.leading);
        let rpc_doc = format!(" `{full_name}/{}`", method.proto_name);
        match (method.client_streaming, method.server_streaming) {
            (false, false) => {
                client_methods.push(quote! {
                    #(#docs)*
                    #[doc = ""]
                    #[doc = #rpc_doc]
                    pub async fn #name(&self, request: #input, options: crate::connect::CallOptions)
                        -> Result<#output, crate::connect::Error>
                    {
                        self.inner.unary(#path, request, options).await
                    }
                });
                trait_methods.push(quote! {
                    #(#docs)*
                    fn #name(&self, ctx: crate::connect::server::RequestContext, request: #input)
                        -> impl ::std::future::Future<Output = Result<#output, crate::connect::ConnectError>> + Send;
                });
                routes.push(quote! {
                    #path => crate::connect::server::unary(request, move |ctx, m| async move { svc.#name(ctx, m).await }).await,
                });
            }
            (false, true) => {
                let full = if method.output_proto_type.starts_with('.') {
                    method.output_proto_type.clone()
                } else {
                    format!(".{}.{}", service.package, method.output_proto_type)
                };
                let check = keepalives
                    .get(&full)
                    .cloned()
                    .unwrap_or_else(|| quote!(false));
                stream_impls.push(quote! {
                    impl crate::connect::StreamMessage for #output {
                        fn is_keepalive(&self) -> bool {
                            #check
                        }
                    }
                });
                client_methods.push(quote! {
                    #(#docs)*
                    #[doc = ""]
                    #[doc = #rpc_doc]
                    pub async fn #name(&self, request: #input, options: crate::connect::CallOptions)
                        -> Result<crate::connect::Streaming<#output>, crate::connect::Error>
                    {
                        self.inner.server_stream(#path, request, options).await
                    }
                });
                trait_methods.push(quote! {
                    #(#docs)*
                    fn #name(&self, ctx: crate::connect::server::RequestContext, request: #input)
                        -> impl ::std::future::Future<Output = Result<crate::connect::server::ResponseStream<#output>, crate::connect::ConnectError>> + Send;
                });
                routes.push(quote! {
                    #path => crate::connect::server::server_stream(request, move |ctx, m| async move { svc.#name(ctx, m).await }).await,
                });
            }
            (true, false) => {
                client_methods.push(quote! {
                    #(#docs)*
                    #[doc = ""]
                    #[doc = #rpc_doc]
                    pub async fn #name<S>(&self, requests: S, options: crate::connect::CallOptions)
                        -> Result<#output, crate::connect::Error>
                    where
                        S: ::futures_util::Stream<Item = #input> + Send + 'static,
                    {
                        self.inner.client_stream(#path, requests, options).await
                    }
                });
                trait_methods.push(quote! {
                    #(#docs)*
                    fn #name(&self, ctx: crate::connect::server::RequestContext, requests: crate::connect::server::RequestStream<#input>)
                        -> impl ::std::future::Future<Output = Result<#output, crate::connect::ConnectError>> + Send;
                });
                routes.push(quote! {
                    #path => crate::connect::server::client_stream(request, move |ctx, m| async move { svc.#name(ctx, m).await }).await,
                });
            }
            (true, true) => {
                let msg = format!(
                    "bidirectional streaming ({path}) is not supported by the Connect runtime"
                );
                client_methods.push(quote!(compile_error!(#msg);));
            }
        }
    }

    let output_mod = format_ident!("{}_stream_messages", snake);
    quote! {
        #[doc(hidden)]
        mod #output_mod {
            #(#stream_impls)*
        }

        #[doc = #client_doc]
        #[cfg(feature = "client")]
        pub mod #client_mod {
            #(#service_docs)*
            #[doc = ""]
            #[doc = #client_doc]
            #[derive(Clone, Debug)]
            pub struct #client_name {
                inner: crate::connect::Client,
            }

            impl #client_name {
                /// The fully qualified service name.
                pub const SERVICE: &'static str = #full_name;

                /// A client sending requests through `inner` (base URL, headers, codec).
                pub fn new(inner: crate::connect::Client) -> Self {
                    Self { inner }
                }

                /// The underlying Connect client.
                pub fn inner(&self) -> &crate::connect::Client {
                    &self.inner
                }

                #(#client_methods)*
            }
        }

        #[doc = #trait_doc]
        #[cfg(feature = "server")]
        pub mod #server_mod {
            #(#service_docs)*
            #[doc = ""]
            #[doc = #trait_doc]
            pub trait #trait_name: Send + Sync + 'static {
                #(#trait_methods)*
            }

            #[doc = #server_doc]
            #[derive(Debug)]
            pub struct #server_name<T> {
                inner: ::std::sync::Arc<T>,
            }

            impl<T> Clone for #server_name<T> {
                fn clone(&self) -> Self {
                    Self { inner: self.inner.clone() }
                }
            }

            impl<T: #trait_name> #server_name<T> {
                /// The fully qualified service name.
                pub const SERVICE: &'static str = #full_name;

                /// Serve `inner`.
                pub fn new(inner: T) -> Self {
                    Self::from_arc(::std::sync::Arc::new(inner))
                }

                /// Serve a shared implementation.
                pub fn from_arc(inner: ::std::sync::Arc<T>) -> Self {
                    Self { inner }
                }

                /// Whether `path` names a method of this service.
                pub fn handles(path: &str) -> bool {
                    path.starts_with(#prefix)
                }

                /// Handle one HTTP request addressed to this service. Unknown
                /// methods get a Connect `unimplemented` error.
                pub async fn call<B>(&self, request: ::http::Request<B>) -> ::http::Response<crate::connect::server::ResponseBody>
                where
                    B: ::http_body::Body<Data = ::bytes::Bytes> + Send + 'static,
                    B::Error: Into<Box<dyn ::std::error::Error + Send + Sync>>,
                {
                    let svc = self.inner.clone();
                    let path = request.uri().path().to_owned();
                    match path.as_str() {
                        #(#routes)*
                        other => crate::connect::server::unimplemented(other),
                    }
                }
            }
        }
    }
}
