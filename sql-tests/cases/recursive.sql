-- Recursive CTEs (WITH RECURSIVE): number and date series, hierarchies walked down and up,
-- graph reachability with cycles, bounded path search, string building, and recursive
-- results joined and aggregated afterwards.

-- case: rec_count_to_n
WITH RECURSIVE nums(n) AS (
  SELECT 1
  UNION ALL
  SELECT n + 1 FROM nums WHERE n < 10)
SELECT n, n * n AS square FROM nums ORDER BY n;

-- case: rec_fibonacci
WITH RECURSIVE fib(i, a, b) AS (
  SELECT 1, CAST(0 AS bigint), CAST(1 AS bigint)
  UNION ALL
  SELECT i + 1, b, a + b FROM fib WHERE i < 30)
SELECT i, a AS fib FROM fib ORDER BY i;

-- case: rec_hierarchy_depth
WITH RECURSIVE tree AS (
  SELECT id, name, manager_id, 0 AS depth FROM employees WHERE manager_id IS NULL AND id = 1
  UNION ALL
  SELECT e.id, e.name, e.manager_id, t.depth + 1 FROM employees e JOIN tree t ON e.manager_id = t.id)
SELECT id, name, depth FROM tree ORDER BY depth, id;

-- case: rec_hierarchy_path
WITH RECURSIVE tree AS (
  SELECT id, name, name AS path FROM employees WHERE manager_id IS NULL
  UNION ALL
  SELECT e.id, e.name, t.path || ' > ' || e.name FROM employees e JOIN tree t ON e.manager_id = t.id)
SELECT id, path FROM tree ORDER BY path;

-- case: rec_management_chain_upwards
-- From Kofi up to the top, one row per level.
WITH RECURSIVE chain AS (
  SELECT id, name, manager_id, 0 AS level FROM employees WHERE name = 'Kofi'
  UNION ALL
  SELECT m.id, m.name, m.manager_id, c.level + 1 FROM employees m JOIN chain c ON m.id = c.manager_id)
SELECT level, id, name FROM chain ORDER BY level;

-- case: rec_management_chain_as_string
WITH RECURSIVE chain AS (
  SELECT id, manager_id, name AS chain FROM employees WHERE id IN (9, 10, 11, 12)
  UNION ALL
  SELECT c.id, m.manager_id, c.chain || ' <- ' || m.name FROM chain c JOIN employees m ON m.id = c.manager_id)
SELECT id, chain FROM chain WHERE manager_id IS NULL ORDER BY id;

-- case: rec_subordinates_count_per_manager
-- Direct and indirect reports of every employee.
WITH RECURSIVE reports AS (
  SELECT manager_id AS boss, id AS report FROM employees WHERE manager_id IS NOT NULL
  UNION ALL
  SELECT r.boss, e.id FROM reports r JOIN employees e ON e.manager_id = r.report)
SELECT e.id, e.name, count(r.report) AS all_reports
FROM employees e LEFT JOIN reports r ON r.boss = e.id
GROUP BY e.id, e.name ORDER BY all_reports DESC, e.id;

-- case: rec_graph_reachability_union
-- UNION removes rows already found, which stops the walk round the 4 -> 5 -> 6 -> 4 cycle.
WITH RECURSIVE reach(node) AS (
  SELECT 1
  UNION
  SELECT e.dst FROM edges e JOIN reach r ON e.src = r.node)
SELECT node FROM reach ORDER BY node;

-- case: rec_graph_reachability_from_cycle
WITH RECURSIVE reach(node) AS (
  SELECT 5
  UNION
  SELECT e.dst FROM reach r JOIN edges e ON e.src = r.node)
SELECT node FROM reach ORDER BY node;

-- case: rec_graph_unreachable_nodes
WITH RECURSIVE reach(node) AS (
  SELECT 1
  UNION
  SELECT e.dst FROM edges e JOIN reach r ON e.src = r.node),
nodes AS (SELECT src AS node FROM edges UNION SELECT dst FROM edges)
SELECT n.node FROM nodes n WHERE n.node NOT IN (SELECT node FROM reach) ORDER BY n.node;

-- case: rec_shortest_path_weights_depth_bound
-- All walks from node 1 of at most six edges; the cheapest cost to each node.
WITH RECURSIVE walk(node, cost, hops) AS (
  SELECT 1, 0, 0
  UNION ALL
  SELECT e.dst, w.cost + e.weight, w.hops + 1 FROM walk w JOIN edges e ON e.src = w.node
  WHERE w.hops < 6)
SELECT node, min(cost) AS shortest, min(hops) AS fewest_hops
FROM walk GROUP BY node ORDER BY node;

-- case: rec_simple_paths_with_text_path
-- Paths from 1 that never revisit a node, the visited list kept as text.
WITH RECURSIVE paths(node, path, cost) AS (
  SELECT 1, ',1,', 0
  UNION ALL
  SELECT e.dst, p.path || e.dst || ',', p.cost + e.weight
  FROM paths p JOIN edges e ON e.src = p.node
  WHERE position(',' || e.dst || ',' IN p.path) = 0)
SELECT path, cost FROM paths WHERE node = 6 ORDER BY cost, path;

-- case: rec_date_series_interval
-- A day per row until a date, then the events of each day.
WITH RECURSIVE days(d) AS (
  SELECT DATE '2023-02-28'
  UNION ALL
  SELECT CAST(d + INTERVAL '1 day' AS DATE) FROM days WHERE d < DATE '2023-03-04')
SELECT d.d AS day, count(e.id) AS n_events, count(e.id) FILTER (WHERE e.kind = 'purchase') AS purchases
FROM days d LEFT JOIN events e ON CAST(e.ts AS DATE) = d.d
GROUP BY d.d ORDER BY d.d;

-- case: rec_timestamp_series_hours
WITH RECURSIVE slots(t) AS (
  SELECT TIMESTAMP '2023-03-01 08:00:00'
  UNION ALL
  SELECT t + INTERVAL '6 hours' FROM slots WHERE t < TIMESTAMP '2023-03-02 08:00:00')
SELECT t, extract(hour FROM t) AS hour FROM slots ORDER BY t;

-- case: rec_string_building
-- Builds a running string one element at a time.
WITH RECURSIVE s(n, acc) AS (
  SELECT 1, CAST('1' AS text)
  UNION ALL
  SELECT n + 1, acc || '-' || CAST(n + 1 AS text) FROM s WHERE n < 8)
SELECT n, acc, length(acc) AS len FROM s ORDER BY n;

-- case: rec_string_reverse
WITH RECURSIVE r(i, rev) AS (
  SELECT 0, CAST('' AS text)
  UNION ALL
  SELECT i + 1, substr('recursive', i + 1, 1) || rev FROM r WHERE i < length('recursive'))
SELECT rev FROM r WHERE i = length('recursive');

-- case: rec_joined_with_tables_afterwards
-- Brian's whole team, with their departments' headcount and the team's salary total.
WITH RECURSIVE team AS (
  SELECT id FROM employees WHERE name = 'Brian'
  UNION ALL
  SELECT e.id FROM employees e JOIN team t ON e.manager_id = t.id)
SELECT e.id, e.name, e.salary, m.name AS manager, d.headcount
FROM team t
JOIN employees e ON e.id = t.id
LEFT JOIN employees m ON m.id = e.manager_id
JOIN (SELECT department, count(*) AS headcount FROM employees GROUP BY department) d ON d.department = e.department
ORDER BY e.id;

-- case: rec_aggregate_over_result
WITH RECURSIVE tree AS (
  SELECT id, salary, 1 AS level FROM employees WHERE manager_id IS NULL
  UNION ALL
  SELECT e.id, e.salary, t.level + 1 FROM employees e JOIN tree t ON e.manager_id = t.id)
SELECT level, count(*) AS people, sum(salary) AS payroll, max(salary) AS top_salary
FROM tree GROUP BY level ORDER BY level;

-- case: rec_two_ctes_one_recursive
WITH RECURSIVE heads AS (
  SELECT id, name, department FROM employees WHERE manager_id = 1),
org AS (
  SELECT id, name AS head, id AS member, 0 AS depth FROM heads
  UNION ALL
  SELECT o.id, o.head, e.id, o.depth + 1 FROM org o JOIN employees e ON e.manager_id = o.member)
SELECT head, count(*) AS members, max(depth) AS levels FROM org GROUP BY head ORDER BY head;

-- case: rec_union_all_depth_limit
-- UNION ALL walks the cycle again and again; the depth bound ends it.
WITH RECURSIVE walk(node, depth, path) AS (
  SELECT 4, 0, CAST('4' AS text)
  UNION ALL
  SELECT e.dst, w.depth + 1, w.path || '->' || CAST(e.dst AS text)
  FROM walk w JOIN edges e ON e.src = w.node WHERE w.depth < 7)
SELECT depth, node, path FROM walk ORDER BY depth;

-- case: rec_factorial_bigint
WITH RECURSIVE f(n, fact) AS (
  SELECT 1, CAST(1 AS bigint)
  UNION ALL
  SELECT n + 1, fact * (n + 1) FROM f WHERE n < 20)
SELECT n, fact FROM f WHERE n IN (5, 10, 15, 20) ORDER BY n;

-- case: rec_hierarchy_sum_of_subtree_salaries
WITH RECURSIVE sub(root, id) AS (
  SELECT id, id FROM employees
  UNION ALL
  SELECT s.root, e.id FROM sub s JOIN employees e ON e.manager_id = s.id)
SELECT r.name, sum(e.salary) AS subtree_payroll, count(*) - 1 AS below
FROM sub s JOIN employees e ON e.id = s.id JOIN employees r ON r.id = s.root
GROUP BY r.id, r.name HAVING count(*) > 1 ORDER BY subtree_payroll DESC, r.id;
