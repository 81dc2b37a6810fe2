-- Joins: inner, outer (left, right, full), cross, USING and NATURAL, self joins, multi-way
-- joins, non-equi and expression joins, semi and anti joins, NULL keys, fan-out, and
-- outer-join filters in ON versus WHERE.

-- case: join_inner_basic
SELECT o.id, c.name, o.amount FROM orders o
INNER JOIN customers c ON c.id = o.customer_id
WHERE o.status = 'pending' ORDER BY o.id;

-- case: join_left_keeps_customers_without_orders
SELECT c.id, c.name, count(o.id) AS n_orders, sum(o.amount) AS total
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name ORDER BY c.id;

-- case: join_right
-- The order without a customer survives a RIGHT JOIN from customers.
SELECT c.name, o.id AS order_id, o.status FROM customers c
RIGHT JOIN orders o ON o.customer_id = c.id
WHERE o.status = 'cancelled' ORDER BY o.id;

-- case: join_full_outer
SELECT c.id AS customer_id, c.name, o.id AS order_id
FROM customers c FULL OUTER JOIN orders o ON o.customer_id = c.id
WHERE c.id IS NULL OR o.id IS NULL;

-- case: join_full_outer_coalesce_keys
-- Orders per month in two statuses side by side; months missing on one side stay.
SELECT coalesce(s.m, p.m) AS month, s.n AS shipped, p.n AS pending
FROM (SELECT extract(month FROM order_date)::int AS m, count(*) AS n FROM orders WHERE status = 'shipped' GROUP BY 1) s
FULL OUTER JOIN (SELECT extract(month FROM order_date)::int AS m, count(*) AS n FROM orders WHERE status = 'pending' GROUP BY 1) p
  ON s.m = p.m
ORDER BY month;

-- case: join_cross
SELECT t.tier, s.status, count(o.id) AS n
FROM (SELECT DISTINCT tier FROM customers WHERE tier IS NOT NULL) t
CROSS JOIN (SELECT DISTINCT status FROM orders) s
LEFT JOIN customers c ON c.tier = t.tier
LEFT JOIN orders o ON o.customer_id = c.id AND o.status = s.status
GROUP BY t.tier, s.status ORDER BY t.tier, s.status;

-- case: join_cross_small
SELECT a.id AS a_id, b.id AS b_id FROM nullable a CROSS JOIN nullable b
WHERE a.id < 3 AND b.id > 5 ORDER BY a.id, b.id;

-- case: join_using
SELECT order_id, line, p.name, quantity
FROM order_items oi JOIN (SELECT id AS product_id, name FROM products) p USING (product_id)
WHERE order_id <= 4 ORDER BY order_id, line;

-- case: join_using_full_outer_merged_key
-- With USING the key of a FULL JOIN is the merged column.
SELECT k, l.a_count, r.b_count
FROM (SELECT a AS k, count(*) AS a_count FROM nullable WHERE a IS NOT NULL GROUP BY a) l
FULL JOIN (SELECT b / 10 AS k, count(*) AS b_count FROM nullable WHERE b IS NOT NULL GROUP BY b / 10) r USING (k)
ORDER BY k;

-- case: join_natural
SELECT order_id, product_id, quantity, name
FROM order_items
NATURAL JOIN (SELECT id AS product_id, name, category FROM products) p
WHERE category = 'electronics' ORDER BY order_id, product_id, quantity;

-- case: join_self_manager
SELECT e.name AS employee, m.name AS manager, e.salary - m.salary AS salary_gap
FROM employees e LEFT JOIN employees m ON m.id = e.manager_id
ORDER BY e.id;

-- case: join_self_peers
-- Pairs of colleagues with the same manager, each pair once.
SELECT a.name, b.name AS peer, a.manager_id
FROM employees a JOIN employees b ON a.manager_id = b.manager_id AND a.id < b.id
ORDER BY a.manager_id, a.id, b.id;

-- case: join_self_skip_level
SELECT e.name, m.name AS manager, gm.name AS grand_manager
FROM employees e
JOIN employees m ON m.id = e.manager_id
JOIN employees gm ON gm.id = m.manager_id
ORDER BY e.id;

-- case: join_multi_way_revenue_by_country_category
SELECT c.country, coalesce(p.category, '(none)') AS category,
       sum(oi.quantity * oi.unit_price) AS revenue, count(DISTINCT o.id) AS orders
FROM orders o
JOIN customers c ON c.id = o.customer_id
JOIN order_items oi ON oi.order_id = o.id
JOIN products p ON p.id = oi.product_id
WHERE o.status <> 'cancelled'
GROUP BY c.country, coalesce(p.category, '(none)')
ORDER BY c.country, category;

-- case: join_multi_way_left_chain
SELECT c.name, o.id AS order_id, oi.line, p.name AS product
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id AND o.order_date < DATE '2023-03-01'
LEFT JOIN order_items oi ON oi.order_id = o.id
LEFT JOIN products p ON p.id = oi.product_id
WHERE c.country IN ('DE', 'FR')
ORDER BY c.id, o.id, oi.line;

-- case: join_non_equi_between
-- Classify orders into amount bands from a band table.
SELECT o.id, o.amount, b.band
FROM orders o
JOIN (VALUES ('small', 0, 100), ('medium', 100, 300), ('large', 300, 1000)) AS b(band, lo, hi)
  ON o.amount >= b.lo AND o.amount < b.hi
WHERE o.id <= 10 ORDER BY o.id;

-- case: join_non_equi_between_dates
-- Orders placed within 200 days after the customer signed up.
SELECT c.name, o.id, o.order_date FROM customers c
JOIN orders o ON o.customer_id = c.id
  AND o.order_date BETWEEN c.signup_date AND c.signup_date + 200
ORDER BY c.name, o.id;

-- case: join_non_equi_less_than
-- For each product, how many products are cheaper.
SELECT p.id, p.name, count(q.id) AS cheaper
FROM products p LEFT JOIN products q ON q.price < p.price
GROUP BY p.id, p.name ORDER BY cheaper, p.id;

-- case: join_on_expression
SELECT o.id, o.order_date, c.name
FROM orders o JOIN customers c
  ON extract(month FROM o.order_date) = extract(month FROM c.signup_date)
ORDER BY o.id, c.name;

-- case: join_on_lower_expression
SELECT e.name, lower(e.email) AS email, p.name AS product
FROM employees e JOIN products p ON lower(substr(e.name, 1, 1)) = lower(substr(p.name, 1, 1))
ORDER BY e.id, p.id;

-- case: join_condition_with_or
SELECT e.id, e.name, x.name AS related
FROM employees e
JOIN employees x ON (x.manager_id = e.id OR x.id = e.manager_id)
WHERE e.department = 'sales'
ORDER BY e.id, x.id;

-- case: join_anti_left_is_null
SELECT p.id, p.name FROM products p
LEFT JOIN order_items oi ON oi.product_id = p.id AND oi.quantity >= 4
WHERE oi.product_id IS NULL ORDER BY p.id;

-- case: join_anti_not_exists
SELECT c.id, c.name FROM customers c
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'shipped')
ORDER BY c.id;

-- case: join_semi_exists
SELECT p.id, p.name FROM products p
WHERE EXISTS (SELECT 1 FROM order_items oi JOIN orders o ON o.id = oi.order_id
              WHERE oi.product_id = p.id AND o.customer_id = 7)
ORDER BY p.id;

-- case: join_semi_in_no_duplicates
-- IN does not multiply rows; the equivalent join would.
SELECT c.id, c.name FROM customers c
WHERE c.id IN (SELECT customer_id FROM orders WHERE amount > 400)
ORDER BY c.id;

-- case: join_null_keys_never_match
SELECT l.id AS left_id, r.id AS right_id, l.a
FROM nullable l JOIN nullable r ON l.a = r.a
ORDER BY l.id, r.id;

-- case: join_null_keys_left_join
SELECT l.id, l.a, r.id AS match_id
FROM nullable l LEFT JOIN nullable r ON r.b = l.a * 10
ORDER BY l.id, r.id;

-- case: join_null_keys_is_not_distinct_from
SELECT l.id AS left_id, r.id AS right_id
FROM nullable l JOIN nullable r ON l.s IS NOT DISTINCT FROM r.s AND l.id < r.id
ORDER BY l.id, r.id;

-- case: join_aggregate_per_product
SELECT p.category, p.name, count(oi.order_id) AS lines, coalesce(sum(oi.quantity), 0) AS units
FROM products p LEFT JOIN order_items oi ON oi.product_id = p.id
GROUP BY p.category, p.name, p.id
ORDER BY units DESC, p.id;

-- case: join_outer_filter_in_on
-- The status filter in ON keeps every customer.
SELECT c.id, count(o.id) AS shipped_orders
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.status = 'shipped'
GROUP BY c.id ORDER BY c.id;

-- case: join_outer_filter_in_where
-- The same filter in WHERE drops the customers without a shipped order.
SELECT c.id, count(o.id) AS shipped_orders
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
WHERE o.status = 'shipped'
GROUP BY c.id ORDER BY c.id;

-- case: join_derived_table
SELECT c.name, c.tier, t.total, t.total / c.credit_limit AS utilisation
FROM customers c
JOIN (SELECT customer_id, sum(amount) AS total FROM orders WHERE status <> 'cancelled' GROUP BY customer_id) t
  ON t.customer_id = c.id
ORDER BY c.id;

-- case: join_date_range
-- Events joined to the two-hour slot that contains them.
SELECT s.slot_start, count(e.id) AS n_events, count(DISTINCT e.user_id) AS users
FROM (SELECT TIMESTAMP '2023-03-01 08:00:00' + (n * INTERVAL '2 hours') AS slot_start
      FROM generate_series(0, 5) AS g(n)) s
LEFT JOIN events e ON e.ts >= s.slot_start AND e.ts < s.slot_start + INTERVAL '2 hours'
GROUP BY s.slot_start ORDER BY s.slot_start;

-- case: join_duplicate_keys_fan_out
-- Joining two tables on a key duplicated in both multiplies rows.
SELECT a.product_id, count(*) AS pairs
FROM order_items a JOIN order_items b ON a.product_id = b.product_id
GROUP BY a.product_id ORDER BY a.product_id;

-- case: join_fan_out_sum_trap
-- Summing order amounts after joining items counts each order once per line.
SELECT o.customer_id, sum(o.amount) AS inflated, count(*) AS rows_joined,
       (SELECT sum(amount) FROM orders o2 WHERE o2.customer_id = o.customer_id) AS true_total
FROM orders o JOIN order_items oi ON oi.order_id = o.id
WHERE o.customer_id IN (1, 2, 3)
GROUP BY o.customer_id ORDER BY o.customer_id;

-- case: join_multiple_conditions_and_filter
SELECT o.id, oi.line, p.name, oi.quantity * oi.unit_price AS line_total
FROM orders o
JOIN order_items oi ON oi.order_id = o.id AND oi.quantity > 1
JOIN products p ON p.id = oi.product_id AND p.price > 10
WHERE o.status = 'shipped'
ORDER BY line_total DESC, o.id, oi.line;
