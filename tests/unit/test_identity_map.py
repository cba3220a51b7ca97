"""graphql_schema/identity_map.py: values found by identity, dropped with their keys."""

import gc
import weakref

from graphql import parse

from graphql_schema.identity_map import WeakIdentityMap


def test_a_value_is_found_by_its_key_and_not_by_an_equal_one() -> None:
    costs: WeakIdentityMap[object, int] = WeakIdentityMap()
    document = parse('{ latestPrice(symbol: "A") { price } }')
    equal = parse('{ latestPrice(symbol: "A") { price } }')
    assert document == equal
    costs[document] = 7
    assert costs.get(document) == 7
    assert document in costs
    assert costs.get(equal) is None
    assert equal not in costs


def test_an_entry_goes_with_its_key() -> None:
    costs: WeakIdentityMap[object, int] = WeakIdentityMap()
    document = parse("{ a }")
    costs[document] = 1
    del document
    gc.collect()
    assert len(costs) == 0


def test_a_dead_keys_reference_never_removes_a_newer_keys_entry() -> None:
    # The id of a dead key can be taken by a newer key before the dead one's callback runs.
    costs: WeakIdentityMap[object, int] = WeakIdentityMap()
    newer = parse("{ b }")
    costs[newer] = 2
    dead: weakref.ref[object] = weakref.ref(parse("{ a }"))
    costs._forget(id(newer), dead)
    assert costs.get(newer) == 2
