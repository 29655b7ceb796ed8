//! Certificate validity from IssueCertificate's `Validity` and `ValidityNotBefore`.

use chrono::{DateTime, Months, NaiveDateTime, Utc};

use rampart_service::AwsError;

use crate::shapes::acm_pca as s;

/// How far AWS backdates `NotBefore` when the request does not set it.
const BACKDATE_MS: i64 = 60 * 60_000;

fn bad(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidArgsException", 400, message)
}

/// One end of the window: a point given by `v`, relative to `now` for DAYS/MONTHS/YEARS.
fn point(now: i64, v: &s::Validity, what: &str) -> Result<i64, AwsError> {
    let start = DateTime::<Utc>::from_timestamp_millis(now).ok_or_else(|| bad("bad clock"))?;
    let too_far = || {
        bad(format!(
            "The {what} validity value {} is not valid.",
            v.value
        ))
    };
    let months = |m: i64| -> Result<i64, AwsError> {
        let m = u32::try_from(m).map_err(|_| too_far())?;
        start
            .checked_add_months(Months::new(m))
            .map(|t| t.timestamp_millis())
            .ok_or_else(too_far)
    };
    match v.r#type.as_str() {
        "DAYS" if v.value > 0 => v
            .value
            .checked_mul(86_400_000)
            .and_then(|d| now.checked_add(d))
            .ok_or_else(too_far),
        "MONTHS" if v.value > 0 => months(v.value),
        "YEARS" if v.value > 0 => months(v.value.checked_mul(12).ok_or_else(too_far)?),
        "ABSOLUTE" if v.value > 0 => v.value.checked_mul(1000).ok_or_else(too_far),
        "END_DATE" => {
            let text = v.value.to_string();
            let t = NaiveDateTime::parse_from_str(&text, "%Y%m%d%H%M%S").map_err(|_| {
                bad(format!(
                    "The {what} END_DATE value {} is not a date in the format YYYYMMDDHHMMSS.",
                    v.value
                ))
            })?;
            Ok(t.and_utc().timestamp_millis())
        }
        "DAYS" | "MONTHS" | "YEARS" | "ABSOLUTE" => Err(too_far()),
        other => Err(bad(format!("The validity type {other} is not valid."))),
    }
}

/// `(not_before, not_after)` in epoch millis.
///
/// # Errors
/// `InvalidArgsException` for values that are not valid or a window that ends in the past or
/// before it starts.
pub fn window(
    now: i64,
    validity: &s::Validity,
    not_before: Option<&s::Validity>,
) -> Result<(i64, i64), AwsError> {
    let end = point(now, validity, "Validity")?;
    let start = match not_before {
        Some(v) => point(now, v, "ValidityNotBefore")?,
        None => now - BACKDATE_MS,
    };
    if end <= now {
        return Err(bad("The certificate validity must end in the future."));
    }
    if start >= end {
        return Err(bad(
            "The certificate validity must start before it ends (ValidityNotBefore before Validity).",
        ));
    }
    // X.509 times stop at the year 9999.
    if end > 253_402_300_799_000 {
        return Err(bad("The certificate validity ends after the year 9999."));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str, value: i64) -> s::Validity {
        s::Validity {
            r#type: t.into(),
            value,
        }
    }

    #[test]
    fn each_type_gives_the_documented_end() {
        let now = 1_700_000_000_000;
        assert_eq!(
            window(now, &v("DAYS", 1), None).expect("ok").1,
            now + 86_400_000
        );
        assert_eq!(
            window(now, &v("ABSOLUTE", 1_800_000_000), None)
                .expect("ok")
                .1,
            1_800_000_000_000
        );
        assert_eq!(
            window(now, &v("END_DATE", 20300101000000), None)
                .expect("ok")
                .1,
            1_893_456_000_000
        );
        assert!(window(now, &v("YEARS", 1), None).expect("ok").1 > now + 364 * 86_400_000);
        assert_eq!(
            window(now, &v("DAYS", 1), None).expect("ok").0,
            now - BACKDATE_MS
        );
    }

    #[test]
    fn bad_windows_are_refused() {
        let now = 1_700_000_000_000;
        assert!(window(now, &v("DAYS", 0), None).is_err());
        assert!(window(now, &v("ABSOLUTE", 1_600_000_000), None).is_err());
        assert!(window(now, &v("END_DATE", 20301301000000), None).is_err());
        assert!(window(now, &v("DAYS", 1), Some(&v("DAYS", 2))).is_err());
    }
}
