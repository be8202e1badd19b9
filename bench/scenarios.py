"""Parameters of a run: the full run and the smoke run differ only in sizes and durations."""
from dataclasses import asdict, dataclass


@dataclass
class Params:
    users: int = 2000
    web_processes: int = 2
    worker_processes: int = 3  # as `make run` starts them (SETTLEMENT_CONCURRENCY)
    worker_pool: str = "prefork"  # or "solo": worker_processes solo-pool workers (tried: no P4 gain)
    load_procs: int = 2
    load_nice: int = 0  # niceness of the load generator processes (tried at 10: no P4 gain)
    web_nice: int = 0  # niceness of the web server (tried at 5 with load_nice=10: no P4 gain)
    pgbench_seconds: float = 20
    pgbench_clients: int = 8
    pgbench_scale: int = 10
    ping_count: int = 1000
    s_rounds: int = 3  # S1 and S2: rounds, each against its own WSGI /health/ baseline
    s_seconds: float = 15
    s_connections: int = 32  # wrk, one thread
    s3_transactions: int = 2000  # claims on one pool, then reservations on one promo (at most one per customer)
    p1_transactions: int = 20000
    p2_campaigns: int = 1000
    p3_seconds: float = 20
    p3_clients: int = 64
    p4_seconds: float = 60  # measured, after the warm-up
    p4_warmup_seconds: float = 5  # load at the same rate before the measured window (reported apart)
    p4_rate: float = 0.0  # 0: half of the (median) P3 accept rate
    p34_rounds: int = 3  # P3 and P4 are measured this many times, each against its own baseline
    p5_seconds: float = 60
    p5_rate: float = 0.0  # 0: half of the P3 accept rate
    p6_transactions: int = 20000
    p7_seconds: float = 600
    p7_rate: float = 0.0  # 0: a quarter of the P3 accept rate
    drain_timeout: float = 600

    def as_dict(self) -> dict:
        return asdict(self)


SMOKE = Params(users=40, s3_transactions=40, s_rounds=1, s_seconds=1, s_connections=4, pgbench_seconds=2, pgbench_clients=2, pgbench_scale=1, ping_count=10,
               p1_transactions=200, p2_campaigns=20, p3_seconds=2, p3_clients=4, p4_seconds=2, p4_warmup_seconds=0.5, p34_rounds=2, p5_seconds=2,
               p5_rate=20, p6_transactions=200, p7_seconds=4, p7_rate=10, drain_timeout=120, load_procs=1,
               web_processes=1, worker_processes=1)
