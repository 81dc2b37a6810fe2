//! `pg_text(x)`: a value as PostgreSQL writes it as text, for the types whose text Arrow
//! writes differently: timestamps (`2023-01-01 02:11:59.5`, not `2023-01-01T02:11:59.500`;
//! with a time zone `2023-01-01 02:11:59+00`), times, intervals (`1 day 02:00:00`) and
//! floats (`1e+20`, `Infinity`). The compiler's casts to text call it for those types, so
//! `CAST(ts AS VARCHAR)` and `'at ' || ts` read as they do in PostgreSQL and DuckDB.

use super::declare::function_type;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Timelike};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit,
    IntervalYearMonthType, Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

function_type!(PgText, Signature::any(1, Volatility::Immutable));

impl PgText {
    /// Whether PostgreSQL's text of `data_type` differs from Arrow's (so that casts of
    /// it to text go through this function).
    pub fn formats(data_type: &DataType) -> bool {
        matches!(
            data_type,
            DataType::Timestamp(..)
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Interval(_)
                | DataType::Duration(_)
                | DataType::Float16
                | DataType::Float32
                | DataType::Float64
        )
    }
}

impl ScalarUDFImpl for PgText {
    fn name(&self) -> &str {
        "pg_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else { return exec_err!("pg_text takes one argument") };
        let array = value.to_array(args.number_rows)?;
        let text = to_text(&array)?;
        Ok(match value {
            ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&text, 0)?),
            ColumnarValue::Array(_) => ColumnarValue::Array(text),
        })
    }
}

/// Every value of `array` as PostgreSQL's text; NULL stays NULL.
pub fn to_text(array: &ArrayRef) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 20);
    macro_rules! each {
        ($array:expr, |$v:ident, $buf:ident| $body:expr) => {{
            let typed = $array;
            let mut $buf = String::new();
            for i in 0..typed.len() {
                if typed.is_null(i) {
                    out.append_null();
                    continue;
                }
                $buf.clear();
                let $v = typed.value(i);
                $body;
                out.append_value(&$buf);
            }
        }};
    }
    match array.data_type() {
        DataType::Timestamp(unit, zone) => {
            let zone: Option<Tz> = match zone {
                Some(name) => Some(name.parse()?),
                None => None,
            };
            let nanos_per = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let values: Vec<Option<i64>> = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().iter().collect(),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().iter().collect(),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().iter().collect(),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().iter().collect(),
            };
            let mut buf = String::new();
            for value in values {
                let Some(value) = value else {
                    out.append_null();
                    continue;
                };
                buf.clear();
                let nanos = i128::from(value) * nanos_per;
                let Some(utc) = utc_datetime(nanos) else { return exec_err!("timestamp {value} is out of range") };
                match &zone {
                    None => write_datetime(&mut buf, &utc, None),
                    Some(zone) => {
                        let local = zone.from_utc_datetime(&utc);
                        let offset = local.offset().fix().local_minus_utc();
                        write_datetime(&mut buf, &local.naive_local(), Some(offset));
                    }
                }
                out.append_value(&buf);
            }
        }
        DataType::Time32(TimeUnit::Second) => {
            each!(array.as_primitive::<Time32SecondType>(), |v, buf| write_time(&mut buf, i64::from(v) * 1_000_000_000))
        }
        DataType::Time32(_) => {
            each!(array.as_primitive::<Time32MillisecondType>(), |v, buf| write_time(
                &mut buf,
                i64::from(v) * 1_000_000
            ))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            each!(array.as_primitive::<Time64MicrosecondType>(), |v, buf| write_time(&mut buf, v.saturating_mul(1_000)))
        }
        DataType::Time64(_) => each!(array.as_primitive::<Time64NanosecondType>(), |v, buf| write_time(&mut buf, v)),
        DataType::Interval(IntervalUnit::YearMonth) => {
            each!(array.as_primitive::<IntervalYearMonthType>(), |v, buf| write_interval(&mut buf, v, 0, 0))
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            each!(array.as_primitive::<IntervalDayTimeType>(), |v, buf| write_interval(
                &mut buf,
                0,
                v.days,
                i128::from(v.milliseconds) * 1_000_000
            ))
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            each!(array.as_primitive::<IntervalMonthDayNanoType>(), |v, buf| write_interval(
                &mut buf,
                v.months,
                v.days,
                i128::from(v.nanoseconds)
            ))
        }
        DataType::Duration(unit) => {
            let (values, per): (Vec<Option<i64>>, i128) = match unit {
                TimeUnit::Second => (array.as_primitive::<DurationSecondType>().iter().collect(), 1_000_000_000),
                TimeUnit::Millisecond => (array.as_primitive::<DurationMillisecondType>().iter().collect(), 1_000_000),
                TimeUnit::Microsecond => (array.as_primitive::<DurationMicrosecondType>().iter().collect(), 1_000),
                TimeUnit::Nanosecond => (array.as_primitive::<DurationNanosecondType>().iter().collect(), 1),
            };
            let mut buf = String::new();
            for value in values {
                match value {
                    None => out.append_null(),
                    Some(v) => {
                        buf.clear();
                        write_interval(&mut buf, 0, 0, i128::from(v) * per);
                        out.append_value(&buf);
                    }
                }
            }
        }
        DataType::Float64 => each!(array.as_primitive::<Float64Type>(), |v, buf| write_float(&mut buf, v, 15)),
        DataType::Float32 => {
            each!(array.as_primitive::<Float32Type>(), |v, buf| write_float32(&mut buf, v))
        }
        DataType::Float16 => {
            each!(array.as_primitive::<Float16Type>(), |v, buf| write_float32(&mut buf, v.to_f32()))
        }
        other => return exec_err!("pg_text does not format {other}"),
    }
    Ok(Arc::new(out.finish()))
}

/// The UTC date and time `nanos` after the epoch.
fn utc_datetime(nanos: i128) -> Option<NaiveDateTime> {
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    DateTime::from_timestamp(seconds, subsec).map(|d| d.naive_utc())
}

/// `YYYY-MM-DD HH:MM:SS[.fraction][+HH[:MM]][ BC]`, as PostgreSQL writes timestamps.
fn write_datetime(buf: &mut String, at: &NaiveDateTime, offset_seconds: Option<i32>) {
    let year = at.year();
    // PostgreSQL counts years before 1 as BC, without a year 0.
    let (shown_year, era) = if year <= 0 { (1 - year, " BC") } else { (year, "") };
    let _ = write!(buf, "{shown_year:04}-{:02}-{:02} ", at.month(), at.day());
    write_clock(buf, at.hour(), at.minute(), at.second(), at.nanosecond());
    if let Some(offset) = offset_seconds {
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.unsigned_abs();
        let _ = write!(buf, "{sign}{:02}", offset / 3600);
        if offset % 3600 != 0 {
            let _ = write!(buf, ":{:02}", offset % 3600 / 60);
            if offset % 60 != 0 {
                let _ = write!(buf, ":{:02}", offset % 60);
            }
        }
    }
    buf.push_str(era);
}

/// `HH:MM:SS[.fraction]` of a time of day, `nanos` after midnight.
fn write_time(buf: &mut String, nanos: i64) {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000) as u32;
    write_clock(buf, (seconds / 3600) as u32, (seconds % 3600 / 60) as u32, (seconds % 60) as u32, fraction);
}

fn write_clock(buf: &mut String, hour: u32, minute: u32, second: u32, nanos: u32) {
    let _ = write!(buf, "{hour:02}:{minute:02}:{second:02}");
    write_fraction(buf, nanos);
}

/// `.f` with the digits a fraction of a second needs (none for a whole second).
fn write_fraction(buf: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let digits = format!("{nanos:09}");
    buf.push('.');
    buf.push_str(digits.trim_end_matches('0'));
}

/// An interval as PostgreSQL's default style writes it: `1 year 2 mons 3 days 04:05:06.5`,
/// each field signed on its own (`-1 days +02:00:00`), `00:00:00` for nothing.
fn write_interval(buf: &mut String, months: i32, days: i32, nanos: i128) {
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |buf: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let space = if is_zero { "" } else { " " };
        let plus = if is_before && value > 0 { "+" } else { "" };
        let plural = if value != 1 { "s" } else { "" };
        let _ = write!(buf, "{space}{plus}{value} {unit}{plural}");
        is_before = value < 0;
        is_zero = false;
    };
    part(buf, i64::from(months / 12), "year");
    part(buf, i64::from(months % 12), "mon");
    part(buf, i64::from(days), "day");
    if is_zero || nanos != 0 {
        let sign = if nanos < 0 {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        let nanos = nanos.unsigned_abs();
        let seconds = nanos / 1_000_000_000;
        let space = if is_zero { "" } else { " " };
        let _ = write!(buf, "{space}{sign}{:02}:{:02}:{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60);
        write_fraction(buf, (nanos % 1_000_000_000) as u32);
    }
}

fn write_float32(buf: &mut String, value: f32) {
    if !value.is_finite() {
        return write_float(buf, f64::from(value), 6);
    }
    // The shortest digits that read back as this f32, not as the f64 it widens to.
    write_digits(buf, &format!("{value:e}"), 6);
}

/// A float as PostgreSQL writes it: the shortest digits that read back as the same
/// value, positional unless the exponent is below -4 or at least `precision` (15 for
/// double precision, 6 for real), then as `1.5e+20`.
fn write_float(buf: &mut String, value: f64, precision: i32) {
    if value.is_nan() {
        buf.push_str("NaN");
    } else if value.is_infinite() {
        buf.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        write_digits(buf, &format!("{value:e}"), precision);
    }
}

/// Writes Rust's shortest scientific form (`-1.25e-7`) in PostgreSQL's layout.
fn write_digits(buf: &mut String, scientific: &str, precision: i32) {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    if negative {
        buf.push('-');
    }
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if digits.bytes().all(|d| d == b'0') {
        buf.push('0');
        return;
    }
    if exponent < -4 || exponent >= precision {
        buf.push_str(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(buf, "e{sign}{:02}", exponent.unsigned_abs());
    } else if exponent < 0 {
        buf.push_str("0.");
        for _ in 0..(-exponent - 1) {
            buf.push('0');
        }
        buf.push_str(&digits);
    } else {
        let point = exponent as usize + 1;
        if digits.len() <= point {
            buf.push_str(&digits);
            for _ in digits.len()..point {
                buf.push('0');
            }
        } else {
            buf.push_str(&digits[..point]);
            buf.push('.');
            buf.push_str(&digits[point..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64) -> String {
        let mut buf = String::new();
        write_float(&mut buf, value, 15);
        buf
    }

    fn interval(months: i32, days: i32, nanos: i128) -> String {
        let mut buf = String::new();
        write_interval(&mut buf, months, days, nanos);
        buf
    }

    fn timestamp(nanos: i128, offset: Option<i32>) -> String {
        let mut buf = String::new();
        write_datetime(&mut buf, &utc_datetime(nanos).unwrap(), offset);
        buf
    }

    #[test]
    fn floats_read_as_in_postgres() {
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1e20), "1e+20");
        assert_eq!(float(1e15), "1e+15");
        assert_eq!(float(123456789012345.0), "123456789012345");
        assert_eq!(float(1.5e-5), "1.5e-05");
        assert_eq!(float(0.0015), "0.0015");
        assert_eq!(float(-2.25), "-2.25");
        assert_eq!(float(100.0), "100");
        assert_eq!(float(0.0), "0");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::NEG_INFINITY), "-Infinity");
        let mut buf = String::new();
        write_float32(&mut buf, 0.1f32);
        assert_eq!(buf, "0.1");
        buf.clear();
        write_float32(&mut buf, 1e6f32);
        assert_eq!(buf, "1e+06");
    }

    #[test]
    fn intervals_read_as_in_postgres() {
        let hour = 3_600_000_000_000i128;
        assert_eq!(interval(0, 1, 2 * hour), "1 day 02:00:00");
        assert_eq!(interval(14, 3, 0), "1 year 2 mons 3 days");
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(interval(0, 0, 36 * hour + 500_000_000), "36:00:00.5");
        assert_eq!(interval(0, -1, 2 * hour), "-1 days +02:00:00");
        assert_eq!(interval(-1, 0, -hour), "-1 mons -01:00:00");
        assert_eq!(interval(24, 0, 0), "2 years");
    }

    #[test]
    fn timestamps_read_as_in_postgres() {
        let second = 1_000_000_000i128;
        let at = 1_672_539_119 * second; // 2023-01-01 02:11:59 UTC
        assert_eq!(timestamp(at, None), "2023-01-01 02:11:59");
        assert_eq!(timestamp(at + second / 2, None), "2023-01-01 02:11:59.5");
        assert_eq!(timestamp(at + 123_456_000, None), "2023-01-01 02:11:59.123456");
        assert_eq!(timestamp(at, Some(0)), "2023-01-01 02:11:59+00");
        assert_eq!(timestamp(at, Some(19_800)), "2023-01-01 02:11:59+05:30");
        // The year before 1 AD is 1 BC (there is no year 0).
        assert_eq!(timestamp(-62_167_219_200 * second, None), "0001-01-01 00:00:00 BC");
    }
}
