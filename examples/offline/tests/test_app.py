from checkit import check
from greeting import hello


def test_hello():
    check(hello("x"), "hello, x")
