"""The Delta benchmark's contenders other than `aqueducts`, one operation per process:

  python contender.py deltalake read TABLE OUT      Q1's aggregate with the deltalake package
  python contender.py deltalake upsert TABLE CHANGES
  python contender.py duckdb read TABLE OUT         Q1's aggregate with DuckDB's delta_scan
"""

import sys

READ = """
SELECT l_returnflag, l_linestatus, count(*) AS n, sum(l_quantity) AS qty,
       sum(l_extendedprice) AS price, sum(l_extendedprice * (1 - l_discount)) AS net
FROM lineitem
WHERE l_shipdate <= DATE '1998-09-02'
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus
"""

KEYS = "t.l_orderkey = s.l_orderkey AND t.l_linenumber = s.l_linenumber"


def main():
    engine, operation, table, other = sys.argv[1:5]
    if engine == "deltalake":
        import pyarrow as pa
        import pyarrow.parquet as pq
        from deltalake import DeltaTable, QueryBuilder

        if operation == "read":
            result = QueryBuilder().register("lineitem", DeltaTable(table)).execute(READ)
            pq.write_table(pa.table(result.read_all()), other)
        else:
            changes = pq.read_table(other)
            (
                DeltaTable(table)
                .merge(source=changes, predicate=KEYS, source_alias="s", target_alias="t")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
    else:
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET threads = 2")
        connection.execute("LOAD delta")
        connection.execute(f"CREATE VIEW lineitem AS SELECT * FROM delta_scan('{table}')")
        connection.execute(f"COPY ({READ}) TO '{other}' (FORMAT parquet)")


if __name__ == "__main__":
    main()
