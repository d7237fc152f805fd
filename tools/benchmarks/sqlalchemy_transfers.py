"""The SQLAlchemy side of tools/bench: the same transfer, the same SQL and the same accounts, with
a Session(twophase=True) over the two databases, from `concurrency` threads (psycopg2 releases
the GIL while it waits on the server).

SQLAlchemy prepares both branches and commits both; it keeps no durable record of its decision,
so a crash between the prepares and the commits leaves branches prepared that nothing resolves.

Prints one JSON line in the shape settle-bench prints.
"""
import argparse
import json
import threading
import time
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

DEBIT = text("UPDATE accounts SET balance = balance - :amount WHERE id = :account AND balance >= :amount RETURNING balance")
CREDIT = text("UPDATE accounts SET balance = balance + :amount WHERE id = :account RETURNING balance")
POSTING = text("INSERT INTO postings (gid, kind, account, amount) VALUES (:gid, :kind, :account, :amount)")
AMOUNT = 1  # one cent, as in settle-bench


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-urls", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warm-up", type=int, default=2)
    arguments = parser.parse_args()
    urls = arguments.database_urls.split()
    assert len(urls) == 2, "--database-urls takes exactly two URLs"
    engines = [
        create_engine(url.replace("postgres://", "postgresql+psycopg2://", 1), pool_size=arguments.concurrency, max_overflow=0)
        for url in urls
    ]
    run = uuid.uuid4().hex[:8]
    start = time.monotonic()
    measure_from = start + arguments.warm_up
    stop_at = measure_from + arguments.seconds
    latencies = []
    errors = [0]
    completed = [0]
    cpu_before = time.process_time()
    lock = threading.Lock()

    def worker(index):
        mine, failed, sequence, finished = [], 0, 0, 0
        while time.monotonic() < stop_at:
            began = time.monotonic()
            ok = True
            try:
                transfer(engines, index, f"sqlalchemy:{run}:{index}:{sequence}")
            except Exception:
                ok = False
            ended = time.monotonic()
            sequence += 1
            finished += ok
            if began >= measure_from and ended <= stop_at:
                if ok:
                    mine.append(ended - began)
                else:
                    failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            completed[0] += finished

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(arguments.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    cpu = (time.process_time() - cpu_before) * 1000

    def percentile(fraction):
        if not latencies:
            return 0.0
        index = min(len(latencies) - 1, max(0, -(-len(latencies) * fraction // 1) - 1))
        return latencies[int(index)] * 1000

    print(json.dumps({
        "system": "sqlalchemy", "concurrency": arguments.concurrency, "transfers": len(latencies),
        "seconds": float(arguments.seconds), "transfers_per_second": len(latencies) / arguments.seconds,
        "p50_milliseconds": percentile(0.50), "p99_milliseconds": percentile(0.99), "errors": errors[0],
        "transfers_including_warm_up": completed[0],
        "client_cpu_milliseconds_per_transfer": cpu / completed[0] if completed[0] else 0.0,
    }))


def transfer(engines, worker, posting_gid):
    with Session(twophase=True) as session:
        debit_account, credit_account = f"a{worker}", f"b{worker}"
        debit = session.connection(bind_arguments={"bind": engines[0]})
        if debit.execute(DEBIT, {"account": debit_account, "amount": AMOUNT}).rowcount != 1:
            raise RuntimeError(f"account {debit_account} refused the debit")
        debit.execute(POSTING, {"gid": posting_gid, "kind": "debit", "account": debit_account, "amount": -AMOUNT})
        credit = session.connection(bind_arguments={"bind": engines[1]})
        if credit.execute(CREDIT, {"account": credit_account, "amount": AMOUNT}).rowcount != 1:
            raise RuntimeError(f"account {credit_account} refused the credit")
        credit.execute(POSTING, {"gid": posting_gid, "kind": "credit", "account": credit_account, "amount": AMOUNT})
        session.commit()  # PREPARE TRANSACTION in both, then COMMIT PREPARED in both


if __name__ == "__main__":
    main()
