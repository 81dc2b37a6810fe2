-- NULL semantics: three-valued logic, IS [NOT] NULL / DISTINCT FROM / TRUE / UNKNOWN,
-- COALESCE and NULLIF, NULLs in IN / NOT IN, aggregates, arithmetic, concatenation, joins,
-- GREATEST/LEAST, CASE, ordering, DISTINCT and GROUP BY.

-- case: null_where_comparison_drops_unknown
-- Rows where the comparison is NULL are filtered out just like false ones.
SELECT id, a, b FROM nullable WHERE a < b;

-- case: null_where_not_of_unknown_still_unknown
-- NOT (NULL) is NULL: rows with a NULL a match neither the condition nor its negation.
SELECT id, a FROM nullable WHERE NOT (a > 1);

-- case: null_and_or_truth_table
SELECT id, flag,
       flag AND a > 1 AS and_result,
       flag OR a > 1 AS or_result,
       NOT flag AS not_flag,
       flag AND NULL AS and_null,
       flag OR NULL AS or_null
FROM nullable
ORDER BY id;

-- case: null_case_when_unknown_goes_to_else
SELECT id,
       CASE WHEN a > 1 THEN 'big' WHEN a <= 1 THEN 'small' ELSE 'unknown' END AS size,
       CASE WHEN NOT (a > 1) THEN 'not big' ELSE 'big or unknown' END AS negated
FROM nullable;

-- case: null_simple_case_never_matches_null
-- CASE s WHEN NULL compares with =, which is never true; the searched form works.
SELECT id,
       CASE s WHEN NULL THEN 'null' WHEN '' THEN 'empty' ELSE 'other' END AS simple_form,
       CASE WHEN s IS NULL THEN 'null' WHEN s = '' THEN 'empty' ELSE 'other' END AS searched_form,
       CASE WHEN a > 1 THEN 'big' END AS no_else
FROM nullable;

-- case: null_is_null_counts
SELECT count(*) FILTER (WHERE city IS NULL) AS no_city,
       count(*) FILTER (WHERE tier IS NULL) AS no_tier,
       count(*) FILTER (WHERE tier IS NOT NULL AND credit_limit IS NOT NULL) AS complete,
       count(*) FILTER (WHERE tier = NULL) AS equals_null
FROM customers;

-- case: null_is_distinct_from
SELECT id, a, b,
       a IS DISTINCT FROM b AS distinct_ab,
       a IS NOT DISTINCT FROM b AS same_ab,
       a <> b AS ne_ab,
       a = b AS eq_ab
FROM nullable;

-- case: null_is_distinct_from_in_where
-- Rows whose s differs from 'a', NULLs included.
SELECT id, s FROM nullable WHERE s IS DISTINCT FROM 'a';

-- case: null_coalesce
SELECT id,
       coalesce(a, b) AS a_or_b,
       coalesce(a, b, -1) AS a_or_b_or_default,
       coalesce(s, '(none)') AS s_label,
       coalesce(x, 0) + 1 AS x_plus_one
FROM nullable;

-- case: null_nullif
-- NULLIF guards a division and turns empty strings into NULLs.
SELECT id,
       b / nullif(a - 2, 0) AS ratio,
       nullif(s, '') AS s_or_null,
       coalesce(nullif(s, ''), '(blank)') AS s_display
FROM nullable;

-- case: null_in_list_with_null
-- a IN (1, NULL) is true for 1 and NULL (never false) for every other value.
SELECT id, a,
       a IN (1, NULL) AS in_list,
       a NOT IN (1, NULL) AS not_in_list,
       a IN (1, 2) AS in_plain
FROM nullable;

-- case: null_not_in_subquery_with_null
-- orders.customer_id has a NULL, so NOT IN finds nobody; NOT EXISTS finds customer 11.
SELECT (SELECT count(*) FROM customers c
         WHERE c.id NOT IN (SELECT o.customer_id FROM orders o)) AS not_in_count,
       (SELECT count(*) FROM customers c
         WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)) AS not_exists_count,
       (SELECT count(*) FROM customers c
         WHERE c.id NOT IN (SELECT o.customer_id FROM orders o WHERE o.customer_id IS NOT NULL))
         AS not_in_filtered_count;

-- case: null_in_subquery_with_null
-- The subquery returns a NULL customer_id (order 40); IN still finds the others.
SELECT id, name FROM customers
WHERE id IN (SELECT customer_id FROM orders WHERE amount > 300)
ORDER BY id;

-- case: null_any_all_with_null
SELECT id, a,
       a > ALL (SELECT b FROM nullable WHERE id IN (1, 2)) AS gt_all,
       a < ANY (SELECT b FROM nullable WHERE id IN (1, 2)) AS lt_any
FROM nullable;

-- case: null_aggregates_skip_nulls
SELECT count(*) AS rows_, count(a) AS count_a, count(x) AS count_x,
       sum(a) AS sum_a, avg(a) AS avg_a, min(x) AS min_x, max(s) AS max_s,
       avg(coalesce(a, 0)) AS avg_a_nulls_as_zero
FROM nullable;

-- case: null_sum_of_all_nulls
-- sum/avg/max over only NULLs is NULL; count is 0.
SELECT sum(b) AS sum_b, avg(b) AS avg_b, max(b) AS max_b, count(b) AS count_b,
       coalesce(sum(b), 0) AS sum_b_or_zero, count(*) AS rows_, sum(a) AS sum_a
FROM nullable
WHERE b IS NULL;

-- case: null_arithmetic
SELECT id, a + b AS plus, a * 0 AS times_zero, b - a AS minus, x / 2 AS half_x, -a AS neg,
       abs(x) AS abs_x
FROM nullable;

-- case: null_concatenation
-- || yields NULL when any side is NULL; concat() and concat_ws() skip NULLs.
SELECT id,
       s || '-' || a AS piped,
       concat(s, '-', a) AS concatenated,
       concat_ws('/', s, a, b) AS with_separator,
       length(s) AS len,
       upper(s) AS up
FROM nullable;

-- case: null_join_keys_do_not_match
SELECT l.id AS left_id, r.id AS right_id, l.a
FROM nullable l
JOIN nullable r ON l.a = r.a AND l.id < r.id;

-- case: null_join_is_not_distinct_from
SELECT l.id AS left_id, r.id AS right_id, l.a
FROM nullable l
JOIN nullable r ON l.a IS NOT DISTINCT FROM r.a AND l.id < r.id;

-- case: null_left_join_unmatched
SELECT c.id, c.name, count(o.id) AS orders, count(*) AS joined_rows,
       coalesce(sum(o.amount), 0) AS spent
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name
HAVING count(o.id) < 3;

-- case: null_greatest_least
-- GREATEST and LEAST ignore NULL arguments; all-NULL gives NULL.
SELECT id, greatest(a, b) AS g, least(a, b) AS l, greatest(a, b, 7) AS g7, least(x, 1.0) AS lx
FROM nullable;

-- case: null_is_true_false_unknown
SELECT id, flag,
       flag IS TRUE AS is_true,
       flag IS NOT TRUE AS is_not_true,
       flag IS FALSE AS is_false,
       flag IS NOT FALSE AS is_not_false,
       flag IS UNKNOWN AS is_unknown,
       (a > 1) IS NOT UNKNOWN AS known_comparison
FROM nullable;

-- case: null_is_not_false_in_where
SELECT id FROM nullable WHERE flag IS NOT FALSE;

-- case: null_between
SELECT id, a, b, x,
       x BETWEEN -1 AND 2 AS x_in_range,
       a BETWEEN b AND 10 AS a_between_b_and_10
FROM nullable;

-- case: null_ordering_nulls_first_text
SELECT id, s
FROM nullable
ORDER BY s NULLS FIRST, id;

-- case: null_distinct_keeps_one_null
SELECT DISTINCT a FROM nullable;

-- case: null_count_distinct_ignores_null
SELECT count(DISTINCT a) AS distinct_a, count(DISTINCT s) AS distinct_s,
       count(DISTINCT flag) AS distinct_flag
FROM nullable;

-- case: null_group_by_single_null_group
SELECT s, count(*) AS n, sum(b) AS sum_b
FROM nullable
GROUP BY s;

-- case: null_empty_string_is_not_null
SELECT id,
       s = '' AS is_empty,
       s IS NULL AS is_null,
       coalesce(s, 'NULL') AS shown
FROM nullable
WHERE s = '' OR s IS NULL;

-- case: null_bool_aggregates
SELECT bool_and(flag) AS all_true, bool_or(flag) AS any_true, count(flag) AS known,
       bool_and(flag) FILTER (WHERE id <= 2) AS first_two
FROM nullable;

-- case: null_array_agg_keeps_nulls
SELECT array_agg(a ORDER BY id) AS a_values, array_agg(s ORDER BY id) AS s_values
FROM nullable;

-- case: null_typed_null_literals
SELECT CAST(NULL AS integer) + 1 AS int_sum,
       CAST(NULL AS text) IS NULL AS text_null,
       NULL::date IS NULL AS date_null,
       coalesce(CAST(NULL AS numeric), 2.5) AS fallback;
