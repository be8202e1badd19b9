"""Startup objects leave the garbage collector's full passes (config/gc_freeze.py)."""
import gc

import pytest

from config.gc_freeze import startup_objects_freeze, web_startup_objects_freeze


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezing_takes_every_live_object_out_of_the_full_collection(unfrozen):
    # given: a Django process with its apps, settlers and URLconf loaded
    web_startup_objects_freeze()
    gc.unfreeze()
    live = len(gc.get_objects())

    # when
    frozen = startup_objects_freeze()

    # then: what was alive is frozen, out of the generations a collection walks; a frozen
    # object freed since (a background thread's) leaves the count, so it can only shrink
    assert frozen >= live * 0.9 and frozen * 0.99 <= gc.get_freeze_count() <= frozen
    assert len(gc.get_objects()) < live * 0.1


def test_it_can_be_turned_off(unfrozen, settings):
    settings.GC_FREEZE_AT_STARTUP = False

    assert startup_objects_freeze() == 0
    assert gc.get_freeze_count() == 0
