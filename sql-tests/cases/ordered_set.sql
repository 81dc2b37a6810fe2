-- Ordered-set and order-sensitive aggregates: percentile_cont / percentile_disc / mode
-- WITHIN GROUP (ORDER BY ...), with GROUP BY, DESC, NULL inputs and FILTER, plus
-- string_agg and array_agg with ORDER BY inside the call.

-- case: oset_percentile_cont_median_int
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY salary) AS median_salary,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY salary) AS p25,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY salary) AS p90
FROM employees;

-- case: oset_percentile_disc_quartiles
SELECT percentile_disc(0.25) WITHIN GROUP (ORDER BY salary) AS q1,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY salary) AS q2,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY salary) AS p90
FROM employees;

-- case: oset_percentile_cont_group_by
SELECT department, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY salary) AS median_salary,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY salary) AS median_disc
FROM employees
GROUP BY department
ORDER BY department;

-- case: oset_percentile_cont_decimal
-- percentile_cont interpolates in double precision in PostgreSQL; DuckDB keeps a DECIMAL
-- input's scale (185.365 becomes 185.36), so the quartile casts to double explicitly.
SELECT status,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY amount::double precision) AS p25_amount
FROM orders
GROUP BY status
ORDER BY status;

-- case: oset_percentile_disc_decimal
SELECT status,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY amount) AS p90_amount
FROM orders
GROUP BY status
ORDER BY status;

-- case: oset_percentile_double_with_nulls
-- value is a double with NULLs; NULL inputs are ignored.
SELECT kind, count(*) AS events, count(value) AS with_value,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median_value,
       percentile_disc(0.25) WITHIN GROUP (ORDER BY value) AS p25_value
FROM events
GROUP BY kind
ORDER BY kind;

-- case: oset_percentile_disc_nulls
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY b) AS median_b,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY x) AS median_x,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY s) AS median_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a) AS median_a
FROM nullable;

-- case: oset_percentile_disc_dates
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY order_date) AS median_date,
       percentile_disc(0.25) WITHIN GROUP (ORDER BY ordered_at) AS q1_time,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY signup_date) AS median_signup
FROM orders o JOIN customers c ON c.id = o.customer_id;

-- case: oset_percentile_disc_timestamp_per_user
SELECT user_id,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY ts) AS median_ts,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY ts) AS p90_ts
FROM events
GROUP BY user_id
ORDER BY user_id;

-- case: oset_percentile_desc_within_group
-- Descending order inside WITHIN GROUP: the 0.25 fraction from the top.
SELECT department,
       percentile_disc(0.25) WITHIN GROUP (ORDER BY salary DESC) AS p25_desc,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY salary DESC) AS p25_cont_desc,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY salary) AS p75_asc
FROM employees
GROUP BY department
ORDER BY department;

-- case: oset_mode
SELECT mode() WITHIN GROUP (ORDER BY status) AS common_status,
       mode() WITHIN GROUP (ORDER BY customer_id) FILTER (WHERE status = 'cancelled') AS most_cancelling
FROM orders;

-- case: oset_mode_group_by
SELECT country, mode() WITHIN GROUP (ORDER BY tier) AS common_tier, count(tier) AS with_tier
FROM customers
WHERE country IN ('DE', 'FR')
GROUP BY country
ORDER BY country;

-- case: oset_string_agg_ordered
SELECT country, string_agg(name, ',' ORDER BY name) AS names
FROM customers
GROUP BY country
ORDER BY country;

-- case: oset_string_agg_order_by_other_column
SELECT tier, string_agg(name, ' > ' ORDER BY signup_date DESC, id) AS newest_first,
       string_agg(DISTINCT country, '/' ORDER BY country) AS countries
FROM customers
GROUP BY tier
ORDER BY tier;

-- case: oset_array_agg_order_desc
SELECT customer_id, array_agg(amount ORDER BY amount DESC) AS amounts,
       array_agg(id ORDER BY order_date DESC) AS newest_orders
FROM orders
WHERE customer_id IS NOT NULL
GROUP BY customer_id
ORDER BY customer_id;

-- case: oset_array_agg_keeps_nulls
SELECT array_agg(a ORDER BY id) AS a_by_id,
       array_agg(s ORDER BY id DESC) AS s_by_id_desc,
       array_agg(id ORDER BY x NULLS FIRST, id) AS ids_by_x
FROM nullable;

-- case: oset_several_in_one_query
SELECT department,
       min(salary) AS lo,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY salary) AS q1,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY salary) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY salary) AS q3,
       max(salary) AS hi,
       string_agg(name, ',' ORDER BY salary DESC, name) AS by_pay
FROM employees
GROUP BY department
HAVING count(*) > 1
ORDER BY department;

-- case: oset_percentile_with_filter
SELECT customer_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FILTER (WHERE status = 'shipped') AS median_shipped,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY amount) FILTER (WHERE status <> 'shipped') AS median_other,
       count(*) FILTER (WHERE status = 'shipped') AS shipped
FROM orders
WHERE customer_id IS NOT NULL
GROUP BY customer_id
ORDER BY customer_id;

-- case: oset_string_agg_with_filter
SELECT status,
       string_agg(id::text, ',' ORDER BY id) FILTER (WHERE discount IS NULL) AS no_discount_ids,
       array_agg(customer_id ORDER BY id) FILTER (WHERE amount > 400) AS big_spenders
FROM orders
GROUP BY status
ORDER BY status;

-- case: oset_above_department_median
WITH medians AS (
  SELECT department, percentile_cont(0.5) WITHIN GROUP (ORDER BY salary) AS median_salary
  FROM employees
  GROUP BY department
)
SELECT e.name, e.department, e.salary, m.median_salary
FROM employees e
JOIN medians m ON m.department = e.department
WHERE e.salary > m.median_salary
ORDER BY e.department, e.salary DESC, e.name;

-- case: oset_median_of_expression
SELECT p.category,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY oi.quantity * oi.unit_price) AS median_line_total,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY oi.quantity) AS p90_quantity
FROM order_items oi
JOIN products p ON p.id = oi.product_id
GROUP BY p.category
ORDER BY p.category;

-- case: oset_percentile_cont_array_fractions
SELECT percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY salary) AS quartiles
FROM employees;

-- case: oset_percentile_array_of_an_empty_group
-- A group whose filter keeps no rows has no percentiles: NULL, not an array of NULLs.
SELECT department,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY salary)
         FILTER (WHERE salary > 170000) AS high_percentiles
FROM employees
GROUP BY department
ORDER BY department;
