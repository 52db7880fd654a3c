"""The kv-bench workload on py-key-value-aio 0.4.6, printing one JSON object on stdout.

    python pykv_bench.py --store redis --url redis://127.0.0.1:16379 --ops 2000 --runs 3

Same operations, counts and value as bench/src/main.rs: ops/s per run for each operation.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time


def make_value():
    return {f"field_{i:02}": "x" * 40 for i in range(20)}


async def open_store(kind, url, tmp):
    if kind == "memory":
        from key_value.aio.stores.memory import MemoryStore

        return MemoryStore(max_entries_per_collection=1_000_000)
    if kind == "disk":
        from key_value.aio.stores.disk import DiskStore

        return DiskStore(directory=tmp)
    if kind == "redis":
        from key_value.aio.stores.redis import RedisStore

        return RedisStore(url=url)
    if kind == "postgresql":
        from key_value.aio.stores.postgresql import PostgreSQLStore

        return PostgreSQLStore(url=url, table_name="kv_bench_py")
    if kind == "memcached":
        from key_value.aio.stores.memcached import MemcachedStore

        host, port = url.removeprefix("memcached://").split(":")
        return MemcachedStore(host=host, port=int(port))
    raise SystemExit(f"unknown store {kind}")


async def one_run(store, run, ops, batch, value):
    col = f"pybench{run}"
    keys = [f"k{i}" for i in range(ops)]
    res = {}

    async def timed(name, n, coro_fn):
        t0 = time.perf_counter()
        await coro_fn()
        res[name] = n / (time.perf_counter() - t0)

    async def put():
        for k in keys:
            await store.put(k, value, collection=col)

    async def get_hit():
        for k in keys:
            assert await store.get(k, collection=col) is not None

    async def get_miss():
        for k in keys:
            assert await store.get("miss" + k, collection=col) is None

    async def put_many():
        for i in range(0, ops, batch):
            ks = keys[i : i + batch]
            await store.put_many(ks, [value] * len(ks), collection=col + "m")

    async def get_many():
        for i in range(0, ops, batch):
            got = await store.get_many(keys[i : i + batch], collection=col + "m")
            assert all(g is not None for g in got)

    async def delete():
        for k in keys:
            await store.delete(k, collection=col)

    async def put_ttl():
        for k in keys:
            await store.put(k, value, collection=col + "t", ttl=60)

    await timed("put", ops, put)
    await timed("get_hit", ops, get_hit)
    await timed("get_miss", ops, get_miss)
    await timed("put_many", ops, put_many)
    await timed("get_many", ops, get_many)
    await timed("delete", ops, delete)
    await timed("put_ttl", ops, put_ttl)
    for tasks in (1, 8, 64):
        per = max(1, ops // tasks)

        async def worker(t):
            for i in range(per):
                k = f"c{t}_{i}"
                await store.put(k, value, collection=col + "c")
                assert await store.get(k, collection=col + "c") is not None

        async def conc():
            await asyncio.gather(*(worker(t) for t in range(tasks)))

        await timed(f"concurrent_{tasks}", per * tasks * 2, conc)
    await store.delete_many(keys, collection=col + "m")
    await store.delete_many(keys, collection=col + "t")
    conc_keys = [f"c{t}_{i}" for t in range(64) for i in range(max(1, ops // 64))]
    await store.delete_many(conc_keys, collection=col + "c")
    return res


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--url", default="")
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    value = make_value()
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(a.store, a.url, tmp)
        runs = []
        for r in range(a.runs):
            runs.append(await one_run(store, r, a.ops, a.batch, value))
        close = getattr(store, "close", None)
        if close is not None:
            await close()
        out = {name: [r[name] for r in runs] for name in runs[0]}
        json.dump({"store": a.store, "results": out}, sys.stdout)
        print()


asyncio.run(main())
