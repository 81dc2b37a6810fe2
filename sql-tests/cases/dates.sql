-- Dates and timestamps: date_trunc, extract/date_part, date and interval arithmetic,
-- differences between dates and timestamps, make_date/make_timestamp, literals and casts,
-- comparisons and BETWEEN, generate_series calendars, and month-based reporting idioms.

-- case: date_trunc_timestamp_units
SELECT id, ordered_at, date_trunc('day', ordered_at) AS d, date_trunc('week', ordered_at) AS w,
       date_trunc('month', ordered_at) AS m, date_trunc('quarter', ordered_at) AS q,
       date_trunc('year', ordered_at) AS y, date_trunc('hour', ordered_at) AS h
FROM orders WHERE id IN (1, 9, 17, 26, 33, 40) ORDER BY id;

-- case: date_trunc_on_date_column
SELECT id, signup_date, date_trunc('month', signup_date) AS month_start,
       date_trunc('week', signup_date) AS week_start, date_trunc('year', signup_date) AS year_start
FROM customers ORDER BY id;

-- case: date_extract_parts
SELECT id, order_date, extract(year FROM order_date) AS y, extract(month FROM order_date) AS m,
       extract(day FROM order_date) AS d, extract(dow FROM order_date) AS dow,
       extract(doy FROM order_date) AS doy, extract(week FROM order_date) AS wk,
       extract(quarter FROM order_date) AS q
FROM orders WHERE id <= 12 ORDER BY id;

-- case: date_extract_time_parts
SELECT id, ts, extract(hour FROM ts) AS h, extract(minute FROM ts) AS mi, extract(second FROM ts) AS s,
       date_part('hour', ts) AS h2, date_part('dow', ts) AS dow
FROM events WHERE id <= 10 ORDER BY id;

-- case: date_extract_epoch
SELECT id, extract(epoch FROM ordered_at) AS epoch_s, date_part('epoch', ordered_at)::bigint AS epoch_i,
       extract(epoch FROM order_date::timestamp) AS day_epoch
FROM orders WHERE id <= 6 ORDER BY id;

-- case: date_plus_minus_integer
SELECT id, order_date, order_date + 7 AS next_week, order_date - 30 AS month_before,
       order_date + customer_id::int AS shifted
FROM orders WHERE id <= 10 ORDER BY id;

-- case: date_minus_date_days
SELECT c.id, c.name, min(o.order_date) - c.signup_date AS days_to_first_order,
       max(o.order_date) - min(o.order_date) AS active_span
FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name, c.signup_date ORDER BY c.id;

-- case: date_plus_interval
SELECT id, hired_on, hired_on + interval '1 month' AS plus_month, hired_on + interval '1 year' AS plus_year,
       hired_on - interval '10 days' AS minus_10d, (hired_on + interval '90 days')::date AS probation_end
FROM employees ORDER BY id;

-- case: date_month_end_clamping
-- Adding a month to the 31st lands on the last day of a shorter month.
SELECT DATE '2023-01-31' + interval '1 month' AS feb, DATE '2024-01-31' + interval '1 month' AS leap_feb,
       TIMESTAMP '2023-03-31 10:00:00' - interval '1 month' AS back_to_feb,
       DATE '2020-02-29' + interval '1 year' AS after_leap;

-- case: date_timestamp_plus_interval
SELECT id, ts, ts + interval '90 minutes' AS plus_90m, ts - interval '1 day 2 hours' AS earlier,
       ts + interval '1 week' AS next_week, ts + 3 * interval '1 hour' AS plus_3h
FROM events WHERE id <= 8 ORDER BY id;

-- case: date_timestamp_difference_epoch
SELECT id, ordered_at,
       extract(epoch FROM ordered_at - order_date::timestamp) AS secs_after_midnight,
       extract(epoch FROM (TIMESTAMP '2024-01-01 00:00:00' - ordered_at)) / 86400 AS days_to_new_year
FROM orders WHERE id <= 8 ORDER BY id;

-- case: date_event_gaps_per_user
SELECT user_id, id, ts,
       extract(epoch FROM ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts)) / 60 AS minutes_since_prev
FROM events WHERE user_id IN (1, 2) ORDER BY user_id, ts, id;

-- case: date_age_years
SELECT id, name, hired_on, extract(year FROM age(DATE '2024-01-01', hired_on)) AS years,
       extract(month FROM age(DATE '2024-01-01', hired_on)) AS months
FROM employees ORDER BY id;

-- case: date_make_date_timestamp
SELECT make_date(2023, 2, 28) AS d, make_date(2024, 2, 29) + 1 AS after_leap,
       make_timestamp(2023, 7, 14, 9, 30, 15.5) AS ts,
       make_date(extract(year FROM DATE '2023-08-19')::int, 1, 1) AS year_start;

-- case: date_make_date_from_columns
SELECT id, make_date(2023, (id % 12) + 1, 1) AS first_of_month,
       make_timestamp(2023, 1, 1, id % 24, id * 5 % 60, 0) AS ts
FROM customers ORDER BY id;

-- case: date_literals_and_casts
SELECT DATE '2023-01-05' AS d1, CAST('2023-01-05' AS DATE) AS d2, '2023-01-05'::date = DATE '2023-01-05' AS eq,
       TIMESTAMP '2023-01-05 13:45:00' AS ts, '2023-01-05 13:45:00'::timestamp::date AS ts_day;

-- case: date_comparisons
SELECT id, order_date, ordered_at FROM orders
WHERE order_date > DATE '2023-06-30' AND ordered_at < TIMESTAMP '2023-10-10 12:00:00'
  AND order_date <> '2023-08-05'
ORDER BY id;

-- case: date_between
SELECT id, name, signup_date FROM customers
WHERE signup_date BETWEEN DATE '2021-03-02' AND '2022-05-05'
ORDER BY signup_date, id;

-- case: date_timestamp_vs_date_compare
-- A date compares as its midnight against a timestamp.
SELECT count(*) FILTER (WHERE ordered_at >= DATE '2023-07-01') AS since_july,
       count(*) FILTER (WHERE ordered_at < DATE '2023-04-01') AS q1,
       count(*) FILTER (WHERE ordered_at::date = DATE '2023-03-05') AS on_mar5
FROM orders;

-- case: date_generate_series_days
SELECT d::date AS day FROM generate_series(DATE '2023-02-25', DATE '2023-03-03', interval '1 day') AS g(d)
ORDER BY day;

-- case: date_generate_series_calendar_join
-- A month calendar with zero-filled months without orders.
WITH months AS (
  SELECT m FROM generate_series(TIMESTAMP '2023-01-01', TIMESTAMP '2023-12-01', interval '1 month') AS g(m)
)
SELECT m.m::date AS month, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS revenue
FROM months m LEFT JOIN orders o ON date_trunc('month', o.ordered_at) = m.m AND o.status = 'pending'
GROUP BY m.m ORDER BY month;

-- case: date_generate_series_hours
SELECT h AS hour_start, count(e.id) AS events
FROM generate_series(TIMESTAMP '2023-03-01 08:00:00', TIMESTAMP '2023-03-01 20:00:00', interval '4 hours') AS g(h)
LEFT JOIN events e ON e.ts >= h AND e.ts < h + interval '4 hours'
GROUP BY h ORDER BY h;

-- case: date_group_by_month
SELECT date_trunc('month', order_date) AS month, count(*) AS n, sum(amount) AS revenue
FROM orders WHERE status <> 'cancelled'
GROUP BY date_trunc('month', order_date) ORDER BY month;

-- case: date_group_by_extract_quarter
SELECT extract(year FROM order_date) AS y, extract(quarter FROM order_date) AS q, count(*) AS n,
       round(avg(amount), 2) AS avg_amount
FROM orders GROUP BY 1, 2 ORDER BY 1, 2;

-- case: date_first_last_day_of_month
SELECT id, order_date, date_trunc('month', order_date)::date AS first_day,
       (date_trunc('month', order_date) + interval '1 month' - interval '1 day')::date AS last_day,
       (date_trunc('month', order_date) + interval '1 month')::date - order_date AS days_left
FROM orders WHERE id <= 10 ORDER BY id;

-- case: date_day_of_week_names
SELECT id, order_date, to_char(order_date, 'FMDay') AS weekday FROM orders WHERE id <= 7 ORDER BY id;
-- reference:
-- DuckDB has no to_char; dayname gives the same English weekday name.
SELECT id, order_date, dayname(order_date) AS weekday FROM orders WHERE id <= 7 ORDER BY id;

-- case: date_weekday_vs_weekend
SELECT CASE WHEN extract(dow FROM order_date) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS part,
       count(*) AS n, sum(amount) AS revenue
FROM orders GROUP BY 1 ORDER BY 1;

-- case: date_interval_times_integer
SELECT id, extract(epoch FROM interval '1 hour' * id) AS secs,
       DATE '2023-01-01' + interval '1 week' * id AS week_n,
       TIMESTAMP '2023-01-01 00:00:00' + id * interval '15 minutes' AS slot
FROM customers WHERE id <= 6 ORDER BY id;

-- case: date_to_timestamp_epoch
SELECT to_timestamp(1700000000) AS ts, to_timestamp(0) AS epoch_start,
       extract(epoch FROM to_timestamp(1700000000)) AS back;

-- case: date_to_date_parse
SELECT to_date('05/03/2023', 'DD/MM/YYYY') AS d1, to_date('2023-12-31', 'YYYY-MM-DD') AS d2;
-- reference:
-- DuckDB has no to_date; strptime parses with strftime-style codes.
SELECT strptime('05/03/2023', '%d/%m/%Y')::date AS d1, strptime('2023-12-31', '%Y-%m-%d')::date AS d2;

-- case: date_tenure_buckets
WITH t AS (
  SELECT id, name, (DATE '2024-01-01' - hired_on) / 365 AS years FROM employees
)
SELECT CASE WHEN years >= 5 THEN '5+' WHEN years >= 2 THEN '2-4' ELSE '0-1' END AS bucket,
       count(*) AS n, string_agg(name, ',' ORDER BY id) AS names
FROM t GROUP BY 1 ORDER BY 1;

-- case: date_rolling_30_days
SELECT o1.id, o1.order_date, count(o2.id) AS orders_prev_30d
FROM orders o1 LEFT JOIN orders o2
  ON o2.order_date > o1.order_date - 30 AND o2.order_date <= o1.order_date
WHERE o1.id <= 10
GROUP BY o1.id, o1.order_date ORDER BY o1.id;

-- case: date_interval_divided
-- DuckDB, dividing integers as PostgreSQL does here, cannot divide an interval: it multiplies.
SELECT id, extract(epoch FROM interval '1 hour' / 4) AS quarter_hour,
       extract(epoch FROM (interval '1 day' / id)) AS share_of_day
FROM employees WHERE id IN (1, 2, 3, 4) ORDER BY id;
-- reference:
SELECT id, extract(epoch FROM interval '1 hour' * 0.25) AS quarter_hour,
       extract(epoch FROM (interval '1 day' * (1.0 / id))) AS share_of_day
FROM employees WHERE id IN (1, 2, 3, 4) ORDER BY id
