-- GROUP BY and aggregates: grouping keys (columns, expressions, ordinals, aliases), HAVING,
-- GROUPING SETS / ROLLUP / CUBE with GROUPING(), FILTER, DISTINCT aggregates, ordered
-- aggregates, statistics, NULL keys, aggregates over no rows, SELECT DISTINCT and DISTINCT ON.

-- case: grp_by_column
SELECT country, count(*) AS customers, sum(credit_limit) AS total_limit, max(signup_date) AS latest
FROM customers
GROUP BY country;

-- case: grp_by_two_columns_with_join
SELECT c.country, o.status, count(*) AS orders, sum(o.amount) AS revenue
FROM orders o
JOIN customers c ON c.id = o.customer_id
GROUP BY c.country, o.status
ORDER BY c.country, o.status;

-- case: grp_by_expression
SELECT amount >= 250 AS large, count(*) AS orders, min(amount) AS smallest, max(amount) AS largest
FROM orders
GROUP BY amount >= 250;

-- case: grp_by_ordinal
SELECT department, count(*) AS staff, sum(salary) AS payroll
FROM employees
GROUP BY 1
ORDER BY 1;

-- case: grp_by_output_alias
SELECT CASE WHEN amount < 100 THEN 'small' WHEN amount < 300 THEN 'medium' ELSE 'large' END AS size,
       count(*) AS orders,
       sum(amount) AS revenue
FROM orders
GROUP BY size
ORDER BY size;

-- case: grp_by_input_column_shadowed_by_alias
-- GROUP BY city names the input column, not the output alias: one group per city,
-- so the same first letter can appear on several rows.
SELECT left(city, 1) AS city, count(*) AS customers
FROM customers
GROUP BY city;

-- case: grp_having_aggregate_not_selected
SELECT customer_id, count(*) AS orders
FROM orders
WHERE customer_id IS NOT NULL
GROUP BY customer_id
HAVING sum(amount) > 1100 AND max(amount) < 490;

-- case: grp_having_without_group_by
SELECT count(*) AS orders, sum(amount) AS revenue
FROM orders
HAVING count(*) > 10;

-- case: grp_grouping_sets
SELECT c.country, c.tier, count(*) AS customers
FROM customers c
GROUP BY GROUPING SETS ((c.country), (c.tier), ());

-- case: grp_rollup_with_grouping
SELECT CASE WHEN grouping(o.status) = 1 THEN 'ALL' ELSE o.status END AS status,
       extract(quarter FROM o.order_date) AS quarter,
       grouping(o.status, extract(quarter FROM o.order_date)) AS level,
       count(*) AS orders,
       sum(o.amount) AS revenue
FROM orders o
GROUP BY ROLLUP (o.status, extract(quarter FROM o.order_date))
ORDER BY level, status, quarter;

-- case: grp_cube
SELECT department, salary >= 120000 AS senior, count(*) AS staff, grouping(department) AS all_departments
FROM employees
GROUP BY CUBE (department, salary >= 120000);

-- case: grp_filter_clause
SELECT customer_id,
       count(*) AS orders,
       count(*) FILTER (WHERE status = 'shipped') AS shipped,
       sum(amount) FILTER (WHERE status <> 'cancelled') AS kept_revenue,
       max(order_date) FILTER (WHERE status = 'cancelled') AS last_cancelled
FROM orders
GROUP BY customer_id;

-- case: grp_distinct_aggregates
SELECT o.status,
       count(DISTINCT o.customer_id) AS customers,
       count(DISTINCT oi.product_id) AS products,
       sum(DISTINCT oi.quantity) AS distinct_quantities_sum
FROM orders o
JOIN order_items oi ON oi.order_id = o.id
GROUP BY o.status;

-- case: grp_count_star_vs_count_column
SELECT country,
       count(*) AS customers,
       count(tier) AS with_tier,
       count(city) AS with_city,
       count(credit_limit) AS with_limit
FROM customers
GROUP BY country;

-- case: grp_bool_and_bool_or
SELECT department,
       bool_and(email IS NOT NULL) AS all_have_email,
       bool_or(salary > 150000) AS any_high_earner,
       bool_and(manager_id IS NOT NULL) AS all_managed
FROM employees
GROUP BY department;

-- case: grp_string_agg_ordered
SELECT department, string_agg(name, ', ' ORDER BY salary DESC, name) AS staff
FROM employees
GROUP BY department;

-- case: grp_array_agg_ordered
SELECT o.customer_id, array_agg(o.id ORDER BY o.order_date DESC) AS order_ids
FROM orders o
WHERE o.customer_id IN (2, 5, 12)
GROUP BY o.customer_id;

-- case: grp_min_max_strings_and_dates
SELECT country,
       min(name) AS first_name,
       max(name) AS last_name,
       min(signup_date) AS first_signup,
       max(signup_date) AS last_signup
FROM customers
GROUP BY country;

-- case: grp_sum_avg_decimals
SELECT status,
       sum(amount) AS total,
       round(avg(amount), 2) AS average,
       min(amount) AS smallest
FROM orders
GROUP BY status;

-- case: grp_stddev_variance
SELECT department,
       count(*) AS staff,
       stddev_samp(salary) AS sd_samp,
       stddev_pop(salary) AS sd_pop,
       var_samp(salary) AS var_samp,
       var_pop(salary) AS var_pop
FROM employees
GROUP BY department
HAVING count(*) > 1;

-- case: grp_stddev_doubles
SELECT kind, stddev(value) AS sd, variance(value) AS var, avg(value) AS mean
FROM events
GROUP BY kind;

-- case: grp_date_trunc_month
SELECT date_trunc('month', ordered_at) AS month, count(*) AS orders, sum(amount) AS revenue
FROM orders
GROUP BY date_trunc('month', ordered_at)
ORDER BY month;

-- case: grp_extract_day_and_hour
SELECT extract(day FROM ts) AS day, extract(hour FROM ts) >= 12 AS afternoon, count(*) AS events,
       sum(value) AS total_value
FROM events
GROUP BY 1, 2
ORDER BY 1, 2;

-- case: grp_null_keys
-- NULL keys form one group of their own.
SELECT tier, count(*) AS customers, avg(credit_limit) AS avg_limit
FROM customers
GROUP BY tier;

-- case: grp_null_keys_two_columns
SELECT a, flag, count(*) AS n, sum(b) AS sum_b
FROM nullable
GROUP BY a, flag;

-- case: grp_empty_input_aggregates
-- No GROUP BY over zero rows: one row, count 0 and NULL for the rest.
SELECT count(*) AS n, count(amount) AS n_amount, sum(amount) AS total, avg(amount) AS mean,
       min(order_date) AS first_date, max(status) AS last_status, bool_and(amount > 0) AS all_positive
FROM orders
WHERE amount < 0;

-- case: grp_empty_input_grouped
-- With GROUP BY, zero input rows give zero groups.
SELECT status, count(*) AS n
FROM orders
WHERE amount < 0
GROUP BY status;

-- case: grp_select_distinct
SELECT DISTINCT country, tier
FROM customers;

-- case: grp_distinct_on
-- Each customer's largest order.
SELECT DISTINCT ON (customer_id) customer_id, id, amount, order_date
FROM orders
WHERE customer_id IS NOT NULL
ORDER BY customer_id, amount DESC, id;

-- case: grp_aggregate_of_join_stages
-- stage: line_totals
SELECT oi.order_id, sum(oi.quantity * oi.unit_price) AS items_total, count(*) AS lines
FROM order_items oi
GROUP BY oi.order_id;
-- stage: by_status
SELECT o.status,
       count(*) AS orders,
       count(lt.order_id) AS orders_with_items,
       sum(lt.lines) AS lines,
       sum(lt.items_total) AS items_total,
       max(lt.items_total) AS biggest_basket
FROM orders o
LEFT JOIN line_totals lt ON lt.order_id = o.id
GROUP BY o.status
ORDER BY o.status;

-- case: grp_by_nullable_category_coalesced
SELECT coalesce(p.category, 'uncategorised') AS category,
       count(DISTINCT oi.order_id) AS orders,
       sum(oi.quantity) AS units,
       sum(oi.quantity * oi.unit_price) AS revenue
FROM order_items oi
JOIN products p ON p.id = oi.product_id
GROUP BY coalesce(p.category, 'uncategorised')
ORDER BY revenue DESC, category;

-- case: grp_count_distinct_multiple_in_having
SELECT user_id, count(DISTINCT kind) AS kinds, count(DISTINCT channel) AS channels
FROM events
GROUP BY user_id
HAVING count(DISTINCT channel) = 2 AND sum(value) > 150;
