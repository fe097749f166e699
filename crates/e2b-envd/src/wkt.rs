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

/// Seconds a `Timestamp` may hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z,
/// the range of RFC 3339's four-digit years and of the protobuf specification.
const SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

impl Timestamp {
    /// Whether the JSON mapping can write it: seconds within years 1 to 9999,
    /// nanoseconds within a second.
    fn has_json_form(&self) -> bool {
        SECONDS.contains(&self.seconds) && (0..1_000_000_000).contains(&self.nanos)
    }

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
        if !self.has_json_form() {
            return Err(serde::ser::Error::custom("timestamp out of range"));
        }
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut t: Timestamp = DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc).into())
            .map_err(|e| de::Error::custom(format!("invalid RFC 3339 timestamp `{s}`: {e}")))?;
        // A leap second (`23:59:60`) arrives as a second of more than 10^9 ns;
        // protobuf timestamps have none, so it becomes the next second.
        if t.nanos >= 1_000_000_000 {
            t.seconds += 1;
            t.nanos -= 1_000_000_000;
        }
        // An offset can move a valid date out of years 1 to 9999, where it has
        // no JSON form.
        if !SECONDS.contains(&t.seconds) {
            return Err(de::Error::custom(format!(
                "timestamp `{s}` is outside years 1 to 9999"
            )));
        }
        Ok(t)
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

    /// Found by the `connect_envelope` fuzz target: an offset moved a date out of
    /// years 1 to 9999, and the timestamp then encoded as `-0001-…` or `+10000-…`,
    /// which no RFC 3339 parser (this one included) reads back.
    #[test]
    fn json_form_is_limited_to_years_1_to_9999() {
        for text in ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"] {
            assert!(
                serde_json::from_str::<Timestamp>(&format!("\"{text}\"")).is_err(),
                "{text}"
            );
        }
        for text in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"] {
            let t: Timestamp = serde_json::from_str(&format!("\"{text}\"")).unwrap();
            assert_eq!(serde_json::to_value(t).unwrap(), text);
        }
        let leap: Timestamp = serde_json::from_str(r#""2016-12-31T23:59:60.5Z""#).unwrap();
        assert_eq!(
            serde_json::to_value(leap).unwrap(),
            "2017-01-01T00:00:00.500Z"
        );
        let year_10000 = Timestamp {
            seconds: 253_402_300_800,
            nanos: 0,
        };
        assert!(year_10000.to_datetime().is_some());
        assert!(serde_json::to_value(year_10000).is_err());
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
