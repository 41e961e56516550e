//! `strftime_now(format)` for templates (Llama 3.2 prints today's date with it).
//!
//! A small `strftime` over UTC (C locale names) covering what chat templates use; unknown
//! `%x` sequences are copied through unchanged, as glibc does. HF calls Python's
//! `datetime.now()` (local time); servers usually run in UTC, and a fixed time can be set for
//! reproducible prompts ([`super::ChatTemplate::with_time`]).

use std::format;
use std::string::String;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Format the UTC time `unix` seconds since the epoch.
pub(crate) fn strftime(fmt: &str, unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let wd = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday (index 3)
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + u32::from(m > 2 && is_leap(y));
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(f) = it.next() else {
            out.push('%');
            break;
        };
        let s = match f {
            'Y' => format!("{y}"),
            'y' => format!("{:02}", y.rem_euclid(100)),
            'm' => format!("{m:02}"),
            'd' => format!("{d:02}"),
            'e' => format!("{d:>2}"),
            'H' => format!("{hh:02}"),
            'I' => format!("{:02}", if hh % 12 == 0 { 12 } else { hh % 12 }),
            'p' => String::from(if hh < 12 { "AM" } else { "PM" }),
            'M' => format!("{mm:02}"),
            'S' => format!("{ss:02}"),
            'j' => format!("{yday:03}"),
            'B' => String::from(MONTHS[(m - 1) as usize]),
            'b' | 'h' => String::from(&MONTHS[(m - 1) as usize][..3]),
            'A' => String::from(DAYS[wd]),
            'a' => String::from(&DAYS[wd][..3]),
            'u' => format!("{}", wd + 1),
            'w' => format!("{}", (wd + 1) % 7),
            'F' => format!("{y}-{m:02}-{d:02}"),
            'T' => format!("{hh:02}:{mm:02}:{ss:02}"),
            '%' => String::from("%"),
            other => format!("%{other}"),
        };
        out.push_str(&s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strftime;

    #[test]
    fn known_dates() {
        // 2024-07-26 13:05:09 UTC, a Friday, day 208 of a leap year
        let t = 1_721_999_109;
        assert_eq!(strftime("%d %b %Y", t), "26 Jul 2024");
        assert_eq!(strftime("%A %B %e, %y %H:%M:%S %j %p %%", t), "Friday July 26, 24 13:05:09 208 PM %");
        assert_eq!(strftime("%F %T %a %q", 0), "1970-01-01 00:00:00 Thu %q");
        assert_eq!(strftime("%Y-%m-%d", 951_782_400), "2000-02-29");
    }
}
