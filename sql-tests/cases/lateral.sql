-- LATERAL derived tables: top-n per group, LEFT JOIN LATERAL keeping unmatched rows,
-- lateral aggregates, non-equality correlations, lateral set-returning functions and
-- chained laterals.

-- case: lat_top1_latest_order_per_customer
SELECT c.id, c.name, o.id AS order_id, o.order_date, o.amount
FROM customers c
CROSS JOIN LATERAL (
  SELECT id, order_date, amount FROM orders
  WHERE orders.customer_id = c.id ORDER BY order_date DESC, id DESC LIMIT 1) o
ORDER BY c.id;

-- case: lat_top3_orders_by_amount
SELECT c.id, c.name, o.id AS order_id, o.amount
FROM customers c
CROSS JOIN LATERAL (
  SELECT id, amount FROM orders WHERE orders.customer_id = c.id
  ORDER BY amount DESC, id LIMIT 3) o
WHERE c.country = 'DE'
ORDER BY c.id, o.amount DESC, o.id;

-- case: lat_top2_items_per_order_ties_by_id
-- Quantities tie often; ties go to the lower product id.
SELECT o.id AS order_id, i.product_id, i.quantity
FROM orders o
CROSS JOIN LATERAL (
  SELECT oi.product_id, oi.quantity FROM order_items oi
  WHERE oi.order_id = o.id ORDER BY oi.quantity DESC, oi.product_id LIMIT 2) i
WHERE o.id BETWEEN 1 AND 12
ORDER BY o.id, i.quantity DESC, i.product_id;

-- case: lat_top2_events_per_user_by_value
SELECT u.user_id, e.id, e.kind, e.value
FROM (SELECT DISTINCT user_id FROM events) u
CROSS JOIN LATERAL (
  SELECT id, kind, value FROM events ev WHERE ev.user_id = u.user_id AND ev.value IS NOT NULL
  ORDER BY ev.value DESC, ev.id LIMIT 2) e
ORDER BY u.user_id, e.value DESC, e.id;

-- case: lat_top3_highest_paid_reports
SELECT m.name AS manager, r.name AS report, r.salary
FROM employees m
CROSS JOIN LATERAL (
  SELECT name, salary, id FROM employees e WHERE e.manager_id = m.id
  ORDER BY salary DESC, id LIMIT 3) r
ORDER BY m.id, r.salary DESC, r.id;

-- case: lat_left_join_keeps_unmatched
SELECT c.id, c.name, o.id AS first_order, o.order_date
FROM customers c
LEFT JOIN LATERAL (
  SELECT id, order_date FROM orders WHERE orders.customer_id = c.id
  ORDER BY order_date, id LIMIT 1) o ON true
ORDER BY c.id;

-- case: lat_left_join_filtered_inner
-- Only pending orders count; customers without one keep a NULL row.
SELECT c.id, o.id AS pending_order, o.amount
FROM customers c
LEFT JOIN LATERAL (
  SELECT id, amount FROM orders
  WHERE orders.customer_id = c.id AND status = 'pending' ORDER BY amount DESC, id LIMIT 2) o ON true
ORDER BY c.id, o.amount DESC, o.id;

-- case: lat_aggregate
SELECT c.id, c.name, s.n, s.total, s.biggest
FROM customers c,
LATERAL (SELECT count(*) AS n, sum(amount) AS total, max(amount) AS biggest
         FROM orders o WHERE o.customer_id = c.id) s
ORDER BY c.id;

-- case: lat_aggregate_items_per_order
SELECT o.id, o.status, t.lines, t.units, t.value
FROM orders o
CROSS JOIN LATERAL (
  SELECT count(*) AS lines, coalesce(sum(quantity), 0) AS units, sum(quantity * unit_price) AS value
  FROM order_items oi WHERE oi.order_id = o.id) t
WHERE o.id <= 15
ORDER BY o.id;

-- case: lat_two_outer_columns
-- Other employees in the same department who earn less, at most two.
SELECT e.name, x.name AS earns_less, x.salary
FROM employees e
CROSS JOIN LATERAL (
  SELECT e2.name, e2.salary, e2.id FROM employees e2
  WHERE e2.department = e.department AND e2.salary < e.salary
  ORDER BY e2.salary DESC, e2.id LIMIT 2) x
ORDER BY e.id, x.salary DESC, x.id;

-- case: lat_non_equality_next_event
-- Each signup's next event by the same user after it.
SELECT s.id AS signup_id, s.user_id, n.id AS next_id, n.kind, n.ts
FROM events s
LEFT JOIN LATERAL (
  SELECT e.id, e.kind, e.ts FROM events e
  WHERE e.user_id = s.user_id AND e.ts > s.ts
  ORDER BY e.ts, e.id LIMIT 1) n ON true
WHERE s.kind = 'signup'
ORDER BY s.id;

-- case: lat_non_equality_count_within_window
-- Purchases and how many events the user had in the twelve hours before each.
SELECT p.id, p.user_id, w.n_before, w.views_before
FROM events p
CROSS JOIN LATERAL (
  SELECT count(*) AS n_before, count(*) FILTER (WHERE e.kind = 'view') AS views_before
  FROM events e
  WHERE e.user_id = p.user_id AND e.ts < p.ts AND e.ts >= p.ts - INTERVAL '12 hours') w
WHERE p.kind = 'purchase'
ORDER BY p.id;

-- case: lat_generate_series
SELECT oi.order_id, oi.line, g.unit_no
FROM order_items oi
CROSS JOIN LATERAL generate_series(1, oi.quantity) AS g(unit_no)
WHERE oi.order_id IN (1, 2)
ORDER BY oi.order_id, oi.line, g.unit_no;

-- case: lat_generate_series_in_subquery
SELECT p.id, s.k, s.cumulative
FROM products p
CROSS JOIN LATERAL (
  SELECT k, p.price * k AS cumulative FROM generate_series(1, p.id % 3 + 1) AS g(k)) s
WHERE p.category = 'tools'
ORDER BY p.id, s.k;

-- case: lat_unnest_string_to_array
-- Empty tags are left out: string_to_array('', ',') is an empty array in PostgreSQL but
-- {''} in DuckDB.
SELECT p.id, p.name, t.tag
FROM products p
CROSS JOIN LATERAL unnest(string_to_array(p.tags, ',')) AS t(tag)
WHERE p.tags <> ''
ORDER BY p.id, t.tag;

-- case: lat_unnest_tag_counts
SELECT t.tag, count(*) AS n, sum(p.price) AS total_price
FROM products p, LATERAL unnest(string_to_array(p.tags, ',')) AS t(tag)
WHERE t.tag <> ''
GROUP BY t.tag ORDER BY n DESC, t.tag;

-- case: lat_comma_style
SELECT c.country, x.id, x.amount
FROM (SELECT DISTINCT country FROM customers) c,
LATERAL (SELECT o.id, o.amount FROM orders o JOIN customers cu ON cu.id = o.customer_id
         WHERE cu.country = c.country ORDER BY o.amount, o.id LIMIT 1) x
ORDER BY c.country;

-- case: lat_distinct
SELECT c.id, c.name, d.product_id
FROM customers c
CROSS JOIN LATERAL (
  SELECT DISTINCT oi.product_id FROM orders o JOIN order_items oi ON oi.order_id = o.id
  WHERE o.customer_id = c.id) d
WHERE c.id <= 4
ORDER BY c.id, d.product_id;

-- case: lat_chained_twice
-- Latest order per customer, then that order's most expensive line.
SELECT c.id, lo.id AS order_id, li.product_id, li.line_total
FROM customers c
CROSS JOIN LATERAL (
  SELECT id FROM orders o WHERE o.customer_id = c.id ORDER BY order_date DESC, id DESC LIMIT 1) lo
LEFT JOIN LATERAL (
  SELECT product_id, quantity * unit_price AS line_total FROM order_items oi
  WHERE oi.order_id = lo.id ORDER BY quantity * unit_price DESC, product_id LIMIT 1) li ON true
ORDER BY c.id;

-- case: lat_chained_uses_previous_columns
SELECT o.id, a.net, b.band
FROM orders o,
LATERAL (SELECT o.amount * (1 - coalesce(o.discount, 0)::numeric) AS net) a,
LATERAL (SELECT CASE WHEN a.net >= 300 THEN 'high' WHEN a.net >= 150 THEN 'mid' ELSE 'low' END AS band) b
WHERE o.id <= 10
ORDER BY o.id;
