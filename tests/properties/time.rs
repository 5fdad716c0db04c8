//! Properties of `xapi::time`: the timestamp parser answers for any Unicode, accepts every
//! well-formed ISO 8601 timestamp built from its parts (offset zone forms included) whose
//! UTC form stays within the years 0000-9999, keeps the instant through that UTC form, and
//! refuses any non-ASCII character.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use fluency::xapi::time::{format_utc, parse_timestamp, to_micros};
use proptest::prelude::*;

use crate::strategies::{config, text_near, with_non_ascii};

const CASES: u32 = 5000;

const NEAR_ZONES: &[&str] = &[
    "2013-05-18T05:32:34+05:30",
    "2013-05-18T05:32:34-0500",
    "2013-05-18T05:32:34+05",
    "2013-05-18T05:32:34.123456789Z",
    "2013-05-18t05:32z",
];

/// A timestamp and the instant it means, built independently of the parser.
fn timestamp() -> impl Strategy<Value = (String, DateTime<Utc>)> {
    // The first and last days of the four-digit years are where the UTC form would leave them.
    let date = prop_oneof![
        3 => (0i32..=9999, 1u32..=12, 1u32..=28),
        1 => (prop_oneof![Just(0), Just(9999)], prop_oneof![Just(1), Just(12)], prop_oneof![Just(1), Just(31)]),
    ];
    let clock = (0u32..24, 0u32..60, proptest::option::of(0u32..60), proptest::option::of("[0-9]{1,12}"));
    let zone = prop_oneof![
        Just((String::new(), 0)),
        Just(("Z".to_owned(), 0)),
        Just(("z".to_owned(), 0)),
        (0i32..24, 0i32..60, any::<bool>(), 0u8..3).prop_map(|(h, m, west, form)| {
            let minutes = if form == 1 { 0 } else { m };
            // A negative zero offset is refused; its positive twin is generated instead.
            let west = west && (h, minutes) != (0, 0);
            let sign = if west { '-' } else { '+' };
            let text = match form {
                0 => format!("{sign}{h:02}:{minutes:02}"),
                1 => format!("{sign}{h:02}"),
                _ => format!("{sign}{h:02}{minutes:02}"),
            };
            let seconds = (h * 3600 + minutes * 60) * if west { -1 } else { 1 };
            (text, seconds)
        }),
    ];
    (date, clock, zone).prop_map(|((year, month, day), (hour, minute, second, fraction), (zone, offset))| {
        let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}");
        let mut nanos = 0;
        if let Some(second) = second {
            text.push_str(&format!(":{second:02}"));
            if let Some(fraction) = &fraction {
                text.push('.');
                text.push_str(fraction);
                nanos = format!("{:0<9}", &fraction[..fraction.len().min(9)]).parse().expect("digits");
            }
        }
        text.push_str(&zone);
        let local = NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_nano_opt(hour, minute, second.unwrap_or(0), nanos))
            .expect("a valid local time");
        let instant = Utc.from_utc_datetime(&(local - chrono::Duration::seconds(offset.into())));
        (text, instant)
    })
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn parse_timestamp_answers_for_any_unicode(text in text_near(NEAR_ZONES)) {
        if let Some(instant) = parse_timestamp(&text) {
            prop_assert!(text.is_ascii(), "{text:?} was accepted but is not ASCII");
            let _ = to_micros(&instant);
        }
    }

    #[test]
    fn well_formed_timestamps_parse_to_their_instant_and_keep_it_in_utc_form(
        (text, instant) in timestamp()
    ) {
        let parsed = parse_timestamp(&text);
        if !(0..=9999).contains(&instant.year()) {
            prop_assert_eq!(parsed, None, "{} is stored as {}, which cannot be read back", text, instant);
            return Ok(());
        }
        prop_assert_eq!(parsed.map(|p| p.with_timezone(&Utc)), Some(instant), "{}", text);
        let utc = format_utc(&parsed.expect("parsed"));
        prop_assert_eq!(parse_timestamp(&utc).map(|p| p.with_timezone(&Utc)), Some(instant), "{} -> {}", text, utc);
    }

    #[test]
    fn a_non_ascii_character_anywhere_refuses_a_timestamp(
        broken in timestamp().prop_flat_map(|(text, _)| with_non_ascii(text))
    ) {
        prop_assert!(parse_timestamp(&broken).is_none(), "{broken:?} should be refused");
    }
}
