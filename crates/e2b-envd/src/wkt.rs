//! Protobuf well-known types used by the envd protos, with their proto3 JSON
//! forms.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

/// `google.protobuf.Timestamp`: a point in time as seconds and nanoseconds
/// since the Unix epoch.
///
/// Its JSON form is RFC 3339 in UTC with a `Z` suffix and 0, 3, 6 or 9
/// fractional digits (`"2025-05-01T10:00:00.123456789Z"`), as the protobuf
/// JSON mapping requires; parsing accepts any offset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Non-negative fractions of a second at nanosecond resolution.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    /// As a chrono UTC time; `None` when out of range.
    pub fn to_datetime(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.seconds, u32::try_from(self.nanos).ok()?)
    }

    /// As a system time; `None` when out of range.
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let nanos = u32::try_from(self.nanos).ok()?;
        if self.seconds >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(self.seconds as u64, nanos))
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(self.seconds.unsigned_abs()))?
                .checked_add(Duration::from_nanos(u64::from(nanos)))
        }
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp {
            seconds: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() as i32,
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        DateTime::<Utc>::from(t).into()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(t) = self.to_datetime() else {
            return write!(f, "{}s+{}ns", self.seconds, self.nanos);
        };
        let digits = match self.nanos {
            0 => SecondsFormat::Secs,
            n if n % 1_000_000 == 0 => SecondsFormat::Millis,
            n if n % 1_000 == 0 => SecondsFormat::Micros,
            _ => SecondsFormat::Nanos,
        };
        f.write_str(&t.to_rfc3339_opts(digits, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.to_datetime().is_none() {
            return Err(serde::ser::Error::custom("timestamp out of range"));
        }
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc).into())
            .map_err(|e| de::Error::custom(format!("invalid RFC 3339 timestamp `{s}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_z_and_minimal_precision() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (120_000_000, "1970-01-01T00:00:00.120Z"),
            (123_456_000, "1970-01-01T00:00:00.123456Z"),
            (123_456_789, "1970-01-01T00:00:00.123456789Z"),
        ];
        for (nanos, text) in cases {
            let t = Timestamp { seconds: 0, nanos };
            assert_eq!(serde_json::to_value(t).unwrap(), text);
            let back: Timestamp = serde_json::from_value(text.into()).unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn offsets_are_normalised() {
        let t: Timestamp = serde_json::from_str(r#""1970-01-01T01:00:00+01:00""#).unwrap();
        assert_eq!(
            t,
            Timestamp {
                seconds: 0,
                nanos: 0
            }
        );
        assert!(serde_json::from_str::<Timestamp>(r#""yesterday""#).is_err());
    }

    #[test]
    fn system_time_round_trip() {
        let now = SystemTime::now();
        let t = Timestamp::from(now);
        assert_eq!(t.to_system_time().unwrap(), now);
        let before_epoch = Timestamp {
            seconds: -2,
            nanos: 500_000_000,
        };
        assert_eq!(
            before_epoch.to_system_time().unwrap(),
            UNIX_EPOCH - Duration::from_millis(1500)
        );
    }
}
