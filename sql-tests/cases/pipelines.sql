-- Multi-stage pipelines: later stages read earlier stages by name, as data pipelines do
-- (clean -> enrich -> aggregate -> rank, a stage read by two stages, a stage read twice in
-- one query, windows in one stage aggregated in the next, a final stage that orders).

-- case: pipe_top_customers
-- stage: customer_totals
SELECT customer_id, sum(amount) AS total, count(*) AS order_count
FROM orders
WHERE status <> 'cancelled'
GROUP BY customer_id;
-- stage: top_customers
SELECT c.name, c.country, t.total, t.order_count
FROM customer_totals t
JOIN customers c ON c.id = t.customer_id
ORDER BY t.total DESC, c.name
LIMIT 5;

-- case: pipe_stage_read_by_two_stages
-- stage: paid_orders
SELECT o.id, o.customer_id, c.country, o.amount
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.status = 'shipped';
-- stage: country_revenue
SELECT country, sum(amount) AS revenue, count(*) AS n FROM paid_orders GROUP BY country;
-- stage: order_share
SELECT p.id, p.country, p.amount, round(100 * p.amount / r.revenue, 2) AS pct_of_country
FROM paid_orders p
JOIN country_revenue r ON r.country = p.country
ORDER BY p.country, p.id;

-- case: pipe_two_branches_joined
-- One cleaned stage feeds two aggregates that the last stage puts side by side.
-- stage: clean_orders
SELECT id, customer_id, order_date, amount, coalesce(discount, 0)::numeric AS discount
FROM orders
WHERE customer_id IS NOT NULL AND status <> 'cancelled';
-- stage: by_customer
SELECT customer_id, sum(amount) AS gross, sum(amount * (1 - discount)) AS net FROM clean_orders GROUP BY customer_id;
-- stage: first_last
SELECT customer_id, min(order_date) AS first_order, max(order_date) AS last_order FROM clean_orders GROUP BY customer_id;
-- stage: customer_profile
SELECT b.customer_id, b.gross, round(b.net, 2) AS net, f.first_order, f.last_order,
       f.last_order - f.first_order AS active_days
FROM by_customer b JOIN first_last f USING (customer_id)
ORDER BY b.customer_id;

-- case: pipe_clean_enrich_aggregate_rank
-- stage: cleaned
SELECT id, customer_id, amount, coalesce(discount, 0.0)::numeric AS discount, status
FROM orders
WHERE customer_id IS NOT NULL AND status IN ('shipped', 'pending');
-- stage: enriched
SELECT cl.id, cu.country, coalesce(cu.tier, 'none') AS tier, cl.amount * (1 - cl.discount) AS net
FROM cleaned cl JOIN customers cu ON cu.id = cl.customer_id;
-- stage: aggregated
SELECT country, tier, count(*) AS orders_n, sum(net) AS net_total
FROM enriched GROUP BY country, tier;
-- stage: ranked
SELECT country, tier, orders_n, round(net_total, 2) AS net_total,
       rank() OVER (ORDER BY net_total DESC) AS overall_rank,
       row_number() OVER (PARTITION BY country ORDER BY net_total DESC, tier) AS rank_in_country
FROM aggregated
ORDER BY overall_rank, country, tier;

-- case: pipe_filter_stage
-- stage: purchases
SELECT user_id, ts, value FROM events WHERE kind = 'purchase' AND value > 20;
-- stage: purchase_summary
SELECT user_id, count(*) AS purchases, sum(value) AS spent, min(ts) AS first_purchase
FROM purchases
GROUP BY user_id
ORDER BY user_id;

-- case: pipe_window_stage_then_aggregate
-- stage: event_gaps
SELECT user_id, id, kind, ts,
       extract(epoch FROM ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts)) / 3600 AS hours_since_prev,
       row_number() OVER (PARTITION BY user_id ORDER BY ts) AS seq
FROM events
WHERE kind <> 'signup';
-- stage: gap_stats
SELECT user_id, count(*) AS events_n, max(hours_since_prev) AS longest_gap_h,
       count(*) FILTER (WHERE hours_since_prev > 5) AS long_gaps, max(seq) AS last_seq
FROM event_gaps
GROUP BY user_id
ORDER BY user_id;

-- case: pipe_sessions_three_stages
-- stage: flagged_views
SELECT user_id, ts,
       CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) <= INTERVAL '4 hours' THEN 0 ELSE 1 END AS is_new
FROM events WHERE kind = 'view';
-- stage: numbered_sessions
SELECT user_id, ts, sum(is_new) OVER (PARTITION BY user_id ORDER BY ts) AS session_id FROM flagged_views;
-- stage: session_lengths
SELECT user_id, session_id, count(*) AS views,
       extract(epoch FROM max(ts) - min(ts)) / 60 AS minutes
FROM numbered_sessions
GROUP BY user_id, session_id
ORDER BY user_id, session_id;

-- case: pipe_self_join_stage
-- The monthly stage is read twice to compare each month with the one before.
-- stage: monthly_revenue
SELECT extract(month FROM order_date)::int AS month_no, sum(amount) AS revenue
FROM orders WHERE status = 'shipped'
GROUP BY 1;
-- stage: month_vs_previous
SELECT cur.month_no, cur.revenue, prev.revenue AS prev_revenue, cur.revenue - prev.revenue AS change
FROM monthly_revenue cur
LEFT JOIN monthly_revenue prev ON prev.month_no = cur.month_no - 1
ORDER BY cur.month_no;

-- case: pipe_self_join_pairs
-- stage: dept_salaries
SELECT id, name, department, salary FROM employees WHERE department IN ('engineering', 'sales');
-- stage: salary_pairs
SELECT a.name AS earner, b.name AS colleague, a.salary - b.salary AS gap
FROM dept_salaries a
JOIN dept_salaries b ON a.department = b.department AND a.salary > b.salary
WHERE a.salary - b.salary < 25000
ORDER BY gap DESC, earner, colleague;

-- case: pipe_category_revenue_share
-- stage: line_totals
SELECT oi.order_id, oi.product_id, oi.quantity * oi.unit_price AS line_total FROM order_items oi;
-- stage: category_revenue
SELECT coalesce(p.category, 'uncategorised') AS category, sum(lt.line_total) AS revenue, count(DISTINCT lt.order_id) AS orders_n
FROM line_totals lt JOIN products p ON p.id = lt.product_id
GROUP BY 1;
-- stage: category_share
SELECT category, revenue, orders_n, round(100 * revenue / sum(revenue) OVER (), 1) AS pct
FROM category_revenue
ORDER BY revenue DESC, category;

-- case: pipe_latest_event_per_user
-- stage: events_ranked
SELECT user_id, id, kind, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts DESC) AS recency
FROM events;
-- stage: latest_events
SELECT user_id, id, kind, ts FROM events_ranked WHERE recency = 1 ORDER BY user_id;

-- case: pipe_union_of_stages
-- stage: germany
SELECT id, name, 'DE' AS market FROM customers WHERE country = 'DE';
-- stage: france_spain
SELECT id, name, CASE country WHEN 'FR' THEN 'FR' ELSE 'ES' END AS market FROM customers WHERE country IN ('FR', 'ES');
-- stage: markets
SELECT market, count(*) AS customers_n, string_agg(name, ',' ORDER BY id) AS names
FROM (SELECT * FROM germany UNION ALL SELECT * FROM france_spain) u
GROUP BY market
ORDER BY market;

-- case: pipe_customers_without_orders
-- stage: active_customers
SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL;
-- stage: inactive_customers
SELECT c.id, c.name FROM customers c
WHERE NOT EXISTS (SELECT 1 FROM active_customers a WHERE a.customer_id = c.id)
ORDER BY c.id;

-- case: pipe_cohorts
-- stage: first_orders
SELECT customer_id, min(extract(quarter FROM order_date))::int AS cohort_quarter
FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id;
-- stage: orders_with_cohort
SELECT o.id, f.cohort_quarter, extract(quarter FROM o.order_date)::int AS order_quarter, o.amount
FROM orders o JOIN first_orders f ON f.customer_id = o.customer_id;
-- stage: cohort_matrix
SELECT cohort_quarter, order_quarter, count(*) AS orders_n, sum(amount) AS revenue
FROM orders_with_cohort
GROUP BY cohort_quarter, order_quarter
ORDER BY cohort_quarter, order_quarter;

-- case: pipe_funnel
-- stage: user_steps
SELECT user_id,
       bool_or(kind = 'signup') AS signed_up,
       bool_or(kind = 'view') AS viewed,
       count(*) FILTER (WHERE kind = 'purchase' AND value >= 100) AS big_purchases
FROM events
GROUP BY user_id;
-- stage: funnel
SELECT count(*) AS users_n,
       count(*) FILTER (WHERE signed_up) AS signed_up,
       count(*) FILTER (WHERE signed_up AND viewed) AS viewed,
       count(*) FILTER (WHERE big_purchases > 0) AS big_buyers
FROM user_steps;

-- case: pipe_graph_degrees
-- stage: out_degree
SELECT src AS node, count(*) AS outgoing, sum(weight) AS out_weight FROM edges GROUP BY src;
-- stage: in_degree
SELECT dst AS node, count(*) AS incoming FROM edges GROUP BY dst;
-- stage: degrees
SELECT coalesce(o.node, i.node) AS node, coalesce(o.outgoing, 0) AS outgoing,
       coalesce(i.incoming, 0) AS incoming, o.out_weight
FROM out_degree o FULL OUTER JOIN in_degree i ON i.node = o.node
ORDER BY node;

-- case: pipe_customer_segments
-- stage: spend
SELECT c.id, c.name, coalesce(sum(o.amount), 0) AS total
FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
GROUP BY c.id, c.name;
-- stage: segmented
SELECT id, name, total, ntile(3) OVER (ORDER BY total DESC, id) AS segment FROM spend;
-- stage: segment_summary
SELECT segment, count(*) AS customers_n, min(total) AS min_total, max(total) AS max_total,
       string_agg(name, ',' ORDER BY total DESC, id) AS members
FROM segmented
GROUP BY segment
ORDER BY segment;

-- case: pipe_department_outliers
-- stage: dept_stats
SELECT department, avg(salary) AS avg_salary, count(*) AS headcount FROM employees GROUP BY department;
-- stage: above_average
SELECT e.name, e.department, e.salary, round(e.salary - d.avg_salary, 2) AS above_by, d.headcount
FROM employees e JOIN dept_stats d ON d.department = e.department
WHERE e.salary > d.avg_salary
ORDER BY e.department, e.salary DESC, e.name;

-- case: pipe_nulls_through_stages
-- stage: normalised
SELECT id, coalesce(a, 0) AS a0, b, x, nullif(s, '') AS s, flag FROM nullable;
-- stage: null_report
SELECT s, count(*) AS n, sum(a0) AS sum_a, sum(b) AS sum_b, avg(x) AS avg_x, bool_and(flag) AS all_flag
FROM normalised
GROUP BY s
ORDER BY s;
