"""Keeps the garbage collector's full pass off the request and settlement paths.

A Django process holds ~120,000 container objects once it has started (modules, the app
registry, the URLconf, DRF's serializers, the settlers). CPython's full (generation 2)
collection walks every one of them, about 70 ms on the 2-core benchmark VM, and it runs
whenever enough new objects have survived since the last one: in a web worker or a
settlement process under load, every few seconds to minutes, stalling whatever request or
batch the process had in hand. (Frozen, a full collection takes 0.001 ms instead of ~70 ms;
P4's p99 is the same with it on or off, within the noise:
docs/PERFORMANCE.md#startup-objects-frozen-out-of-the-collector.)

`gc.freeze()` moves every object alive at that moment into a permanent generation the
collector never walks, so a full collection only looks at what was created since. Objects
built at startup live as long as the process anyway, so nothing collectable is kept (a
frozen cycle is simply never freed: there are none worth freeing among startup objects).
It also keeps the pages of a forked child shared with its parent longer, since the
collector no longer writes to the frozen objects' headers.

Called once per process when it is ready to serve (config/gunicorn.conf.py, config/celery.py);
GC_FREEZE_AT_STARTUP=0 turns it off (to measure the difference)."""
from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def startup_objects_freeze() -> int:
    """Collects what startup left behind, then freezes every live object. Returns how many
    objects are frozen (0 when turned off)."""
    from django.conf import settings

    if not settings.GC_FREEZE_AT_STARTUP:
        return 0
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("froze %d startup objects", frozen)
    return frozen


def web_startup_objects_freeze() -> int:
    """For a web worker: imports what the first request would (the URLconf and, through it,
    every view and serializer module) so that it is frozen too, then freezes."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports the views)
    return startup_objects_freeze()
