//! What happens when a sandbox's timeout is reached: [`Lifecycle`].

use std::fmt;
use std::str::FromStr;

use e2b_core::{Error, Result};

/// What to do with a sandbox when its timeout is reached.
///
/// A control plane newer than this crate may report an action it does not know yet (in
/// [`LifecycleInfo`](crate::LifecycleInfo)); that arrives as [`OnTimeoutAction::Unknown`]
/// with the action as sent. Only `Kill` and `Pause` can be requested.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnTimeoutAction {
    /// Kill the sandbox (the API's default).
    #[default]
    Kill,
    /// Pause the sandbox so that [`Sandbox::connect`](crate::Sandbox::connect) can resume it.
    Pause,
    /// An action this crate does not know, as the control plane sent it. Creating a
    /// sandbox with it is refused: the create request can only say kill or pause.
    Unknown(String),
}

impl OnTimeoutAction {
    /// The wire name: `kill`, `pause`, or an unknown action as sent.
    pub fn as_str(&self) -> &str {
        match self {
            OnTimeoutAction::Kill => "kill",
            OnTimeoutAction::Pause => "pause",
            OnTimeoutAction::Unknown(action) => action,
        }
    }
}

impl fmt::Display for OnTimeoutAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnTimeoutAction {
    type Err = Error;

    /// Parse `kill` or `pause` (any case). Any other text is an error rather than
    /// [`OnTimeoutAction::Unknown`]: parsing is for input, where an unknown word is a typo.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kill" => Ok(OnTimeoutAction::Kill),
            "pause" => Ok(OnTimeoutAction::Pause),
            _ => Err(Error::invalid_argument(format!(
                "invalid on-timeout action `{}`: expected `kill` or `pause`",
                s.escape_debug()
            ))),
        }
    }
}

/// What happens to a sandbox when its timeout is reached, and whether traffic resumes it.
///
/// Unset fields are left to the API (today: kill on timeout, no auto-resume).
///
/// ```
/// use e2b_sandbox::Lifecycle;
///
/// // Pause on timeout, keep memory, resume automatically on traffic.
/// let lifecycle = Lifecycle::pause_on_timeout().auto_resume(true);
/// # let _ = lifecycle;
/// // Pause with a filesystem-only snapshot (resume with `Sandbox::connect`).
/// let lifecycle = Lifecycle::pause_on_timeout().keep_memory(false);
/// # let _ = lifecycle;
/// ```
///
/// The rules of the official SDKs are checked when the sandbox is created:
/// `keep_memory` needs [`OnTimeoutAction::Pause`]; `auto_resume(true)` needs
/// [`OnTimeoutAction::Pause`] and cannot be combined with `keep_memory(false)` (a
/// filesystem-only snapshot cannot be woken by traffic); [`OnTimeoutAction::Unknown`] is
/// refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[must_use]
pub struct Lifecycle {
    /// What to do on timeout; `None` leaves the choice to the API (currently kill).
    pub on_timeout: Option<OnTimeoutAction>,
    /// For a pause on timeout: whether the snapshot keeps memory (`true`, the API default)
    /// or only the filesystem (`false`, resume cold-boots). `None` leaves it to the API.
    pub keep_memory: Option<bool>,
    /// Whether traffic to the paused sandbox resumes it. `None` leaves it to the API.
    pub auto_resume: Option<bool>,
}

impl Lifecycle {
    /// Nothing set: the API's defaults.
    pub fn new() -> Self {
        Lifecycle::default()
    }

    /// Kill the sandbox on timeout.
    pub fn kill_on_timeout() -> Self {
        Lifecycle::new().on_timeout(OnTimeoutAction::Kill)
    }

    /// Pause the sandbox on timeout.
    pub fn pause_on_timeout() -> Self {
        Lifecycle::new().on_timeout(OnTimeoutAction::Pause)
    }

    /// Set the action on timeout.
    pub fn on_timeout(mut self, action: OnTimeoutAction) -> Self {
        self.on_timeout = Some(action);
        self
    }

    /// Set whether a pause on timeout keeps memory.
    pub fn keep_memory(mut self, keep: bool) -> Self {
        self.keep_memory = Some(keep);
        self
    }

    /// Set whether traffic resumes the paused sandbox.
    pub fn auto_resume(mut self, enabled: bool) -> Self {
        self.auto_resume = Some(enabled);
        self
    }

    /// Check the combination and resolve it into the create request's fields.
    pub(crate) fn to_wire(&self) -> Result<LifecycleWire> {
        // An unset action is not a choice of kill on the wire, but validates like one.
        let pause = match &self.on_timeout {
            None | Some(OnTimeoutAction::Kill) => false,
            Some(OnTimeoutAction::Pause) => true,
            Some(OnTimeoutAction::Unknown(action)) => {
                return Err(Error::invalid_argument(format!(
                    "on-timeout action `{}` cannot be requested: use kill or pause",
                    action.escape_debug()
                )));
            }
        };
        if self.keep_memory.is_some() && !pause {
            return Err(Error::invalid_argument(
                "keep_memory is only allowed when the on-timeout action is pause",
            ));
        }
        let auto_resume = self.auto_resume == Some(true);
        if auto_resume && !pause {
            return Err(Error::invalid_argument(
                "auto_resume can only be true when the on-timeout action is pause",
            ));
        }
        if auto_resume && self.keep_memory == Some(false) {
            return Err(Error::invalid_argument(
                "auto_resume cannot be true with keep_memory false: a filesystem-only \
                 snapshot cannot be resumed by traffic; resume it with Sandbox::connect",
            ));
        }
        Ok(LifecycleWire {
            auto_pause: self.on_timeout.as_ref().map(|_| pause),
            auto_pause_memory: self.keep_memory.filter(|_| pause),
            auto_resume: self.auto_resume,
        })
    }
}

/// The lifecycle fields of a create request; `None` fields are omitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LifecycleWire {
    pub(crate) auto_pause: Option<bool>,
    pub(crate) auto_pause_memory: Option<bool>,
    pub(crate) auto_resume: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_lifecycle_sends_nothing() {
        assert_eq!(
            Lifecycle::new().to_wire().unwrap(),
            LifecycleWire::default()
        );
    }

    #[test]
    fn actions_resolve() {
        let w = Lifecycle::kill_on_timeout().to_wire().unwrap();
        assert_eq!(w.auto_pause, Some(false));
        assert_eq!(w.auto_pause_memory, None);
        let w = Lifecycle::pause_on_timeout()
            .keep_memory(false)
            .auto_resume(false)
            .to_wire()
            .unwrap();
        assert_eq!(
            w,
            LifecycleWire {
                auto_pause: Some(true),
                auto_pause_memory: Some(false),
                auto_resume: Some(false),
            }
        );
        let w = Lifecycle::pause_on_timeout()
            .auto_resume(true)
            .to_wire()
            .unwrap();
        assert_eq!(w.auto_resume, Some(true));
        assert_eq!(w.auto_pause_memory, None);
        // Opting out of auto-resume is allowed whatever the action.
        let w = Lifecycle::new().auto_resume(false).to_wire().unwrap();
        assert_eq!(w.auto_pause, None);
        assert_eq!(w.auto_resume, Some(false));
    }

    #[test]
    fn upstream_validation_rules() {
        let bad = [
            Lifecycle::kill_on_timeout().keep_memory(true),
            Lifecycle::new().keep_memory(false),
            Lifecycle::kill_on_timeout().auto_resume(true),
            Lifecycle::new().auto_resume(true),
            Lifecycle::pause_on_timeout()
                .keep_memory(false)
                .auto_resume(true),
            Lifecycle::new().on_timeout(OnTimeoutAction::Unknown("hibernate".to_owned())),
        ];
        for lifecycle in bad {
            let err = lifecycle.to_wire().unwrap_err();
            assert!(err.is_invalid_argument(), "{lifecycle:?}: {err}");
        }
    }

    #[test]
    fn action_parses() {
        assert_eq!(
            "PAUSE".parse::<OnTimeoutAction>().unwrap(),
            OnTimeoutAction::Pause
        );
        assert_eq!(
            "kill".parse::<OnTimeoutAction>().unwrap(),
            OnTimeoutAction::Kill
        );
        assert!(
            "hibernate"
                .parse::<OnTimeoutAction>()
                .unwrap_err()
                .is_invalid_argument()
        );
        let unknown = OnTimeoutAction::Unknown("hibernate".to_owned());
        assert_eq!(unknown.as_str(), "hibernate");
        assert_eq!(unknown.to_string(), "hibernate");
    }
}
