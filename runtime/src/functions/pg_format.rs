//! `to_char`, `to_date` and `to_timestamp` with PostgreSQL's format patterns
//! (`to_char(ts, 'FMDay, DD Mon YYYY HH24:MI')`, `to_date('05/03/2023', 'DD/MM/YYYY')`).
//!
//! DataFusion's functions of these names take chrono's `%` formats. These take over the
//! names: a format with a `%` goes to DataFusion's function as before; any other is a
//! PostgreSQL pattern. `to_char` formats dates and timestamps itself (padding, `FM`,
//! names, ordinals, lower-case patterns); `to_date` and `to_timestamp` translate the
//! pattern into a chrono format and let DataFusion's functions parse with it.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, AsArray, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature};

use super::arguments::Arguments;

/// One part of a PostgreSQL pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field { field: Field, fill: bool, ordinal: Option<bool> },
}

/// Letter case of a name field: `MONTH`, `Month`, `month`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Upper,
    Capital,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Hour12,
    Hour24,
    Minute,
    Second,
    Milli,
    Micro,
    /// Fractional seconds to this many digits.
    Fraction(u8),
    SecondsOfDay,
    Meridian(Case),
    Era(Case),
    YearWithComma,
    Year4,
    Year3,
    Year2,
    Year1,
    IsoYear,
    MonthName(Case),
    MonthAbbr(Case),
    Month,
    DayName(Case),
    DayAbbr(Case),
    DayOfYear,
    Day,
    DayOfWeek,
    IsoDayOfWeek,
    WeekOfMonth,
    WeekOfYear,
    IsoWeek,
    Century,
    Julian,
    Quarter,
    RomanMonth(Case),
}

/// Patterns, in upper case; numeric ones may be written in lower case too. The longest
/// that matches is taken, so the order does not matter.
const PATTERNS: &[(&str, Field)] = &[
    ("HH24", Field::Hour24),
    ("HH12", Field::Hour12),
    ("HH", Field::Hour12),
    ("MI", Field::Minute),
    ("SSSSS", Field::SecondsOfDay),
    ("SSSS", Field::SecondsOfDay),
    ("SS", Field::Second),
    ("MS", Field::Milli),
    ("US", Field::Micro),
    ("FF1", Field::Fraction(1)),
    ("FF2", Field::Fraction(2)),
    ("FF3", Field::Fraction(3)),
    ("FF4", Field::Fraction(4)),
    ("FF5", Field::Fraction(5)),
    ("FF6", Field::Fraction(6)),
    ("AM", Field::Meridian(Case::Upper)),
    ("PM", Field::Meridian(Case::Upper)),
    ("am", Field::Meridian(Case::Lower)),
    ("pm", Field::Meridian(Case::Lower)),
    ("AD", Field::Era(Case::Upper)),
    ("BC", Field::Era(Case::Upper)),
    ("ad", Field::Era(Case::Lower)),
    ("bc", Field::Era(Case::Lower)),
    ("IYYY", Field::IsoYear),
    ("Y,YYY", Field::YearWithComma),
    ("YYYY", Field::Year4),
    ("YYY", Field::Year3),
    ("YY", Field::Year2),
    ("Y", Field::Year1),
    ("MONTH", Field::MonthName(Case::Upper)),
    ("Month", Field::MonthName(Case::Capital)),
    ("month", Field::MonthName(Case::Lower)),
    ("MON", Field::MonthAbbr(Case::Upper)),
    ("Mon", Field::MonthAbbr(Case::Capital)),
    ("mon", Field::MonthAbbr(Case::Lower)),
    ("MM", Field::Month),
    ("DAY", Field::DayName(Case::Upper)),
    ("Day", Field::DayName(Case::Capital)),
    ("day", Field::DayName(Case::Lower)),
    ("DY", Field::DayAbbr(Case::Upper)),
    ("Dy", Field::DayAbbr(Case::Capital)),
    ("dy", Field::DayAbbr(Case::Lower)),
    ("DDD", Field::DayOfYear),
    ("DD", Field::Day),
    ("ID", Field::IsoDayOfWeek),
    ("D", Field::DayOfWeek),
    ("WW", Field::WeekOfYear),
    ("W", Field::WeekOfMonth),
    ("IW", Field::IsoWeek),
    ("CC", Field::Century),
    ("J", Field::Julian),
    ("Q", Field::Quarter),
    ("RM", Field::RomanMonth(Case::Upper)),
    ("rm", Field::RomanMonth(Case::Lower)),
];

/// Whether a field's pattern is read in lower case too (`yyyy-mm-dd`).
fn lower_case_too(field: Field) -> bool {
    !matches!(
        field,
        Field::Meridian(_)
            | Field::Era(_)
            | Field::MonthName(_)
            | Field::MonthAbbr(_)
            | Field::DayName(_)
            | Field::DayAbbr(_)
            | Field::RomanMonth(_)
    )
}

/// Reads a PostgreSQL pattern: fields, `FM` before a field, `TH`/`th` after a number,
/// `"quoted text"`, `\` before a character, anything else as itself.
fn pieces(pattern: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = pattern;
    let mut fill = true;
    let mut text = String::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            fill = false;
            rest = after;
            continue;
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            text.push_str(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        if let Some(escaped) = rest.strip_prefix('\\')
            && let Some(c) = escaped.chars().next()
        {
            text.push(c);
            rest = &escaped[c.len_utf8()..];
            continue;
        }
        let found = PATTERNS
            .iter()
            .filter(|(name, field)| {
                rest.starts_with(name)
                    || (lower_case_too(*field)
                        && rest.get(..name.len()).is_some_and(|head| head == name.to_lowercase()))
            })
            .max_by_key(|(name, _)| name.len())
            .copied();
        match found {
            Some((name, field)) => {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                rest = &rest[name.len()..];
                let ordinal = if let Some(after) = rest.strip_prefix("TH") {
                    rest = after;
                    Some(true)
                } else if let Some(after) = rest.strip_prefix("th") {
                    rest = after;
                    Some(false)
                } else {
                    None
                };
                out.push(Piece::Field { field, fill, ordinal });
                fill = true;
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

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
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const ROMAN: [&str; 12] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"];

fn cased(name: &str, case: Case) -> String {
    match case {
        Case::Upper => name.to_uppercase(),
        Case::Capital => name.to_string(),
        Case::Lower => name.to_lowercase(),
    }
}

/// Formats `at` as PostgreSQL's `to_char` does.
fn format(at: &NaiveDateTime, pattern: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pattern {
        let Piece::Field { field, fill, ordinal } = piece else {
            if let Piece::Text(text) = piece {
                out.push_str(text);
            }
            continue;
        };
        let fill = *fill;
        let number = |out: &mut String, value: i64, width: usize| {
            if fill {
                let _ = write!(out, "{value:0width$}");
            } else {
                let _ = write!(out, "{value}");
            }
            if let Some(upper) = ordinal {
                let suffix = ordinal_suffix(value);
                out.push_str(&if *upper { suffix.to_uppercase() } else { suffix.to_string() });
            }
        };
        // Names pad to the longest name (9 characters) unless `FM` says not to.
        let name = |out: &mut String, text: String| {
            if fill {
                let _ = write!(out, "{text:<9}");
            } else {
                out.push_str(&text);
            }
        };
        let month = at.month0() as usize;
        let weekday = at.weekday().num_days_from_sunday() as usize;
        match field {
            Field::Hour24 => number(&mut out, i64::from(at.hour()), 2),
            Field::Hour12 => number(&mut out, i64::from((at.hour() + 11) % 12 + 1), 2),
            Field::Minute => number(&mut out, i64::from(at.minute()), 2),
            Field::Second => number(&mut out, i64::from(at.second()), 2),
            Field::Milli => number(&mut out, i64::from(at.nanosecond() / 1_000_000), 3),
            Field::Micro => number(&mut out, i64::from(at.nanosecond() / 1_000), 6),
            Field::SecondsOfDay => number(&mut out, i64::from(at.num_seconds_from_midnight()), 1),
            Field::Fraction(digits) => {
                let micros = at.nanosecond() / 1_000;
                number(&mut out, i64::from(micros / 10u32.pow(6 - u32::from(*digits))), usize::from(*digits))
            }
            Field::Meridian(case) => out.push_str(&cased(if at.hour() < 12 { "AM" } else { "PM" }, *case)),
            Field::Era(case) => out.push_str(&cased(if at.year() > 0 { "AD" } else { "BC" }, *case)),
            Field::YearWithComma => {
                let year = at.year();
                let _ = write!(out, "{},{:03}", year / 1000, (year % 1000).abs());
            }
            Field::Year4 => number(&mut out, i64::from(at.year()), 4),
            Field::Year3 => number(&mut out, i64::from(at.year().rem_euclid(1000)), 3),
            Field::Year2 => number(&mut out, i64::from(at.year().rem_euclid(100)), 2),
            Field::Year1 => number(&mut out, i64::from(at.year().rem_euclid(10)), 1),
            Field::IsoYear => number(&mut out, i64::from(at.iso_week().year()), 4),
            Field::MonthName(case) => name(&mut out, cased(MONTHS[month], *case)),
            Field::MonthAbbr(case) => out.push_str(&cased(&MONTHS[month][..3], *case)),
            Field::Month => number(&mut out, i64::from(at.month()), 2),
            Field::DayName(case) => name(&mut out, cased(DAYS[weekday], *case)),
            Field::DayAbbr(case) => out.push_str(&cased(&DAYS[weekday][..3], *case)),
            Field::DayOfYear => number(&mut out, i64::from(at.ordinal()), 3),
            Field::Day => number(&mut out, i64::from(at.day()), 2),
            Field::DayOfWeek => number(&mut out, weekday as i64 + 1, 1),
            Field::IsoDayOfWeek => number(&mut out, i64::from(at.weekday().number_from_monday()), 1),
            Field::WeekOfMonth => number(&mut out, i64::from((at.day() - 1) / 7 + 1), 1),
            Field::WeekOfYear => number(&mut out, i64::from((at.ordinal() - 1) / 7 + 1), 2),
            Field::IsoWeek => number(&mut out, i64::from(at.iso_week().week()), 2),
            Field::Century => {
                let year = at.year();
                number(&mut out, i64::from(if year > 0 { (year + 99) / 100 } else { -((99 - year) / 100) }), 2)
            }
            Field::Julian => number(&mut out, i64::from(at.num_days_from_ce()) + 1_721_425, 1),
            Field::Quarter => number(&mut out, (month / 3 + 1) as i64, 1),
            Field::RomanMonth(case) => {
                let roman = cased(ROMAN[month], *case);
                if fill {
                    let _ = write!(out, "{roman:<4}");
                } else {
                    out.push_str(&roman);
                }
            }
        }
    }
    out
}

fn ordinal_suffix(value: i64) -> &'static str {
    match (value % 10, value % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// The chrono format that parses what a PostgreSQL pattern describes. An hour of the
/// twelve-hour clock without `AM`/`PM` is read as an hour of the day: 1 to 11 as
/// PostgreSQL reads them, but 12 as noon (PostgreSQL: midnight) and 13 to 23 accepted
/// (PostgreSQL refuses them).
fn chrono_format(pattern: &str) -> Result<String> {
    let pieces = pieces(pattern);
    let meridian = pieces.iter().any(|p| matches!(p, Piece::Field { field: Field::Meridian(_), .. }));
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(&text.replace('%', "%%")),
            Piece::Field { field, .. } => out.push_str(match field {
                Field::Hour24 => "%H",
                Field::Hour12 if meridian => "%I",
                Field::Hour12 => "%H",
                Field::Minute => "%M",
                Field::Second => "%S",
                Field::Milli | Field::Fraction(1..=3) => "%3f",
                Field::Micro | Field::Fraction(_) => "%6f",
                Field::Meridian(_) => "%p",
                Field::Year4 | Field::IsoYear => "%Y",
                Field::Year2 => "%y",
                Field::MonthName(_) => "%B",
                Field::MonthAbbr(_) => "%b",
                Field::Month => "%m",
                Field::DayName(_) => "%A",
                Field::DayAbbr(_) => "%a",
                Field::DayOfYear => "%j",
                Field::Day => "%d",
                Field::IsoWeek => "%V",
                other => return exec_err!("the pattern field {other:?} cannot be read from text here"),
            }),
        }
    }
    Ok(out)
}

/// Whether a format is chrono's (it has a `%`) rather than a PostgreSQL pattern.
fn is_chrono(format: &str) -> bool {
    format.contains('%')
}

/// DataFusion's function of a name, with PostgreSQL patterns read as such.
#[derive(Debug)]
pub struct PgPatterns {
    inner: Arc<ScalarUDF>,
}

impl PartialEq for PgPatterns {
    fn eq(&self, other: &Self) -> bool {
        self.inner.name() == other.inner.name()
    }
}

impl Eq for PgPatterns {}

impl std::hash::Hash for PgPatterns {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.name().hash(state);
    }
}

impl PgPatterns {
    /// `to_char` over DataFusion's.
    pub fn to_char() -> Self {
        PgPatterns { inner: datafusion::functions::datetime::to_char() }
    }

    /// `to_date` over DataFusion's.
    pub fn to_date() -> Self {
        PgPatterns { inner: datafusion::functions::datetime::to_date() }
    }

    /// `to_timestamp` over DataFusion's.
    pub fn to_timestamp() -> Self {
        let config = datafusion::common::config::ConfigOptions::default();
        PgPatterns { inner: datafusion::functions::datetime::to_timestamp(&config) }
    }

    fn formats_itself(&self) -> bool {
        self.inner.name() == "to_char"
    }
}

impl ScalarUDFImpl for PgPatterns {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn with_updated_config(&self, config: &datafusion::common::config::ConfigOptions) -> Option<ScalarUDF> {
        let inner = self.inner.inner().with_updated_config(config)?;
        Some(ScalarUDF::from(PgPatterns { inner: Arc::new(inner) }))
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> Result<datafusion::arrow::datatypes::FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let pg_pattern = args.args.get(1).is_some_and(|format| match format {
            ColumnarValue::Scalar(value) => value.try_as_str().flatten().is_some_and(|f| !is_chrono(f)),
            ColumnarValue::Array(array) => {
                array.as_string_opt::<i32>().is_some_and(|a| a.iter().flatten().any(|f| !is_chrono(f)))
            }
        });
        if !pg_pattern {
            return self.inner.invoke_with_args(args);
        }
        if self.formats_itself() {
            return to_char(&args);
        }
        for format in args.args.iter_mut().skip(1) {
            *format = match format {
                ColumnarValue::Scalar(value) => match value.try_as_str().flatten() {
                    Some(f) if !is_chrono(f) => ColumnarValue::Scalar(ScalarValue::Utf8(Some(chrono_format(f)?))),
                    _ => continue,
                },
                ColumnarValue::Array(array) => {
                    let text = cast(array, &DataType::Utf8)?;
                    let translated = text
                        .as_string::<i32>()
                        .iter()
                        .map(|f| f.map(|f| if is_chrono(f) { Ok(f.to_string()) } else { chrono_format(f) }).transpose())
                        .collect::<Result<StringArray>>()?;
                    ColumnarValue::Array(Arc::new(translated))
                }
            };
        }
        self.inner.invoke_with_args(args)
    }
}

/// `to_char(date or timestamp, pattern)` with PostgreSQL patterns.
fn to_char(args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
    if let Some(value) = args.args.first()
        && !matches!(value.data_type(), DataType::Date32 | DataType::Date64 | DataType::Timestamp(..))
    {
        return exec_err!("to_char with a PostgreSQL pattern takes a date or a timestamp, not {}", value.data_type());
    }
    let shape = [DataType::Timestamp(TimeUnit::Microsecond, None), DataType::Utf8];
    let arguments = Arguments::cast("to_char", args, &shape, 2)?;
    let timestamps = arguments.arrays[0].as_primitive::<TimestampMicrosecondType>();
    let patterns = arguments.arrays[1].as_string::<i32>();
    let rows = timestamps.len();
    let mut parsed: Option<(String, Vec<Piece>)> = None;
    let mut out = StringBuilder::new();
    for row in 0..rows {
        if timestamps.is_null(row) || patterns.is_null(row) {
            out.append_null();
            continue;
        }
        let text = patterns.value(row);
        if parsed.as_ref().is_none_or(|(p, _)| p != text) {
            parsed = Some((text.to_string(), pieces(text)));
        }
        let Some(at) = chrono::DateTime::from_timestamp_micros(timestamps.value(row)).map(|d| d.naive_utc()) else {
            return exec_err!("to_char: timestamp out of range");
        };
        let pattern = parsed.as_ref().map(|(_, p)| p.as_slice()).unwrap_or_default();
        out.append_value(format(&at, pattern));
    }
    arguments.finish(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn formats_as_postgres() {
        let t = at("2023-01-10 15:04:05");
        assert_eq!(format(&t, &pieces("YYYY-MM-DD HH24:MI:SS")), "2023-01-10 15:04:05");
        assert_eq!(format(&t, &pieces("FMDay")), "Tuesday");
        assert_eq!(format(&t, &pieces("Day|")), "Tuesday  |");
        assert_eq!(format(&t, &pieces("Dy, DD Mon YYYY")), "Tue, 10 Jan 2023");
        assert_eq!(format(&t, &pieces("FMMonth FMDDth, HH12:MI PM")), "January 10th, 03:04 PM");
        assert_eq!(format(&t, &pieces("\"Q\"Q IW D")), "Q1 02 3");
        assert_eq!(format(&t, &pieces("yyyy-mm-dd hh24:mi")), "2023-01-10 15:04");
        assert_eq!(format(&t, &pieces("Y,YYY AD SSSSS")), "2,023 AD 54245");
        assert_eq!(chrono_format("DD/MM/YYYY").unwrap(), "%d/%m/%Y");
        assert_eq!(chrono_format("HH:MI").unwrap(), "%H:%M");
        assert_eq!(chrono_format("HH:MI AM").unwrap(), "%I:%M %p");
        assert_eq!(chrono_format("YYYY-MM-DD HH24:MI:SS").unwrap(), "%Y-%m-%d %H:%M:%S");
    }
}
