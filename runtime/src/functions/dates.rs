//! Date and interval functions of PostgreSQL that DataFusion lacks:
//!
//! - `age(a, b)`: the difference of two timestamps in years, months and days ("3 years
//!   2 mons 5 days"), as PostgreSQL counts it (borrowing from the month before), and
//!   `age(a)` from midnight today.
//! - `make_timestamp(year, month, day, hour, minute, seconds)`.
//! - `interval_mul(interval, factor)`: an interval times a number, months and days
//!   spilling their fractions into days and time as PostgreSQL spills them; the
//!   compiler calls it for `interval * n`, `n * interval` and `interval / n`.

use super::arguments::Arguments;
use super::declare::function_type;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
    TimestampMicrosecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const TIMESTAMP: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);
const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

/// Evaluates a function of equal-length argument arrays, cast to `types`, as an array,
/// or as a scalar when every argument is one.
fn columnar(
    name: &str,
    args: &ScalarFunctionArgs,
    types: &[DataType],
    f: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let arguments = Arguments::cast(name, args, types, types.len())?;
    arguments.finish(f(&arguments.arrays)?)
}

fn datetime(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

function_type!(Age, Signature::user_defined(Volatility::Immutable));

impl ScalarUDFImpl for Age {
    fn name(&self) -> &str {
        "age"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(1..=2).contains(&arg_types.len()) {
            return plan_err!("age takes one or two timestamps: age(later, earlier) or age(earlier)");
        }
        for t in arg_types {
            if !(t.is_temporal()
                || t.is_null()
                || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
            {
                return plan_err!("age takes timestamps or dates, not {t}");
            }
        }
        Ok(vec![TIMESTAMP; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(INTERVAL)
    }

    fn simplify(&self, mut args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        if args.len() != 1 {
            return Ok(ExprSimplifyResult::Original(args));
        }
        // `age(x)` counts from midnight at the start of the query's day.
        let Some(now) = info.query_execution_start_time() else { return Ok(ExprSimplifyResult::Original(args)) };
        let midnight = now.date_naive().and_hms_opt(0, 0, 0).map(|m| m.and_utc().timestamp_micros());
        let today = Expr::Literal(ScalarValue::TimestampMicrosecond(midnight, None), None);
        args.insert(0, today);
        let udf = Arc::new(ScalarUDF::from(Age::new()));
        Ok(ExprSimplifyResult::Simplified(Expr::ScalarFunction(
            datafusion::logical_expr::expr::ScalarFunction::new_udf(udf, args),
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 2 {
            return exec_err!("age(x) is computed from midnight today; it takes two timestamps here");
        }
        columnar("age", &args, &[TIMESTAMP, TIMESTAMP], |arrays| {
            let (later, earlier) = (
                arrays[0].as_primitive::<TimestampMicrosecondType>(),
                arrays[1].as_primitive::<TimestampMicrosecondType>(),
            );
            let mut out = IntervalMonthDayNanoBuilder::with_capacity(later.len());
            for i in 0..later.len() {
                match (later.is_valid(i), earlier.is_valid(i)) {
                    (true, true) => match (datetime(later.value(i)), datetime(earlier.value(i))) {
                        (Some(a), Some(b)) => out.append_value(age(a, b)),
                        _ => return exec_err!("age: a timestamp is out of range"),
                    },
                    _ => out.append_null(),
                }
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }
}

/// PostgreSQL's `age`: the field-by-field difference, negative fields borrowing from
/// the next larger one (a month borrows the length of the month before the later date,
/// or of the earlier date's month when counting backwards).
fn age(a: NaiveDateTime, b: NaiveDateTime) -> IntervalMonthDayNano {
    let backwards = a < b;
    let (later, earlier) = if backwards { (b, a) } else { (a, b) };
    let mut micros = i64::from(later.nanosecond() / 1000) - i64::from(earlier.nanosecond() / 1000);
    let mut sec = i64::from(later.second()) - i64::from(earlier.second());
    let mut min = i64::from(later.minute()) - i64::from(earlier.minute());
    let mut hour = i64::from(later.hour()) - i64::from(earlier.hour());
    let mut day = i64::from(later.day()) - i64::from(earlier.day());
    let mut month = i64::from(later.month()) - i64::from(earlier.month());
    let mut year = i64::from(later.year()) - i64::from(earlier.year());
    while micros < 0 {
        micros += 1_000_000;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        day -= 1;
    }
    // PostgreSQL borrows the days of the month of the first argument when it is the
    // earlier one (it swapped them above), else those of the second.
    let borrowed = if backwards { a } else { b };
    while day < 0 {
        day += days_in_month(borrowed.year(), borrowed.month());
        month -= 1;
    }
    while month < 0 {
        month += 12;
        year -= 1;
    }
    let sign = if backwards { -1 } else { 1 };
    let months = sign * (year * 12 + month);
    let time = sign * (((hour * 60 + min) * 60 + sec) * 1_000_000 + micros);
    IntervalMonthDayNano::new(months as i32, (sign * day) as i32, time * 1000)
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    match (next, NaiveDate::from_ymd_opt(year, month, 1)) {
        (Some(next), Some(first)) => (next - first).num_days(),
        _ => 30,
    }
}

function_type!(MakeTimestamp, Signature::user_defined(Volatility::Immutable));

impl ScalarUDFImpl for MakeTimestamp {
    fn name(&self) -> &str {
        "make_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 6 || !arg_types.iter().all(|t| t.is_numeric() || t.is_null()) {
            return plan_err!("make_timestamp takes six numbers: year, month, day, hour, minute, seconds");
        }
        let mut types = vec![DataType::Int64; 5];
        types.push(DataType::Float64);
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(TIMESTAMP)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut types = vec![DataType::Int64; 5];
        types.push(DataType::Float64);
        columnar("make_timestamp", &args, &types, |arrays| {
            let parts: Vec<_> = arrays[..5].iter().map(|a| a.as_primitive::<Int64Type>()).collect();
            let seconds = arrays[5].as_primitive::<Float64Type>();
            let mut out = TimestampMicrosecondBuilder::with_capacity(seconds.len());
            for i in 0..seconds.len() {
                if parts.iter().any(|p| p.is_null(i)) || seconds.is_null(i) {
                    out.append_null();
                    continue;
                }
                let [year, month, day, hour, minute] = [0, 1, 2, 3, 4].map(|k| parts[k].value(i));
                let date = i32::try_from(year)
                    .ok()
                    .zip(u32::try_from(month).ok())
                    .zip(u32::try_from(day).ok())
                    .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d));
                let second = seconds.value(i);
                // Microseconds rounded as PostgreSQL rounds them; 59.9999996 is the next
                // minute's first second, as it would be there.
                let micros = (second * 1e6).round();
                let time = u32::try_from(hour).ok().zip(u32::try_from(minute).ok()).and_then(|(h, m)| {
                    let valid = second.is_finite() && (0.0..60.0).contains(&second);
                    valid.then(|| chrono::NaiveTime::from_hms_opt(h, m, 0)).flatten()
                });
                let time = time.map(|t| (t, chrono::TimeDelta::microseconds(micros as i64)));
                // Rounding 59.9999999 s up to the next minute may pass the last date.
                let moment =
                    date.zip(time).and_then(|(date, (time, micros))| date.and_time(time).checked_add_signed(micros));
                match moment {
                    Some(moment) => out.append_value(moment.and_utc().timestamp_micros()),
                    None => {
                        return exec_err!(
                            "make_timestamp: {year}-{month}-{day} {hour}:{minute}:{second} is not a valid date and time"
                        );
                    }
                }
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }
}

function_type!(IntervalMul, Signature::user_defined(Volatility::Immutable));

impl ScalarUDFImpl for IntervalMul {
    fn name(&self) -> &str {
        "interval_mul"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Interval(_) | DataType::Null, factor] if factor.is_numeric() || factor.is_null() => {
                Ok(vec![INTERVAL, DataType::Float64])
            }
            _ => plan_err!("interval_mul takes an interval and a number"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(INTERVAL)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        columnar("interval_mul", &args, &[INTERVAL, DataType::Float64], |arrays| {
            let (spans, factors) =
                (arrays[0].as_primitive::<IntervalMonthDayNanoType>(), arrays[1].as_primitive::<Float64Type>());
            let mut out = IntervalMonthDayNanoBuilder::with_capacity(spans.len());
            for i in 0..spans.len() {
                if spans.is_null(i) || factors.is_null(i) {
                    out.append_null();
                } else {
                    out.append_value(interval_mul(spans.value(i), factors.value(i))?);
                }
            }
            Ok(Arc::new(out.finish()) as ArrayRef)
        })
    }
}

/// PostgreSQL's `interval_mul`: each field times the factor, the fraction of the months
/// spilling into days (30 a month) and that of the days into time (24 hours a day).
fn interval_mul(span: IntervalMonthDayNano, factor: f64) -> Result<IntervalMonthDayNano> {
    const DAY_SECONDS: f64 = 86_400.0;
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let months = f64::from(span.months) * factor;
    let days = f64::from(span.days) * factor;
    if !months.is_finite()
        || !days.is_finite()
        || months.abs() > f64::from(i32::MAX)
        || days.abs() > f64::from(i32::MAX)
    {
        return exec_err!("interval out of range");
    }
    let (whole_months, mut whole_days) = (months.trunc() as i32, days.trunc() as i32);
    let month_remainder_days = round((months - f64::from(whole_months)) * 30.0);
    let mut sec_remainder =
        round((days - f64::from(whole_days) + month_remainder_days - month_remainder_days.trunc()) * DAY_SECONDS);
    if sec_remainder.abs() >= DAY_SECONDS {
        let carried = (sec_remainder / DAY_SECONDS).trunc();
        whole_days = whole_days.saturating_add(carried as i32);
        sec_remainder -= carried * DAY_SECONDS;
    }
    let whole_days = i32::try_from(i64::from(whole_days) + month_remainder_days.trunc() as i64).ok();
    // PostgreSQL keeps microseconds.
    let micros = (span.nanoseconds as f64 / 1e3 * factor + sec_remainder * 1e6).round();
    let nanos = micros * 1e3;
    let (Some(whole_days), true) = (whole_days, nanos.is_finite() && nanos.abs() < i64::MAX as f64) else {
        return exec_err!("interval out of range");
    };
    Ok(IntervalMonthDayNano::new(whole_months, whole_days, nanos as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn age_counts_as_postgres() {
        // SELECT age('2024-01-01', '2015-02-01') → 8 years 11 mons
        assert_eq!(age(at("2024-01-01 00:00:00"), at("2015-02-01 00:00:00")), IntervalMonthDayNano::new(107, 0, 0));
        // SELECT age('2024-03-01', '2024-01-31') → 1 mon 1 day
        assert_eq!(age(at("2024-03-01 00:00:00"), at("2024-01-31 00:00:00")), IntervalMonthDayNano::new(1, 1, 0));
        // SELECT age('2024-01-31', '2024-03-01') → -1 mons -1 days (January's 31 days borrowed)
        assert_eq!(age(at("2024-01-31 00:00:00"), at("2024-03-01 00:00:00")), IntervalMonthDayNano::new(-1, -1, 0));
        let hour = 3_600_000_000_000;
        assert_eq!(
            age(at("2024-01-02 01:00:00"), at("2024-01-01 02:00:00")),
            IntervalMonthDayNano::new(0, 0, 23 * hour)
        );
    }

    #[test]
    fn intervals_multiply_as_postgres() {
        let hour = 3_600_000_000_000i64;
        assert_eq!(
            interval_mul(IntervalMonthDayNano::new(0, 0, hour), 3.0).unwrap(),
            IntervalMonthDayNano::new(0, 0, 3 * hour)
        );
        // interval '1 mon' * 1.5 = 1 mon 15 days; interval '1 day' * 1.5 = 1 day 12:00:00
        assert_eq!(interval_mul(IntervalMonthDayNano::new(1, 0, 0), 1.5).unwrap(), IntervalMonthDayNano::new(1, 15, 0));
        assert_eq!(
            interval_mul(IntervalMonthDayNano::new(0, 1, 0), 1.5).unwrap(),
            IntervalMonthDayNano::new(0, 1, 12 * hour)
        );
        assert_eq!(
            interval_mul(IntervalMonthDayNano::new(0, 1, 0), 0.5).unwrap(),
            IntervalMonthDayNano::new(0, 0, 12 * hour)
        );
    }
}
