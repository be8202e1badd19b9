"""Every write of code pools: creation with bulk code generation (in the request up to
CODE_POOL_SYNC_MAX codes, else by a worker in chunks), claim and grant requests.

Codes: CODE_LENGTH (12) characters drawn with `secrets` from CODE_ALPHABET, 31 characters
with no 0/O, 1/I/L lookalikes: 31**12 ~ 7.9e17 (~59 bits) possible codes, so guessing a
valid one is hopeless and collisions are rare; the unique index decides, and a collision
(with this or any other pool) is simply drawn again.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import transaction as db_transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from activation.services import Accepted, transaction_accept
from kernel.text import ascii_digits
from offers.codes.models import Brand, CodePool, DiscountCode
from offers.codes.rules import CLAIM_POOL_GONE, code_pool_claim_refusal, code_pool_shortfall
from offers.codes.sql import discount_codes_claim, discount_codes_insert
from offers.locks import brand_for_update, code_pool_for_update

logger = logging.getLogger(__name__)

KIND_CODE_CLAIM = "code_claim"

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
CODE_INSERT_CHUNK = 20_000
MAX_POOL_SIZE = 1_000_000
# A worker generates a large pool CODE_GENERATION_CHUNK codes per commit (the pool row stays
# locked only for that chunk's INSERT, so claims on it wait tens of milliseconds at most), for
# CODE_GENERATION_RUN_SECONDS per message before it hands over to a fresh one.
CODE_GENERATION_CHUNK = 5_000
CODE_GENERATION_RUN_SECONDS = 20.0
CODE_GENERATION_STALE_AFTER = timedelta(minutes=2)
CODE_GENERATE_TASK = "offers.codes.tasks.code_pool_generate_task"


def discount_code_new() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def discount_codes_draw(count: int) -> list[str]:
    """`count` distinct fresh codes (not yet checked against the table)."""
    drawn: set[str] = set()
    while len(drawn) < count:
        drawn.add(discount_code_new())
    return list(drawn)


def discount_codes_generate(*, pool: CodePool, count: int) -> int:
    """Inserts `count` fresh codes for `pool` with set-based INSERTs (one statement per
    CODE_INSERT_CHUNK codes, never one save per code). Codes that collide with an existing
    one are skipped by ON CONFLICT and drawn again until the count is reached."""
    missing = count
    while missing > 0:
        missing -= discount_codes_insert(discount_codes_draw(min(missing, CODE_INSERT_CHUNK)), pool_id=pool.id)
    return count


def code_pool_create(*, brand: Brand, name: str, total_count: int, description: str = "",
                     valid_from: datetime | None = None, valid_until: datetime | None = None,
                     created_by_id: int | None = None) -> CodePool:
    """A pool of up to settings.CODE_POOL_SYNC_MAX codes is created `ready` with all its codes
    in one database transaction. A larger one is created `generating` with none, and after
    commit a worker generates them (code_pool_generate): claims never wait for the request."""
    generate_now = total_count <= settings.CODE_POOL_SYNC_MAX
    with db_transaction.atomic():
        pool = CodePool.objects.create(
            brand=brand, name=name, description=description, total_count=total_count,
            status=CodePool.Status.READY if generate_now else CodePool.Status.GENERATING,
            generated_count=total_count if generate_now else 0, valid_from=valid_from, valid_until=valid_until,
            created_by_id=created_by_id)
        if generate_now:
            discount_codes_generate(pool=pool, count=total_count)
        else:
            pool_id = pool.id
            db_transaction.on_commit(lambda: code_pool_generation_publish(pool_id=pool_id))
    return pool


def code_pool_generation_publish(*, pool_id: int) -> bool:
    """Sends the generation task by name. With the broker down the pool stays `generating`
    and the beat entry `code-pools-generation-resume` sends it later."""
    from kernel.tasks import task_publish

    return task_publish(CODE_GENERATE_TASK, args=[str(pool_id)])


def code_pool_generate(*, pool_id: int, chunk_size: int = CODE_GENERATION_CHUNK, max_seconds: float | None = None,
                       max_chunks: int | None = None) -> CodePool | None:
    """Generates the codes a `generating` pool still lacks, one commit per chunk: the chunk's
    codes and `generated_count` move together, so the count is always the number of codes
    present and a killed run loses at most its open chunk. Under the pool's row lock each
    chunk re-reads what is missing (total_count - codes present) and inserts no more, so
    runs that overlap (a redelivered message, the beat safety net) take turns and never
    overshoot. The pool becomes `ready` with its last chunk. After `max_seconds` a still
    unfinished pool is handed to a fresh message; `max_chunks` stops early (tests)."""
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    counted = False
    chunks = 0
    while True:
        pool = CodePool.objects.filter(pk=pool_id).first()
        if pool is None or pool.status == CodePool.Status.READY:
            return pool
        if max_chunks is not None and chunks >= max_chunks:
            return pool
        if deadline is not None and time.monotonic() >= deadline:
            code_pool_generation_publish(pool_id=pool_id)
            return pool
        # Drawn before the lock: drawing is most of a chunk's time.
        drawn = discount_codes_draw(max(0, min(chunk_size, pool.total_count - pool.generated_count)))
        with db_transaction.atomic():
            pool = code_pool_for_update().filter(pk=pool_id).first()
            if pool is None or pool.status == CodePool.Status.READY:
                return pool
            if not counted:  # once per run: what is really there, whatever the counter says
                pool.generated_count = DiscountCode.objects.filter(pool_id=pool_id).count()
                counted = True
            batch = drawn[:max(0, pool.total_count - pool.generated_count)]
            if batch:
                collided = len(batch) - discount_codes_insert(batch, pool_id=pool_id)
                if collided:
                    discount_codes_generate(pool=pool, count=collided)
                pool.generated_count += len(batch)
            if pool.generated_count >= pool.total_count:
                pool.status = CodePool.Status.READY
            pool.save(update_fields=["generated_count", "status"])
        chunks += 1


def code_pools_generation_resume(*, stale_after: timedelta = CODE_GENERATION_STALE_AFTER,
                                 limit: int = 100) -> int:
    """Beat safety net: sends generation again for pools still `generating` `stale_after`
    after their creation (a message lost with the broker, a killed worker whose message waits
    for the visibility timeout). A needless send costs little: runs take turns under the
    pool lock and stop at total_count. Returns the number of pools sent."""
    pool_ids = list(CodePool.objects.filter(status=CodePool.Status.GENERATING,
                                            created_at__lte=timezone.now() - stale_after)
                    .order_by("id").values_list("id", flat=True)[:limit])
    for pool_id in pool_ids:
        code_pool_generation_publish(pool_id=pool_id)
    return len(pool_ids)


CODE_POOL_COUNTERS = frozenset({"total_count", "claimed_count", "generated_count", "status"})


def code_pool_update(*, pool: CodePool, **fields) -> CodePool:
    """Changes a pool's descriptive fields (name, description, brand, validity window) on the
    locked row and writes only those columns, so an edit never overwrites the claim counter
    that settlement moves under the same lock. The counts are not editable here."""
    if CODE_POOL_COUNTERS & fields.keys():
        raise ValueError(f"{sorted(CODE_POOL_COUNTERS & fields.keys())} change only through code generation and claims")
    with db_transaction.atomic():
        locked = code_pool_for_update().get(pk=pool.pk)
        for name, value in fields.items():
            setattr(locked, name, value)
        if fields:
            locked.save(update_fields=list(fields))
    return locked


def brand_create(*, name: str, staff_ids: list[int] | None = None, operator_id: int | None = None) -> Brand:
    with db_transaction.atomic():
        brand = Brand.objects.create(name=name)
        if staff_ids:
            brand.staff.set(staff_ids)
        if operator_id is not None:
            _brand_audit_log(operator_id=operator_id, brand=brand, flag=ADDITION, message="Created through the API")
    return brand


# --- brands and their members (offers/merchants.py says what a member manages) ----------------

def _brand_audit_log(*, operator_id: int, brand: Brand, flag: int, message: str) -> None:
    """In the brand's admin history, next to the admin's own changes: who changed a brand's
    members matters as much as who changed its objects."""
    LogEntry.objects.log_actions(user_id=operator_id, queryset=[brand], action_flag=flag, change_message=message,
                                 single_object=True)


def brand_update(*, brand: Brand, operator_id: int, name: str | None = None) -> Brand:
    with db_transaction.atomic():
        locked = brand_for_update().get(pk=brand.pk)
        if name is not None and name != locked.name:
            locked.name = name
            locked.save(update_fields=["name"])
            _brand_audit_log(operator_id=operator_id, brand=locked, flag=CHANGE, message=f"Renamed to {name!r}")
    return locked


def brand_member_add(*, brand: Brand, user_id: int, operator_id: int) -> bool:
    """Makes the user a member of the brand (they then manage its objects; no admin access).
    False if they already were. Under the brand's row lock, so two adds of one user are
    decided one after the other."""
    with db_transaction.atomic():
        locked = brand_for_update().get(pk=brand.pk)
        if locked.staff.filter(pk=user_id).exists():
            return False
        locked.staff.add(user_id)
        _brand_audit_log(operator_id=operator_id, brand=locked, flag=CHANGE, message=f"Added member {user_id}")
    return True


def brand_member_remove(*, brand: Brand, user_id: int, operator_id: int) -> bool:
    """False if the user was not a member. The brand's objects stay the brand's."""
    with db_transaction.atomic():
        locked = brand_for_update().get(pk=brand.pk)
        if not locked.staff.filter(pk=user_id).exists():
            return False
        locked.staff.remove(user_id)
        _brand_audit_log(operator_id=operator_id, brand=locked, flag=CHANGE, message=f"Removed member {user_id}")
    return True


def code_claim_request(*, user_id: int, pool: CodePool, idempotency_key: str | None) -> Accepted:
    """Accepts a claim; settlement hands out the code (or the one the customer already has)."""
    return transaction_accept(kind=KIND_CODE_CLAIM, user_id=user_id, payload={"pool_id": pool.id},
                              idempotency_key=idempotency_key)


@dataclass(frozen=True)
class CodeClaimRequest:
    transaction_id: UUID
    user_id: int
    pool_id: int
    granted_by_id: int | None = None


@dataclass(frozen=True)
class CodeClaimDecision:
    """A code handed out (or the one the customer already had), or the refusal
    ((failure_code, message) from offers.codes.rules)."""

    refusal: tuple[str, str] | None = None
    pool_id: int | None = None
    code: str = ""
    claimed_at: datetime | None = None
    already_claimed: bool = False


def code_claims_settle(*, requests: list[CodeClaimRequest], locked, at: datetime) -> list[CodeClaimDecision]:
    """Decides claims in arrival order, as one at a time would, with the customers' accounts
    and the pools locked (`locked`: the engine's LockedRows). Per pool: one read of the codes
    the batch's customers already hold, every claim decided in memory, then one statement
    hands out the free codes (the lowest ids first) and the pool row is written once, by the
    engine before commit. A customer claiming twice in a batch gets their first claim's code."""
    decisions: list[CodeClaimDecision | None] = [None] * len(requests)
    by_pool: dict[int, list[int]] = {}
    for index, request in enumerate(requests):
        by_pool.setdefault(request.pool_id, []).append(index)
    for pool_id, indexes in by_pool.items():
        pool = locked.get(CodePool, "id", pool_id)
        if pool is None:
            for index in indexes:
                decisions[index] = CodeClaimDecision(refusal=CLAIM_POOL_GONE)
            continue
        _pool_claims_decide(pool=pool, requests=requests, indexes=indexes, decisions=decisions, locked=locked, at=at)
    return decisions


def _pool_claims_decide(*, pool: CodePool, requests: list[CodeClaimRequest], indexes: list[int],
                        decisions: list, locked, at: datetime) -> None:
    held = {code.claimed_by_id: code for code in DiscountCode.objects.filter(
        pool=pool, claimed_by_id__in={requests[i].user_id for i in indexes}).only("claimed_by_id", "code", "claimed_at")}
    refusal = code_pool_claim_refusal(pool=pool, at=at)
    wanting: dict[int, int] = {}  # customer -> the index of their first claim that asks for a code
    repeats: dict[int, int] = {}  # a later claim of that customer in this batch -> that first claim
    for index in indexes:
        user_id = requests[index].user_id
        if user_id in held:  # a second claim returns the code the customer already has
            code = held[user_id]
            decisions[index] = CodeClaimDecision(pool_id=pool.id, code=code.code, claimed_at=code.claimed_at,
                                                 already_claimed=True)
        elif user_id in wanting:
            repeats[index] = wanting[user_id]
        elif refusal is not None:
            decisions[index] = CodeClaimDecision(refusal=refusal)
        else:
            wanting[user_id] = index
    # Never more than the pool's count: the claims past what is left get no code.
    asking = list(wanting.values())[:max(pool.total_count - pool.claimed_count, 0)]
    taken = discount_codes_claim(
        pool_id=pool.id, floor_id=pool.free_code_floor_id, at=at,
        claims=[(requests[i].user_id, requests[i].transaction_id, requests[i].granted_by_id) for i in asking])
    handed_out = [code for code in taken if code is not None]
    shortfall = code_pool_shortfall(pool=pool, claimed_count=pool.claimed_count + len(handed_out))
    for index in wanting.values():
        decisions[index] = CodeClaimDecision(refusal=shortfall)
    for index, code in zip(asking, taken):
        if code is not None:
            decisions[index] = CodeClaimDecision(pool_id=pool.id, code=code[1], claimed_at=at)
    for index, first in repeats.items():
        decision = decisions[first]
        decisions[index] = decision if decision.refusal else CodeClaimDecision(
            pool_id=pool.id, code=decision.code, claimed_at=decision.claimed_at, already_claimed=True)
    if handed_out:
        pool.claimed_count += len(handed_out)
        pool.free_code_floor_id = max(pool.free_code_floor_id, max(code_id for code_id, _ in handed_out) + 1)
        locked.save_deferred(pool, ["claimed_count", "free_code_floor_id"])


def code_claim_release(*, pool: CodePool, transaction_id: UUID) -> int:
    """Reverses a claim with the pool locked: its code goes back to the pool, free for anyone
    (the pool's floor moves down to it). How many codes were released (0 or 1)."""
    released = list(DiscountCode.objects.filter(pool=pool, claim_transaction_id=transaction_id)
                    .values_list("id", flat=True))
    if released:
        DiscountCode.objects.filter(id__in=released).update(claimed_by=None, claimed_at=None,
                                                            claim_transaction_id=None, granted_by=None)
        pool.claimed_count -= len(released)
        pool.free_code_floor_id = min(pool.free_code_floor_id, min(released))
        pool.save(update_fields=["claimed_count", "free_code_floor_id"])
    return len(released)


def code_grant_request(*, pool: CodePool, customer_id: int, granted_by_id: int,
                       idempotency_key: str | None) -> Accepted:
    """A brand member (or platform staff) hands a customer a code: a `code_claim` transaction
    of the customer, settled exactly like their own claim (one code per customer per pool,
    never more than total_count, under the pool lock); the code records `granted_by`. The
    Idempotency-Key is the granter's; the customer is part of the request it stands for."""
    return transaction_accept(kind=KIND_CODE_CLAIM, user_id=customer_id,
                              payload={"pool_id": pool.id, "granted_by": granted_by_id, "customer_id": customer_id},
                              idempotency_key=idempotency_key, idempotency_scope=f"user:{granted_by_id}")


def code_grant_customer_get(*, identifier: str):
    """The active user named by id (digits) or email (exact, else case-insensitive when that
    names exactly one user); None when there is no such user."""
    from accounts.models import User

    identifier = identifier.strip()
    users = User.objects.filter(is_active=True)
    if ascii_digits(identifier):
        return users.filter(pk=int(identifier)).first() if int(identifier) < 2**31 else None
    exact = users.filter(email=identifier).first()
    if exact is not None:
        return exact
    matches = list(users.filter(email__iexact=identifier)[:2])
    return matches[0] if len(matches) == 1 else None


def code_pool_list_open(*, user_id: int) -> QuerySet[CodePool]:
    """The pools a customer may claim from now: ready, within their validity window, with a
    code left; plus those they already hold a code of. `my_code` is theirs (or None).
    Soonest to close first."""
    now = timezone.now()
    mine = DiscountCode.objects.filter(pool=OuterRef("pk"), claimed_by_id=user_id)
    return (CodePool.objects.select_related("brand")
            .filter(status=CodePool.Status.READY)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .annotate(my_code=Subquery(mine.values("code")[:1]))
            .filter(Q(claimed_count__lt=F("total_count")) | Exists(mine))
            .order_by(F("valid_until").asc(nulls_last=True), "-id"))


def discount_codes_use(*, uses: dict, at) -> None:
    """Marks codes spent by the redemptions that used them ({code id: transaction id}), with the
    customers' accounts locked. The condition on `used_at` is the database's last word: a code
    already spent is never spent twice."""
    for code_id, transaction_id in uses.items():
        if not DiscountCode.objects.filter(pk=code_id, used_at__isnull=True).update(
                used_at=at, used_transaction_id=transaction_id):
            raise RuntimeError(f"discount code {code_id} was already used")


def discount_code_release(*, transaction_id) -> int:
    """A reversed redemption gives its code back to its holder, usable again."""
    return DiscountCode.objects.filter(used_transaction_id=transaction_id).update(used_at=None,
                                                                                  used_transaction_id=None)
