//! Secrets: write-only values the sandbox runtime substitutes for
//! [`Secret::fill`] placeholders at egress. Values are accepted by
//! [`Secret::create`] and [`Secret::update`] and never returned by any read.

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use e2b_api::control::types;
use e2b_core::secret::{ExposeSecret as _, SecretString};
use e2b_core::{Error, NotFoundKind, Result};
use tracing::Instrument as _;

use crate::client::Client;
use crate::list::{Pager, next_token_of, page_size};

const PLACEHOLDER_PREFIX: &str = "${e2b.secrets.";

/// A secret value: kept out of `Debug` output, logs and errors (it prints `<redacted>`).
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Wrap `value`.
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(SecretString::from(value.into()))
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        SecretValue::new(value)
    }
}

impl From<&str> for SecretValue {
    fn from(value: &str) -> Self {
        SecretValue::new(value)
    }
}

/// A secret's metadata; the value is never part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretInfo {
    /// The secret's id (`sec_…`).
    pub secret_id: String,
    /// Its name, unique within the project (the API stores names lower-cased).
    pub name: String,
    /// The version served to readers that do not name one (`1` for a new secret).
    pub version: i64,
    /// Customer metadata.
    pub metadata: HashMap<String, String>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last updated.
    pub updated_at: SystemTime,
}

impl From<types::Secret> for SecretInfo {
    fn from(s: types::Secret) -> Self {
        SecretInfo {
            secret_id: s.secret_id,
            name: s.name,
            version: s.current_version,
            metadata: s
                .metadata
                .0
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
            created_at: SystemTime::from(s.created_at),
            updated_at: SystemTime::from(s.updated_at),
        }
    }
}

/// Options of [`Secret::create_with`] and [`Secret::update_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretOptions {
    /// Metadata to store; on update it replaces the stored metadata (absent: kept).
    pub metadata: Option<HashMap<String, String>>,
}

impl SecretOptions {
    /// No options.
    pub fn new() -> Self {
        SecretOptions::default()
    }

    /// Store `metadata` with the secret.
    #[must_use]
    pub fn metadata<K: Into<String>, V: Into<String>>(
        mut self,
        metadata: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata = Some(
            metadata
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }
}

/// Options of [`Secret::list_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretListOptions {
    /// Secrets per page (API default and maximum: 100).
    pub page_size: Option<u32>,
    /// Start from this cursor (from [`Pager::next_token`]).
    pub next_token: Option<String>,
}

impl SecretListOptions {
    /// Every secret.
    pub fn new() -> Self {
        SecretListOptions::default()
    }

    /// Fetch `size` secrets per request.
    #[must_use]
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Resume from a cursor.
    #[must_use]
    pub fn next_token(mut self, token: impl Into<String>) -> Self {
        self.next_token = Some(token.into());
        self
    }
}

/// The secrets of [`Secret::list`]: a [`Stream`](futures_util::Stream) of
/// `Result<SecretInfo>`.
pub type SecretList = Pager<SecretInfo>;

/// The project's secrets (every operation takes the [`Client`] to use).
///
/// ```no_run
/// # async fn demo(client: e2b_sandbox::Client) -> e2b_sandbox::Result<()> {
/// use e2b_sandbox::Secret;
///
/// let info = Secret::create(&client, "openai-key", "sk-…").await?;
/// assert_eq!(info.version, 1);
/// let header = Secret::fill("openai-key")?; // "${e2b.secrets.openai-key}"
/// # let _ = header;
/// Secret::destroy(&client, "openai-key").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Secret;

fn metadata_of(m: Option<HashMap<String, String>>) -> Result<Option<types::SecretMetadata>> {
    m.map(|m| {
        m.into_iter()
            .map(|(k, v)| {
                let v = types::SecretMetadataValue::try_from(v)
                    .map_err(|e| Error::invalid_argument(format!("secret metadata `{k}`: {e}")))?;
                Ok((k, v))
            })
            .collect::<Result<HashMap<_, _>>>()
            .map(types::SecretMetadata)
    })
    .transpose()
}

fn secret_not_found(e: Error) -> Error {
    e.with_not_found_kind(NotFoundKind::Secret)
}

impl Secret {
    /// Create the secret `name` with `value` as its first version.
    pub async fn create(
        client: &Client,
        name: &str,
        value: impl Into<SecretValue>,
    ) -> Result<SecretInfo> {
        Secret::create_with(client, name, value, SecretOptions::new()).await
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    ///
    /// Invalid argument for a name outside 1–128 of `[a-zA-Z0-9_-]`; a conflict when the
    /// name is taken; control-plane errors.
    pub async fn create_with(
        client: &Client,
        name: &str,
        value: impl Into<SecretValue>,
        options: SecretOptions,
    ) -> Result<SecretInfo> {
        let span = tracing::info_span!("e2b.secret.create", secret = name);
        let value = value.into();
        let body = types::NewSecret {
            metadata: metadata_of(options.metadata)?,
            name: types::NewSecretName::try_from(name).map_err(|e| {
                Error::invalid_argument(format!("secret name `{}`: {e}", name.escape_debug()))
            })?,
            value: value.expose().to_owned(),
        };
        let call = client.api().post_secrets().body(body).send();
        let response = client
            .call("creating the secret", call)
            .instrument(span)
            .await?;
        Ok(response.into_inner().into())
    }

    /// Store `value` as the next version of `secret` (an id or a name).
    pub async fn update(
        client: &Client,
        secret: &str,
        value: impl Into<SecretValue>,
    ) -> Result<SecretInfo> {
        Secret::update_with(client, secret, value, SecretOptions::new()).await
    }

    /// [`update`](Self::update) with options.
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::Secret`]) when there is no such secret.
    pub async fn update_with(
        client: &Client,
        secret: &str,
        value: impl Into<SecretValue>,
        options: SecretOptions,
    ) -> Result<SecretInfo> {
        let span = tracing::info_span!("e2b.secret.update", secret);
        let value = value.into();
        let body = types::SecretUpdate {
            metadata: metadata_of(options.metadata)?,
            value: value.expose().to_owned(),
        };
        let call = client
            .api()
            .post_secrets_secret_id()
            .secret_id(secret)
            .body(body)
            .send();
        let response = client
            .call("updating the secret", call)
            .instrument(span)
            .await
            .map_err(secret_not_found)?;
        Ok(response.into_inner().into())
    }

    /// The metadata of `secret` (an id or a name).
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::Secret`]) when there is no such secret.
    pub async fn get_info(client: &Client, secret: &str) -> Result<SecretInfo> {
        let span = tracing::info_span!("e2b.secret.get_info", secret);
        let call = client
            .api()
            .get_secrets_secret_id()
            .secret_id(secret)
            .send();
        let response = client
            .call("getting the secret", call)
            .instrument(span)
            .await
            .map_err(secret_not_found)?;
        Ok(response.into_inner().into())
    }

    /// Whether `secret` (an id or a name) exists.
    pub async fn exists(client: &Client, secret: &str) -> Result<bool> {
        match Secret::get_info(client, secret).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Destroy `secret` (an id or a name) and every version of it: `false` when there
    /// was no such secret.
    pub async fn destroy(client: &Client, secret: &str) -> Result<bool> {
        let span = tracing::info_span!("e2b.secret.destroy", secret);
        let call = client
            .api()
            .delete_secrets_secret_id()
            .secret_id(secret)
            .send();
        match client
            .call("destroying the secret", call)
            .instrument(span)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// List the project's secrets as a stream over every page.
    ///
    /// Errors (invalid page size, control-plane errors) arrive as the stream's last item.
    pub fn list(client: &Client) -> SecretList {
        Secret::list_with(client, SecretListOptions::new())
    }

    /// [`list`](Self::list) with options.
    pub fn list_with(client: &Client, options: SecretListOptions) -> SecretList {
        let token = options.next_token.clone();
        let client = client.clone();
        Pager::new(
            Box::new(move |token| Box::pin(secret_page(client.clone(), options.clone(), token))),
            token,
        )
    }

    /// The placeholder `${e2b.secrets.<name>}` the runtime resolves to the secret's
    /// current value (no request is made; an unknown name fails where it is resolved).
    ///
    /// # Errors
    ///
    /// Invalid argument if `name` is empty or contains `{`, `}` or control characters.
    pub fn fill(name: &str) -> Result<String> {
        if name.is_empty() || name.chars().any(|c| c == '{' || c == '}' || c.is_control()) {
            return Err(Error::invalid_argument(format!(
                "secret name `{}` cannot be used in a placeholder: it must be non-empty and \
                 cannot contain `{{`, `}}` or control characters",
                name.escape_debug()
            )));
        }
        Ok(format!("{PLACEHOLDER_PREFIX}{name}}}"))
    }
}

async fn secret_page(
    client: Client,
    options: SecretListOptions,
    token: Option<String>,
) -> Result<(Vec<SecretInfo>, Option<String>)> {
    let span = tracing::info_span!("e2b.secret.list");
    let mut request = client.api().get_secrets();
    if let Some(size) = page_size(options.page_size)? {
        request = request.limit(size);
    }
    if let Some(token) = token {
        request = request.next_token(token);
    }
    let response = client
        .call("listing secrets", request.send())
        .instrument(span)
        .await?;
    let next = next_token_of(response.headers());
    let items = response
        .into_inner()
        .into_iter()
        .map(SecretInfo::from)
        .collect();
    Ok((items, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_formats_and_validates() {
        assert_eq!(
            Secret::fill("openai-key").unwrap(),
            "${e2b.secrets.openai-key}"
        );
        assert_eq!(Secret::fill("A_b-1").unwrap(), "${e2b.secrets.A_b-1}");
        for bad in ["", "a}b", "{a", "a\nb", "a\u{7f}", "\t"] {
            let err = Secret::fill(bad).unwrap_err();
            assert!(err.is_invalid_argument(), "{bad:?}");
        }
    }

    #[test]
    fn values_never_show_in_debug() {
        let value = SecretValue::from("hunter2");
        assert_eq!(format!("{value:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(value.clone())), "Some(<redacted>)");
        assert_eq!(value.expose(), "hunter2");
    }

    #[test]
    fn bad_names_and_metadata_are_invalid_arguments_without_the_value() {
        let err = types::NewSecretName::try_from("has space").unwrap_err();
        assert!(err.to_string().contains("pattern"));
        let long = "x".repeat(1025);
        let err = metadata_of(Some([("k".to_owned(), long)].into())).unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err.to_string().contains("`k`"));
        assert!(metadata_of(None).unwrap().is_none());
    }

    #[test]
    fn not_found_errors_name_the_secret_kind() {
        let e = secret_not_found(Error::not_found(NotFoundKind::Other, "secret x"));
        assert_eq!(e.not_found_kind(), Some(NotFoundKind::Secret));
        assert!(e.to_string().contains("secret was not found"), "{e}");
    }

    #[test]
    fn wire_secrets_convert() {
        let wire: types::Secret = serde_json::from_value(serde_json::json!({
            "secretID": "sec_1", "name": "n", "currentVersion": 3,
            "metadata": {"a": "b"},
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-02T00:00:00Z"
        }))
        .unwrap();
        let info = SecretInfo::from(wire);
        assert_eq!(info.version, 3);
        assert_eq!(info.metadata["a"], "b");
        assert!(info.updated_at > info.created_at);
    }
}
