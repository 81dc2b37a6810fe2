-- Window functions: ranking, offsets, value functions, frames (ROWS, RANGE with numeric and
-- interval offsets, GROUPS, EXCLUDE), running totals, shares, windows over aggregates, named
-- windows, NULL ordering keys, top-n per group, sessionisation and FILTER inside windows.

-- case: win_row_number_per_customer
SELECT customer_id, id, order_date,
       row_number() OVER (PARTITION BY customer_id ORDER BY order_date, id) AS nth_order
FROM orders
ORDER BY customer_id, nth_order;

-- case: win_rank_dense_rank_row_number
-- Salaries tie at 140000 and 95000.
SELECT name, salary,
       rank() OVER (ORDER BY salary DESC) AS rnk,
       dense_rank() OVER (ORDER BY salary DESC) AS dense_rnk,
       row_number() OVER (ORDER BY salary DESC, id) AS rn
FROM employees
ORDER BY salary DESC, id;

-- case: win_percent_rank_cume_dist
SELECT department, name, salary,
       percent_rank() OVER (PARTITION BY department ORDER BY salary) AS pct_rank,
       cume_dist() OVER (PARTITION BY department ORDER BY salary) AS cum_dist
FROM employees
ORDER BY department, salary, id;

-- case: win_ntile_quartiles
SELECT id, amount, ntile(4) OVER (ORDER BY amount, id) AS quartile
FROM orders
WHERE customer_id IS NOT NULL
ORDER BY amount, id;

-- case: win_ntile_per_partition_uneven
-- Partitions whose size does not divide evenly put the extra rows in the first buckets.
SELECT department, name, ntile(3) OVER (PARTITION BY department ORDER BY hired_on, id) AS bucket
FROM employees
ORDER BY department, hired_on, id;

-- case: win_lag_lead_offsets_defaults
SELECT customer_id, id, amount,
       lag(amount) OVER w AS prev_amount,
       lead(amount) OVER w AS next_amount,
       lag(amount, 2, 0) OVER w AS prev2_or_zero,
       lead(id, 1, -1) OVER w AS next_id_or_minus1
FROM orders
WHERE customer_id IN (1, 3, 12)
WINDOW w AS (PARTITION BY customer_id ORDER BY order_date, id)
ORDER BY customer_id, order_date, id;

-- case: win_month_over_month_change
WITH monthly AS (
  SELECT extract(month FROM order_date)::int AS month, sum(amount) AS revenue
  FROM orders
  WHERE status <> 'cancelled'
  GROUP BY 1
)
SELECT month, revenue,
       revenue - lag(revenue) OVER (ORDER BY month) AS change,
       round(100 * (revenue - lag(revenue) OVER (ORDER BY month)) / lag(revenue) OVER (ORDER BY month), 2) AS pct_change
FROM monthly
ORDER BY month;

-- case: win_first_last_value_full_frame
SELECT department, name, salary,
       first_value(name) OVER w AS top_paid,
       last_value(name) OVER w AS lowest_paid
FROM employees
WINDOW w AS (PARTITION BY department ORDER BY salary DESC, id
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
ORDER BY department, salary DESC, id;

-- case: win_last_value_default_frame_peers
-- The default frame (RANGE ... CURRENT ROW) reaches the last peer, not the current row.
SELECT name, salary,
       last_value(salary) OVER (ORDER BY salary) AS last_in_frame,
       count(*) OVER (ORDER BY salary) AS rows_in_frame,
       sum(salary) OVER (ORDER BY salary) AS range_running_total,
       sum(salary) OVER (ORDER BY salary, id ROWS UNBOUNDED PRECEDING) AS rows_running_total
FROM employees
ORDER BY salary, id;

-- case: win_nth_value
SELECT department, name,
       nth_value(name, 2) OVER (PARTITION BY department ORDER BY salary DESC, id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS second_paid,
       nth_value(salary, 3) OVER (PARTITION BY department ORDER BY salary DESC, id) AS third_salary_so_far
FROM employees
ORDER BY department, salary DESC, id;

-- case: win_rows_moving_average
SELECT id, order_date, amount,
       round(avg(amount) OVER (ORDER BY order_date, id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), 2) AS moving_avg_3,
       min(amount) OVER (ORDER BY order_date, id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS min_neighbourhood
FROM orders
ORDER BY order_date, id;

-- case: win_running_total_per_customer
SELECT c.name, o.order_date, o.amount,
       sum(o.amount) OVER (PARTITION BY o.customer_id ORDER BY o.order_date, o.id
                           ROWS UNBOUNDED PRECEDING) AS running_total
FROM orders o
JOIN customers c ON c.id = o.customer_id
WHERE o.status <> 'cancelled'
ORDER BY c.name, o.order_date, o.id;

-- case: win_unbounded_following_remaining
SELECT id, amount,
       sum(amount) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS remaining,
       count(*) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS rows_after,
       max(amount) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS max_after
FROM orders
WHERE id <= 12
ORDER BY id;

-- case: win_range_numeric_offset
SELECT name, salary,
       count(*) OVER (ORDER BY salary RANGE BETWEEN 20000 PRECEDING AND 20000 FOLLOWING) AS similar_paid,
       sum(salary) OVER (ORDER BY salary RANGE BETWEEN 25000 PRECEDING AND CURRENT ROW) AS band_total
FROM employees
ORDER BY salary, id;

-- case: win_range_interval_timestamp
-- Events of the same user in the day before each event, the event included.
SELECT user_id, id, ts,
       count(*) OVER (PARTITION BY user_id ORDER BY ts
                      RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS events_last_day,
       sum(value) OVER (PARTITION BY user_id ORDER BY ts
                        RANGE BETWEEN INTERVAL '12 hours' PRECEDING AND CURRENT ROW) AS value_last_12h
FROM events
WHERE user_id IN (1, 2)
ORDER BY user_id, ts;

-- case: win_range_interval_date
SELECT order_date, amount,
       sum(amount) OVER (ORDER BY order_date RANGE BETWEEN INTERVAL '30 days' PRECEDING AND CURRENT ROW) AS last_30_days,
       count(*) OVER (ORDER BY order_date RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '20 days' FOLLOWING) AS nearby
FROM orders
ORDER BY order_date;

-- case: win_groups_frame
-- GROUPS counts peer groups: each salary level with its neighbour levels.
SELECT name, salary,
       count(*) OVER (ORDER BY salary GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS in_neighbour_groups,
       min(salary) OVER (ORDER BY salary GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev_level
FROM employees
ORDER BY salary, id;

-- case: win_exclude_current_row
-- deviation: window frames cannot EXCLUDE rows (refused by the SQL parser); subtract the current row instead
-- Average salary of the colleagues in the department, the employee left out.
SELECT department, name, salary,
       avg(salary) OVER (PARTITION BY department ORDER BY id
                         ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
                         EXCLUDE CURRENT ROW) AS colleagues_avg
FROM employees
ORDER BY department, id;

-- case: win_exclude_ties_and_group
-- deviation: window frames cannot EXCLUDE rows (refused by the SQL parser); subtract the peers instead
SELECT name, salary,
       count(*) OVER (ORDER BY salary RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE TIES) AS upto_no_ties,
       count(*) OVER (ORDER BY salary ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE GROUP) AS not_same_salary
FROM employees
ORDER BY salary, id;

-- case: win_share_of_total
SELECT id, amount,
       round(100 * amount / sum(amount) OVER (), 2) AS pct_of_all,
       round(100 * amount / sum(amount) OVER (PARTITION BY status), 2) AS pct_of_status
FROM orders
WHERE id <= 10
ORDER BY id;

-- case: win_sum_of_sum_over_groups
SELECT customer_id, sum(amount) AS total,
       sum(sum(amount)) OVER (ORDER BY customer_id) AS cumulative,
       round(100 * sum(amount) / sum(sum(amount)) OVER (), 1) AS pct,
       rank() OVER (ORDER BY sum(amount) DESC) AS total_rank
FROM orders
WHERE customer_id IS NOT NULL
GROUP BY customer_id
ORDER BY customer_id;

-- case: win_window_over_count_by_country
SELECT country, count(*) AS customers,
       dense_rank() OVER (ORDER BY count(*) DESC) AS size_rank,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
FROM customers
GROUP BY country
ORDER BY customers DESC, country;

-- case: win_named_window_clause
SELECT department, name, salary,
       row_number() OVER w AS pos,
       sum(salary) OVER w AS running,
       max(salary) OVER (PARTITION BY department) AS dept_max
FROM employees
WINDOW w AS (PARTITION BY department ORDER BY salary DESC, id)
ORDER BY department, pos;

-- case: win_named_window_refined
-- A named window refined with ORDER BY in the OVER clause.
SELECT user_id, id,
       count(*) OVER u AS user_events,
       row_number() OVER (u ORDER BY ts) AS seq
FROM events
WHERE kind = 'purchase' OR kind = 'signup'
WINDOW u AS (PARTITION BY user_id)
ORDER BY user_id, seq;

-- case: win_partition_multiple_keys
SELECT country, tier, name, credit_limit,
       rank() OVER (PARTITION BY country, tier ORDER BY credit_limit DESC NULLS LAST) AS rnk,
       count(*) OVER (PARTITION BY country, tier) AS group_size
FROM customers
ORDER BY country, tier, credit_limit DESC, id;

-- case: win_null_ordering_keys
-- NULLs sort last ascending and first descending; explicit NULLS FIRST/LAST overrides.
SELECT id, credit_limit,
       row_number() OVER (ORDER BY credit_limit, id) AS asc_pos,
       row_number() OVER (ORDER BY credit_limit DESC, id) AS desc_pos,
       rank() OVER (ORDER BY credit_limit NULLS FIRST) AS nulls_first_rank,
       sum(credit_limit) OVER (ORDER BY credit_limit DESC NULLS LAST) AS running_desc
FROM customers
ORDER BY id;

-- case: win_null_partition_key
SELECT tier, name,
       count(*) OVER (PARTITION BY tier) AS in_tier,
       first_value(name) OVER (PARTITION BY tier ORDER BY signup_date, id) AS earliest
FROM customers
ORDER BY tier, id;

-- case: win_top_n_per_group
SELECT category, name, price
FROM (
  SELECT category, name, price,
         row_number() OVER (PARTITION BY category ORDER BY price DESC, id) AS rn
  FROM products
) ranked
WHERE rn <= 2
ORDER BY category, price DESC, name;

-- case: win_top_per_group_with_ties
WITH ranked AS (
  SELECT department, name, salary,
         rank() OVER (PARTITION BY department ORDER BY salary) AS rnk
  FROM employees
)
SELECT department, name, salary FROM ranked WHERE rnk = 1
ORDER BY department, name;

-- case: win_count_star_over
SELECT id, customer_id,
       count(*) OVER (PARTITION BY customer_id) AS orders_of_customer,
       count(*) OVER () AS all_orders,
       count(customer_id) OVER () AS with_customer,
       count(discount) OVER (PARTITION BY customer_id) AS discounted
FROM orders
ORDER BY id;

-- case: win_sessionisation
-- A new session starts after a gap of more than four hours between a user's views.
WITH views AS (
  SELECT user_id, id, ts,
         CASE WHEN lag(ts) OVER (PARTITION BY user_id ORDER BY ts) IS NULL
                OR ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) > INTERVAL '4 hours'
              THEN 1 ELSE 0 END AS new_session
  FROM events
  WHERE kind = 'view'
), sessions AS (
  SELECT user_id, id, ts,
         sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session_no
  FROM views
)
SELECT user_id, session_no, count(*) AS views, min(ts) AS started, max(ts) AS ended
FROM sessions
GROUP BY user_id, session_no
ORDER BY user_id, session_no;

-- case: win_gap_minutes_with_lead
SELECT user_id, id, kind,
       extract(epoch FROM lead(ts) OVER (PARTITION BY user_id ORDER BY ts) - ts) / 60 AS minutes_to_next
FROM events
WHERE user_id = 3
ORDER BY ts;

-- case: win_aggregate_filter
SELECT customer_id, id, status, amount,
       sum(amount) FILTER (WHERE status = 'shipped') OVER (PARTITION BY customer_id) AS shipped_total,
       count(*) FILTER (WHERE status = 'cancelled') OVER (PARTITION BY customer_id ORDER BY order_date, id) AS cancelled_so_far
FROM orders
WHERE customer_id <= 4
ORDER BY customer_id, order_date, id;

-- case: win_running_purchases_filter
SELECT user_id, id, kind, value,
       count(*) FILTER (WHERE kind = 'purchase') OVER (PARTITION BY user_id ORDER BY ts) AS purchases_so_far,
       sum(value) FILTER (WHERE kind = 'purchase') OVER (PARTITION BY user_id ORDER BY ts) AS spend_so_far
FROM events
WHERE user_id = 5
ORDER BY ts;

-- case: win_deviation_from_department_avg
SELECT department, name, salary,
       round(salary - avg(salary) OVER (PARTITION BY department), 2) AS diff_from_avg,
       salary * 100 / max(salary) OVER (PARTITION BY department) AS pct_of_max
FROM employees
ORDER BY department, salary DESC, id;

-- case: win_rank_over_join
SELECT c.country, c.name, sum(o.amount) AS spent,
       rank() OVER (PARTITION BY c.country ORDER BY sum(o.amount) DESC) AS rank_in_country
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.country, c.name
ORDER BY c.country, rank_in_country, c.name;

-- case: win_daily_revenue_moving_avg
WITH daily AS (
  SELECT date_trunc('day', ts)::date AS day, sum(value) AS revenue
  FROM events
  WHERE kind = 'purchase'
  GROUP BY 1
)
SELECT day, revenue,
       avg(revenue) OVER (ORDER BY day ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS avg_2_days,
       sum(revenue) OVER (ORDER BY day) AS cumulative
FROM daily
ORDER BY day;

-- case: win_named_window_built_on_another
-- A named window may start from another one and add its ORDER BY (SQL:2003, PostgreSQL).
SELECT id, department, salary,
       count(*) OVER dept AS dept_size,
       sum(salary) OVER ranked AS running_total,
       row_number() OVER ranked AS position
FROM employees
WINDOW dept AS (PARTITION BY department), ranked AS (dept ORDER BY salary DESC, id)
ORDER BY department, salary DESC, id;
