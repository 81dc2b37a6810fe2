-- Subqueries: scalar subqueries (correlated and not) in SELECT, WHERE, HAVING, CASE and
-- ORDER BY; EXISTS / NOT EXISTS; IN / NOT IN (with NULLs); ANY / ALL / SOME; derived
-- tables; nested subqueries; CTEs referenced several times and chained.

-- case: sub_scalar_uncorrelated_in_select
SELECT id, amount, (SELECT max(amount) FROM orders) AS max_amount,
       (SELECT max(amount) FROM orders) - amount AS gap
FROM orders WHERE customer_id = 3 ORDER BY id;

-- case: sub_scalar_uncorrelated_in_where
SELECT id, customer_id, amount FROM orders
WHERE amount > (SELECT avg(amount) FROM orders WHERE status = 'shipped')
ORDER BY amount DESC, id;

-- case: sub_scalar_correlated_in_select
SELECT c.id, c.name,
       (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) AS n_orders,
       (SELECT sum(o.amount) FROM orders o WHERE o.customer_id = c.id) AS total
FROM customers c ORDER BY c.id;

-- case: sub_scalar_correlated_latest_order_date
SELECT c.name,
       (SELECT max(o.order_date) FROM orders o WHERE o.customer_id = c.id AND o.status <> 'cancelled') AS last_active
FROM customers c WHERE c.country IN ('DE', 'FR') ORDER BY c.name;

-- case: sub_correlated_above_customer_average
-- Orders above their own customer's average amount.
SELECT o.id, o.customer_id, o.amount FROM orders o
WHERE o.amount > (SELECT avg(o2.amount) FROM orders o2 WHERE o2.customer_id = o.customer_id)
ORDER BY o.customer_id, o.id;

-- case: sub_scalar_in_having
SELECT customer_id, count(*) AS n, sum(amount) AS total FROM orders
WHERE customer_id IS NOT NULL
GROUP BY customer_id
HAVING sum(amount) > (SELECT sum(amount) / count(DISTINCT customer_id) FROM orders)
ORDER BY total DESC, customer_id;

-- case: sub_correlated_in_having
-- Departments whose top salary is above the average salary of all other departments.
SELECT department, max(salary) AS top FROM employees e
GROUP BY department
HAVING max(salary) > (SELECT avg(salary) FROM employees e2 WHERE e2.department <> e.department)
ORDER BY department;

-- case: sub_exists_correlated
SELECT c.id, c.name FROM customers c
WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'cancelled')
ORDER BY c.id;

-- case: sub_not_exists_with_filters
-- Customers with no shipped order above 300 in the second half of 2023.
SELECT c.id, c.name FROM customers c
WHERE NOT EXISTS (
  SELECT 1 FROM orders o
  WHERE o.customer_id = c.id AND o.status = 'shipped' AND o.amount > 300
    AND o.order_date >= DATE '2023-07-01')
ORDER BY c.id;

-- case: sub_in_subquery
SELECT id, name, price FROM products
WHERE id IN (SELECT product_id FROM order_items WHERE quantity >= 4)
ORDER BY id;

-- case: sub_not_in_subquery
SELECT id, name FROM products
WHERE id NOT IN (SELECT product_id FROM order_items oi JOIN orders o ON o.id = oi.order_id
                 WHERE o.status = 'pending')
ORDER BY id;

-- case: sub_not_in_subquery_with_nulls
-- The subquery yields a NULL, so NOT IN is never true: no rows.
SELECT id, name FROM customers
WHERE id NOT IN (SELECT customer_id FROM orders WHERE status = 'cancelled');

-- case: sub_not_in_nulls_filtered
-- The usual fix: filter the NULLs out of the subquery.
SELECT id, name FROM customers
WHERE id NOT IN (SELECT customer_id FROM orders WHERE status = 'cancelled' AND customer_id IS NOT NULL)
ORDER BY id;

-- case: sub_in_with_null_outer
-- NULL IN (...) is NULL; NOT (NULL IN ...) too, so row 3, 4 and 7 are neither.
SELECT id, a,
       a IN (SELECT b FROM nullable WHERE b IS NOT NULL) AS a_in_b,
       a IN (SELECT a FROM nullable WHERE id > 4) AS a_in_later
FROM nullable ORDER BY id;

-- case: sub_eq_any
SELECT id, name, salary FROM employees
WHERE salary = ANY (SELECT salary FROM employees WHERE department = 'sales')
ORDER BY id;

-- case: sub_gt_all
SELECT id, name, salary FROM employees
WHERE salary > ALL (SELECT salary FROM employees WHERE department = 'sales')
ORDER BY salary DESC, id;

-- case: sub_lt_some
SELECT id, name, price FROM products
WHERE price < SOME (SELECT unit_price FROM order_items WHERE quantity = 1)
ORDER BY price, id;

-- case: sub_gt_all_with_null
-- ALL over a set containing NULL is never true when no value fails: it is NULL.
SELECT id, b,
       b > ALL (SELECT b FROM nullable WHERE id IN (1, 2)) AS gt_all_with_null,
       b > ALL (SELECT b FROM nullable WHERE id IN (1, 5)) AS gt_all
FROM nullable ORDER BY id;

-- case: sub_derived_table_aggregate
SELECT t.status, t.n, t.total, round(t.total / t.n, 2) AS avg_amount
FROM (SELECT status, count(*) AS n, sum(amount) AS total FROM orders GROUP BY status) AS t
ORDER BY t.status;

-- case: sub_derived_table_joined
SELECT c.name, s.n_orders, s.last_order
FROM customers c
JOIN (SELECT customer_id, count(*) AS n_orders, max(order_date) AS last_order
      FROM orders GROUP BY customer_id) s ON s.customer_id = c.id
WHERE s.n_orders >= 4
ORDER BY s.n_orders DESC, c.name;

-- case: sub_in_case
SELECT c.id, c.name,
       CASE WHEN c.id IN (SELECT customer_id FROM orders WHERE status = 'pending') THEN 'has pending'
            WHEN EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) THEN 'all settled'
            ELSE 'no orders' END AS state,
       CASE WHEN (SELECT count(*) FROM orders o WHERE o.customer_id = c.id) > 3 THEN 'frequent' ELSE 'occasional' END AS freq
FROM customers c ORDER BY c.id;

-- case: sub_nested_two_levels
-- Customers who bought a product from the most expensive category's products.
SELECT DISTINCT o.customer_id FROM orders o
WHERE o.customer_id IS NOT NULL AND o.id IN (
  SELECT oi.order_id FROM order_items oi
  WHERE oi.product_id IN (
    SELECT p.id FROM products p
    WHERE p.category = (SELECT category FROM products ORDER BY price DESC, id LIMIT 1)))
ORDER BY o.customer_id;

-- case: sub_nested_correlated_two_levels
-- deviation: a subquery reading a column two query levels out is refused by check; join the table in the middle subquery instead
-- Customers whose largest order is bigger than the largest order in their country overall minus 50.
SELECT c.id, c.name, c.country FROM customers c
WHERE (SELECT max(o.amount) FROM orders o WHERE o.customer_id = c.id) >
      (SELECT max(o2.amount) - 50 FROM orders o2
       WHERE o2.customer_id IN (SELECT c2.id FROM customers c2 WHERE c2.country = c.country))
ORDER BY c.id;

-- case: sub_correlated_two_outer_columns
-- Employees paid the most in their department among those hired in the same year or earlier.
SELECT e.id, e.name, e.department, e.salary FROM employees e
WHERE e.salary >= (SELECT max(e2.salary) FROM employees e2
                   WHERE e2.department = e.department AND e2.hired_on <= e.hired_on)
ORDER BY e.id;

-- case: sub_correlated_two_outer_columns_count
SELECT o.id, o.customer_id, o.status,
       (SELECT count(*) FROM orders o2
        WHERE o2.customer_id = o.customer_id AND o2.status = o.status) AS same_status_orders
FROM orders o WHERE o.id <= 12 ORDER BY o.id;

-- case: sub_scalar_no_rows_is_null
SELECT c.id, c.name,
       (SELECT o.amount FROM orders o WHERE o.customer_id = c.id ORDER BY o.amount DESC, o.id LIMIT 1) AS biggest,
       (SELECT max(amount) FROM orders WHERE amount > 10000) AS none
FROM customers c WHERE c.id IN (4, 11, 12) ORDER BY c.id;

-- case: sub_scalar_coalesce_no_rows
SELECT c.id, coalesce((SELECT sum(o.amount) FROM orders o WHERE o.customer_id = c.id), 0) AS total
FROM customers c ORDER BY total, c.id;

-- case: sub_in_order_by
SELECT p.id, p.name FROM products p
ORDER BY (SELECT coalesce(sum(oi.quantity), 0) FROM order_items oi WHERE oi.product_id = p.id) DESC, p.id;

-- case: sub_cte_used_twice
WITH totals AS (
  SELECT customer_id, sum(amount) AS total FROM orders
  WHERE customer_id IS NOT NULL GROUP BY customer_id)
SELECT t.customer_id, t.total,
       t.total - (SELECT avg(total) FROM totals) AS vs_avg
FROM totals t
WHERE t.total > (SELECT min(total) FROM totals) * 2
ORDER BY t.customer_id;

-- case: sub_cte_self_join
WITH monthly AS (
  SELECT extract(month FROM order_date)::int AS m, sum(amount) AS total FROM orders GROUP BY 1)
SELECT cur.m, cur.total, prev.total AS prev_total, cur.total - prev.total AS change
FROM monthly cur LEFT JOIN monthly prev ON prev.m = cur.m - 1
ORDER BY cur.m;

-- case: sub_cte_chain
WITH shipped AS (
  SELECT * FROM orders WHERE status = 'shipped'),
per_customer AS (
  SELECT customer_id, count(*) AS n, sum(amount) AS total FROM shipped GROUP BY customer_id),
ranked AS (
  SELECT pc.*, c.name, c.country FROM per_customer pc JOIN customers c ON c.id = pc.customer_id)
SELECT country, count(*) AS customers, sum(n) AS orders, sum(total) AS total
FROM ranked GROUP BY country ORDER BY total DESC, country;

-- case: sub_cte_with_exists
WITH big_items AS (
  SELECT order_id, product_id FROM order_items WHERE quantity * unit_price > 50)
SELECT p.id, p.name,
       EXISTS (SELECT 1 FROM big_items b WHERE b.product_id = p.id) AS sold_big
FROM products p ORDER BY p.id;
