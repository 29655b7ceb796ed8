//! Rotation schedules: `AutomaticallyAfterDays`, `rate(…)` and `cron(…)` expressions, and the
//! `Duration` window.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// A parsed rotation schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every fixed interval (`AutomaticallyAfterDays` or `rate(…)`).
    Every(Duration),
    /// A cron expression (minutes hours day-of-month month day-of-week year).
    Cron(Vec<String>),
}

fn field_matches(field: &str, value: i64, min: i64) -> bool {
    field.split(',').any(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<i64>().ok().filter(|s| *s > 0)),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, i64::MAX)
        } else if let Some((a, b)) = range.split_once('-') {
            match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(a), Ok(b)) => (a, b),
                _ => return false,
            }
        } else {
            match range.parse::<i64>() {
                Ok(v) if step.is_some() => (v, i64::MAX),
                Ok(v) => (v, v),
                Err(_) => return false,
            }
        };
        value >= lo && value <= hi && step.is_none_or(|s| (value - lo) % s == 0)
    })
}

fn dow_number(field: &str) -> String {
    // AWS cron: 1 = SUN … 7 = SAT; names allowed.
    let mut f = field.to_ascii_uppercase();
    for (i, n) in ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        .iter()
        .enumerate()
    {
        f = f.replace(n, &(i + 1).to_string());
    }
    f
}

fn month_number(field: &str) -> String {
    let mut f = field.to_ascii_uppercase();
    for (i, n) in [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ]
    .iter()
    .enumerate()
    {
        f = f.replace(n, &(i + 1).to_string());
    }
    f
}

impl Schedule {
    /// Parse a `ScheduleExpression`.
    ///
    /// # Errors
    /// A message for an expression that is not `rate(N hours|days)` or a six-field `cron(…)`.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let bad = || format!("Invalid schedule expression: {expr}");
        if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
            let mut it = inner.split_whitespace();
            let n: i64 = it.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
            let unit = it.next().ok_or_else(bad)?;
            let d = match unit {
                "hour" | "hours" => Duration::hours(n),
                "day" | "days" => Duration::days(n),
                _ => return Err(bad()),
            };
            if it.next().is_some() || n < 1 || d < Duration::hours(4) || d > Duration::days(1000) {
                return Err(bad());
            }
            return Ok(Schedule::Every(d));
        }
        if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
            let fields: Vec<String> = inner.split_whitespace().map(str::to_owned).collect();
            if fields.len() != 6 {
                return Err(bad());
            }
            let s = Schedule::Cron(fields);
            if s.next_after(Utc::now()).is_none() {
                return Err(bad());
            }
            return Ok(s);
        }
        Err(bad())
    }

    /// The first time strictly after `from` the schedule fires (within about two years).
    #[must_use]
    pub fn next_after(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(d) => from.checked_add_signed(*d),
            Schedule::Cron(f) => {
                let month = month_number(&f[3]);
                let dow = dow_number(&f[4]);
                let start = Utc
                    .with_ymd_and_hms(from.year(), from.month(), from.day(), from.hour(), 0, 0)
                    .single()?;
                // Hour by hour, then the first matching minute within a matching hour.
                for h in 0..(24 * 366 * 2) {
                    let t = start + Duration::hours(h);
                    let dow_v = i64::from(t.weekday().num_days_from_sunday()) + 1;
                    if !(field_matches(&f[5], i64::from(t.year()), 1970)
                        && field_matches(&month, i64::from(t.month()), 1)
                        && field_matches(&f[2], i64::from(t.day()), 1)
                        && field_matches(&dow, dow_v, 1)
                        && field_matches(&f[1], i64::from(t.hour()), 0))
                    {
                        continue;
                    }
                    for m in 0..60 {
                        let tm = t + Duration::minutes(m);
                        if tm > from && field_matches(&f[0], m, 0) {
                            return Some(tm);
                        }
                    }
                }
                None
            }
        }
    }
}

/// Parse a `Duration` window (`1h` … `24h`).
///
/// # Errors
/// A message when it is not a whole number of hours from 1 to 24.
pub fn parse_window(d: &str) -> Result<Duration, String> {
    d.strip_suffix('h')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| (1..=24).contains(n))
        .map(Duration::hours)
        .ok_or_else(|| format!("Invalid rotation window duration: {d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn rate_expressions_give_fixed_intervals() {
        assert_eq!(
            Schedule::parse("rate(10 days)"),
            Ok(Schedule::Every(Duration::days(10)))
        );
        assert_eq!(
            Schedule::parse("rate(4 hours)"),
            Ok(Schedule::Every(Duration::hours(4)))
        );
        assert!(Schedule::parse("rate(1 hours)").is_err());
        assert!(Schedule::parse("rate(x days)").is_err());
    }

    #[test]
    fn cron_fires_at_the_next_matching_minute() {
        let s = Schedule::parse("cron(0 16 1,15 * ? *)").expect("cron");
        assert_eq!(
            s.next_after(at("2026-03-02T00:00:00Z")),
            Some(at("2026-03-15T16:00:00Z"))
        );
        let sun = Schedule::parse("cron(30 2 ? * SUN *)").expect("cron");
        // 2026-03-01 is a Sunday.
        assert_eq!(
            sun.next_after(at("2026-02-27T00:00:00Z")),
            Some(at("2026-03-01T02:30:00Z"))
        );
    }

    #[test]
    fn windows_are_whole_hours() {
        assert_eq!(parse_window("3h"), Ok(Duration::hours(3)));
        assert!(parse_window("0h").is_err());
        assert!(parse_window("25h").is_err());
    }
}
