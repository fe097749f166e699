//! [`Volume`]: a handle on one volume, and the control-plane operations on volumes.

use std::fmt;
use std::sync::Arc;

use e2b_api::control::types;
use e2b_core::raw::{HttpClient, Target};
use e2b_core::{Error, ExposeSecret as _, NotFoundKind, Result, SecretString};
use e2b_sandbox::Client;
use e2b_sandbox::raw;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tracing::Instrument as _;

use crate::types::{VolumeAndToken, VolumeInfo};

/// A persistent volume: a directory that outlives sandboxes, mounted into any number of
/// them ([`SandboxBuilder::volume_mount`](e2b_sandbox::SandboxBuilder::volume_mount)
/// takes a `&Volume`) and read and written from anywhere through the volume content API.
///
/// The control-plane operations are associated functions taking the [`Client`]:
/// [`create`](Self::create), [`connect`](Self::connect), [`get_info`](Self::get_info),
/// [`list`](Self::list), [`destroy`](Self::destroy). A `Volume` carries the volume's
/// content token and does the file operations: [`list_dir`](Self::list_dir),
/// [`make_dir`](Self::make_dir), [`info`](Self::info), [`exists`](Self::exists),
/// [`update_metadata`](Self::update_metadata), the `read_*` and `write*` families and
/// [`remove`](Self::remove).
///
/// Cheap to clone (clones share the connection).
///
/// # The content API's URL
///
/// As upstream: the volume API URL set on the [`ConnectionConfig`](e2b_core::ConnectionConfig)
/// (its builder or `E2B_VOLUME_API_URL`) or debug mode's `http://localhost:8080` wins;
/// otherwise a volume on a custom cluster (its [`VolumeAndToken::domain`]) is reached at
/// `https://api.<domain>`; otherwise at the configuration's volume API URL, which
/// defaults to the control plane's URL (`https://api.<E2B_DOMAIN>`, or the `E2B_API_URL`
/// of an E2B-compatible server such as `e2b-local`).
///
/// # Errors
///
/// Every operation returns [`e2b_core::Error`]: a missing volume is
/// [`is_volume_not_found`](Error::is_volume_not_found), a missing path in one
/// [`is_volume_path_not_found`](Error::is_volume_path_not_found), a refused token
/// [`is_authentication`](Error::is_authentication), an existing path written without
/// `force` [`is_conflict`](Error::is_conflict).
#[derive(Clone)]
pub struct Volume {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) volume_id: String,
    pub(crate) name: String,
    pub(crate) token: SecretString,
    pub(crate) domain: Option<String>,
    pub(crate) api_url: String,
    pub(crate) client: Client,
    pub(crate) content: e2b_api::volume_content::Client,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("volume_id", &self.inner.volume_id)
            .field("name", &self.inner.name)
            .field("domain", &self.inner.domain)
            .field("api_url", &self.inner.api_url)
            .finish_non_exhaustive()
    }
}

/// Sends every request of the content client through the SDK's seam with the volume's
/// bearer token (marked sensitive: never logged).
struct Bearer {
    http: HttpClient,
    token: HeaderValue,
}

impl e2b_api::Execute for Bearer {
    fn execute(&self, mut request: reqwest::Request, operation_id: &str) -> e2b_api::ExecFuture {
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.token.clone());
        Box::pin(self.http.execute(Target::Sandbox, request, operation_id))
    }
}

fn volume_not_found(e: Error) -> Error {
    e.with_not_found_kind(NotFoundKind::Volume)
}

impl Volume {
    /// A handle on a volume known by id, name and token; no request is made (upstream's
    /// `new Volume(…)`).
    ///
    /// # Errors
    ///
    /// Invalid argument when the token is not a valid header value.
    pub fn from_parts(client: &Client, volume: VolumeAndToken) -> Result<Volume> {
        let http = raw::http(client).clone();
        let api_url = client
            .config()
            .volume_api_url_for(volume.domain.as_deref())
            .trim_end_matches('/')
            .to_owned();
        let mut token = HeaderValue::try_from(format!("Bearer {}", volume.token_str()))
            .map_err(|_| Error::invalid_argument("the volume token is not a valid header value"))?;
        token.set_sensitive(true);
        let transport = e2b_api::Transport::new(Bearer {
            http: http.clone(),
            token,
        });
        let content = e2b_api::volume_content::Client::new_with_client(
            &api_url,
            http.client(Target::Sandbox).clone(),
            transport,
        );
        Ok(Volume {
            inner: Arc::new(Inner {
                volume_id: volume.volume_id,
                name: volume.name,
                token: volume.token,
                domain: volume.domain,
                api_url,
                client: client.clone(),
                content,
            }),
        })
    }

    /// Create the volume `name` (letters, digits, `_` and `-`, unique in the team).
    ///
    /// # Errors
    ///
    /// Invalid argument for a malformed or taken name; control-plane errors.
    pub async fn create(client: &Client, name: &str) -> Result<Volume> {
        let span = tracing::info_span!("e2b.volume.create", volume = name);
        let body = types::NewVolume {
            name: types::NewVolumeName::try_from(name).map_err(|e| {
                Error::invalid_argument(format!("volume name `{}`: {e}", name.escape_debug()))
            })?,
        };
        let call = raw::control(client).post_volumes().body(body).send();
        let created = raw::http(client)
            .call("creating the volume", client.request_timeout(), call)
            .instrument(span)
            .await?
            .into_inner();
        Volume::from_parts(client, wire_volume(created))
    }

    /// A handle on the existing volume `volume_id` (its token fetched with
    /// [`get_info`](Self::get_info)).
    ///
    /// # Errors
    ///
    /// [`is_volume_not_found`](Error::is_volume_not_found) when there is no such volume.
    pub async fn connect(client: &Client, volume_id: &str) -> Result<Volume> {
        let info = Volume::get_info(client, volume_id).await?;
        Volume::from_parts(client, info)
    }

    /// The volume `volume_id`, with its content token.
    ///
    /// # Errors
    ///
    /// [`is_volume_not_found`](Error::is_volume_not_found) when there is no such volume.
    pub async fn get_info(client: &Client, volume_id: &str) -> Result<VolumeAndToken> {
        let span = tracing::info_span!("e2b.volume.get_info", volume = volume_id);
        let call = raw::control(client)
            .get_volumes_volume_id()
            .volume_id(volume_id)
            .send();
        let info = raw::http(client)
            .call("getting the volume", client.request_timeout(), call)
            .instrument(span)
            .await
            .map_err(volume_not_found)?
            .into_inner();
        Ok(wire_volume(info))
    }

    /// Every volume of the team.
    pub async fn list(client: &Client) -> Result<Vec<VolumeInfo>> {
        let span = tracing::info_span!("e2b.volume.list");
        let call = raw::control(client).get_volumes().send();
        let volumes = raw::http(client)
            .call("listing volumes", client.request_timeout(), call)
            .instrument(span)
            .await?
            .into_inner();
        Ok(volumes
            .into_iter()
            .map(|v| VolumeInfo {
                volume_id: v.volume_id,
                name: v.name,
            })
            .collect())
    }

    /// Delete the volume `volume_id` and everything in it; `false` when there was no such
    /// volume. Sandboxes that mount it are not stopped (E2B does not refuse this either).
    pub async fn destroy(client: &Client, volume_id: &str) -> Result<bool> {
        let span = tracing::info_span!("e2b.volume.destroy", volume = volume_id);
        let call = raw::control(client)
            .delete_volumes_volume_id()
            .volume_id(volume_id)
            .send();
        match raw::http(client)
            .call("deleting the volume", client.request_timeout(), call)
            .instrument(span)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The volume's id.
    pub fn id(&self) -> &str {
        &self.inner.volume_id
    }

    /// The volume's name (what sandboxes mount it by).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The bearer token of the volume's content.
    pub fn token(&self) -> &SecretString {
        &self.inner.token
    }

    /// The content API's domain, when the volume lives on a custom cluster.
    pub fn domain(&self) -> Option<&str> {
        self.inner.domain.as_deref()
    }

    /// Where the content API is reached.
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The client the volume was created or connected with.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The volume's id, name, token and domain.
    pub fn to_info(&self) -> VolumeAndToken {
        VolumeAndToken {
            volume_id: self.inner.volume_id.clone(),
            name: self.inner.name.clone(),
            token: SecretString::from(self.inner.token.expose_secret().to_owned()),
            domain: self.inner.domain.clone(),
        }
    }
}

/// A volume's name, for [`SandboxBuilder::volume_mount`](e2b_sandbox::SandboxBuilder::volume_mount).
impl From<&Volume> for String {
    fn from(volume: &Volume) -> String {
        volume.inner.name.clone()
    }
}

fn wire_volume(v: types::VolumeAndToken) -> VolumeAndToken {
    // Specs before the volume's `domain` was added have no such field: read it from
    // the record as the wire has it, where older specs never carry it.
    let domain = serde_json::to_value(&v)
        .ok()
        .and_then(|record| record.get("domain")?.as_str().map(str::to_owned))
        .filter(|d| !d.is_empty());
    VolumeAndToken {
        volume_id: v.volume_id,
        name: v.name,
        token: SecretString::from(v.token),
        domain,
    }
}
