-- Set operations: UNION [ALL], INTERSECT [ALL], EXCEPT [ALL], their precedence and
-- parentheses, ORDER BY/LIMIT over them, NULLs, type widening across branches, and set
-- operations inside CTEs, subqueries and over VALUES lists.

-- case: set_union_distinct
SELECT city FROM customers WHERE country = 'DE'
UNION
SELECT city FROM customers WHERE tier = 'gold';

-- case: set_union_all_keeps_duplicates
SELECT customer_id FROM orders WHERE status = 'pending'
UNION ALL
SELECT customer_id FROM orders WHERE status = 'cancelled';

-- case: set_intersect
-- Customers who both have a gold tier and placed a shipped order.
SELECT id FROM customers WHERE tier = 'gold'
INTERSECT
SELECT customer_id FROM orders WHERE status = 'shipped';

-- case: set_except
-- Customers who never ordered.
SELECT id, name FROM customers
EXCEPT
SELECT c.id, c.name FROM customers c JOIN orders o ON o.customer_id = c.id;

-- case: set_intersect_all
-- Multiset intersection: each product keeps min(count in left, count in right) copies.
-- Products bought in bulk (3+ units) and products bought in the second half of the year.
SELECT oi.product_id FROM order_items oi WHERE oi.quantity >= 3
INTERSECT ALL
SELECT oi.product_id FROM order_items oi JOIN orders o ON o.id = oi.order_id
WHERE o.order_date >= DATE '2023-07-01';

-- case: set_except_all
SELECT department FROM employees
EXCEPT ALL
SELECT department FROM employees WHERE salary >= 140000;

-- case: set_except_all_values
SELECT * FROM (VALUES (1), (1), (1), (2), (2), (3), (NULL), (NULL)) AS a(v)
EXCEPT ALL
SELECT * FROM (VALUES (1), (2), (2), (NULL)) AS b(v);

-- case: set_intersect_binds_tighter_than_union
-- INTERSECT is evaluated first: {Berlin} UNION ({Munich, Paris} INTERSECT {Paris, Lyon}).
SELECT city FROM customers WHERE id = 1
UNION
SELECT city FROM customers WHERE id IN (2, 3)
INTERSECT
SELECT city FROM customers WHERE id IN (3, 4);

-- case: set_parenthesized_union_then_intersect
-- The same three branches as above, but the UNION goes first: only Paris is left.
(SELECT city FROM customers WHERE id = 1
 UNION
 SELECT city FROM customers WHERE id IN (2, 3))
INTERSECT
SELECT city FROM customers WHERE id IN (3, 4);

-- case: set_except_then_union_left_to_right
-- UNION and EXCEPT have equal precedence and associate to the left.
SELECT country FROM customers
EXCEPT
SELECT country FROM customers WHERE tier = 'gold'
UNION
SELECT 'FR';

-- case: set_union_order_by_limit
SELECT name, salary AS amount FROM employees WHERE department = 'sales'
UNION ALL
SELECT name, credit_limit FROM customers WHERE credit_limit IS NOT NULL
ORDER BY amount DESC, name
LIMIT 5;

-- case: set_union_order_by_ordinal_desc
SELECT country AS code FROM customers
UNION
SELECT 'XX'
ORDER BY 1 DESC;

-- case: set_nulls_union_dedup
-- UNION treats NULLs as equal: a single NULL row survives.
SELECT a FROM nullable
UNION
SELECT b FROM nullable WHERE b IS NULL OR b < 10;

-- case: set_nulls_intersect_and_except
SELECT 'intersect' AS op, count(*) AS n FROM (
  SELECT a FROM nullable INTERSECT SELECT b FROM nullable
) i
UNION ALL
SELECT 'except', count(*) FROM (
  SELECT s FROM nullable EXCEPT SELECT s FROM nullable WHERE flag
) e;

-- case: set_int_and_bigint
SELECT id FROM customers WHERE id <= 3
UNION
SELECT id FROM events WHERE id BETWEEN 2 AND 5;

-- case: set_int_and_numeric
SELECT id AS v FROM products WHERE id <= 3
UNION ALL
SELECT price FROM products WHERE id <= 3
UNION ALL
SELECT 2.50;

-- case: set_int_and_double
SELECT a AS v FROM nullable
UNION
SELECT x FROM nullable;

-- case: set_in_cte
WITH contacts AS (
  SELECT name, 'customer' AS kind FROM customers
  UNION ALL
  SELECT name, 'employee' FROM employees
)
SELECT kind, count(*) AS people, min(name) AS first_name
FROM contacts
GROUP BY kind;

-- case: set_in_subquery_in
SELECT id, status, amount
FROM orders
WHERE customer_id IN (
  SELECT id FROM customers WHERE country = 'FR'
  UNION
  SELECT id FROM customers WHERE tier = 'bronze'
);

-- case: set_aggregate_over_union_all
SELECT source, count(*) AS rows_, sum(v) AS total
FROM (
  SELECT 'orders' AS source, amount AS v FROM orders
  UNION ALL
  SELECT 'items', quantity * unit_price FROM order_items
) u
GROUP BY source;

-- case: set_values_union
VALUES (1, 'one'), (2, 'two')
UNION
VALUES (2, 'two'), (3, 'three');

-- case: set_values_except_table
SELECT * FROM (VALUES ('DE'), ('FR'), ('IT'), ('US')) AS wanted(country)
EXCEPT
SELECT country FROM customers;

-- case: set_multi_column_except
SELECT country, tier FROM customers
EXCEPT
SELECT country, tier FROM customers WHERE signup_date < DATE '2022-01-01';

-- case: set_union_column_names_from_first
-- The result takes the first branch's column names; ORDER BY uses them.
SELECT name AS who, hired_on AS since FROM employees WHERE manager_id IS NULL
UNION ALL
SELECT name, signup_date FROM customers WHERE tier IS NULL
ORDER BY since, who;

-- case: set_union_with_null_literal_column
SELECT name, city, NULL AS department FROM customers WHERE country = 'ES'
UNION ALL
SELECT name, NULL, department FROM employees WHERE department = 'support';

-- case: set_intersect_in_stages
-- stage: buyers
-- Users who signed up on mobile and bought on the web.
SELECT user_id FROM events WHERE kind = 'signup' AND channel = 'mobile'
INTERSECT
SELECT user_id FROM events WHERE kind = 'purchase' AND channel = 'web';
-- stage: result
SELECT b.user_id, count(*) AS events
FROM buyers b JOIN events e ON e.user_id = b.user_id
GROUP BY b.user_id
ORDER BY b.user_id;
