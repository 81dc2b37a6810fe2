-- Casts between numeric types, to and from text, dates and timestamps, with CAST(... AS ...)
-- and the PostgreSQL :: shorthand: rounding rules, text formatting of numbers and temporal
-- values, implicit casts in || concatenation, and casts inside expressions and aggregates.

-- case: cast_double_to_integer_rounds
-- PostgreSQL rounds a double to the nearest integer when casting (2.7 -> 3, -2.7 -> -3).
SELECT 2.7::double precision::integer AS a, (-2.7)::double precision::integer AS b,
       CAST(2.2::double precision AS INTEGER) AS c, CAST(-2.2::double precision AS INTEGER) AS d;

-- case: cast_numeric_to_integer_half_away_from_zero
-- numeric to integer rounds halves away from zero.
SELECT 2.5::numeric::integer AS a, (-2.5)::numeric::integer AS b, 3.5::numeric::int AS c,
       0.49::numeric::int AS d, CAST(7.51 AS INTEGER) AS e;

-- case: cast_decimal_column_to_integer
SELECT id, amount, amount::integer AS whole, CAST(amount AS BIGINT) AS whole_big
FROM orders WHERE id <= 8 ORDER BY id;

-- case: cast_double_column_to_integer
SELECT id, x, x::int AS xi, CAST(x * 10 AS INTEGER) AS x10 FROM nullable ORDER BY id;

-- case: cast_double_to_numeric_scale
-- Rounding a double into numeric(p,s).
SELECT id, weight_kg, weight_kg::numeric(6,1) AS w1, CAST(weight_kg * 2.718 AS NUMERIC(8,2)) AS w2
FROM products ORDER BY id;

-- case: cast_integer_to_double_division
-- Casting to double avoids integer division.
SELECT id, salary, salary / 7 AS int_div, salary::double precision / 7 AS real_div,
       CAST(salary AS DOUBLE PRECISION) / 1000 AS thousands
FROM employees ORDER BY id;

-- case: cast_text_to_numbers
SELECT '42'::integer + 1 AS i, CAST('  17 ' AS INTEGER) AS padded, '3.14159'::numeric(6,3) AS n,
       '2.5e3'::double precision AS d, CAST('-0.125' AS DOUBLE PRECISION) AS neg,
       '9000000000'::bigint AS big;

-- case: cast_text_to_date_and_timestamp
SELECT '2023-01-05'::date AS d, CAST('2023-01-05' AS DATE) + 30 AS d30,
       '2023-03-01 14:30:00'::timestamp AS ts, CAST('2023-03-01 14:30:00.25' AS TIMESTAMP) AS ts_frac;

-- case: cast_text_to_boolean
SELECT 'true'::boolean AS a, 't'::boolean AS b, CAST('false' AS BOOLEAN) AS c, 'f'::boolean AS d,
       '1'::boolean AS e, '0'::boolean AS f, 'yes'::boolean AS g, 'no'::boolean AS h;

-- case: cast_numbers_to_text
SELECT 42::text AS i, (-7)::text AS neg, 1.50::text AS n, CAST(0.05 AS TEXT) AS small,
       2.5::double precision::text AS d, CAST(9000000000 AS TEXT) AS big;

-- case: cast_decimal_column_to_text_keeps_scale
SELECT id, price::text AS price_text, CAST(price AS VARCHAR) AS price_varchar,
       length(price::text) AS len
FROM products ORDER BY id;

-- case: cast_timestamp_to_text
-- PostgreSQL writes a space between date and time, never 'T'.
SELECT id, ordered_at::text AS ts_text, CAST(ordered_at AS VARCHAR) AS ts_varchar
FROM orders WHERE id IN (1, 10, 24, 40) ORDER BY id;

-- case: cast_timestamp_fraction_to_text
SELECT CAST(TIMESTAMP '2023-01-01 02:11:59.5' AS TEXT) AS half,
       (TIMESTAMP '2023-01-01 02:11:59.125')::text AS millis,
       (TIMESTAMP '2023-01-01 00:00:00')::text AS midnight;

-- case: cast_date_and_boolean_to_text
SELECT id, hired_on::text AS hired, CAST(hired_on AS VARCHAR) AS hired_v,
       (salary > 120000)::text AS senior
FROM employees ORDER BY id;

-- case: cast_concat_implicit_text
-- || casts the non-text side to text.
SELECT id, 'order ' || id || ' on ' || order_date || ' for ' || amount AS label,
       'at ' || ordered_at AS at_label
FROM orders WHERE id <= 5 ORDER BY id;

-- case: cast_concat_with_null
SELECT id, 'a=' || a AS a_label, s || '-' || b::text AS sb, coalesce(a::text, 'none') AS a_text
FROM nullable ORDER BY id;

-- case: cast_sum_to_int
SELECT status, sum(amount)::int AS total_int, CAST(sum(amount) AS BIGINT) AS total_big,
       avg(amount)::int AS avg_int
FROM orders GROUP BY status ORDER BY status;

-- case: cast_count_to_double_ratio
SELECT customer_id, count(*) AS n,
       round((count(*)::numeric / (SELECT count(*) FROM orders)) * 100, 2) AS pct,
       count(*)::double precision / 40 AS frac
FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY customer_id;

-- case: cast_bigint_arithmetic
SELECT id, CAST(salary AS BIGINT) * 100000 AS big_product, salary::bigint * salary AS squared
FROM employees WHERE id <= 4 ORDER BY id;

-- case: cast_null_values
SELECT CAST(NULL AS INTEGER) AS i, NULL::text AS t, CAST(NULL AS DATE) AS d,
       NULL::numeric(10,2) AS n, CAST(NULL AS BOOLEAN) IS NULL AS is_null;

-- case: cast_null_column_through_types
SELECT id, b::bigint AS b_big, b::numeric(5,1) AS b_num, b::text AS b_text, flag::text AS flag_text
FROM nullable ORDER BY id;

-- case: cast_round_trunc_then_int
SELECT id, amount, round(amount)::int AS r, trunc(amount)::int AS t,
       round(amount, -2)::int AS hundreds, round(amount / 3, 1) AS third
FROM orders WHERE id BETWEEN 1 AND 10 ORDER BY id;

-- case: cast_numeric_scales
SELECT 1.5::numeric(5,2)::text AS a, 1.005::numeric(5,2) AS b, 1.004::numeric(5,2) AS c,
       CAST(123.456 AS NUMERIC(6,1)) AS d, CAST(-123.456 AS NUMERIC(6,1)) AS e,
       CAST(2.5 AS NUMERIC(5,0)) AS f;

-- case: cast_decimal_mixed_scale_arithmetic
SELECT id, price, weight_kg, price * 2.5 AS scaled, price + 0.005 AS plus,
       (price * quantity)::numeric(12,2) AS line_total
FROM products p JOIN (SELECT product_id, sum(quantity) AS quantity FROM order_items GROUP BY product_id) q
  ON q.product_id = p.id
ORDER BY id;

-- case: cast_date_to_timestamp
SELECT id, CAST(hired_on AS TIMESTAMP) AS hired_ts, hired_on::timestamp + interval '9 hours' AS first_day_9am
FROM employees ORDER BY id;

-- case: cast_timestamp_to_date_group
SELECT ts::date AS day, count(*) AS n, CAST(min(ts) AS DATE) = ts::date AS same_day,
       max(ts)::date::text AS last_text
FROM events GROUP BY ts::date ORDER BY day;

-- case: cast_events_day_totals
SELECT CAST(ts AS DATE) AS day, kind, count(*) AS n, sum(value)::int AS total
FROM events GROUP BY CAST(ts AS DATE), kind ORDER BY day, kind;

-- case: cast_text_ids_join
-- Joining a text key to an integer key after a cast.
WITH labels AS (SELECT '3' AS k, 'third' AS label UNION ALL SELECT '7', 'seventh' UNION ALL SELECT '12', 'twelfth')
SELECT c.id, c.name, l.label FROM customers c JOIN labels l ON l.k::int = c.id ORDER BY c.id;

-- case: cast_extract_digits_to_int
SELECT id, phrase, split_part(phrase, '-', 2)::int AS year, split_part(phrase, '-', 3)::int AS seq
FROM texts WHERE id = 6;

-- case: cast_where_comparison
SELECT id, name, credit_limit FROM customers
WHERE credit_limit::int >= 2500 AND CAST(signup_date AS TEXT) < '2023-01-01'
ORDER BY id;

-- case: cast_case_result_types
SELECT id, CASE WHEN a IS NULL THEN 'missing' ELSE a::text END AS a_text,
       CASE WHEN x > 0 THEN x::numeric(6,2) ELSE 0 END AS pos_x
FROM nullable ORDER BY id;

-- case: cast_boolean_to_int_sum
SELECT department, sum((salary >= 120000)::int) AS high_paid, count(*) AS n
FROM employees GROUP BY department ORDER BY department;

-- case: cast_double_halves_round_to_even
-- A double precision half rounds to the even integer, as C's rint does.
SELECT CAST(2.5::double precision AS INTEGER) AS a, CAST(3.5::double precision AS INTEGER) AS b,
       CAST(-2.5::double precision AS INTEGER) AS c, (0.5::double precision)::bigint AS d,
       CAST(1.5::real AS SMALLINT) AS e;

-- case: cast_interval_to_text
-- PostgreSQL's interval text; DuckDB writes 'months' for 'mons', so its answer is given.
SELECT CAST(interval '1 day 2 hours' AS TEXT) AS a, (interval '36 hours')::text AS b,
       (interval '2 years 3 months')::text AS c, (interval '90 seconds')::text AS d,
       CAST(interval '1 hour' * 2.5 AS VARCHAR) AS e,
       (interval '-1 day' + interval '2 hours')::text AS f;
-- reference:
SELECT '1 day 02:00:00', '36:00:00', '2 years 3 mons', '00:01:30', '02:30:00', '-1 days +02:00:00'

-- case: cast_double_to_text_forms
-- PostgreSQL writes a whole double without a fraction ('123456'); DuckDB adds '.0', so
-- PostgreSQL's answer is given.
SELECT 1e20::double precision::text AS big, 0.1::double precision::text AS tenth,
       1.5e-7::double precision::text AS tiny, (-2.25)::double precision::text AS neg,
       123456.0::double precision::text AS whole, 'NaN'::double precision::text AS nan;
-- reference:
SELECT '1e+20', '0.1', '1.5e-07', '-2.25', '123456', 'NaN'

-- case: cast_time_and_timestamptz_to_text
SELECT CAST(TIME '01:02:03.5' AS TEXT) AS t, CAST(TIMESTAMPTZ '2023-01-01 02:11:59+00' AS TEXT) AS tz,
       'at ' || TIMESTAMP '2023-06-30 23:59:59.25' AS concatenated;
