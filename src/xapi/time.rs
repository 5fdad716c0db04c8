//! xAPI timestamps: strict ISO 8601 parsing and the one output format (RFC 3339, UTC).
//! Used by validation (statement timestamps), preparation (UTC conversion) and the HTTP
//! layer (`since` / `until`).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};

/// Microseconds since the Unix epoch: the unit of `stored` and of query bounds.
pub type Micros = i64;

/// Parses an ISO 8601 combined date and time in extended format, as xAPI requires:
/// `YYYY-MM-DDThh:mm[:ss[.fraction]][Z|±hh[:mm]|±hhmm]`. A missing offset means UTC;
/// a negative zero offset (`-00`, `-0000`, `-00:00`) is refused, as ISO 8601 forbids it.
/// So is an instant whose UTC form ([`format_utc`], what is stored) would leave the years
/// 0000-9999 (`0000-01-01T00:00+01:00`): that form could not be read back.
pub fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    let t_pos = text.find(['T', 't'])?;
    let date = parse_date(text.get(..t_pos)?)?;
    let rest = &text[t_pos + 1..];
    let offset_pos = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(offset_pos);
    let time = parse_clock(clock)?;
    let offset = parse_offset(zone)?;
    let naive = NaiveDateTime::new(date, time);
    let instant = offset.from_local_datetime(&naive).single()?;
    (0..=9999).contains(&instant.naive_utc().year()).then_some(instant)
}

/// `YYYY-MM-DD` in ASCII digits only: chrono's `%Y-%m-%d` also takes space-padded fields
/// (`" 013-05-18"`, `"2013-05- 8"`, even a no-break space), which ISO 8601 does not.
fn parse_date(date: &str) -> Option<NaiveDate> {
    let bytes = date.as_bytes();
    let well_formed = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
    if !well_formed {
        return None;
    }
    NaiveDate::from_ymd_opt(date[..4].parse().ok()?, date[5..7].parse().ok()?, date[8..].parse().ok()?)
}

fn parse_clock(clock: &str) -> Option<NaiveTime> {
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !all_digits(p)) {
        return None;
    }
    if fraction.is_some() && parts.len() != 3 {
        return None;
    }
    let hour: u32 = parts[0].parse().ok()?;
    let minute: u32 = parts[1].parse().ok()?;
    let second: u32 = parts.get(2).map_or(Some(0), |s| s.parse().ok())?;
    let nanos = match fraction {
        None => 0,
        Some(f) if f.is_empty() || !all_digits(f) => return None,
        Some(f) => {
            let mut digits: String = f.chars().take(9).collect();
            while digits.len() < 9 {
                digits.push('0');
            }
            digits.parse().ok()?
        }
    };
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

fn parse_offset(zone: &str) -> Option<FixedOffset> {
    match zone {
        "" | "Z" | "z" => return FixedOffset::east_opt(0),
        _ => {}
    }
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    let well_formed = match zone.len() {
        3 => all_digits(&zone[1..]),
        5 => all_digits(&zone[1..]),
        6 => zone.as_bytes()[3] == b':' && all_digits(&zone[1..3]) && all_digits(&zone[4..]),
        _ => false,
    };
    if !well_formed {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    if hours > 23 || minutes > 59 || (sign < 0 && hours == 0 && minutes == 0) {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 3339 in UTC with at least millisecond precision, more digits only when needed.
pub fn format_utc(instant: &DateTime<FixedOffset>) -> String {
    let utc = instant.with_timezone(&Utc);
    let nanos = utc.timestamp_subsec_nanos();
    let format = if nanos.is_multiple_of(1_000_000) {
        SecondsFormat::Millis
    } else if nanos.is_multiple_of(1_000) {
        SecondsFormat::Micros
    } else {
        SecondsFormat::Nanos
    };
    utc.to_rfc3339_opts(format, true)
}

/// Formats `stored`-style microseconds: RFC 3339, UTC, always six fractional digits, so
/// every `stored` value is distinct and sorts as text in time order.
pub fn format_micros(micros: Micros) -> String {
    let instant = Utc.timestamp_micros(micros).single().unwrap_or_default();
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), truncated to the second.
pub fn format_http_date(micros: Micros) -> String {
    let instant = Utc.timestamp_micros(micros).single().unwrap_or_default();
    instant.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The instant as microseconds since the epoch (sub-microsecond digits truncated).
pub fn to_micros(instant: &DateTime<FixedOffset>) -> Micros {
    instant.timestamp_micros()
}

pub fn now_micros() -> Micros {
    Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_iso_8601_forms_xapi_clients_send() {
        for ok in [
            "2013-05-18T05:32:34.804Z",
            "2013-05-18T05:32:34.804+00:00",
            "2013-05-18T05:32:34+0530",
            "2013-05-18T05:32:34-05",
            "2013-05-18T05:32Z",
            "2013-05-18T05:32:34.123456789Z",
            "2013-05-18T05:32:34",
            "0000-01-01T00:30-01:00",
            "9999-12-31T23:30+01:00",
        ] {
            assert!(parse_timestamp(ok).is_some(), "{ok} should parse");
        }
    }

    #[test]
    fn refuses_malformed_values_and_negative_zero_offsets() {
        for bad in [
            "",
            "should fail",
            "01/011/2015",
            "2013-05-18",
            "2013-05-18T05:32:34.804-00",
            "2013-05-18T05:32:34.804-0000",
            "2013-05-18T05:32:34.804-00:00",
            "2013-05-18T25:32:34Z",
            "2013-13-18T05:32:34Z",
            "2013-05-18T05:32:34.Z",
            "2013-05-18T05:32:34+5",
            "2013-5-18T05:32:34Z",
            " 013-05-18T05:32:34Z",
            "2013-05- 8T05:32:34Z",
            "2013- 5-18T05:32:34Z",
            "\u{a0}013-05-8T05:32:34+05",
            "2013-02-30T05:32:34Z",
            "2013-05-18T05:32:34+0é",
            "2013-05-18T05:32:34+é:00",
            "2013-05-18T05:3é",
            "0000-01-01T00:30+01:00",
            "9999-12-31T23:30-01:00",
        ] {
            assert!(parse_timestamp(bad).is_none(), "{bad} should be refused");
        }
    }

    #[test]
    fn converts_to_utc_keeping_the_instant() {
        let parsed = parse_timestamp("2023-05-04T12:00:00-05:00").unwrap();
        assert_eq!(format_utc(&parsed), "2023-05-04T17:00:00.000Z");
        let precise = parse_timestamp("2023-05-04T12:00:00.1234+00:00").unwrap();
        assert_eq!(format_utc(&precise), "2023-05-04T12:00:00.123400Z");
    }

    #[test]
    fn formats_stored_and_http_dates() {
        let micros = to_micros(&parse_timestamp("1994-11-06T08:49:37.999999Z").unwrap());
        assert_eq!(format_micros(micros), "1994-11-06T08:49:37.999999Z");
        assert_eq!(format_http_date(micros), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
