-- Scalar expressions: integer and decimal arithmetic, division and modulo with negatives,
-- precedence, math functions on numeric and double, CASE, BETWEEN, IN, boolean logic,
-- comparisons across numeric types, greatest/least, mixed decimal scales.

-- case: expr_integer_arithmetic
SELECT name, salary + 1000 AS raised, salary * 2 AS doubled, salary - manager_id AS odd_diff,
       salary::bigint * salary AS squared, -salary AS negated
FROM employees
ORDER BY id;

-- case: expr_decimal_arithmetic
SELECT oi.order_id, oi.line, oi.quantity * oi.unit_price AS line_total,
       oi.unit_price * 1.19 AS gross_price,
       oi.quantity * oi.unit_price - oi.unit_price * 0.5 AS after_voucher,
       oi.unit_price + p.price AS doubled_price
FROM order_items oi JOIN products p ON p.id = oi.product_id
WHERE oi.order_id <= 6
ORDER BY oi.order_id, oi.line;

-- case: expr_integer_division_modulo_negatives
-- Integer division truncates toward zero; % takes the sign of the dividend.
SELECT a, b, a / b AS quotient, a % b AS remainder, mod(a, b) AS mod_fn, (a / b) * b + a % b AS roundtrip
FROM (VALUES (7, 2), (-7, 2), (7, -2), (-7, -2), (1, 3), (-1, 3), (9, 3)) AS t(a, b)
ORDER BY a, b;

-- case: expr_division_by_column_values
SELECT src, dst, weight, weight / dst AS int_div, weight % dst AS int_mod,
       weight::numeric / dst AS exact_div, weight / 4.0 AS div_by_decimal
FROM edges
ORDER BY src, dst;

-- case: expr_operator_precedence
SELECT 2 + 3 * 4 AS mul_first, (2 + 3) * 4 AS parens, 10 - 2 - 3 AS left_assoc_minus,
       100 / 10 / 5 AS left_assoc_div, 7 % 3 * 2 AS mod_then_mul, 2 + 7 % 3 AS mod_before_add,
       -3 * -2 AS unary_minus, 1 + 2 * 3 - 4 / 2 AS mixed,
       1 < 2 AND 3 > 4 OR NOT 5 = 6 AS bool_precedence;

-- case: expr_power_sqrt_abs_sign
SELECT id, x, abs(x) AS abs_x, sign(x) AS sign_x, power(x, 2) AS x_squared,
       sqrt(abs(x)) AS root, abs(a - b) AS abs_int, sign(b - 15) AS sign_int
FROM nullable
ORDER BY id;

-- case: expr_power_and_sqrt_numeric
SELECT power(2, 10) AS p_int, power(2.5, 2) AS p_dec, power(10, -2) AS p_neg,
       sqrt(16) AS sqrt_int, sqrt(2.25) AS sqrt_dec, cbrt(27.0) AS cube_root,
       abs(-12.75) AS abs_dec, sign(-0.5) AS sign_dec;

-- case: expr_ceil_floor_round_trunc_numeric
SELECT id, amount, ceil(amount) AS ceil_amt, floor(amount) AS floor_amt,
       round(amount) AS round_amt, round(amount, 1) AS round_1, round(amount, -2) AS round_hundreds,
       trunc(amount, 1) AS trunc_1, trunc(amount) AS trunc_0
FROM orders
WHERE id <= 8
ORDER BY id;

-- case: expr_rounding_negative_numeric
-- round() on numeric rounds halves away from zero.
SELECT v, round(v) AS r0, round(v, 1) AS r1, trunc(v) AS t0, trunc(v, 1) AS t1, ceil(v) AS c, floor(v) AS f
FROM (VALUES (-7.89), (-7.5), (-2.45), (2.45), (7.5), (0.05), (-0.05)) AS t(v)
ORDER BY v;

-- case: expr_rounding_double
-- round(double precision, n) does not exist in PostgreSQL: users cast to numeric. No input
-- of round(double) lies at .5 (PostgreSQL rounds doubles half-to-even).
SELECT id, weight_kg, ceil(weight_kg) AS c, floor(weight_kg) AS f, round(weight_kg * 1.1) AS r,
       trunc(weight_kg) AS t, round(weight_kg::numeric, 1) AS r1,
       round((weight_kg * 3)::numeric, 2) AS triple_r2
FROM products
ORDER BY id;

-- case: expr_ln_log_exp
SELECT ln(salary) AS ln_salary, log(salary) AS log10_salary, exp(salary / 100000) AS e_pow,
       ln(exp(2.0)) AS ln_exp, log(1000) AS log_1000, log(2.0, 64.0) AS log2_64, exp(0) AS exp_0
FROM employees
WHERE id IN (1, 12)
ORDER BY id;

-- case: expr_case_simple
SELECT id, status,
       CASE status WHEN 'shipped' THEN 'done' WHEN 'pending' THEN 'open' ELSE 'void' END AS state,
       CASE customer_id % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' END AS bucket
FROM orders
WHERE id BETWEEN 35 AND 40
ORDER BY id;

-- case: expr_case_searched
SELECT id, amount, discount,
       CASE WHEN amount >= 400 THEN 'large'
            WHEN amount >= 200 THEN 'medium'
            WHEN amount >= 100 THEN 'small'
            ELSE 'tiny' END AS size,
       CASE WHEN discount IS NULL THEN 'none'
            WHEN discount = 0 THEN 'zero'
            WHEN discount > 0.2 THEN 'deep'
            ELSE 'light' END AS discount_band
FROM orders
WHERE id <= 12
ORDER BY id;

-- case: expr_case_pivot_sums
SELECT customer_id,
       sum(CASE WHEN status = 'shipped' THEN amount ELSE 0 END) AS shipped,
       sum(CASE WHEN status = 'cancelled' THEN amount END) AS cancelled,
       count(CASE WHEN discount > 0 THEN 1 END) AS discounted
FROM orders
GROUP BY customer_id
ORDER BY customer_id;

-- case: expr_between_not_between
SELECT id, amount, order_date,
       amount BETWEEN 100 AND 300 AS mid_amount,
       amount NOT BETWEEN 100 AND 300 AS outside,
       order_date BETWEEN DATE '2023-03-01' AND DATE '2023-05-31' AS spring,
       id BETWEEN 5 AND 3 AS reversed_bounds
FROM orders
WHERE id <= 15
ORDER BY id;

-- case: expr_between_with_nulls
SELECT id, a, b, a BETWEEN 1 AND 3 AS a_small, b NOT BETWEEN a AND 25 AS b_out,
       x BETWEEN -1 AND 2 AS x_near_zero
FROM nullable
ORDER BY id;

-- case: expr_in_lists
SELECT id, a, s,
       a IN (1, 2) AS a_in, a NOT IN (1, 2) AS a_not_in,
       a IN (1, NULL) AS in_with_null, a NOT IN (5, NULL) AS not_in_with_null,
       s IN ('a', 'B') AS s_in
FROM nullable
ORDER BY id;

-- case: expr_in_list_filter
SELECT id, name, country FROM customers
WHERE country IN ('DE', 'AT', 'CH') AND tier NOT IN ('bronze')
ORDER BY id;

-- case: expr_boolean_three_valued
SELECT id, flag, a > 1 AS a_gt_1,
       flag AND a > 1 AS and_v, flag OR a > 1 AS or_v, NOT flag AS not_v,
       flag IS TRUE AS is_true, flag IS NOT FALSE AS not_false, flag IS UNKNOWN AS unknown,
       a IS DISTINCT FROM b AS distinct_ab
FROM nullable
ORDER BY id;

-- case: expr_numeric_comparisons_across_types
-- integer vs decimal vs double comparisons, each side promoted.
SELECT p.id, p.price, p.weight_kg,
       p.price > 9 AS dec_gt_int, p.price = 4.75 AS dec_eq_dec, p.weight_kg = 0.25 AS dbl_eq_dec,
       p.price > p.weight_kg AS dec_gt_dbl, p.id = 5.0 AS int_eq_dec, p.id < p.weight_kg * 4 AS int_lt_dbl
FROM products p
ORDER BY p.id;

-- case: expr_comparisons_filter_mixed_types
SELECT id, amount, discount FROM orders
WHERE amount > 300 AND discount >= 0.1 AND id < 30.5
ORDER BY id;

-- case: expr_greatest_least
-- greatest and least skip NULL arguments.
SELECT id, a, b, greatest(a, b) AS g, least(a, b) AS l, greatest(a, b, 3) AS g3,
       least(x, 1.0) AS lx, greatest(a, x) AS mixed
FROM nullable
ORDER BY id;

-- case: expr_mixed_decimal_scales
SELECT o.id, amount, amount + 0.125 AS plus_3dp, amount * 1.5 AS times_1_5,
       amount::numeric(12, 4) / 4 AS quarter, amount - 0.005 AS minus_half_cent,
       amount + credit_limit AS sum_2dp
FROM orders o JOIN customers c ON c.id = o.customer_id
WHERE o.id <= 6
ORDER BY o.id;

-- case: expr_decimal_division_and_modulo
SELECT id, amount, round(amount / 3, 4) AS third, amount % 100 AS mod_100,
       amount - trunc(amount) AS cents, round(amount / 7.5, 3) AS per_unit
FROM orders
WHERE id <= 8
ORDER BY id;

-- case: expr_int_double_mixing
SELECT id, salary, salary / 1000.0 AS thousands, salary::double precision / 7 AS per_week,
       salary * 0.1 AS ten_pct, salary / 7 AS int_per_week
FROM employees
ORDER BY id;

-- case: expr_price_band_report
SELECT CASE WHEN price < 1 THEN 'under 1'
            WHEN price < 10 THEN '1-10'
            WHEN price < 100 THEN '10-100'
            ELSE '100+' END AS band,
       count(*) AS products, sum(price) AS total, avg(price) AS avg_price
FROM products
GROUP BY 1
ORDER BY min(price);
