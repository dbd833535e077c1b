//! Typed comparison of condition values: numbers, dates, booleans, IP addresses. Each parser
//! returns `None` for text that is not of its type; such a value matches nothing.

use std::cmp::Ordering;
use std::net::IpAddr;

/// The comparison a numeric or date operator asks for (request value against policy value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ordering3 {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Ordering3 {
    /// Whether `request.cmp(policy) == ordering` satisfies this comparison.
    pub(crate) fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Equal => ordering == Ordering::Equal,
            Self::Less => ordering == Ordering::Less,
            Self::LessOrEqual => ordering != Ordering::Greater,
            Self::Greater => ordering == Ordering::Greater,
            Self::GreaterOrEqual => ordering != Ordering::Less,
        }
    }
}

/// `true` / `false` in any case.
pub(crate) fn bool_value(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A decimal number: optional sign, digits, optional fraction (`90`, `-1.5`). Not `NaN`, `inf`,
/// exponents or hex, which Rust's `f64` parser would take.
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let decimal = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !decimal(whole) || !decimal(fraction) || digits.ends_with('.') {
        return None;
    }
    text.parse().ok()
}

/// `request` compared with `policy` as numbers.
pub(crate) fn compare_numbers(request: &str, policy: &str) -> Option<Ordering> {
    number(request)?.partial_cmp(&number(policy)?)
}

/// A date: epoch seconds (`1700000000`), or ISO 8601 (`2025-01-01T00:00:00Z`, with an offset, or
/// without one meaning UTC, or a bare date meaning its midnight UTC). Nanoseconds since the epoch.
fn date(text: &str) -> Option<i128> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i128>().ok()?.checked_mul(1_000_000_000);
    }
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(timestamp.as_nanosecond());
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| {
            text.parse::<jiff::civil::Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .ok()?;
    Some(
        civil
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_nanosecond(),
    )
}

/// `request` compared with `policy` as dates.
pub(crate) fn compare_dates(request: &str, policy: &str) -> Option<Ordering> {
    Some(date(request)?.cmp(&date(policy)?))
}

/// Whether the address `request` lies in `range`: an address, or a CIDR block (`203.0.113.0/24`,
/// `2001:db8::/32`). IPv4 and IPv6 never match each other.
pub(crate) fn ip_in_range(request: &str, range: &str) -> bool {
    let Ok(address) = request.trim().parse::<IpAddr>() else {
        return false;
    };
    let (network, prefix) = match range.trim().split_once('/') {
        Some((network, prefix)) => (network, prefix.parse::<u32>().ok()),
        None => (range.trim(), None),
    };
    let Ok(network) = network.parse::<IpAddr>() else {
        return false;
    };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => same_prefix(
            u128::from(a.to_bits()) << 96,
            u128::from(n.to_bits()) << 96,
            prefix,
            32,
        ),
        (IpAddr::V6(a), IpAddr::V6(n)) => same_prefix(a.to_bits(), n.to_bits(), prefix, 128),
        _ => false,
    }
}

/// Whether the first `prefix` bits (all `width` when `None`) of two left-aligned addresses agree.
fn same_prefix(a: u128, n: u128, prefix: Option<u32>, width: u32) -> bool {
    let prefix = match prefix {
        Some(p) if p <= width => p,
        Some(_) => return false,
        None => width,
    };
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    a & mask == n & mask
}
