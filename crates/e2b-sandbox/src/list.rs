//! Listing sandboxes and snapshots: paginated lists as [`Stream`]s.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::SystemTime;

use e2b_api::CommaSeparated;
use e2b_api::control::types;
use e2b_core::{Error, Result};
use futures_util::Stream;
use tracing::Instrument as _;

use crate::client::Client;
use crate::convert::state_to_wire;
use crate::info::{SandboxInfo, SandboxState, SnapshotInfo};

/// The response header carrying the cursor of the next page.
const NEXT_TOKEN_HEADER: &str = "x-next-token";

/// The order of a sandbox listing, by start time, over the whole result (not per page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListOrder {
    /// Oldest first.
    Asc,
    /// Newest first (the API's default).
    #[default]
    Desc,
}

impl FromStr for ListOrder {
    type Err = Error;

    /// Parse `asc` or `desc` (any case).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "asc" => Ok(ListOrder::Asc),
            "desc" => Ok(ListOrder::Desc),
            _ => Err(Error::invalid_argument(format!(
                "invalid order `{}`: expected `asc` or `desc`",
                s.escape_debug()
            ))),
        }
    }
}

impl fmt::Display for ListOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListOrder::Asc => "asc",
            ListOrder::Desc => "desc",
        })
    }
}

/// Filters, order and page size of [`Client::list_sandboxes`].
///
/// `started_after`, `template` and `order` need upstream e2b@2.43.0 or newer: an SDK
/// generated from an older spec (see `e2b_api::spec_features`) fails a listing that sets
/// them with [`ErrorKind::NotInSpec`](e2b_core::ErrorKind::NotInSpec).
///
/// ```
/// use e2b_sandbox::{ListOptions, ListOrder, SandboxState};
///
/// let options = ListOptions::new()
///     .state([SandboxState::Running])
///     .metadata([("user", "42")])
///     .order(ListOrder::Asc)
///     .page_size(50);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct ListOptions {
    /// Only sandboxes with all of these metadata entries.
    pub metadata: BTreeMap<String, String>,
    /// Only sandboxes in these states (empty: running and paused).
    pub state: Vec<SandboxState>,
    /// Only sandboxes started after this time.
    pub started_after: Option<SystemTime>,
    /// Only sandboxes of this template (id or name).
    pub template: Option<String>,
    /// The order (default: newest first).
    pub order: Option<ListOrder>,
    /// Sandboxes per page (1–100; the API's default is 100).
    pub page_size: Option<u32>,
    /// Start from this cursor (from [`SandboxList::next_token`]).
    pub next_token: Option<String>,
}

impl ListOptions {
    /// Everything, newest first.
    pub fn new() -> Self {
        ListOptions::default()
    }

    /// Only sandboxes with these metadata entries.
    pub fn metadata<I, K, V>(mut self, metadata: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.metadata
            .extend(metadata.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Only sandboxes in these states.
    pub fn state(mut self, states: impl IntoIterator<Item = SandboxState>) -> Self {
        self.state = states.into_iter().collect();
        self
    }

    /// Only sandboxes started after `time`.
    pub fn started_after(mut self, time: SystemTime) -> Self {
        self.started_after = Some(time);
        self
    }

    /// Only sandboxes of `template`.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// Set the order.
    pub fn order(mut self, order: ListOrder) -> Self {
        self.order = Some(order);
        self
    }

    /// Set the page size.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Start from a cursor.
    pub fn next_token(mut self, token: impl Into<String>) -> Self {
        self.next_token = Some(token.into());
        self
    }
}

/// Options of [`Client::list_snapshots`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct SnapshotListOptions {
    /// Only snapshots of this sandbox.
    pub sandbox_id: Option<String>,
    /// Only snapshots with this name.
    pub name: Option<String>,
    /// Snapshots per page.
    pub page_size: Option<u32>,
    /// Start from this cursor.
    pub next_token: Option<String>,
}

impl SnapshotListOptions {
    /// Every snapshot.
    pub fn new() -> Self {
        SnapshotListOptions::default()
    }

    /// Only snapshots of `sandbox_id`.
    pub fn sandbox_id(mut self, sandbox_id: impl Into<String>) -> Self {
        self.sandbox_id = Some(sandbox_id.into());
        self
    }

    /// Only snapshots named `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Set the page size.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Start from a cursor.
    pub fn next_token(mut self, token: impl Into<String>) -> Self {
        self.next_token = Some(token.into());
        self
    }
}

pub(crate) type PageFuture<T> =
    Pin<Box<dyn Future<Output = Result<(Vec<T>, Option<String>)>> + Send>>;

/// Fetches one page given the cursor.
pub(crate) type PageSource<T> = Box<dyn Fn(Option<String>) -> PageFuture<T> + Send + Sync>;

/// A paginated listing: a [`Stream`] of items over every page, or page by page with
/// [`next_page`](Self::next_page). Pages are fetched lazily, one request at a time.
#[must_use = "streams do nothing unless polled"]
pub struct Pager<T> {
    source: PageSource<T>,
    token: Option<String>,
    started: bool,
    buffer: VecDeque<T>,
    in_flight: Option<PageFuture<T>>,
    failed: bool,
}

impl<T> Pager<T> {
    pub(crate) fn new(source: PageSource<T>, token: Option<String>) -> Self {
        Pager {
            source,
            token,
            started: false,
            buffer: VecDeque::new(),
            in_flight: None,
            failed: false,
        }
    }

    /// Whether another page may follow (before the first page: always).
    pub fn has_next(&self) -> bool {
        !self.failed && (!self.started || self.token.is_some())
    }

    /// The cursor of the next page, if there is one.
    pub fn next_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The next page; `None` once every page has been returned. Items already buffered by
    /// polling the stream come first.
    ///
    /// # Errors
    ///
    /// The control plane's error for the page (the listing can then not continue).
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        if !self.buffer.is_empty() {
            return Ok(Some(self.buffer.drain(..).collect()));
        }
        let fetch = match self.in_flight.take() {
            Some(fetch) => fetch,
            None if self.has_next() => {
                self.started = true;
                (self.source)(self.token.take())
            }
            None => return Ok(None),
        };
        match fetch.await {
            Ok((items, token)) => {
                self.token = token;
                Ok(Some(items))
            }
            Err(e) => {
                self.failed = true;
                self.token = None;
                Err(e)
            }
        }
    }
}

impl<T> Stream for Pager<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if this.in_flight.is_none() {
                if !this.has_next() {
                    return Poll::Ready(None);
                }
                this.started = true;
                this.in_flight = Some((this.source)(this.token.take()));
            }
            let Some(fetch) = this.in_flight.as_mut() else {
                return Poll::Ready(None);
            };
            match fetch.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    this.in_flight = None;
                    match result {
                        Ok((items, token)) => {
                            this.token = token;
                            this.buffer.extend(items);
                        }
                        Err(e) => {
                            this.failed = true;
                            this.token = None;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
            }
        }
    }
}

// The pending items are never pinned, so the pager can move freely.
impl<T> Unpin for Pager<T> {}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("has_next", &self.has_next())
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn page_size(size: Option<u32>) -> Result<Option<NonZeroU32>> {
    match size {
        None => Ok(None),
        Some(n) => NonZeroU32::new(n)
            .map(Some)
            .ok_or_else(|| Error::invalid_argument("the page size must be at least 1")),
    }
}

pub(crate) fn next_token_of(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(NEXT_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The metadata filter as the official SDKs send it: each key and value
/// percent-encoded, joined as a query string (which the HTTP client encodes once more).
pub(crate) fn encode_metadata(metadata: &BTreeMap<String, String>) -> Option<String> {
    if metadata.is_empty() {
        return None;
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in metadata {
        query.append_pair(&encode_component(k), &encode_component(v));
    }
    Some(query.finish())
}

/// `encodeURIComponent`.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The listing request of `GET /v2/sandboxes`.
type ListRequest<'a> = e2b_api::control::builder::GetV2Sandboxes<'a>;

/// Adds the start-time, template and order filters (upstream e2b@2.43.0 on).
#[cfg(e2b_spec = "sandbox_list_filters")]
fn filters<'a>(mut request: ListRequest<'a>, options: &ListOptions) -> Result<ListRequest<'a>> {
    if let Some(after) = options.started_after {
        request = request.started_after(chrono::DateTime::<chrono::Utc>::from(after));
    }
    if let Some(template) = options.template.as_deref().filter(|t| !t.is_empty()) {
        request = request.template(template);
    }
    if let Some(order) = options.order {
        request = request.order(match order {
            ListOrder::Asc => types::OrderDirection::Asc,
            ListOrder::Desc => types::OrderDirection::Desc,
        });
    }
    Ok(request)
}

/// The pinned spec has no start-time, template or order filters: asking for one fails
/// instead of listing everything.
#[cfg(not(e2b_spec = "sandbox_list_filters"))]
fn filters<'a>(request: ListRequest<'a>, options: &ListOptions) -> Result<ListRequest<'a>> {
    let template = options.template.as_deref().is_some_and(|t| !t.is_empty());
    if options.started_after.is_some() || template || options.order.is_some() {
        return Err(Error::not_in_spec("sandbox_list_filters"));
    }
    Ok(request)
}

async fn sandbox_page(
    client: Client,
    options: ListOptions,
    token: Option<String>,
) -> Result<(Vec<SandboxInfo>, Option<String>)> {
    let span = tracing::info_span!("e2b.sandbox.list");
    let mut request = client.api().get_v2_sandboxes();
    if let Some(size) = page_size(options.page_size)? {
        request = request.limit(size);
    }
    if let Some(metadata) = encode_metadata(&options.metadata) {
        request = request.metadata(metadata);
    }
    if !options.state.is_empty() {
        let states: CommaSeparated<types::SandboxState> =
            options.state.iter().map(state_to_wire).collect();
        request = request.state(states);
    }
    request = filters(request, &options)?;
    if let Some(token) = token {
        request = request.next_token(token);
    }
    let response = client
        .call("listing sandboxes", request.send())
        .instrument(span)
        .await?;
    let next = next_token_of(response.headers());
    let items = response
        .into_inner()
        .into_iter()
        .map(SandboxInfo::from)
        .collect();
    Ok((items, next))
}

async fn snapshot_page(
    client: Client,
    options: SnapshotListOptions,
    token: Option<String>,
) -> Result<(Vec<SnapshotInfo>, Option<String>)> {
    let span = tracing::info_span!("e2b.snapshot.list");
    let mut request = client.api().get_snapshots();
    if let Some(size) = page_size(options.page_size)? {
        request = request.limit(size);
    }
    if let Some(id) = options.sandbox_id.filter(|s| !s.is_empty()) {
        request = request.sandbox_id(id);
    }
    if let Some(name) = options.name.filter(|s| !s.is_empty()) {
        request = request.name(name);
    }
    if let Some(token) = token {
        request = request.next_token(token);
    }
    let response = client
        .call("listing snapshots", request.send())
        .instrument(span)
        .await?;
    let next = next_token_of(response.headers());
    let items = response
        .into_inner()
        .into_iter()
        .map(SnapshotInfo::from)
        .collect();
    Ok((items, next))
}

/// The sandboxes of [`Client::list_sandboxes`]: a [`Stream`] of `Result<SandboxInfo>`.
pub type SandboxList = Pager<SandboxInfo>;

/// The snapshots of [`Client::list_snapshots`]: a [`Stream`] of `Result<SnapshotInfo>`.
pub type SnapshotList = Pager<SnapshotInfo>;

impl Client {
    /// List sandboxes (running and paused unless filtered) as a stream over every page.
    ///
    /// ```no_run
    /// # async fn demo(client: e2b_sandbox::Client) -> e2b_sandbox::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use e2b_sandbox::{ListOptions, SandboxState};
    ///
    /// let running: Vec<_> = client
    ///     .list_sandboxes_with(ListOptions::new().state([SandboxState::Running]))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = running;
    /// # Ok(()) }
    /// ```
    ///
    /// Errors (invalid page size, control-plane errors) arrive as the stream's last item.
    pub fn list_sandboxes(&self) -> SandboxList {
        self.list_sandboxes_with(ListOptions::new())
    }

    /// [`list_sandboxes`](Self::list_sandboxes) with options.
    pub fn list_sandboxes_with(&self, options: ListOptions) -> SandboxList {
        let token = options.next_token.clone();
        let client = self.clone();
        Pager::new(
            Box::new(move |token| Box::pin(sandbox_page(client.clone(), options.clone(), token))),
            token,
        )
    }

    /// List snapshots as a stream over every page.
    ///
    /// Errors (invalid page size, control-plane errors) arrive as the stream's last item.
    pub fn list_snapshots(&self) -> SnapshotList {
        self.list_snapshots_with(SnapshotListOptions::new())
    }

    /// [`list_snapshots`](Self::list_snapshots) with options.
    pub fn list_snapshots_with(&self, options: SnapshotListOptions) -> SnapshotList {
        let token = options.next_token.clone();
        let client = self.clone();
        Pager::new(
            Box::new(move |token| Box::pin(snapshot_page(client.clone(), options.clone(), token))),
            token,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_encoded_like_the_official_sdks() {
        let mut m = BTreeMap::new();
        assert_eq!(encode_metadata(&m), None);
        m.insert("user".to_owned(), "abc".to_owned());
        m.insert("app name".to_owned(), "a&b=c/é".to_owned());
        // encodeURIComponent, then URLSearchParams.
        assert_eq!(
            encode_metadata(&m).unwrap(),
            "app%2520name=a%2526b%253Dc%252F%25C3%25A9&user=abc"
        );
    }

    #[test]
    fn order_parses_and_rejects_anything_else() {
        assert_eq!("ASC".parse::<ListOrder>().unwrap(), ListOrder::Asc);
        assert_eq!("desc".parse::<ListOrder>().unwrap(), ListOrder::Desc);
        let err = "newest".parse::<ListOrder>().unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err.to_string().contains("newest"));
    }

    #[test]
    fn page_size_zero_is_invalid() {
        assert!(page_size(Some(0)).unwrap_err().is_invalid_argument());
        assert_eq!(page_size(Some(5)).unwrap(), NonZeroU32::new(5));
        assert_eq!(page_size(None).unwrap(), None);
    }
}
