//! A small RFC 3339 checker for `timestamp` values, so no date-time crate is needed.
//!
//! ```text
//!  2026-01-12T09:00:00Z        date `T` time zone
//!  2026-01-12T09:00:00.250+01:00   optional fraction, zone `Z` or ±hh:mm
//! ```
//!
//! Only the upper-case `T` and `Z` are accepted (RFC 3339 also allows `t`, `z` and a space): one
//! spelling keeps timestamps comparable as text.

/// The example shown in messages.
pub(crate) const EXAMPLE: &str = "2026-01-12T09:00:00Z";

/// Whether `text` is an RFC 3339 date-time: `YYYY-MM-DD`, `T`, `hh:mm:ss[.fraction]`, then `Z`
/// or `±hh:mm`, with every field in range (February 29 only in leap years; second 60 for a leap
/// second).
pub(crate) fn is_rfc3339(text: &str) -> bool {
    let Some((date, rest)) = text.split_once('T') else {
        return false;
    };
    let (time, zone) = match rest.find(['Z', '+', '-']) {
        Some(at) => rest.split_at(at),
        None => return false,
    };
    is_date(date) && is_time(time) && is_zone(zone)
}

/// `n` ASCII digits, as a number.
fn digits(text: &str, n: usize) -> Option<u32> {
    (text.len() == n && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn is_date(date: &str) -> bool {
    let mut parts = date.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (digits(year, 4), digits(month, 2), digits(day, 2))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

fn is_time(time: &str) -> bool {
    let (whole, fraction) = match time.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (time, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let mut parts = whole.split(':');
    let (Some(hour), Some(minute), Some(second), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    matches!(
        (digits(hour, 2), digits(minute, 2), digits(second, 2)),
        (Some(0..=23), Some(0..=59), Some(0..=60))
    )
}

fn is_zone(zone: &str) -> bool {
    if zone == "Z" {
        return true;
    }
    let Some(offset) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    matches!(
        offset.split_once(':'),
        Some((hours, minutes)) if matches!(
            (digits(hours, 2), digits(minutes, 2)),
            (Some(0..=23), Some(0..=59))
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_utc_offsets_and_fractions() {
        for ok in [
            EXAMPLE,
            "2026-01-12T09:00:00+01:00",
            "2026-01-12T09:00:00-05:30",
            "2026-01-12T09:00:00.5Z",
            "2024-02-29T23:59:60Z",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_partial_local_and_out_of_range_values() {
        for bad in [
            "",
            "yesterday",
            "2026-01-12",
            "2026-01-12T09:00:00",
            "2026-01-12 09:00:00Z",
            "2026-01-12t09:00:00z",
            "2026-1-12T09:00:00Z",
            "2026-13-01T09:00:00Z",
            "2025-02-29T09:00:00Z",
            "2026-04-31T09:00:00Z",
            "2026-01-12T24:00:00Z",
            "2026-01-12T09:60:00Z",
            "2026-01-12T09:00Z",
            "2026-01-12T09:00:00.Z",
            "2026-01-12T09:00:00+0100",
            "2026-01-12T09:00:00+24:00",
            "2026-01-12T09:00:00Z ",
            "+2026-01-12T09:00:00Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
