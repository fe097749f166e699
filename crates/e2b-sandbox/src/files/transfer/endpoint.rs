//! envd's `/files` endpoint: the query every transfer carries, and sending through the
//! SDK's HTTP seam with the error mapping of file transfers.

use std::time::Duration;

use e2b_core::{NotFoundKind, Result};

use super::stalled_source::Stalled;
use crate::files::Files;

impl Files<'_> {
    /// `path` (when given) and the user the transfer acts as, as envd takes them.
    pub(super) fn files_query<'p>(&'p self, path: Option<&'p str>) -> Vec<(&'static str, &'p str)> {
        let mut query = Vec::with_capacity(2);
        if let Some(path) = path {
            query.push(("path", path));
        }
        if let Some(user) = self.sandbox.envd().effective_user(self.user()) {
            query.push(("username", user));
        }
        query
    }

    /// Send with `timeout` on the wait for the response head; map error statuses (a 404
    /// is about a file). A request whose body source stalled fails with that idle timeout.
    pub(super) async fn send_files(
        &self,
        request: reqwest::RequestBuilder,
        operation: &str,
        timeout: Option<Duration>,
        stalled: Option<&Stalled>,
    ) -> Result<reqwest::Response> {
        let sent = self.sandbox.envd().send(request, operation, timeout).await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Err(match stalled.filter(|s| s.fired()) {
                    Some(s) => s.error(e),
                    None => e,
                });
            }
        };
        e2b_core::raw::check_response(response)
            .await
            .map_err(|e| e.with_not_found_kind(NotFoundKind::File))
    }
}
