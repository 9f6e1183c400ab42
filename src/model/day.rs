//! Calendar days (certification expiries, "today" for placement), written `YYYY-MM-DD` in the
//! config file, the admin API and the stored catalog.

use time::Date;
use time::format_description::BorrowedFormatItem;

const FORMAT: &[BorrowedFormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");

/// Parses `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, FORMAT).ok()
}

/// Writes `YYYY-MM-DD`.
pub fn format_day(day: Date) -> String {
    // Formatting a `Date` with a date-only description cannot fail; the fallback is unreachable.
    day.format(FORMAT).unwrap_or_else(|_| day.to_string())
}

/// Serde for a [`Date`] as `YYYY-MM-DD` text (also the stored form: the catalog kept text
/// before it kept dates, so old records read unchanged).
pub mod as_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::Date;

    /// Serializes as `YYYY-MM-DD`.
    pub fn serialize<S: Serializer>(day: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_day(*day))
    }

    /// Deserializes `YYYY-MM-DD`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_day(&text).ok_or_else(|| D::Error::custom(format!("{text:?} is not a YYYY-MM-DD date")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_as_iso_text() {
        let day = time::macros::date!(2026 - 03 - 09);
        assert_eq!(format_day(day), "2026-03-09");
        assert_eq!(parse_day("2026-03-09"), Some(day));
        assert_eq!(parse_day("2026-3-9"), None);
        assert_eq!(parse_day("2026-02-30"), None);
    }

    /// Promise: catalog overrides stored when the day was text read back unchanged, and the
    /// admin API's JSON keeps its shape.
    #[test]
    fn a_certification_encodes_as_it_did_when_its_day_was_text() {
        #[derive(serde::Serialize)]
        struct Before {
            scheme: String,
            valid_until: String,
        }
        let before = Before { scheme: "iso27001".into(), valid_until: "2027-06-30".into() };
        let now =
            crate::model::Certification { scheme: "iso27001".into(), valid_until: time::macros::date!(2027 - 06 - 30) };
        let stored = postcard::to_stdvec(&before).unwrap();
        assert_eq!(postcard::to_stdvec(&now).unwrap(), stored);
        assert_eq!(postcard::from_bytes::<crate::model::Certification>(&stored).unwrap(), now);
        assert_eq!(serde_json::to_string(&now).unwrap(), r#"{"scheme":"iso27001","valid_until":"2027-06-30"}"#);
    }
}
