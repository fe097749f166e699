//! envd version gates.
//!
//! The SDK learns a sandbox's envd version from the control plane (`envdVersion`) and
//! gates features on it exactly like the official SDKs do.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use semver::{BuildMetadata, Prerelease, Version};

use crate::error::{Error, Result};

/// Oldest envd the SDK works with; sandboxes with an older one must be rebuilt.
pub const ENVD_VERSION_MINIMUM: Version = Version::new(0, 1, 0);
/// Recursive directory watch.
pub const ENVD_VERSION_RECURSIVE_WATCH: Version = Version::new(0, 1, 4);
/// Sandbox metrics.
pub const ENVD_VERSION_METRICS: Version = Version::new(0, 1, 5);
/// Disk usage in sandbox metrics.
pub const ENVD_VERSION_DISK_METRICS: Version = Version::new(0, 2, 4);
/// Starting commands with stdin closed (`stdin: false`).
pub const ENVD_VERSION_COMMANDS_STDIN: Version = Version::new(0, 3, 0);
/// The template's default user applies when no user is given.
pub const ENVD_VERSION_DEFAULT_USER: Version = Version::new(0, 4, 0);
/// Closing a command's stdin (`CloseStdin`).
pub const ENVD_VERSION_CLOSE_STDIN: Version = Version::new(0, 5, 2);
/// `application/octet-stream` (and gzip) uploads to `/files`.
pub const ENVD_VERSION_OCTET_STREAM_UPLOAD: Version = Version::new(0, 5, 7);
/// File metadata (`X-Metadata-*` on upload, `metadata` in entries).
pub const ENVD_VERSION_FILE_METADATA: Version = Version::new(0, 6, 2);
/// Entry info in watch events (`includeEntry`).
pub const ENVD_VERSION_WATCH_INCLUDE_ENTRY: Version = Version::new(0, 6, 3);
/// Watching directories on network mounts (`allowNetworkMounts`).
pub const ENVD_VERSION_WATCH_NETWORK_MOUNTS: Version = Version::new(0, 6, 4);
/// The version assumed in debug mode, where there is no control plane to ask.
pub const ENVD_VERSION_DEBUG_FALLBACK: Version = Version::new(99, 99, 99);

/// A feature that needs a minimum envd version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvdFeature {
    /// Recursive directory watch (0.1.4).
    RecursiveWatch,
    /// Sandbox metrics (0.1.5).
    Metrics,
    /// Disk usage in sandbox metrics (0.2.4).
    DiskMetrics,
    /// Starting commands with stdin closed (0.3.0).
    CommandsStdin,
    /// The template's default user when none is given (0.4.0).
    DefaultUser,
    /// Closing a command's stdin (0.5.2).
    CloseStdin,
    /// Octet-stream and gzip uploads (0.5.7).
    OctetStreamUpload,
    /// File metadata (0.6.2).
    FileMetadata,
    /// Entry info in watch events (0.6.3).
    WatchIncludeEntry,
    /// Watching directories on network mounts (0.6.4).
    WatchNetworkMounts,
}

impl EnvdFeature {
    /// Every feature, oldest first.
    pub const ALL: [EnvdFeature; 10] = [
        EnvdFeature::RecursiveWatch,
        EnvdFeature::Metrics,
        EnvdFeature::DiskMetrics,
        EnvdFeature::CommandsStdin,
        EnvdFeature::DefaultUser,
        EnvdFeature::CloseStdin,
        EnvdFeature::OctetStreamUpload,
        EnvdFeature::FileMetadata,
        EnvdFeature::WatchIncludeEntry,
        EnvdFeature::WatchNetworkMounts,
    ];

    /// The first envd version with the feature.
    pub const fn min_version(self) -> Version {
        match self {
            EnvdFeature::RecursiveWatch => ENVD_VERSION_RECURSIVE_WATCH,
            EnvdFeature::Metrics => ENVD_VERSION_METRICS,
            EnvdFeature::DiskMetrics => ENVD_VERSION_DISK_METRICS,
            EnvdFeature::CommandsStdin => ENVD_VERSION_COMMANDS_STDIN,
            EnvdFeature::DefaultUser => ENVD_VERSION_DEFAULT_USER,
            EnvdFeature::CloseStdin => ENVD_VERSION_CLOSE_STDIN,
            EnvdFeature::OctetStreamUpload => ENVD_VERSION_OCTET_STREAM_UPLOAD,
            EnvdFeature::FileMetadata => ENVD_VERSION_FILE_METADATA,
            EnvdFeature::WatchIncludeEntry => ENVD_VERSION_WATCH_INCLUDE_ENTRY,
            EnvdFeature::WatchNetworkMounts => ENVD_VERSION_WATCH_NETWORK_MOUNTS,
        }
    }

    /// A short description, used in error messages.
    pub fn description(self) -> &'static str {
        match self {
            EnvdFeature::RecursiveWatch => "recursive directory watch",
            EnvdFeature::Metrics => "sandbox metrics",
            EnvdFeature::DiskMetrics => "disk metrics",
            EnvdFeature::CommandsStdin => "starting commands without stdin",
            EnvdFeature::DefaultUser => "the template's default user",
            EnvdFeature::CloseStdin => "closing stdin",
            EnvdFeature::OctetStreamUpload => "streamed and gzip uploads",
            EnvdFeature::FileMetadata => "file metadata",
            EnvdFeature::WatchIncludeEntry => "entry info in watch events",
            EnvdFeature::WatchNetworkMounts => "watching network mounts",
        }
    }
}

impl fmt::Display for EnvdFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A sandbox's envd version.
///
/// Parsing is lenient about what control planes send: a leading `v`, a missing minor or
/// patch (`0.6` → `0.6.0`), leading zeros, build metadata (`0.6.13+local`, ignored when
/// comparing). A pre-release sorts before its release (`0.5.2-rc.1` < `0.5.2`).
#[derive(Clone, Debug)]
pub struct EnvdVersion {
    /// Normalised, without build metadata: what comparisons use.
    version: Version,
    /// As received, for display.
    raw: String,
}

impl EnvdVersion {
    /// Parse a version string.
    ///
    /// # Errors
    ///
    /// A protocol error if the string is not a version.
    pub fn parse(s: &str) -> Result<Self> {
        let raw = s.trim();
        parse_lenient(raw)
            .map(|version| EnvdVersion {
                version,
                raw: raw.to_owned(),
            })
            .ok_or_else(|| {
                Error::protocol(format!("invalid envd version `{}`", raw.escape_debug()))
            })
    }

    /// The version assumed in debug mode (99.99.99).
    pub fn debug_fallback() -> Self {
        EnvdVersion::from(ENVD_VERSION_DEBUG_FALLBACK)
    }

    /// The normalised version (without build metadata).
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// Whether this is at least `min`.
    pub fn at_least(&self, min: &Version) -> bool {
        self.version.cmp_precedence(min) != Ordering::Less
    }

    /// Whether envd supports a feature.
    pub fn supports(&self, feature: EnvdFeature) -> bool {
        self.at_least(&feature.min_version())
    }

    /// Fail unless envd supports a feature.
    ///
    /// # Errors
    ///
    /// A template error naming the feature, the version needed and this version.
    pub fn require(&self, feature: EnvdFeature) -> Result<()> {
        if self.supports(feature) {
            Ok(())
        } else {
            Err(Error::template(format!(
                "{feature} needs envd {} or newer but the sandbox has {}; rebuild the template \
                 to update envd",
                feature.min_version(),
                self.raw
            )))
        }
    }

    /// Fail if envd is older than the oldest version the SDK works with (0.1.0).
    ///
    /// # Errors
    ///
    /// A template error saying to rebuild the template.
    pub fn check_minimum(&self) -> Result<()> {
        if self.at_least(&ENVD_VERSION_MINIMUM) {
            Ok(())
        } else {
            Err(Error::template(format!(
                "the sandbox has envd {}, older than {ENVD_VERSION_MINIMUM}; rebuild the \
                 template to update envd",
                self.raw
            )))
        }
    }
}

impl From<Version> for EnvdVersion {
    fn from(mut version: Version) -> Self {
        let raw = version.to_string();
        version.build = BuildMetadata::EMPTY;
        EnvdVersion { version, raw }
    }
}

impl FromStr for EnvdVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        EnvdVersion::parse(s)
    }
}

impl fmt::Display for EnvdVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PartialEq for EnvdVersion {
    fn eq(&self, other: &Self) -> bool {
        self.version.cmp_precedence(&other.version) == Ordering::Equal
    }
}

impl Eq for EnvdVersion {}

impl PartialOrd for EnvdVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EnvdVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.version.cmp_precedence(&other.version)
    }
}

fn parse_lenient(s: &str) -> Option<Version> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let (rest, build) = match s.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut numbers = [0u64; 3];
    let mut parts = core.split('.');
    for (i, part) in parts.by_ref().take(3).enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        numbers[i] = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    if pre.is_some_and(str::is_empty) || build.is_some_and(str::is_empty) {
        return None;
    }
    let mut version = Version::new(numbers[0], numbers[1], numbers[2]);
    if let Some(pre) = pre {
        version.pre = Prerelease::new(pre).ok()?;
    }
    // Build metadata never affects comparisons; it is only validated.
    if let Some(build) = build {
        BuildMetadata::new(build).ok()?;
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> EnvdVersion {
        EnvdVersion::parse(s).unwrap()
    }

    #[test]
    fn lenient_parsing() {
        assert_eq!(v("0.6.13").version(), &Version::new(0, 6, 13));
        assert_eq!(v("0.6.13+local").version(), &Version::new(0, 6, 13));
        assert_eq!(v("0.6.13+local").to_string(), "0.6.13+local");
        assert_eq!(v("0.6").version(), &Version::new(0, 6, 0));
        assert_eq!(v("1").version(), &Version::new(1, 0, 0));
        assert_eq!(v("v0.5.2").version(), &Version::new(0, 5, 2));
        assert_eq!(v(" 0.05.07 ").version(), &Version::new(0, 5, 7));
        assert_eq!(v("0.5.2-rc.1").version().pre.as_str(), "rc.1");
        assert_eq!(v("0.6-beta+x.y").version().pre.as_str(), "beta");
        for bad in [
            "", "v", "a.b.c", "0..1", "0.1.2.3", "0.1.x", "-1.0.0", "0.1.0+", "0.1.0-",
        ] {
            let err = EnvdVersion::parse(bad).unwrap_err();
            assert!(err.is_protocol(), "{bad:?}");
        }
        assert!("0.4.0".parse::<EnvdVersion>().is_ok());
    }

    #[test]
    fn gate_constants() {
        let expected = [
            (EnvdFeature::RecursiveWatch, "0.1.4"),
            (EnvdFeature::Metrics, "0.1.5"),
            (EnvdFeature::DiskMetrics, "0.2.4"),
            (EnvdFeature::CommandsStdin, "0.3.0"),
            (EnvdFeature::DefaultUser, "0.4.0"),
            (EnvdFeature::CloseStdin, "0.5.2"),
            (EnvdFeature::OctetStreamUpload, "0.5.7"),
            (EnvdFeature::FileMetadata, "0.6.2"),
            (EnvdFeature::WatchIncludeEntry, "0.6.3"),
            (EnvdFeature::WatchNetworkMounts, "0.6.4"),
        ];
        assert_eq!(expected.len(), EnvdFeature::ALL.len());
        for (feature, version) in expected {
            assert_eq!(feature.min_version().to_string(), version, "{feature:?}");
        }
        assert_eq!(ENVD_VERSION_MINIMUM.to_string(), "0.1.0");
        assert_eq!(ENVD_VERSION_DEBUG_FALLBACK.to_string(), "99.99.99");
    }

    #[test]
    fn every_gate_at_its_boundary() {
        for feature in EnvdFeature::ALL {
            let min = feature.min_version();
            let exact = EnvdVersion::from(min.clone());
            assert!(exact.supports(feature), "{feature:?}");
            assert!(exact.require(feature).is_ok());
            let below = if min.patch > 0 {
                Version::new(min.major, min.minor, min.patch - 1)
            } else {
                Version::new(min.major, min.minor - 1, 99)
            };
            let below = EnvdVersion::from(below);
            assert!(!below.supports(feature), "{feature:?} at {below}");
            let err = below.require(feature).unwrap_err();
            assert!(err.is_template());
            let m = err.to_string();
            assert!(
                m.contains(&min.to_string()) && m.contains(&below.to_string()),
                "{m}"
            );
            assert!(m.contains(feature.description()), "{m}");
            // A pre-release of the gate version is not enough; build metadata is ignored.
            let mut rc = min.clone();
            rc.pre = Prerelease::new("rc.1").unwrap();
            assert!(!EnvdVersion::from(rc).supports(feature));
            assert!(v(&format!("{min}+local")).supports(feature));
        }
    }

    #[test]
    fn debug_fallback_supports_everything() {
        let d = EnvdVersion::debug_fallback();
        assert_eq!(d.to_string(), "99.99.99");
        assert!(EnvdFeature::ALL.iter().all(|f| d.supports(*f)));
        assert!(d.check_minimum().is_ok());
    }

    #[test]
    fn minimum_version() {
        assert!(v("0.1.0").check_minimum().is_ok());
        assert!(v("0.6.13+local").check_minimum().is_ok());
        let err = v("0.0.9").check_minimum().unwrap_err();
        assert!(err.is_template());
        assert!(err.to_string().contains("rebuild the template"));
    }

    #[test]
    fn ordering_ignores_build_metadata() {
        assert_eq!(v("0.6.13+a"), v("0.6.13+b"));
        assert_eq!(v("0.6"), v("0.6.0"));
        assert!(v("0.5.2-rc.1") < v("0.5.2"));
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("0.6.13+local").at_least(&Version::new(0, 6, 13)));
    }
}
