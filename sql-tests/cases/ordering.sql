-- ORDER BY: output aliases, ordinals, expressions, hidden columns, qualified columns
-- shadowed by an output alias of the same name, NULL placement, LIMIT/OFFSET and the
-- SQL-standard OFFSET/FETCH forms, top-n subqueries, ordering set operations and text.

-- case: ord_by_output_alias
SELECT name, credit_limit * 2 AS doubled_limit
FROM customers
WHERE credit_limit IS NOT NULL
ORDER BY doubled_limit DESC, name;

-- case: ord_by_ordinal
SELECT country, count(*) AS customers, sum(credit_limit) AS total_limit
FROM customers
GROUP BY country
ORDER BY 2 DESC, 1;

-- case: ord_by_expression
SELECT id, amount, discount
FROM orders
WHERE status = 'shipped'
ORDER BY amount * (1 - coalesce(discount, 0)) DESC, id
LIMIT 8;

-- case: ord_by_column_not_in_select_list
SELECT name, city
FROM customers
ORDER BY signup_date DESC, id;

-- case: ord_by_joined_column_not_selected
SELECT o.id, o.amount
FROM orders o
JOIN customers c ON c.id = o.customer_id
WHERE o.amount > 300
ORDER BY c.name, o.order_date DESC;

-- case: ord_shadowed_alias_qualified_desc
-- The output column `name` is lower(p.name); ORDER BY p.name sorts by the input column,
-- so 'gizmo mini' (lower-case in the table) comes first, before all capitalised names.
SELECT lower(p.name) AS name, p.id
FROM products p
ORDER BY p.name DESC;

-- case: ord_shadowed_alias_unqualified_uses_output
-- Unqualified, the same name refers to the output column: this sorts by lower(name).
SELECT lower(name) AS name, id
FROM products
ORDER BY name, id;

-- case: ord_shadowed_alias_with_join
-- `amount` in the output is negated; o.amount still sorts by the stored amount.
SELECT c.name, o.id, -o.amount AS amount
FROM orders o
JOIN customers c ON c.id = o.customer_id
WHERE c.country = 'DE'
ORDER BY o.amount, o.id;

-- case: ord_shadowed_alias_with_limit
-- Sorting by e.salary (the input), not by the "headroom" aliased to salary.
SELECT e.name, 300000 - e.salary AS salary
FROM employees e
ORDER BY e.salary DESC, e.id
LIMIT 4;

-- case: ord_alias_name_inside_expression_uses_input
-- An output name only counts on its own: inside an ORDER BY expression, `amount` is the
-- input column, so rows come back by ascending stored amount, not ascending -amount.
SELECT id, -amount AS amount
FROM orders
WHERE id <= 10
ORDER BY amount * 1, id;

-- case: ord_shadowed_alias_with_group_by
-- The output `country` is a spelled-out name, but c.country sorts by the ISO code.
SELECT CASE c.country WHEN 'AT' THEN 'Austria' WHEN 'DE' THEN 'Germany' WHEN 'ES' THEN 'Spain'
                      WHEN 'FR' THEN 'France' WHEN 'JP' THEN 'Japan' ELSE 'Portugal' END AS country,
       count(*) AS customers
FROM customers c
GROUP BY c.country
ORDER BY c.country;

-- case: ord_shadowed_alias_and_alias_both_in_order_by
-- `credit_limit` (unqualified) is the output band; c.credit_limit is the number.
SELECT c.name,
       CASE WHEN c.credit_limit >= 5000 THEN 'high' ELSE 'low' END AS credit_limit
FROM customers c
ORDER BY credit_limit, c.credit_limit DESC, c.id;

-- case: ord_shadowed_alias_group_by_aggregate_desc
-- The output `customer_id` is a text label; o.customer_id orders the groups numerically.
SELECT o.customer_id AS customer, 'n=' || count(*) AS customer_id
FROM orders o
WHERE o.customer_id IS NOT NULL
GROUP BY o.customer_id
ORDER BY o.customer_id DESC;

-- case: ord_nulls_default_asc
-- NULLs sort last ascending by default.
SELECT id, a, b FROM nullable ORDER BY a, id;

-- case: ord_nulls_default_desc
-- NULLs sort first descending by default.
SELECT id, a, b FROM nullable ORDER BY a DESC, id;

-- case: ord_nulls_first_asc
SELECT id, x FROM nullable ORDER BY x NULLS FIRST, id;

-- case: ord_nulls_last_desc
SELECT id, x FROM nullable ORDER BY x DESC NULLS LAST, id;

-- case: ord_nulls_mixed_keys
SELECT name, tier, credit_limit
FROM customers
ORDER BY tier NULLS FIRST, credit_limit DESC NULLS LAST, id;

-- case: ord_by_case_custom_order
SELECT id, status, amount
FROM orders
WHERE id <= 15
ORDER BY CASE status WHEN 'pending' THEN 1 WHEN 'shipped' THEN 2 ELSE 3 END, amount DESC, id;

-- case: ord_by_aggregate_not_selected
SELECT customer_id, count(*) AS orders
FROM orders
WHERE customer_id IS NOT NULL
GROUP BY customer_id
ORDER BY sum(amount) DESC, customer_id;

-- case: ord_limit_offset
SELECT id, amount
FROM orders
ORDER BY amount DESC, id
LIMIT 5 OFFSET 5;

-- case: ord_offset_without_limit
SELECT id, name
FROM employees
ORDER BY hired_on, id
OFFSET 9;

-- case: ord_offset_fetch_first_rows_only
SELECT id, order_date, amount
FROM orders
ORDER BY order_date, id
OFFSET 10 ROWS FETCH FIRST 5 ROWS ONLY;

-- case: ord_fetch_next_rows_only
SELECT name, salary
FROM employees
ORDER BY salary DESC, name
FETCH NEXT 3 ROWS ONLY;

-- case: ord_fetch_first_row_only
SELECT name, signup_date
FROM customers
ORDER BY signup_date, id
FETCH FIRST ROW ONLY;

-- case: ord_fetch_first_with_ties
-- Three customers share the fifth-highest credit limit (2500.00): all of them come back.
-- DuckDB's parser has no FETCH ... WITH TIES; its reference uses rank() <= 5 instead.
SELECT id, name, credit_limit
FROM (
  SELECT id, name, credit_limit
  FROM customers
  WHERE credit_limit IS NOT NULL
  ORDER BY credit_limit DESC
  FETCH FIRST 5 ROWS WITH TIES
) top_limits
ORDER BY credit_limit DESC, id;
-- reference:
SELECT id, name, credit_limit
FROM (
  SELECT id, name, credit_limit, rank() OVER (ORDER BY credit_limit DESC) AS r
  FROM customers
  WHERE credit_limit IS NOT NULL
) top_limits
WHERE r <= 5
ORDER BY credit_limit DESC, id;

-- case: ord_top_n_subquery
-- The three largest orders, then shown by date.
SELECT t.id, t.order_date, t.amount
FROM (SELECT id, order_date, amount FROM orders ORDER BY amount DESC, id LIMIT 3) t
ORDER BY t.order_date;

-- case: ord_top_n_subquery_joined
SELECT c.name, big.id, big.amount
FROM (SELECT id, customer_id, amount FROM orders WHERE customer_id IS NOT NULL
      ORDER BY amount DESC, id LIMIT 5) big
JOIN customers c ON c.id = big.customer_id
ORDER BY c.name, big.id;

-- case: ord_union_order_by_name
SELECT name FROM customers
UNION
SELECT name FROM employees
ORDER BY name;

-- case: ord_union_all_order_by_ordinal_limit
SELECT 'customer' AS kind, name, signup_date AS since FROM customers
UNION ALL
SELECT 'employee', name, hired_on FROM employees
ORDER BY 3 DESC, 2
LIMIT 6;

-- case: ord_mixed_case_strings
-- Byte order: upper-case letters before lower-case, non-ASCII after both.
SELECT name FROM products ORDER BY name;

-- case: ord_case_insensitive_with_tiebreak
SELECT name FROM products ORDER BY lower(name), name;

-- case: ord_text_empty_and_whitespace
SELECT id, phrase FROM texts ORDER BY phrase, id;

-- case: ord_distinct_order_by
SELECT DISTINCT city FROM customers ORDER BY city DESC;

-- case: ord_boolean_then_numeric
SELECT id, flag, b FROM nullable ORDER BY flag DESC NULLS LAST, b NULLS FIRST, id;

-- case: ord_by_length_then_name
SELECT name, length(name) AS len FROM employees ORDER BY length(name) DESC, name;

-- case: ord_limit_expression
SELECT id, amount FROM orders ORDER BY amount, id LIMIT 2 + 1;

-- case: ord_timestamp_desc_limit
SELECT id, user_id, ts FROM events WHERE kind = 'purchase' ORDER BY ts DESC LIMIT 4;

-- case: ord_offset_fetch_with_ties
-- WITH TIES after an OFFSET: rows ranked past the offset, up to and tying with the last one.
SELECT id, name, credit_limit
FROM (
  SELECT id, name, credit_limit
  FROM customers
  WHERE credit_limit IS NOT NULL
  ORDER BY credit_limit DESC
  OFFSET 2 ROWS FETCH FIRST 3 ROWS WITH TIES
) top_limits
ORDER BY credit_limit DESC, id;
-- reference:
SELECT id, name, credit_limit
FROM (
  SELECT id, name, credit_limit, rank() OVER (ORDER BY credit_limit DESC) AS r
  FROM customers
  WHERE credit_limit IS NOT NULL
) ranked
WHERE r <= 5
ORDER BY credit_limit DESC, id
OFFSET 2;
