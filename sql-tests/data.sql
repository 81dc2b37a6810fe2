-- The tables every conformance case reads. DuckDB runs this file and writes each table
-- to a Parquet file; the pipelines under test and DuckDB's reference answers read those
-- same files. Values are fixed (no random()), with NULLs, ties, duplicates, empty
-- strings and non-ASCII text placed where queries can trip over them.

CREATE TABLE customers AS SELECT * FROM (VALUES
  (1,  'Alice',   'Berlin',    'DE', DATE '2021-01-15', 'gold',   5000.00::DECIMAL(10,2)),
  (2,  'Bob',     'Munich',    'DE', DATE '2021-03-02', 'silver', 2500.00::DECIMAL(10,2)),
  (3,  'Chloé',   'Paris',     'FR', DATE '2021-03-02', 'gold',   7500.50::DECIMAL(10,2)),
  (4,  'Dmitri',  'Lyon',      'FR', DATE '2021-07-30', NULL,     NULL),
  (5,  'Eve',     'Berlin',    'DE', DATE '2022-01-01', 'bronze', 1000.00::DECIMAL(10,2)),
  (6,  'Farid',   'Madrid',    'ES', DATE '2022-02-14', 'silver', 2500.00::DECIMAL(10,2)),
  (7,  'Grace',   'Barcelona', 'ES', DATE '2022-05-05', 'gold',   9000.00::DECIMAL(10,2)),
  (8,  'Hiro',    'Tokyo',     'JP', DATE '2022-11-11', NULL,     1500.25::DECIMAL(10,2)),
  (9,  'Ines',    'Lisbon',    'PT', DATE '2023-01-09', 'bronze', 800.00::DECIMAL(10,2)),
  (10, 'Jonas',   'Munich',    'DE', DATE '2023-04-18', 'silver', 2500.00::DECIMAL(10,2)),
  (11, 'Kai',     NULL,        'DE', DATE '2023-06-01', NULL,     NULL),
  (12, 'Lena',    'Vienna',    'AT', DATE '2023-12-31', 'gold',   6000.00::DECIMAL(10,2))
) AS t(id, name, city, country, signup_date, tier, credit_limit);

-- 40 orders over 2023; customer 11 has none, order 40 has no customer.
CREATE TABLE orders AS
SELECT
  i AS id,
  CASE WHEN i = 40 THEN NULL WHEN i % 11 = 0 THEN 12 ELSE ((i * 7) % 10) + 1 END AS customer_id,
  (DATE '2023-01-01' + ((i * 9) % 365)::INTEGER) AS order_date,
  (TIMESTAMP '2023-01-01 00:00:00' + to_days((i * 9) % 365) + to_seconds(((i * 3671) % 86400)::BIGINT)) AS ordered_at,
  CASE i % 5 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'pending' ELSE 'shipped' END AS status,
  (((i * 37) % 50) * 10 + 9.99 + (i % 3) * 0.5)::DECIMAL(10,2) AS amount,
  CASE WHEN i % 4 = 0 THEN NULL ELSE ((i % 7) * 0.05)::DOUBLE END AS discount
FROM range(1, 41) r(i);

CREATE TABLE products AS SELECT * FROM (VALUES
  (1,  'Widget',        'tools',       9.99::DECIMAL(10,2),  0.25::DOUBLE, 'metal,small'),
  (2,  'Gadget',        'tools',       24.50::DECIMAL(10,2), 1.5::DOUBLE,  'metal'),
  (3,  'Doohickey',     'toys',        4.75::DECIMAL(10,2),  NULL,         NULL),
  (4,  'Thingamajig',   'toys',        4.75::DECIMAL(10,2),  0.5::DOUBLE,  'plastic,small'),
  (5,  'Sprocket',      'parts',       0.99::DECIMAL(10,2),  0.01::DOUBLE, 'metal,small,bulk'),
  (6,  'Flange',        'parts',       3.10::DECIMAL(10,2),  0.2::DOUBLE,  ''),
  (7,  'Gizmo Deluxe',  'electronics', 199.00::DECIMAL(10,2), 2.75::DOUBLE, 'premium'),
  (8,  'gizmo mini',    'electronics', 49.00::DECIMAL(10,2), 0.75::DOUBLE, 'small'),
  (9,  'Crème Brûlée',  NULL,          12.00::DECIMAL(10,2), 0.3::DOUBLE,  'food'),
  (10, 'Spare Part #7', 'parts',       0.50::DECIMAL(10,2),  NULL,         'bulk')
) AS t(id, name, category, price, weight_kg, tags);

-- One to three lines per order (orders 7 and 14 have none).
CREATE TABLE order_items AS
SELECT o.id AS order_id, l.line, ((o.id * 3 + l.line * 5) % 10) + 1 AS product_id,
       ((o.id + l.line) % 4) + 1 AS quantity,
       p.price AS unit_price
FROM range(1, 41) o(id)
JOIN range(1, 4) l(line) ON l.line <= (o.id % 3) + 1
JOIN products p ON p.id = ((o.id * 3 + l.line * 5) % 10) + 1
WHERE o.id NOT IN (7, 14);

-- A reporting hierarchy three levels deep, for recursive queries.
CREATE TABLE employees AS SELECT * FROM (VALUES
  (1,  'Ada',     NULL, 'exec',        250000, DATE '2015-02-01', 'ada@example.com'),
  (2,  'Brian',   1,    'engineering', 180000, DATE '2016-06-15', 'brian@example.com'),
  (3,  'Carla',   1,    'sales',       160000, DATE '2017-01-10', 'carla@example.org'),
  (4,  'Dev',     2,    'engineering', 140000, DATE '2018-03-03', 'dev@example.com'),
  (5,  'Elif',    2,    'engineering', 140000, DATE '2019-09-09', 'elif@example.com'),
  (6,  'Femi',    3,    'sales',       95000,  DATE '2019-11-20', NULL),
  (7,  'Gus',     3,    'sales',       95000,  DATE '2020-02-29', 'gus@example.net'),
  (8,  'Hana',    4,    'engineering', 120000, DATE '2021-05-17', 'hana@example.com'),
  (9,  'Ivan',    4,    'engineering', 115000, DATE '2022-08-01', 'IVAN@EXAMPLE.COM'),
  (10, 'Jia',     5,    'engineering', 118000, DATE '2022-10-10', 'jia@example.com'),
  (11, 'Kofi',    6,    'sales',       70000,  DATE '2023-01-02', 'kofi@example.org'),
  (12, 'Luz',     NULL, 'support',     60000,  DATE '2023-03-15', 'luz@example.com')
) AS t(id, name, manager_id, department, salary, hired_on, email);

-- Page views and purchases of five users over three days, for windows and sessions.
CREATE TABLE events AS
SELECT
  i::BIGINT AS id,
  (i % 5) + 1 AS user_id,
  TIMESTAMP '2023-03-01 08:00:00' + to_minutes(((i * 47) % 4320)::BIGINT) AS ts,
  CASE WHEN i % 6 = 0 THEN 'purchase' WHEN i % 6 = 1 THEN 'signup' ELSE 'view' END AS kind,
  CASE WHEN i % 6 = 0 THEN (i * 2.5)::DOUBLE WHEN i % 9 = 0 THEN NULL ELSE (i % 4)::DOUBLE END AS value,
  CASE WHEN i % 7 = 0 THEN NULL WHEN i % 7 = 1 THEN 'mobile' ELSE 'web' END AS channel
FROM range(1, 61) r(i);

-- A small directed graph with a cycle (4 -> 5 -> 6 -> 4) and an unreachable node (9).
CREATE TABLE edges AS SELECT * FROM (VALUES
  (1, 2, 7), (1, 3, 9), (1, 6, 14), (2, 3, 10), (2, 4, 15), (3, 4, 11),
  (3, 6, 2), (4, 5, 6), (5, 6, 9), (6, 4, 3), (7, 8, 1), (9, 9, 0)
) AS t(src, dst, weight);

-- NULLs in every column and position, for three-valued logic.
CREATE TABLE nullable AS SELECT * FROM (VALUES
  (1, 1,    10,   1.5::DOUBLE,  'a',  true),
  (2, 2,    NULL, NULL,         'b',  false),
  (3, NULL, 30,   -2.25::DOUBLE, NULL, NULL),
  (4, NULL, NULL, 0.0::DOUBLE,  '',   true),
  (5, 5,    5,    NULL,         'a',  NULL),
  (6, 2,    20,   4.0::DOUBLE,  'B',  false),
  (7, NULL, NULL, NULL,         NULL, NULL)
) AS t(id, a, b, x, s, flag);

-- Text with case, spaces, punctuation, digits and multi-byte characters.
CREATE TABLE texts AS SELECT * FROM (VALUES
  (1, 'The quick brown fox'),
  (2, '  padded  '),
  (3, 'UPPER lower MiXeD'),
  (4, 'naïve café – déjà vu'),
  (5, 'a,b,,c'),
  (6, 'order-2023-0042'),
  (7, 'contact: jane.doe@example.com, +49 30 1234567'),
  (8, ''),
  (9, NULL),
  (10, 'tab	separated	values'),
  (11, '100% pure'),
  (12, 'snake_case_name')
) AS t(id, phrase);
