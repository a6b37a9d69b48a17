from hypothesis import given
from hypothesis import strategies as st

from spofless.core.model.names import MAX_NAME, child_name

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def test_plain_names_stay_readable() -> None:
    assert child_name("shop", "zone-a") == "shop-zone-a"


def test_long_names_are_shortened_with_a_hash() -> None:
    name = child_name("s" * 60, "eu-west-1a")
    assert len(name) <= MAX_NAME
    assert name.startswith("s" * 10)
    assert name != child_name("s" * 60, "eu-west-1b")


def test_zones_that_clean_to_the_same_name_do_not_collide() -> None:
    assert child_name("shop", "Zone_A") != child_name("shop", "zone-a")


@given(
    site=st.from_regex(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True),
    zone=st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", fullmatch=True),
)
def test_child_names_are_always_dns_labels(site: str, zone: str) -> None:
    import re

    name = child_name(site, zone)
    assert len(name) <= MAX_NAME
    assert re.match(DNS_LABEL, name), name
