//! Presigned `/files` URLs for plain HTTP clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2b_core::{ENVD_PORT, EnvdFeature, Error, ExposeSecret as _, Result};

use super::signature::{FileOperation, file_signature};
use crate::Sandbox;

/// Options of [`Sandbox::download_url_with`] and [`Sandbox::upload_url_with`]. The URL acts
/// as the sandbox handle's user ([`Sandbox::with_user`]).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FileUrlOptions {
    /// How long the signature stays valid (secure sandboxes only); forever when `None`.
    pub expiration: Option<Duration>,
}

impl FileUrlOptions {
    /// The defaults: no expiration.
    pub fn new() -> Self {
        Self::default()
    }
    /// Let the signature expire after `after`.
    #[must_use]
    pub fn expiration(mut self, after: Duration) -> Self {
        self.expiration = Some(after);
        self
    }
}

impl Sandbox {
    /// A URL from which a plain HTTP `GET` downloads `path`. In a secure sandbox it carries
    /// a signature in place of the access token.
    ///
    /// Like the official SDKs, it names the sandbox's own host,
    /// `https://49983-<id>.<domain>`, even when the SDK itself talks to E2B's shared sandbox
    /// host, so that it works without routing headers (with a sandbox URL override, it
    /// starts with the override; in debug mode, with `http://localhost:49983`).
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use std::time::Duration;
    /// use e2b_sandbox::FileUrlOptions;
    /// let url = sandbox.download_url_with(
    ///     "/home/user/report.csv",
    ///     FileUrlOptions::new().expiration(Duration::from_secs(600)),
    /// )?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid argument if an expiration is asked of a sandbox without an access token.
    pub fn download_url(&self, path: &str) -> Result<String> {
        self.download_url_with(path, FileUrlOptions::new())
    }

    /// [`download_url`](Self::download_url) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`download_url`](Self::download_url).
    pub fn download_url_with(&self, path: &str, options: FileUrlOptions) -> Result<String> {
        self.file_url(path, FileOperation::Read, options)
    }

    /// A URL to which a plain HTTP `POST` (multipart field `file`, or
    /// `application/octet-stream`) uploads `path`.
    ///
    /// # Errors
    ///
    /// As [`download_url`](Sandbox::download_url).
    pub fn upload_url(&self, path: &str) -> Result<String> {
        self.upload_url_with(path, FileUrlOptions::new())
    }

    /// [`upload_url`](Self::upload_url) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`upload_url`](Self::upload_url).
    pub fn upload_url_with(&self, path: &str, options: FileUrlOptions) -> Result<String> {
        self.file_url(path, FileOperation::Write, options)
    }

    fn file_url(&self, path: &str, op: FileOperation, options: FileUrlOptions) -> Result<String> {
        let user = match self.user() {
            Some(u) if !u.is_empty() => Some(u),
            _ if !self.envd_version().supports(EnvdFeature::DefaultUser) => Some("user"),
            _ => None,
        };
        // Not `envd_url`: the shared sandbox host needs routing headers, which whoever
        // is handed this URL will not send.
        let mut url = url::Url::parse(&format!("{}/files", self.direct_url(ENVD_PORT)))
            .map_err(|e| Error::invalid_argument(format!("bad envd URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("path", path);
            if let Some(user) = user {
                query.append_pair("username", user);
            }
            match self.envd_access_token() {
                Some(token) => {
                    let expiration = options.expiration.map(|after| {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default();
                        i64::try_from((now + after).as_secs()).unwrap_or(i64::MAX)
                    });
                    let sig = file_signature(
                        path,
                        op,
                        user.unwrap_or(""),
                        token.expose_secret(),
                        expiration,
                    );
                    query.append_pair("signature", &sig);
                    if let Some(exp) = expiration {
                        query.append_pair("signature_expiration", &exp.to_string());
                    }
                }
                None if options.expiration.is_some() => {
                    return Err(Error::invalid_argument(
                        "signature expiration needs a secure sandbox (one with an envd access token)",
                    ));
                }
                None => {}
            }
        }
        Ok(url.into())
    }
}
