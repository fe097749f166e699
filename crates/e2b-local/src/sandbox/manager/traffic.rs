//! Where traffic for a sandbox goes, resuming it first when it is paused with auto-resume.

use super::*;

/// Where the proxy sends a sandbox's traffic, and what it must check.
#[derive(Clone)]
pub(crate) struct TrafficTarget {
    /// The agent's socket.
    pub(crate) socket: PathBuf,
    /// Token required on envd (`X-Access-Token`), if the sandbox is secure.
    pub(crate) envd_access_token: Option<String>,
    /// Token required on other ports (`e2b-traffic-access-token`), if set.
    pub(crate) traffic_access_token: Option<String>,
    /// Whether the agent serves the code interpreter (port 49999).
    pub(crate) code_interpreter: bool,
    /// Cancelled when the sandbox stops serving (paused, killed, exited).
    pub(crate) serving: CancellationToken,
}

impl std::fmt::Debug for TrafficTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Access tokens stay out of logs.
        f.debug_struct("TrafficTarget")
            .field("socket", &self.socket)
            .field(
                "envd_access_token",
                &crate::ids::redacted(self.envd_access_token.as_deref()),
            )
            .field(
                "traffic_access_token",
                &crate::ids::redacted(self.traffic_access_token.as_deref()),
            )
            .finish()
    }
}

/// Why traffic cannot reach a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrafficRefusal {
    /// Unknown, killed or still starting.
    NotFound,
    /// Paused, and auto-resume does not apply.
    Paused,
}

impl Manager {
    /// The sandbox whose envd access token `signed_with` accepts (the
    /// sandbox a signed file URL without routing was signed for). Every
    /// secure sandbox is tried; each check compares in constant time.
    pub(crate) fn signed_for(&self, signed_with: impl Fn(&str) -> bool) -> Option<String> {
        let sandboxes: Vec<Arc<Sandbox>> = lock(&self.shared.sandboxes).values().cloned().collect();
        sandboxes.iter().find_map(|sandbox| {
            let token = {
                let live = sandbox.live();
                if live.presence != Presence::Ready {
                    return None;
                }
                live.record.envd_access_token.clone()
            }?;
            signed_with(&token).then(|| sandbox.id.clone())
        })
    }

    /// Where to send traffic for a sandbox; resumes it when paused with auto-resume.
    pub(crate) async fn traffic(&self, id: &str) -> Result<TrafficTarget, TrafficRefusal> {
        let sandbox = self.shared.find(id).map_err(|_| TrafficRefusal::NotFound)?;
        let (state, auto_resume, with_memory, timeout) = {
            let live = sandbox.live();
            if live.presence == Presence::Removed {
                return Err(TrafficRefusal::NotFound);
            }
            if live.record.state == State::Running {
                return match &live.instance {
                    Some(_) => Ok(target(&sandbox, &live)),
                    None => Err(TrafficRefusal::NotFound),
                };
            }
            (
                live.record.state,
                live.record.lifecycle.auto_resume,
                live.record.paused_with_memory,
                live.record.timeout_secs,
            )
        };
        if state != State::Paused || !auto_resume || !with_memory {
            return Err(TrafficRefusal::Paused);
        }
        let _ops = sandbox.ops.lock().await;
        if self.shared.ensure_present(&sandbox).is_err() {
            return Err(TrafficRefusal::NotFound);
        }
        let still_paused = sandbox.live().record.state == State::Paused;
        if still_paused && let Err(e) = self.shared.resume_locked(&sandbox, timeout).await {
            tracing::warn!(sandbox = id, error = %e, "auto-resume failed");
            return Err(TrafficRefusal::Paused);
        }
        let live = sandbox.live();
        Ok(target(&sandbox, &live))
    }
}

pub(super) fn target(sandbox: &Sandbox, live: &Live) -> TrafficTarget {
    let record = &live.record;
    TrafficTarget {
        socket: sandbox.paths.socket(),
        envd_access_token: record.envd_access_token.clone(),
        traffic_access_token: record.traffic_access_token.clone(),
        code_interpreter: record.code_interpreter,
        serving: live.serving.clone(),
    }
}
